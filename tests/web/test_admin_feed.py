"""The admin feed page and its badge."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from atelier.notifications import feed
from tests.factories import catalog, runs
from tests.web.support import post_form


def test_badge_page_mark_read(app: FastAPI, admin: TestClient, web_admin: TestClient) -> None:
    run = runs.create_run(admin, design_id=catalog.create_design(admin)["id"])
    with app.state.db.session() as session:
        feed.add_feed_entry(session, "gate_overdue", "Run <x> is overdue", run_id=run["id"])
        feed.add_feed_entry(session, "escalated", "Kiran stopped answering")
    home = web_admin.get("/app").text
    assert 'title="open feed entries">2</span>' in home
    page = web_admin.get("/app/feed").text
    assert "Run &lt;x&gt; is overdue" in page and "Kiran stopped answering" in page
    assert f'href="/app/runs/{run["id"]}"' in page
    entry_id = re.findall(r'action="/app/feed/(feed_[^/"]+)/read"', page)[0]
    assert (
        post_form(web_admin, f"/app/feed/{entry_id}/read", {}, page="/app/feed").status_code == 303
    )
    assert 'title="open feed entries">1</span>' in web_admin.get("/app").text
    response = post_form(web_admin, "/app/feed/read-all", {}, page="/app/feed")
    assert response.status_code == 303
    assert "Nothing unread." in web_admin.get("/app/feed").text
    assert "Run &lt;x&gt; is overdue" in web_admin.get("/app/feed?show=all").text
    assert web_admin.get("/app/feed?show=bogus").status_code == 422
