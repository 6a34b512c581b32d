"""FastAPI dependencies: the request's database session and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar, cast

import anyio.to_thread
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from atelier.platform import accounts
from atelier.platform.actors import Actor, ActorType, Channel
from atelier.platform.admission import Ticket
from atelier.platform.db import Database
from atelier.platform.errors import Forbidden, PlatformCode, Unauthorized
from atelier.platform.models import AdminUser
from atelier.platform.read_session import ReadSession
from atelier.platform.security import TokenClaims, decode_token
from atelier.platform.settings import Settings

# The web session cookie (``atelier.web.shared.session``); the JSON API never reads it.
SESSION_COOKIE = "atelier_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_Answer = TypeVar("_Answer")


# ``async`` on purpose: no I/O, so no hop through the threadpool on every request.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# Where a request session keeps its admission ticket (see ``release_admission``).
_TICKET = "atelier.admission_ticket"
_READ_BIND = "atelier.read_bind"


def _finish(session: Session, commit: bool) -> None:
    """Commit (or roll back) and close, in one worker-thread call."""
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class RequestSession:
    """The request's session (``async with request_session(...) as session``): admitted (a
    writer or a reader), committed or rolled back and closed before the response is sent.

    ``hot_read``: a hot GET route's read session (``platform.read_session``: one pooled
    connection, no ORM unit of work unless the endpoint asks for the ORM). ``on_loop`` (with
    ``hot_read``, SQLite): a bounded read that runs on the event loop, on the database's loop
    connection when no other request holds it (``ReadSession.on_loop`` says whether it got
    it); such a session takes no admission: it uses no pooled connection and never waits.

    A class rather than an ``asynccontextmanager``: it is entered and exited on every request.
    """

    __slots__ = (
        "_db",
        "_finish",
        "_hot",
        "_reader",
        "_request",
        "_session",
        "_ticket",
        "_write",
    )

    def __init__(self, request: Request, *, write: bool, hot_read: bool, on_loop: bool) -> None:
        self._request = request
        self._write = write
        self._reader: ReadSession | None = None
        self._ticket: Ticket | None = None
        self._hot = (hot_read, on_loop)

    async def __aenter__(self) -> Session:
        db: Database = self._request.app.state.db
        self._db = db
        write = self._write
        hot_read, on_loop = self._hot
        loop = db.loop_reads if hot_read and on_loop else None
        if loop is not None and not loop.acquire():
            loop = None
        if loop is None:
            # Waits on the event loop (no thread, no connection) until the database can take it.
            self._ticket = await db.admission.admit(write=write)
        try:
            # No I/O here: BEGIN happens at the first statement.
            session: Session
            if hot_read:
                reader = self._reader = ReadSession(db.engine, db.session_factory, loop)
                session = cast(Session, reader)
                self._finish = reader.finish
            else:
                session = db.new_session(write=write)
                session.info[_READ_BIND] = db.engine
                self._finish = partial(_finish, session)
            if self._ticket is not None:
                session.info[_TICKET] = self._ticket
        except BaseException:
            if loop is not None:
                loop.release(keep=True)
            self._release()
            raise
        self._session = session
        return session

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        commit = exc_type is None
        session, reader, db = self._session, self._reader, self._db
        try:
            if not session.in_transaction():
                session.close()  # never touched the database: nothing to do off the loop
            elif not self._write and (
                (db.is_sqlite and not (reader is not None and reader.needs_thread))
                or (reader is not None and reader.autocommit_reads_only)
            ):
                # Ending a SQLite WAL read transaction waits for nothing, and PostgreSQL
                # autocommit reads have none to end: no hop, and nothing to shield (no await).
                self._finish(commit)
            else:
                # Shielded: a client that hangs up must not leave the transaction (and on
                # SQLite the write lock) behind. Like FastAPI's own dependency exits, this
                # call does not wait for worker-thread capacity.
                with CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._finish, commit, limiter=CapacityLimiter(1))
        finally:
            self._release()

    def _release(self) -> None:
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            ticket.release()


def request_session(
    request: Request, *, write: bool, hot_read: bool = False, on_loop: bool = False
) -> RequestSession:
    """The request's session, as an async context manager (see :class:`RequestSession`)."""
    return RequestSession(request, write=write, hot_read=hot_read, on_loop=on_loop)


