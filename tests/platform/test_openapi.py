"""The OpenAPI document describes every JSON response: each operation has a 2xx schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

# Operations that never answer a JSON document on success, and why.
NOT_JSON = {
    ("get", "/admin/production-runs/export.csv"): "a CSV stream",
    ("get", "/admin/consumption-logs/export.csv"): "a CSV stream",
    ("get", "/media/thumbs/{size}/{key}"): "an image (or a redirect to it)",
    ("get", "/media/files/{key}"): "the file's bytes (or a redirect to them)",
    ("post", "/admin/designs/{design_id}/send-to-partner"): "retired: always 410",
}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _answers_no_json(operation: dict[str, Any]) -> bool:
    """A 204 (no body) or a success declared as another media type (text, CSV, an image)."""
    successes = {k: v for k, v in operation.get("responses", {}).items() if k.startswith("2")}
    if set(successes) == {"204"}:
        return True
    return all(
        response.get("content") and "application/json" not in response["content"]
        for response in successes.values()
    )


def _success_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema:
                return dict(schema)
    return None


def _is_typed(schema: dict[str, Any] | None) -> bool:
    """A named model (``$ref``), a union of them, or an object with declared properties."""
    if not schema:
        return False
    if "$ref" in schema:
        return True
    if "anyOf" in schema:
        return all(_is_typed(option) for option in schema["anyOf"])
    return schema.get("type") == "object" and bool(schema.get("properties"))


def test_every_operation_has_a_success_schema(app: FastAPI) -> None:
    operations = _operations(app.openapi())
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in operations
        if (method, path) not in NOT_JSON
        and not _answers_no_json(operation)
        and not _is_typed(_success_schema(operation))
    ]
    assert not missing, "operations without a typed 2xx response:\n" + "\n".join(missing)
    assert len(operations) > 100
    known = {(method, path) for method, path, _ in operations}
    assert set(NOT_JSON) <= known, "NOT_JSON names operations that no longer exist"


def test_list_envelopes_name_their_items(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    runs = schemas["ProductionRunList"]["properties"]
    assert set(runs) == {"production_runs", "count", "limit", "offset"}
    assert runs["production_runs"]["items"] == {"$ref": "#/components/schemas/ProductionRunRow"}
