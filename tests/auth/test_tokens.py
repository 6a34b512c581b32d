"""Signed tokens with malformed claims are 401, never 500 (issue 8, defect 4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atelier.platform.clock import FrozenClock
from atelier.platform.errors import Unauthorized
from atelier.platform.security import decode_token, issue_token
from tests.conftest import T0, assert_problem, bearer

SECRET = "test-secret-key-0123456789abcdef-0123456789"  # the ``settings`` fixture's key


def _claims(now: FrozenClock, **overrides: Any) -> dict[str, Any]:
    issued = int(now.now().timestamp())
    claims: dict[str, Any] = {
        "sub": "user_1",
        "role": "admin",
        "typ": "access",
        "iat": issued,
        "exp": issued + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not _DROP}


_DROP = object()


def _sign(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _sign_raw(payload: bytes) -> str:
    """A correctly signed token whose payload is arbitrary bytes (PyJWT only encodes dicts)."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(payload)
    signature = hmac.new(SECRET.encode(), head, hashlib.sha256).digest()
    return (head + b"." + b64(signature)).decode()


MALFORMED = [
    pytest.param({"exp": "abc"}, id="exp-string"),
    pytest.param({"exp": 10**20}, id="exp-overflow"),
    pytest.param({"exp": -(10**20)}, id="exp-negative-overflow"),
    pytest.param({"exp": 1e308}, id="exp-huge-float"),
    pytest.param({"exp": float("nan")}, id="exp-nan"),
    pytest.param({"exp": float("inf")}, id="exp-inf"),
    pytest.param({"exp": True}, id="exp-bool"),
    pytest.param({"exp": None}, id="exp-null"),
    pytest.param({"exp": [1]}, id="exp-list"),
    pytest.param({"exp": _DROP}, id="exp-missing"),
    pytest.param({"iat": "abc"}, id="iat-string"),
    pytest.param({"iat": 10**20}, id="iat-overflow"),
    pytest.param({"iat": {"a": 1}}, id="iat-object"),
    pytest.param({"nbf": "soon"}, id="nbf-string"),
    pytest.param({"nbf": 10**20}, id="nbf-overflow"),
    pytest.param({"sub": 7}, id="sub-number"),
    pytest.param({"sub": ""}, id="sub-empty"),
    pytest.param({"sub": None}, id="sub-null"),
    pytest.param({"sub": ["user_1"]}, id="sub-list"),
    pytest.param({"sub": "u" * 300}, id="sub-too-long"),
    pytest.param({"role": ["admin"]}, id="role-list"),
    pytest.param({"role": "root"}, id="role-unknown"),
    pytest.param({"typ": {"t": 1}}, id="typ-object"),
    pytest.param({"pid": 5}, id="pid-number"),
    pytest.param({"ver": "1"}, id="ver-string"),
    pytest.param({"ver": True}, id="ver-bool"),
    pytest.param({"ver": -1}, id="ver-negative"),
    pytest.param({"ver": 10**30}, id="ver-overflow"),
]


