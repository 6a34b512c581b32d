"""WhatsApp Cloud API over real HTTP (httpx) against ``ATELIER_WHATSAPP_GRAPH_URL``.

Messages: ``POST {graph}/{phone_number_id}/messages`` (template with body variables, an optional
image header, quick-reply payloads and a URL-button suffix; or free-form text/image, which
WhatsApp only delivers inside the 24 h customer-service window). Templates:
``GET|POST {graph}/{waba_id}/message_templates``. The access token travels in the
``Authorization`` header only, never in a URL, and is never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atelier.notifications.providers.base import OutgoingMessage, SendOutcome

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

_ERROR_TEXT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class PlatformCredentials:
    platform_id: str
    phone_number_id: str
    waba_id: str
    access_token: str

    def __repr__(self) -> str:  # never print the token
        return f"PlatformCredentials(platform_id={self.platform_id!r})"


class GraphError(Exception):
    """The Graph API refused a request (or could not be reached)."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 429


def _graph_error(response: httpx.Response) -> GraphError:
    code = f"http_{response.status_code}"
    message = response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        if error.get("code") is not None:
            code = str(error["code"])
        parts = [str(error.get("message") or message)]
        details = (error.get("error_data") or {}).get("details")
        if details:
            parts.append(str(details))
        message = ": ".join(parts)
    elif response.text:
        message = response.text
    return GraphError(response.status_code, code, message[:_ERROR_TEXT_LIMIT])


def digits(number: str) -> str:
    """``+91 98765-43210`` → ``919876543210`` (the form WhatsApp uses for ``to`` and ``wa_id``)."""
    return "".join(ch for ch in number if ch.isdigit())


def template_payload(message: OutgoingMessage) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    if message.image_url:
        components.append(
            {
                "type": "header",
                "parameters": [{"type": "image", "image": {"link": message.image_url}}],
            }
        )
    if message.values:
        components.append(
            {
                "type": "body",
                "parameters": [{"type": "text", "text": value} for value in message.values],
            }
        )
    index = 0
    for payload in message.quick_reply_payloads:
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": payload}],
            }
        )
        index += 1
    if message.url_button and message.link_token:
        components.append(
            {
                "type": "button",
                "sub_type": "url",
                "index": str(index),
                "parameters": [{"type": "text", "text": message.link_token}],
            }
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits(message.recipient),
        "type": "template",
        "template": {
            "name": message.template_name,
            "language": {"code": message.language or "en"},
            "components": components,
        },
    }


def free_form_payload(message: OutgoingMessage) -> dict[str, Any]:
    base: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": digits(message.recipient),
    }
    if message.image_url:
        caption = message.body[:1024] if message.body else None
        image: dict[str, Any] = {"link": message.image_url}
        if caption:
            image["caption"] = caption
        return {**base, "type": "image", "image": image}
    return {**base, "type": "text", "text": {"body": message.body[:4096], "preview_url": False}}


class GraphClient:
    """The few Graph API calls Atelier makes, for one platform's credentials."""

    def __init__(self, base_url: str, credentials: PlatformCredentials, client: httpx.Client):
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.client = client

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.access_token}"}

    def _request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        import httpx  # imported when a call is made, not when the app starts

        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = self.client.request(
                method, url, json=json, params=params, headers=self._headers()
            )
        except httpx.TimeoutException as exc:
            detail = f"the WhatsApp API timed out ({type(exc).__name__})"
            raise GraphError(None, "timeout", detail) from exc
        except httpx.HTTPError as exc:
            detail = f"the WhatsApp API is unreachable ({type(exc).__name__})"
            raise GraphError(None, "unreachable", detail) from exc
        if response.status_code >= 400:
            raise _graph_error(response)
        try:
            return response.json()
        except ValueError as exc:
            raise GraphError(response.status_code, "bad_response", "not JSON") from exc

    def send_message(self, payload: dict[str, Any]) -> str:
        body = self._request("POST", f"{self.credentials.phone_number_id}/messages", json=payload)
        messages = body.get("messages") if isinstance(body, dict) else None
        if not messages or not isinstance(messages[0], dict) or not messages[0].get("id"):
            raise GraphError(200, "bad_response", "the response names no message id")
        return str(messages[0]["id"])

    def list_templates(
        self, *, status: str | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Every template of the business account (follows paging, at most 20 pages)."""
        params: dict[str, Any] = {"fields": "id,name,status,language,category", "limit": limit}
        if status:
            params["status"] = status
        out: list[dict[str, Any]] = []
        path = f"{self.credentials.waba_id}/message_templates"
        for _ in range(20):
            body = self._request("GET", path, params=params)
            data = body.get("data") if isinstance(body, dict) else None
            out.extend(item for item in (data or []) if isinstance(item, dict))
            after = (((body or {}).get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (body.get("paging") or {}).get("next"):
                break
            params = {**params, "after": after}
        return out

    def create_template(self, request: dict[str, Any]) -> dict[str, Any]:
        body = self._request("POST", f"{self.credentials.waba_id}/message_templates", json=request)
        return body if isinstance(body, dict) else {}


class WhatsAppCloudProvider:
    """Sends one message through one platform's phone number."""

    name = "whatsapp"

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph

    def send(self, message: OutgoingMessage) -> SendOutcome:
        payload = (
            template_payload(message) if message.kind == "template" else free_form_payload(message)
        )
        try:
            provider_id = self.graph.send_message(payload)
        except GraphError as exc:
            log.info(
                "whatsapp send failed",
                extra={
                    "message_id": message.id,
                    "status_code": exc.status,
                    "error_code": exc.code,
                    "retryable": exc.retryable,
                },
            )
            if exc.retryable:
                return SendOutcome.retry(exc.code, exc.message)
            return SendOutcome.refused(exc.code, exc.message)
        return SendOutcome.sent(provider_id)
