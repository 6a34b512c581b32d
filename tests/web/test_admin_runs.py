"""Admin runs table and run detail pages through TestClient: filters, CSV, actions, refusals."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from atelier.audit.models import RunEvent
from atelier.platform.db import Database
from tests.factories import catalog, runs, tasks
from tests.web.support import csrf_of

HOSTILE = "<script>alert('x')</script>"


def _world(admin: TestClient, client: TestClient) -> dict[str, Any]:
    design = catalog.create_design(
        admin,
        name=f"Kurta {HOSTILE}",
        specifications={"fabric": "cotton", "gsm": 180},
        colors=["indigo", "madder red"],
        sizes=["M", "L"],
    )
    p1 = catalog.create_partner(admin, client, name="Kiran Tailors")
    p2 = catalog.create_partner(admin, client, name=f"Bad {HOSTILE} Works")
    tasks.create_template(admin, "Cutting", category="Sewing", subtasks=["Mark", "Cut"])
    tasks.create_template(admin, "Stitching", category="Sewing")
    run = runs.create_run(admin, design_id=design["id"], quantity=10)
    return {"design": design, "p1": p1, "p2": p2, "run": run}


def _post(browser: TestClient, run_id: str, action: str, data: dict[str, Any]) -> Any:
    token = csrf_of(browser.get(f"/app/runs/{run_id}").text)
    return browser.post(f"/app/runs/{run_id}/{action}", data={**data, "csrf_token": token})


class TestRunsTable:
    def test_lists_runs_with_names_and_counts(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        runs.create_run(admin, design_id=w["design"]["id"], partner_id=w["p1"].id, quantity=3)
        page = web_admin.get("/app/runs")
        assert page.status_code == 200
        assert "<title>Production runs · Atelier</title>" in page.text
        assert w["run"]["id"] in page.text
        assert "Kiran Tailors" in page.text
        assert HOSTILE not in page.text and "&lt;script&gt;" in page.text
        assert "pending review <strong>2</strong>" in page.text

    def test_filters_stay_in_links_and_filter_the_rows(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        mine = runs.create_run(admin, design_id=w["design"]["id"], partner_id=w["p1"].id)
        page = web_admin.get(f"/app/runs?partner_id={w['p1'].id}&status=&q=&run_type=")
        assert mine["id"] in page.text and w["run"]["id"] not in page.text
        # Links (status chips, export, sort) keep the partner filter.
        assert f"export.csv?partner_id={w['p1'].id}" in page.text
        assert f"/app/runs?partner_id={w['p1'].id}&amp;status=pending_review" in page.text

    def test_htmx_gets_only_the_results(self, web_admin: TestClient) -> None:
        response = web_admin.get(
            "/app/runs?q=x", headers={"HX-Request": "true", "HX-Target": "run-results"}
        )
        assert response.status_code == 200
        assert response.text.lstrip().startswith('<section id="run-results"')
        assert "<html" not in response.text

    def test_pagination(self, admin: TestClient, client: TestClient, web_admin: TestClient) -> None:
        design = catalog.create_design(admin)
        for _ in range(27):
            runs.create_run(admin, design_id=design["id"])
        first = web_admin.get("/app/runs?sort=quantity")
        assert "1–25 of 27" in first.text
        assert 'href="?sort=quantity&amp;offset=25"' in first.text
        second = web_admin.get("/app/runs?sort=quantity&offset=25")
        assert "26–27 of 27" in second.text

    def test_bad_status_is_an_html_422(self, web_admin: TestClient) -> None:
        response = web_admin.get("/app/runs?status=nonsense")
        assert response.status_code == 422
        assert "unknown status" in response.text
        assert response.headers["content-type"].startswith("text/html")

    def test_csv_export_of_the_filter(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        mine = runs.create_run(admin, design_id=w["design"]["id"], partner_id=w["p1"].id)
        response = web_admin.get(f"/app/runs/export.csv?partner_id={w['p1'].id}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["id"] for r in rows] == [mine["id"]]
        assert rows[0]["partner_name"] == "Kiran Tailors"


class TestRunDetail:
    def test_shows_names_snapshot_tables_and_escapes(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        page = web_admin.get(f"/app/runs/{w['run']['id']}")
        assert page.status_code == 200, page.text
        text = page.text
        assert HOSTILE not in text
        assert '<th scope="row">fabric</th><td>cotton</td>' in text.replace("\n", "")
        assert "madder red" in text
        assert "Approve" in text and "action-approve" in text
        assert "action-start" not in text  # the lifecycle does not allow it yet
        assert "Not available now" in text

    def test_unknown_run_is_an_html_404(self, web_admin: TestClient) -> None:
        response = web_admin.get("/app/runs/prod_run_nope")
        assert response.status_code == 404
        assert "was not found" in response.text

    def test_approve_with_two_partners_then_cancel_a_child(
        self, admin: TestClient, client: TestClient, web_admin: TestClient, db: Database
    ) -> None:
        w = _world(admin, client)
        run_id = w["run"]["id"]
        response = _post(
            web_admin,
            run_id,
            "approve",
            {
                "a0-partner_id": w["p1"].id,
                "a0-quantity": "6",
                "a0-role": "cutting",
                "a0-order": "0",
                "a0-template_names": ["Cutting"],
                "a1-partner_id": w["p2"].id,
                "a1-quantity": "4",
                "a1-role": "stitching",
                "a1-order": "1",
                "a1-template_names": ["Stitching"],
            },
        )
        assert response.status_code == 303, response.text
        page = web_admin.get(response.headers["location"])
        assert "Approved and split into 2 runs (1 dispatched)." in page.text
        parent = runs.get_run(admin, run_id)
        assert parent["status"] == "approved"
        children = admin.get(f"/admin/production-runs?parent_run_id={run_id}").json()
        by_role = {c["role"]: c for c in children["production_runs"]}
        assert by_role["cutting"]["status"] == "sent_to_partner"
        assert by_role["stitching"]["status"] == "approved"
        child = by_role["stitching"]["id"]
        response = _post(web_admin, child, "cancel", {"reason": "fabric short"})
        assert response.status_code == 303
        assert runs.get_run(admin, child)["status"] == "cancelled"
        with db.session(write=False) as s:
            event = s.scalars(
                select(RunEvent).where(RunEvent.run_id == child, RunEvent.kind == "cancelled")
            ).one()
            assert (event.channel, event.actor_type) == ("web", "admin")
        detail = web_admin.get(f"/app/runs/{child}").text
        assert "fabric short" in detail

    def test_refusal_keeps_the_input_and_says_why(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        run_id = w["run"]["id"]
        response = _post(
            web_admin,
            run_id,
            "approve",
            {"a0-partner_id": w["p1"].id, "a0-quantity": "7", "a0-role": "cutting"},
        )
        assert response.status_code == 422
        assert 'role="alert"' in response.text
        assert 'value="7"' in response.text and 'value="cutting"' in response.text
        assert '<details id="action-approve" open>' in response.text
        assert runs.get_run(admin, run_id)["status"] == "pending_review"

    def test_dispatch_by_category_and_redo(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        run = runs.create_run(admin, design_id=w["design"]["id"], partner_id=w["p1"].id)
        runs.approve(admin, run["id"])
        response = _post(
            web_admin, run["id"], "dispatch", {"mode": "category", "category": "Sewing"}
        )
        assert response.status_code == 303, response.text
        page = web_admin.get(f"/app/runs/{run['id']}").text
        assert "Dispatched with 2 tasks." in page
        assert "Cutting" in page and "Mark" in page
        response = _post(web_admin, run["id"], "redo", {"template_names": ["Stitching"]})
        assert response.status_code == 303
        assert len(tasks.run_tasks(admin, run["id"])) == 3

    def test_dispatch_with_an_unknown_category_is_refused(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        run = runs.create_run(admin, design_id=w["design"]["id"], partner_id=w["p1"].id)
        runs.approve(admin, run["id"])
        response = _post(web_admin, run["id"], "dispatch", {"mode": "category", "category": "Nope"})
        assert response.status_code in (404, 422), response.text
        assert "form-error" in response.text
        assert runs.get_run(admin, run["id"])["status"] == "approved"

    def test_milestones_on_behalf_and_complete(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        run = runs.create_run(
            admin, design_id=w["design"]["id"], partner_id=w["p1"].id, quantity=10
        )
        runs.approve(admin, run["id"])
        assert (
            _post(
                web_admin,
                run["id"],
                "dispatch",
                {"mode": "templates", "template_names": ["Cutting"]},
            ).status_code
            == 303
        )
        for action in ("accept", "start"):
            assert _post(web_admin, run["id"], action, {}).status_code == 303
        assert (
            _post(web_admin, run["id"], "progress", {"produced_quantity": "4"}).status_code == 303
        )
        assert (
            _post(
                web_admin, run["id"], "finish", {"notes": "done", "complete_tasks": "1"}
            ).status_code
            == 303
        )
        refused = _post(web_admin, run["id"], "complete", {"produced_quantity": "8"})
        assert refused.status_code == 422
        assert 'value="8"' in refused.text
        done = _post(
            web_admin,
            run["id"],
            "complete",
            {
                "produced_quantity": "10",
                "rejected_quantity": "1",
                "rejection_reason": "stitching_defect",
            },
        )
        assert done.status_code == 303, done.text
        assert runs.get_run(admin, run["id"])["status"] == "completed"
        page = web_admin.get(f"/app/runs/{run['id']}").text
        assert "action-cancel" not in page

    def test_reassign_and_note(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        run = runs.create_run(admin, design_id=w["design"]["id"], partner_id=w["p1"].id)
        response = _post(web_admin, run["id"], "reassign", {"partner_id": w["p2"].id, "note": ""})
        assert response.status_code == 303
        assert runs.get_run(admin, run["id"])["partner_id"] == w["p2"].id
        assert _post(web_admin, run["id"], "notes", {"note": f"call {HOSTILE}"}).status_code == 303
        page = web_admin.get(f"/app/runs/{run['id']}").text
        assert "call &lt;script&gt;" in page and HOSTILE not in page

    def test_a_stale_form_shows_the_lifecycle_refusal(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        run = w["run"]
        token = csrf_of(web_admin.get(f"/app/runs/{run['id']}").text)
        runs.approve(admin, run["id"])  # someone else approved meanwhile
        response = web_admin.post(
            f"/app/runs/{run['id']}/approve", data={"csrf_token": token, "a0-partner_id": ""}
        )
        assert response.status_code == 409
        assert "already approved" in response.text

    def test_costs_and_consumption_csv(
        self, admin: TestClient, client: TestClient, web_admin: TestClient
    ) -> None:
        w = _world(admin, client)
        run = runs.create_run(admin, design_id=w["design"]["id"], partner_id=w["p1"].id)
        page = web_admin.get(f"/app/runs/{run['id']}")
        assert 'id="costs"' in page.text
        csv_response = web_admin.get(f"/app/runs/{run['id']}/consumption-logs.csv")
        assert csv_response.status_code == 200
        assert csv_response.text.splitlines()[0].startswith("id,production_run_id,design_id")


class TestAuthorization:
    def test_every_admin_page_refuses_anonymous_and_partners(
        self, app: Any, admin: TestClient, client: TestClient, settings: Any
    ) -> None:
        from tests.web.support import client_with_cookie, web_client, web_cookie

        w = _world(admin, client)
        partner = w["p1"]
        token = web_cookie(settings, subject=partner.user_id, role="partner", partner_id=partner.id)
        anonymous = web_client(app)
        as_partner = client_with_cookie(app, token)
        anonymous_token = csrf_of(anonymous.get("/app/sign-in").text)
        partner_token = csrf_of(as_partner.get("/app/sign-in").text)
        checked = 0
        import importlib

        from atelier.web.shared.install import WEB_ROUTER_MODULES

        routes = [
            route
            for name in WEB_ROUTER_MODULES
            for route in importlib.import_module(name).router.routes
        ]
        for route in routes:
            path = getattr(route, "path", "")
            if not path.startswith("/app") or path in ("/app/sign-in", "/app/sign-out"):
                continue
            url = path.replace("{run_id}", w["run"]["id"]).replace("{", "").replace("}", "")
            for method in getattr(route, "methods", {"GET"}):
                if method == "HEAD":
                    continue
                # Posts carry a valid CSRF token, so the refusal is the session's.
                data = {"csrf_token": anonymous_token} if method == "POST" else None
                response = anonymous.request(method, url, data=data)
                assert response.status_code == 303, (method, url, response.status_code)
                assert response.headers["location"].startswith("/app/sign-in")
                data = {"csrf_token": partner_token} if method == "POST" else None
                response = as_partner.request(method, url, data=data)
                assert response.status_code == 403, (method, url, response.status_code)
                assert "for the brand&#39;s admins" in response.text
                checked += 1
        assert checked >= 15
