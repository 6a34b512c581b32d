"""The web pages resolve their cookie's principal through the principal cache: a change made
elsewhere (plain SQL, as another process would) still ends the session at once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from atelier.platform.db import Database


def test_an_admin_deactivated_elsewhere_is_sent_to_sign_in(
    web_admin: TestClient, db: Database
) -> None:
    assert web_admin.get("/app/flows").status_code == 200
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE admin_users SET is_active = :no"), {"no": False})
    response = web_admin.get("/app/flows", follow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/app/sign-in")