def answer_committed(session: Session, answer: _Answer) -> _Answer:
    """Commit the request's transaction here, in the endpoint's worker thread, and return
    ``answer`` (build it first). The session dependency then finds no transaction open and
    closes the session on the event loop: one thread hop fewer per write request. A failed
    commit raises from the endpoint; the dependency rolls back as for any other error."""
    session.commit()
    return answer


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent.

    Unsafe methods are admitted as writers (on SQLite their transaction takes the write lock
    at its first statement); GET/HEAD/OPTIONS as readers. See ``platform.admission``.
    """
    async with request_session(request, write=request.method not in _SAFE_METHODS) as session:
        yield session


async def get_write_session(request: Request) -> AsyncIterator[Session]:
    """A writer's session whatever the method (for the rare GET that writes)."""
    async with request_session(request, write=True) as session:
        yield session


def release_admission(session: Session) -> None:
    """Give back the request's admission early, once its transaction is committed (e.g. before
    a long upload streams in). The session may still read afterwards (a plain ``BEGIN``, no
    write lock); a write needs a new admission (``db.admission.admit``)."""
    ticket = session.info.pop(_TICKET, None)
    if isinstance(ticket, Ticket):
        ticket.release()
    read_bind = session.info.pop(_READ_BIND, None)
    if read_bind is not None and not session.in_transaction():
        session.bind = read_bind


AppSettings = Annotated[Settings, Depends(get_settings_dep)]
DbSession = Annotated[Session, Depends(get_session, scope="function")]
WriteDbSession = Annotated[Session, Depends(get_write_session, scope="function")]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    role: str  # "admin" | "partner"
    user_id: str
    partner_id: str | None
    name: str
    channel: Channel

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> Actor:
        kind = ActorType.ADMIN if self.is_admin else ActorType.PARTNER
        ident = self.user_id if self.is_admin else (self.partner_id or self.user_id)
        return Actor(kind, ident, self.channel, self.name)


def _bearer(request: Request) -> tuple[str | None, Channel]:
    # Bearer tokens only: the web session cookie authenticates the web pages (``atelier.web``),
    # never the JSON API, so a page's cookie cannot be replayed against ``/admin/*`` or
    # ``/partners/*`` by a cross-site form.
    header = None
    for key, value in request.scope["headers"]:  # ``request.headers.get`` without the object
        if key == b"authorization":
            header = value.decode("latin-1")
            break
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized(
                "use 'Authorization: Bearer <token>'", code=PlatformCode.INVALID_AUTHORIZATION
            )
        return value.strip(), Channel.API
    return None, Channel.API


def _claims(request: Request, settings: Settings) -> tuple[TokenClaims, Channel]:
    token, channel = _bearer(request)
    if token is None:
        raise Unauthorized("authentication required", code=PlatformCode.NOT_AUTHENTICATED)
    claims = decode_token(settings.secret_key.get_secret_value(), token)
    if claims.extra.get("via") == "whatsapp":
        channel = Channel.WHATSAPP
    return claims, channel


def _revoked() -> Unauthorized:
    return Unauthorized(
        "the token was issued before the password changed; sign in again",
        code=PlatformCode.TOKEN_REVOKED,
    )


@dataclass(frozen=True, slots=True)
class AdminAccount:
    """What authorising an admin's request needs to know (cached: ``platform.principals``)."""

    user_id: str
    active: bool
    token_version: int
    name: str


def admin_account(session: Session, user_id: str) -> AdminAccount | None:
    user = session.get(AdminUser, user_id)
    if user is None:
        return None
    name = f"{user.first_name} {user.last_name}".strip() or user.email
    return AdminAccount(user.id, user.is_active, user.token_version, name)


def _only_admins(claims: TokenClaims) -> None:
    if claims.role != "admin":
        raise Forbidden("this endpoint is for brand admins", code=PlatformCode.ADMIN_ONLY)


