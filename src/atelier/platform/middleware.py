"""Pure-ASGI middleware: request body size limits (before any parsing happens)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "https://atelier.dev/problems/payload_too_large",
            "title": "Payload Too Large",
            "status": 413,
            "detail": f"the request body exceeds {limit} bytes",
            "code": "payload_too_large",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
