"""Pure-ASGI middleware: request body size limits and JSON body decoding (before any parsing
happens in an endpoint)."""

from __future__ import annotations

import json
from email.message import Message as MimeHeader
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atelier.platform.jsonbody import MalformedJson, decode_json_body
from atelier.platform.schemas import json_input


class _TooLarge(BaseException):
    # BaseException so FastAPI's "error parsing the body" handler (which catches Exception)
    # lets it reach this middleware.
    pass


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` (``multipart_max_bytes`` for uploads) with 413.

    Checks ``Content-Length`` up front and also counts streamed chunks, so a chunked upload
    cannot slip past the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, multipart_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.multipart_max_bytes = multipart_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = (
            self.multipart_max_bytes
            if content_type.startswith("multipart/form-data")
            else self.max_bytes
        )
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await _reject(send, limit)
                return

        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await _reject(send, limit)


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse this request's body as JSON (``application/json`` or
    ``application/*+json``)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            header = MimeHeader()
            header["content-type"] = value.decode("latin-1")
            subtype = header.get_content_subtype()
            return header.get_content_maintype() == "application" and (
                subtype == "json" or subtype.endswith("+json")
            )
    return False


class JsonBodyCheck:
    """Refuse a JSON body that :func:`decode_json_body` refuses with ``422 validation_error``.

    FastAPI maps only syntax errors to 422; invalid UTF-8, a 5,000-digit integer or runaway
    nesting became ``400 http_error`` (and moderately deep documents a 500 when serialised).
    Buffering is bounded: :class:`BodySizeLimit` runs outside this middleware.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending the whole body
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                decode_json_body(body)
            except MalformedJson as exc:
                error = {"field": "body", "message": str(exc), "type": "json_invalid"}
                await _problem(
                    send,
                    422,
                    "Unprocessable Content",
                    f"body: {exc}",
                    "validation_error",
                    errors=[error],
                )
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        # Strict numbers and booleans while this body is validated (``platform.schemas``).
        with json_input():
            await self.app(scope, replay, send)


async def _reject(send: Send, limit: int) -> None:
    await _problem(
        send,
        413,
        "Payload Too Large",
        f"the request body exceeds {limit} bytes",
        "payload_too_large",
    )


async def _problem(
    send: Send, status: int, title: str, detail: str, code: str, **extra: Any
) -> None:
    body = json.dumps(
        {
            "type": f"https://atelier.dev/problems/{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            **extra,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