def _admin(account: AdminAccount | None, claims: TokenClaims, channel: Channel) -> Principal:
    if account is None or not account.active:
        raise Unauthorized("the account is no longer active", code=PlatformCode.ACCOUNT_INACTIVE)
    if claims.version != account.token_version:
        raise _revoked()
    return Principal("admin", account.user_id, None, account.name, channel)


def admin_principal(session: Session, claims: TokenClaims, channel: Channel) -> Principal:
    """The admin behind verified ``claims``; 403 for a partner, 401 for an inactive account or
    a token issued before the password changed."""
    _only_admins(claims)
    return _admin(admin_account(session, claims.subject), claims, channel)


def _only_partners(claims: TokenClaims) -> None:
    if claims.role != "partner":
        raise Forbidden("this endpoint is for partner workshops", code=PlatformCode.PARTNER_ONLY)


def _partner(
    account: accounts.PartnerAccount | None,
    claims: TokenClaims,
    channel: Channel,
    *,
    acting: bool,
) -> Principal:
    if account is None or not account.user_active or account.partner_id != claims.partner_id:
        raise Unauthorized("the account is no longer active", code=PlatformCode.ACCOUNT_INACTIVE)
    if claims.version != account.token_version:
        raise _revoked()
    if not account.partner_active:
        raise Forbidden("the partner account is inactive", code=PlatformCode.PARTNER_INACTIVE)
    if acting and account.partner_pending:
        raise Forbidden(
            "the partner account is pending approval: it can sign in and read, and acts once "
            "the brand activates it",
            code=PlatformCode.PARTNER_PENDING,
        )
    return Principal("partner", account.user_id, account.partner_id, account.name, channel)


def check_admin(request: Request, session: Session, settings: Settings) -> Principal:
    """The bearer token's admin, looked up in ``session`` (no cache; for sync callers)."""
    claims, channel = _claims(request, settings)
    return admin_principal(session, claims, channel)


# Principals from the principal cache (``async``: one epoch read, on SQLite on the event loop
# with no thread hop; see ``platform.principals``). The JSON API's dependencies below and the
# web pages' (``atelier.web.shared.session``) use them.


async def cached_admin(
    request: Request, session: Session, claims: TokenClaims, channel: Channel
) -> Principal:
    """Like :func:`admin_principal`, with the account from the principal cache."""
    _only_admins(claims)
    db: Database = request.app.state.db
    account = await db.principals.account("admin", claims.subject, session, admin_account)
    return _admin(account, claims, channel)


async def cached_partner(
    request: Request, session: Session, claims: TokenClaims, channel: Channel, *, acting: bool
) -> Principal:
    """The partner user behind verified ``claims`` (account from the principal cache); 403 for
    an admin or an inactive partner, 401 for a token issued before the password changed.

    ``acting``: the request changes something. A ``pending`` partner (not approved by the brand
    yet) may sign in and read, but acting is ``403 partner_pending``.
    """
    _only_partners(claims)
    db: Database = request.app.state.db
    account = await db.principals.account(
        "partner", claims.subject, session, accounts.partner_account
    )
    return _partner(account, claims, channel, acting=acting)


async def require_admin(request: Request, session: DbSession, settings: AppSettings) -> Principal:
    claims, channel = _claims(request, settings)
    return await cached_admin(request, session, claims, channel)


async def _partner_request(
    request: Request, session: Session, settings: Settings, *, acting: bool
) -> Principal:
    claims, channel = _claims(request, settings)
    return await cached_partner(request, session, claims, channel, acting=acting)


async def require_partner(request: Request, session: DbSession, settings: AppSettings) -> Principal:
    """A signed-in partner user; a ``pending`` partner may only read (GET/HEAD/OPTIONS)."""
    acting = request.method not in _SAFE_METHODS
    return await _partner_request(request, session, settings, acting=acting)


async def require_partner_account(
    request: Request, session: DbSession, settings: AppSettings
) -> Principal:
    """A signed-in partner user managing their own account: ``pending`` partners included."""
    return await _partner_request(request, session, settings, acting=False)


AdminPrincipal = Annotated[Principal, Depends(require_admin)]
PartnerPrincipal = Annotated[Principal, Depends(require_partner)]
PartnerAccount = Annotated[Principal, Depends(require_partner_account)]
