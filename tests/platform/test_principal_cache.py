"""The principal cache: no account lookup per request, and still refused at once.

Changes are made with plain SQL on a connection of their own, as another process (or
``atelier admin``, or an operator) would: the epoch triggers, not the API, must notice them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from atelier.platform.db import Database
from tests.conftest import assert_problem
from tests.factories.catalog import create_partner

ADMIN_READ = "/admin/partners"
PARTNER_READ = "/partners/production-runs"


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def _record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)


def other_process(db: Database, sql: str, **params: Any) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(sql), params)


def epoch(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(text("SELECT coalesce(max(epoch), 0) FROM principal_epoch")).one()[0]
        )


class TestCachedPrincipal:
    def test_a_known_admin_is_not_looked_up_again(self, admin: TestClient, db: Database) -> None:
        assert admin.get(ADMIN_READ).status_code == 200
        with statements(db) as seen:
            assert admin.get(ADMIN_READ).status_code == 200
        assert not [s for s in seen if "admin_users" in s], seen
        # SQLite reads the epoch outside the pool (on the event loop); PostgreSQL in the session.
        assert len([s for s in seen if "principal_epoch" in s]) == (0 if db.is_sqlite else 1)

    def test_a_known_partner_is_not_looked_up_again(
        self, app: FastAPI, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        partner = create_partner(admin, client)
        assert client.get(PARTNER_READ, headers=partner.headers).status_code == 200
        with statements(db) as seen:
            assert client.get(PARTNER_READ, headers=partner.headers).status_code == 200
        assert not [s for s in seen if "partner_users" in s or "FROM partners" in s], seen

    def test_signing_in_again_does_not_move_the_epoch(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        before = epoch(db)
        create_partner(admin, client)  # creates (no trigger) and signs in (last_login_at)
        assert epoch(db) == before


class TestRefusedAtOnce:
    def test_an_admin_deactivated_elsewhere(self, admin: TestClient, db: Database) -> None:
        assert admin.get(ADMIN_READ).status_code == 200
        other_process(db, "UPDATE admin_users SET is_active = :no", no=False)
        assert_problem(admin.get(ADMIN_READ), 401, "account_inactive")
        other_process(db, "UPDATE admin_users SET is_active = :yes", yes=True)
        assert admin.get(ADMIN_READ).status_code == 200

    def test_an_admin_password_changed_elsewhere(self, admin: TestClient, db: Database) -> None:
        assert admin.get(ADMIN_READ).status_code == 200
        other_process(db, "UPDATE admin_users SET token_version = token_version + 1")
        assert_problem(admin.get(ADMIN_READ), 401, "token_revoked")

    def test_an_admin_deleted_elsewhere(self, admin: TestClient, db: Database) -> None:
        assert admin.get(ADMIN_READ).status_code == 200
        other_process(db, "DELETE FROM admin_users")
        assert_problem(admin.get(ADMIN_READ), 401, "account_inactive")

    @pytest.mark.parametrize(
        ("sql", "status", "code"),
        [
            ("UPDATE partners SET status = 'inactive'", 403, "partner_inactive"),
            ("UPDATE partner_users SET is_active = false", 401, "account_inactive"),
            ("UPDATE partner_users SET token_version = 7", 401, "token_revoked"),
        ],
    )
    def test_a_partner_changed_elsewhere(
        self, admin: TestClient, client: TestClient, db: Database, sql: str, status: int, code: str
    ) -> None:
        partner = create_partner(admin, client)
        assert client.get(PARTNER_READ, headers=partner.headers).status_code == 200
        other_process(db, sql)
        assert_problem(client.get(PARTNER_READ, headers=partner.headers), status, code)

    def test_a_pending_partner_may_read_but_not_act(
        self, admin: TestClient, client: TestClient, db: Database
    ) -> None:
        partner = create_partner(admin, client)
        assert client.get(PARTNER_READ, headers=partner.headers).status_code == 200
        other_process(db, "UPDATE partners SET status = 'pending' WHERE id = :id", id=partner.id)
        assert client.get(PARTNER_READ, headers=partner.headers).status_code == 200
        response = client.post(
            "/partners/assigned-tasks/tsk_missing/accept", headers=partner.headers
        )
        assert_problem(response, 403, "partner_pending")
