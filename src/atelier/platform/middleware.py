"""Pure-ASGI middleware: unexpected errors and request ids, request body size limits and JSON
body decoding (before any parsing happens in an endpoint)."""

from __future__ import annotations

import inspect
import json
import logging
import re
from email.message import Message as MimeHeader
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atelier.platform.ids import request_ulid
from atelier.platform.jsonbody import MalformedJson, decode_json_body
from atelier.platform.schemas import json_input

log = logging.getLogger("atelier.errors")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class UnhandledErrors:
    """Give every request an id, and turn an exception no handler took into one 500.

    Install it as the outermost middleware of the app. An exception that reaches it is logged
    once, with its traceback, the request id and the route template, and answered with a
    problem+json 500 carrying the request id. It is not re-raised: the server then neither logs
    it a second time nor drops the client's keep-alive connection.

    The id is the client's ``X-Request-ID`` when it is a short token, else a fresh one; it is
    in ``request.state.request_id`` and echoed in the ``X-Request-ID`` response header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                tag_request_id(message, request_id)
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        except Exception as exc:
            await answer_unhandled(scope, receive, tagged_send, exc, request_id, started=started)


async def answer_unhandled(
    scope: Scope, receive: Receive, send: Send, exc: Exception, request_id: str, *, started: bool
) -> None:
    """What :class:`UnhandledErrors` does with an exception no handler took (also used by the
    hot lane, ``platform.hotlane``): log it once with its traceback, then answer 500 unless
    half a response is already out. ``send`` tags the response with the request id."""
    route = getattr(scope.get("route"), "path", None) or "(unrouted)"
    log.exception(
        "unhandled error on %s %s",
        scope.get("method", ""),
        scope.get("path", ""),
        extra={"request_id": request_id, "route": route},
    )
    if started:
        # Half a response is out; nothing more can be said on this connection (the server
        # closes it when the app returns without completing the response).
        return
    # The app's handler for ``Exception`` answers (it must not log again); without one, or
    # when it fails too, a bare 500 problem+json.
    app = scope.get("app")
    handler = getattr(app, "exception_handlers", {}).get(Exception)
    if handler is not None:
        try:
            response = handler(Request(scope, receive), exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)
            return
        except Exception:
            log.exception("the error handler failed", extra={"request_id": request_id})
    await _problem(
        send,
        500,
        "Internal Server Error",
        "an unexpected error occurred",
        "internal_error",
        request_id=request_id,
    )


_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")


def tag_request_id(message: Message, request_id: str) -> None:
    """Add the ``X-Request-ID`` header to a response start message unless it has one (what
    ``MutableHeaders(scope=message).setdefault`` does, without building the headers object)."""
    headers = message.get("headers") or ()
    for key, _ in headers:
        if key.lower() == _REQUEST_ID_KEY:
            return
    message["headers"] = [*headers, (_REQUEST_ID_KEY, request_id.encode("latin-1"))]


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is a short token, else a fresh id."""
    for key, value in scope.get("headers") or []:
        if key == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return "req_" + request_ulid()


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


# Methods whose body no endpoint reads: whatever it holds, it is ignored, never refused.
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


class JsonBodyCheck:
    """Refuse a JSON body that :func:`decode_json_body` refuses with ``422 validation_error``.

    FastAPI maps only syntax errors to 422; invalid UTF-8, a 5,000-digit integer or runaway
    nesting became ``400 http_error`` (and moderately deep documents a 500 when serialised).
    Buffering is bounded: :class:`BodySizeLimit` runs outside this middleware.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODILESS or not _is_json(scope):
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
        },
        separators=(",", ":"),  # as every other problem+json answer is written
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
