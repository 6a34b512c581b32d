"""The Jinja2 environment, page rendering, and "service error → inline message".

Templates live in ``atelier/web/templates`` (``shared/`` for the base layout and error pages,
``admin/`` and ``portal/`` per area). Autoescaping is on for every template, so user text is
always escaped; nothing is marked safe except the JSON helper's own output.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atelier.platform.errors import DomainError
from atelier.platform.http import KIND_STATUS
from atelier.platform.settings import Settings
from atelier.web.shared.csrf import CSRF_FIELD, attach_csrf_cookie, csrf_token

STATIC_PREFIX = "/static"

# Every page: no framing, no MIME sniffing, scripts and styles only from this origin (htmx is a
# static file; templates use no inline script or style), images also from design URLs.
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: https: http:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@lru_cache(maxsize=64)
def _static_version(name: str) -> str:
    data = resources.files("atelier.web").joinpath("static", name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: cacheable for a year, busted by any change."""
    return f"{STATIC_PREFIX}/{name}?v={_static_version(name)}"


def _local_time(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    if value is None:
        return "—"
    zone = _environment().globals["business_zone"]
    assert isinstance(zone, tzinfo)
    return value.astimezone(zone).strftime(fmt)


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        value = value.normalize()
        text = f"{value:f}"
        return text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _pretty_json(value: Any) -> Markup:
    # json.dumps output is escaped before it is marked safe: user text stays inert.
    text = json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    return Markup("<pre class='json'>{}</pre>").format(text)


def _humanize(value: Any) -> str:
    return str(value or "").replace("_", " ")


def _query(current: Mapping[str, Any], **changes: Any) -> str:
    """The current query with ``changes`` applied (``None`` removes a key): ``?a=1&b=2``."""
    merged = {k: v for k, v in current.items() if v not in (None, "")}
    for key, value in changes.items():
        if value in (None, ""):
            merged.pop(key, None)
        else:
            merged[key] = value
    return "?" + urlencode(merged) if merged else "?"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("atelier.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # ``qs`` for pages whose context has its own ``query`` variable (the runs table).
    env.globals.update(static_url=static_url, csrf_field=CSRF_FIELD, query=_query, qs=_query)
    env.filters.update(
        local_time=_local_time, number=_number, pretty_json=_pretty_json, humanize=_humanize
    )
    # Display macros (badge, pager, form_error) for every template and every block render.
    env.globals["ui"] = env.get_template("shared/macros.html").module
    return env


def environment(settings: Settings) -> Environment:
    """The shared environment, with the business time zone for dates."""
    env = _environment()
    env.globals["business_zone"] = settings.zone
    return env


def _context(request: Request, context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "request": request,
        "notice": take_notice(request),
        "csrf_token": csrf_token(request),
        "principal": getattr(request.state, "principal", None),
        **context,
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` (or one of its blocks, for an htmx swap) as a no-store HTML page."""
    settings: Settings = request.app.state.settings
    tmpl = environment(settings).get_template(template)
    values = _context(request, context or {})
    if block is None:
        body = tmpl.render(values)
    else:
        body = "".join(tmpl.blocks[block](tmpl.new_context(values)))
    response = HTMLResponse(body, status_code=status_code, headers=dict(headers or {}))
    # Pages carry per-user data: never cached by the browser or a proxy.
    response.headers.setdefault("Cache-Control", "no-store")
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if values["notice"] is not None:
        response.delete_cookie(_NOTICE_COOKIE, path="/")
    attach_csrf_cookie(request, response)
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


@dataclass(slots=True)
class FormError:
    """A refusal to show next to the form that caused it."""

    message: str
    code: str
    status_code: int
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Outcome:
    error: FormError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _validation_error(exc: ValidationError) -> FormError:
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        fields.setdefault(loc or "form", str(err.get("msg", "invalid value")))
    first = next(iter(fields.items()), ("form", "invalid value"))
    message = first[1] if first[0] == "form" else f"{first[0]}: {first[1]}"
    return FormError(message, "validation_error", 422, fields)


@contextmanager
def service_errors(session: Session) -> Iterator[Outcome]:
    """Run a service call; a refusal rolls the transaction back and lands in ``outcome.error``.

    ``with service_errors(session) as outcome: service.cancel(...)`` — afterwards render the
    page again with ``outcome.error`` and the submitted values, so no input is lost.
    """
    outcome = Outcome()
    try:
        yield outcome
    except DomainError as exc:
        session.rollback()
        outcome.error = FormError(exc.detail, exc.code, KIND_STATUS[exc.kind])
    except ValidationError as exc:
        session.rollback()
        outcome.error = _validation_error(exc)
    except IntegrityError:
        session.rollback()
        outcome.error = FormError("the change conflicts with existing data", "conflict", 409)


_NOTICE_COOKIE = "atelier_notice"


def _notice_signature(settings: Settings, text: str) -> str:
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"notice:{text}".encode(), hashlib.sha256).hexdigest()[:32]


def redirect(request: Request, url: str, *, notice: str | None = None) -> Response:
    """303 to ``url`` (post → redirect → get); ``notice`` shows once on the next page."""
    response: Response
    if is_htmx(request):
        response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    if notice:
        settings: Settings = request.app.state.settings
        text = notice[:300]
        value = f"{_notice_signature(settings, text)}.{text}"
        response.set_cookie(
            _NOTICE_COOKIE, quote(value), max_age=60, httponly=True, samesite="lax", path="/"
        )
    attach_csrf_cookie(request, response)
    return response


def take_notice(request: Request) -> str | None:
    """The notice set by the previous redirect, when its signature holds."""
    raw = request.cookies.get(_NOTICE_COOKIE)
    if not raw:
        return None
    signature, _, text = unquote(raw).partition(".")
    settings: Settings = request.app.state.settings
    if not hmac.compare_digest(signature, _notice_signature(settings, text)):
        return None
    return text
