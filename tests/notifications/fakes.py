"""Edge fakes: a WhatsApp Graph API server and an SMTP server, both real servers on 127.0.0.1
in a thread, so the application's real HTTP and SMTP clients are exercised."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "v21.0"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    query: str = ""


@dataclass
class FakeGraph:
    """The Graph API endpoints Atelier calls, with scriptable failures."""

    tokens: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    # Scripted responses for POST .../messages and POST .../message_templates, consumed in order.
    message_responses: list[tuple[int, Any]] = field(default_factory=list)
    template_responses: list[tuple[int, Any]] = field(default_factory=list)
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)
    delay_seconds: float = 0.0
    base_url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.base_url}/{VERSION}"

    def image_url(self, name: str) -> str:
        return f"{self.base_url}/images/{name}"

    def sent(self) -> list[Recorded]:
        """Message sends the fake accepted (status 200)."""
        with self.lock:
            return [r for r in self.requests if r.path.endswith("/messages") and r.body.get("_ok")]

    def message_posts(self) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        record = Recorded(method, path, headers, body if isinstance(body, dict) else {}, query)
        with self.lock:
            self.requests.append(record)
        if path.startswith("/images/"):
            size = self.images.get(path.removeprefix("/images/"))
            if size is None:
                return 404, None, {}
            return 200, None, {"Content-Type": "image/jpeg", "Content-Length": str(size)}
        auth = headers.get("authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            error = {
                "message": "Invalid OAuth access token.",
                "type": "OAuthException",
                "code": 190,
            }
            return 401, {"error": error}, {}
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[2] == "messages" and method == "POST":
            with self.lock:
                scripted = self.message_responses.pop(0) if self.message_responses else None
            if scripted is not None and scripted[0] != 200:
                return scripted[0], scripted[1], {}
            wamid = f"wamid.FAKE{next(self._ids):04d}"
            record.body["_ok"] = True
            to = body.get("to") if isinstance(body, dict) else None
            return (
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to}],
                    "messages": [{"id": wamid}],
                },
                {},
            )
        if len(parts) == 3 and parts[2] == "message_templates":
            waba = parts[1]
            if method == "GET":
                items = list(self.templates.get(waba, []))
                status = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("status")
                if status:
                    items = [t for t in items if t.get("status") == status]
                return (
                    200,
                    {"data": items, "paging": {"cursors": {"before": "a", "after": "b"}}},
                    {},
                )
            if method == "POST":
                with self.lock:
                    scripted = self.template_responses.pop(0) if self.template_responses else None
                if scripted is not None and scripted[0] != 200:
                    return scripted[0], scripted[1], {}
                created = {
                    "id": str(9000 + next(self._ids)),
                    "status": "PENDING",
                    "category": body.get("category"),
                }
                self.templates.setdefault(waba, []).append(
                    {
                        "id": created["id"],
                        "name": body.get("name"),
                        "language": body.get("language"),
                        "status": "PENDING",
                        "category": body.get("category"),
                    }
                )
                return 200, created, {}
        return 404, {"error": {"message": "Unknown path", "code": 803}}, {}


def graph_error(code: int, message: str, details: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error["fbtrace_id"] = "AbCdEf"
    return {"error": error}


@contextmanager
def serve_graph() -> Iterator[FakeGraph]:
    fake = FakeGraph()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload, extra = fake.handle(method, path, query, headers, body)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
            elif "Content-Length" not in extra:
                self.send_header("Content-Length", "0")
            self.end_headers()
            if method != "HEAD" and data:
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_HEAD(self) -> None:
            self._serve("HEAD")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- SMTP ---------------------------------------------------------------------------------------


@dataclass
class FakeSmtp:
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Any] = field(default_factory=list)
    refuse_with: tuple[int, str] | None = None


@contextmanager
def serve_smtp() -> Iterator[FakeSmtp]:
    from email import message_from_bytes
    from email.policy import default

    from aiosmtpd.controller import Controller

    fake = FakeSmtp()

    class Handler:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
        ) -> str:
            if fake.refuse_with is not None:
                code, text = fake.refuse_with
                return f"{code} {text}"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            fake.messages.append(message_from_bytes(envelope.content, policy=default))
            return "250 Message accepted for delivery"

    import socket

    with socket.socket() as probe:  # a free port (the controller checks readiness by connecting)
        probe.bind(("127.0.0.1", 0))
        fake.port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=fake.port)
    controller.start()
    try:
        yield fake
    finally:
        controller.stop()