class TestDecodeToken:
    @pytest.mark.parametrize("overrides", MALFORMED)
    def test_malformed_claim_is_invalid(
        self, clock: FrozenClock, overrides: dict[str, Any]
    ) -> None:
        with pytest.raises(Unauthorized) as caught:
            decode_token(SECRET, _sign(_claims(clock, **overrides)))
        assert caught.value.code == "invalid_token"

    def test_well_formed_token_decodes(self, clock: FrozenClock) -> None:
        token = issue_token(
            SECRET, subject="u1", role="partner", partner_id="p1", ttl=timedelta(hours=1), version=3
        )
        claims = decode_token(SECRET, token)
        assert (claims.subject, claims.role, claims.partner_id, claims.version) == (
            "u1",
            "partner",
            "p1",
            3,
        )
        assert claims.issued_at == clock.now() and claims.expires_at == clock.now() + timedelta(
            hours=1
        )

    def test_float_exp_in_range_is_accepted(self, clock: FrozenClock) -> None:
        exp = clock.now().timestamp() + 60.5
        assert decode_token(SECRET, _sign(_claims(clock, exp=exp))).subject == "user_1"

    def test_expired_is_token_expired(self, clock: FrozenClock) -> None:
        token = _sign(_claims(clock, exp=int(clock.now().timestamp())))
        with pytest.raises(Unauthorized) as caught:
            decode_token(SECRET, token)
        assert caught.value.code == "token_expired"

    def test_not_yet_valid_is_invalid(self, clock: FrozenClock) -> None:
        token = _sign(_claims(clock, nbf=int(clock.now().timestamp()) + 60))
        with pytest.raises(Unauthorized):
            decode_token(SECRET, token)
        clock.advance(timedelta(minutes=2))
        assert decode_token(SECRET, token).subject == "user_1"

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep-nesting"),
            pytest.param(b'{"exp": ' + b"9" * 5000 + b"}", id="5000-digit-int"),
            pytest.param(b'["not", "an", "object"]', id="array"),
            pytest.param(b"\xff\xfe", id="invalid-utf8"),
            pytest.param(b"null", id="null"),
        ],
    )
    def test_signed_garbage_payload_is_invalid(self, payload: bytes) -> None:
        with pytest.raises(Unauthorized):
            decode_token(SECRET, _sign_raw(payload))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["admin", "partner", "access", "user_1", "abc"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
CLAIM_NAMES = ["sub", "role", "typ", "iat", "exp", "nbf", "pid", "ver", "via", "rid"]


@settings(max_examples=300, deadline=None, database=None)
@given(overrides=st.dictionaries(st.sampled_from(CLAIM_NAMES), JSON_VALUES, max_size=4))
def test_any_claim_values_decode_or_are_unauthorized(overrides: dict[str, Any]) -> None:
    token = _sign(_claims(FrozenClock(T0), **overrides))
    try:
        claims = decode_token(SECRET, token)
    except Unauthorized:
        return
    assert isinstance(claims.subject, str) and claims.role in ("admin", "partner")


class TestThroughTheApp:
    """The same tokens as bearer credentials on admin and partner routes: 401 problem+json."""

    @pytest.mark.parametrize("path", ["/admin/orders", "/partners/production-runs"])
    @pytest.mark.parametrize(
        "overrides",
        [{"exp": "abc"}, {"exp": 10**20}, {"iat": 10**20}, {"sub": 7}, {"ver": "x"}],
        ids=["exp-string", "exp-overflow", "iat-overflow", "sub-number", "ver-string"],
    )
    def test_malformed_claim_is_401(
        self, client: TestClient, clock: FrozenClock, path: str, overrides: dict[str, Any]
    ) -> None:
        role = "admin" if path.startswith("/admin") else "partner"
        token = _sign(_claims(clock, role=role, pid="partner_1", **overrides))
        response = client.get(path, headers=bearer(token))
        assert_problem(response, 401, "invalid_token")
        assert response.headers["www-authenticate"] == "Bearer"

    def test_malformed_claim_in_the_web_session_cookie_signs_out(
        self, client: TestClient, clock: FrozenClock
    ) -> None:
        # The web session cookie carries a ``web`` token; a malformed one is no session.
        client.cookies.set("atelier_session", _sign(_claims(clock, typ="web", exp="abc")))
        try:
            response = client.get("/app", follow_redirects=False)
        finally:
            client.cookies.clear()
        assert response.status_code in (302, 303), response.text
        assert response.headers["location"].startswith("/app/sign-in")

    def test_malformed_deep_link_is_401(self, client: TestClient, clock: FrozenClock) -> None:
        token = _sign(_claims(clock, typ="wa_link", role="partner", pid="p1", rid="r1", exp="x"))
        response = client.get(
            "/partners/wa-auth", params={"wa_token": token}, headers={"accept": "application/json"}
        )
        assert_problem(response, 401, "invalid_token")

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(overrides=st.dictionaries(st.sampled_from(CLAIM_NAMES), JSON_VALUES, max_size=3))
    def test_any_claim_values_never_5xx(
        self, client: TestClient, clock: FrozenClock, overrides: dict[str, Any]
    ) -> None:
        response = client.get("/admin/orders", headers=bearer(_sign(_claims(clock, **overrides))))
        assert response.status_code in (401, 403), response.text


class TestVerifiedTokenCache:
    """A token is verified once per process; what the clock decides is decided on every use."""

    def test_a_cached_token_still_expires(self, clock: FrozenClock) -> None:
        token = issue_token(SECRET, subject="u1", role="admin", ttl=timedelta(minutes=5))
        assert decode_token(SECRET, token).subject == "u1"
        assert decode_token(SECRET, token) is decode_token(SECRET, token)  # verified once
        clock.advance(timedelta(minutes=5))
        with pytest.raises(Unauthorized) as caught:
            decode_token(SECRET, token)
        assert caught.value.code == "token_expired"

    def test_a_cached_token_is_not_valid_before_its_time(self, clock: FrozenClock) -> None:
        token = _sign(_claims(clock, nbf=int(clock.now().timestamp()) + 60))
        for _ in range(2):
            with pytest.raises(Unauthorized):
                decode_token(SECRET, token)
        clock.advance(timedelta(minutes=2))
        assert decode_token(SECRET, token).subject == "user_1"

    def test_only_the_same_token_and_key_hit(self, clock: FrozenClock) -> None:
        token = issue_token(SECRET, subject="u1", role="admin", ttl=timedelta(hours=1))
        decode_token(SECRET, token)
        head, payload, signature = token.split(".")
        forged = jwt.encode(
            {**_claims(clock), "sub": "u2"}, "another-secret-0123456789abcdef-0123", "HS256"
        )
        for bad in (
            f"{head}.{forged.split('.')[1]}.{signature}",  # another payload, the old signature
            f"{head}.{payload}.{signature[:-2]}{'BB' if signature.endswith('AA') else 'AA'}",
        ):
            with pytest.raises(Unauthorized) as caught:
                decode_token(SECRET, bad)
            assert caught.value.code == "invalid_token"
        with pytest.raises(Unauthorized):  # the same token under another secret
            decode_token("another-secret-0123456789abcdef-0123", token)
        with pytest.raises(Unauthorized):  # the same token as another type
            decode_token(SECRET, token, token_type="deeplink")

    def test_failures_are_not_cached_and_the_cache_is_bounded(self, clock: FrozenClock) -> None:
        from atelier.platform import security

        bad = _sign(_claims(clock, exp="abc"))
        for _ in range(2):
            with pytest.raises(Unauthorized):
                decode_token(SECRET, bad)
        assert all(key[2] != bad for key in security._verified)
        for n in range(security._VERIFIED_LIMIT + 10):
            decode_token(SECRET, _sign(_claims(clock, sub=f"user_{n}")))
        assert len(security._verified) <= security._VERIFIED_LIMIT
