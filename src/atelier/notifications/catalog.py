"""The template catalogue: one module used by the API, the CLI and the sender.

Every partner message is a WhatsApp template (the only kind WhatsApp lets a business start a
conversation with), rendered the same way for email and the log provider. A template has a
name, a category, an ``en`` and a ``hi`` body with positional variables ``{{1}}..{{n}}``, the
variable names (what the sender fills in, in order), example values (Meta reviews them), and
optional buttons: quick replies that act (Accept / Decline / Start) and a URL button whose
dynamic suffix is the deep-link token.

``EVENT_TEMPLATES`` maps events to templates; it is the one table the flows engine reads when
it turns this mapping into an editable flow step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from atelier.auth.deeplinks import REMINDER_MARKER

LANGUAGES: tuple[str, ...] = ("en", "hi")
CATEGORY_UTILITY = "UTILITY"
_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")

QuickReplyAction = Literal["accept", "decline", "start"]


@dataclass(frozen=True, slots=True)
class QuickReply:
    """A quick-reply button; its payload is ``<action>:<run_id>``."""

    action: QuickReplyAction
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    name: str
    description: str
    variables: tuple[str, ...]
    bodies: Mapping[str, str]
    examples: Mapping[str, tuple[str, ...]]
    subjects: Mapping[str, str]
    category: str = CATEGORY_UTILITY
    quick_replies: tuple[QuickReply, ...] = ()
    # Label of the "open the run" URL button per language; None = no URL button.
    url_button: Mapping[str, str] | None = None
    image_header: bool = False
    # The same template without the image header, used when no usable image exists.
    without_image: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def body(self, language: str) -> str:
        return self.bodies.get(language) or self.bodies["en"]

    def render(self, language: str, values: Sequence[str]) -> str:
        """The body with ``{{n}}`` replaced by ``values[n-1]``."""

        def _value(match: re.Match[str]) -> str:
            index = int(match.group(1)) - 1
            return values[index] if 0 <= index < len(values) else match.group(0)

        return _PLACEHOLDER.sub(_value, self.body(language))

    def subject(self, language: str, values: Mapping[str, str]) -> str:
        template = self.subjects.get(language) or self.subjects["en"]
        return template.format_map(_Defaulting(values))


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


_OPEN_RUN = {"en": "Open run", "hi": "रन खोलें"}
_ACCEPT = QuickReply("accept", {"en": "Accept", "hi": "स्वीकार करें"})
_DECLINE = QuickReply("decline", {"en": "Decline", "hi": "मना करें"})
_START = QuickReply("start", {"en": "Start", "hi": "शुरू करें"})
_RUN_VARS = ("partner_name", "design_name", "run_id")
_EXAMPLE_EN = ("Rajesh", "Block Print Kurta", "prod_run_01ABC")
_EXAMPLE_HI = ("राजेश", "ब्लॉक प्रिंट कुर्ता", "prod_run_01ABC")

RUN_ASSIGNED = TemplateSpec(
    name="atelier_run_assigned_v1",
    description="A run was sent to the partner (image header: the design).",
    variables=(*_RUN_VARS, "quantity"),
    bodies={
        "en": (
            "Hi {{1}}, a new production run is ready for you: {{4}} piece(s) of design {{2}} "
            "(run {{3}}).\n\nPlease open the partner portal to see the details, then tap Accept "
            "or Decline below. Reply here if you have any questions."
        ),
        "hi": (
            "नमस्ते {{1}}, आपके लिए एक नया प्रोडक्शन रन तैयार है: डिज़ाइन {{2}} के {{4}} पीस "
            "(रन {{3}})।\n\nकृपया विवरण देखने के लिए पार्टनर पोर्टल खोलें, फिर नीचे स्वीकार करें "
            "या मना करें पर टैप करें। कोई सवाल हो तो यहीं उत्तर दें।"
        ),
    },
    examples={"en": (*_EXAMPLE_EN, "250"), "hi": (*_EXAMPLE_HI, "250")},
    subjects={
        "en": "New production run {run_id}: {design_name}",
        "hi": "नया प्रोडक्शन रन {run_id}: {design_name}",
    },
    quick_replies=(_ACCEPT, _DECLINE),
    url_button=_OPEN_RUN,
    image_header=True,
    without_image="atelier_run_assigned_text_v1",
)

RUN_ASSIGNED_TEXT = TemplateSpec(
    name="atelier_run_assigned_text_v1",
    description="A run was sent to the partner (no usable design image).",
    variables=RUN_ASSIGNED.variables,
    bodies=RUN_ASSIGNED.bodies,
    examples=RUN_ASSIGNED.examples,
    subjects=RUN_ASSIGNED.subjects,
    quick_replies=RUN_ASSIGNED.quick_replies,
    url_button=_OPEN_RUN,
)

RUN_CANCELLED = TemplateSpec(
    name="atelier_run_cancelled_v1",
    description="The brand cancelled a run the partner had.",
    variables=(*_RUN_VARS, "reason"),
    bodies={
        "en": (
            "Hi {{1}}, production run {{3}} for design {{2}} has been cancelled by the team."
            "\n\n*Reason:* {{4}}\n\nPlease stop any work on it. Reply here if you have already "
            "started or need help with materials."
        ),
        "hi": (
            "नमस्ते {{1}}, डिज़ाइन {{2}} के लिए प्रोडक्शन रन {{3}} टीम द्वारा रद्द कर दिया गया है।"
            "\n\n*कारण:* {{4}}\n\nकृपया इस पर काम रोक दें। यदि आप काम शुरू कर चुके हैं या "
            "सामग्री के बारे में मदद चाहिए, तो यहीं उत्तर दें।"
        ),
    },
    examples={"en": (*_EXAMPLE_EN, "Order cancelled"), "hi": (*_EXAMPLE_HI, "ऑर्डर रद्द")},
    subjects={
        "en": "Production run {run_id} cancelled",
        "hi": "प्रोडक्शन रन {run_id} रद्द",
    },
    url_button=_OPEN_RUN,
)

RUN_COMPLETED = TemplateSpec(
    name="atelier_run_completed_v1",
    description="A run of the partner's completed.",
    variables=(*_RUN_VARS, "produced_quantity"),
    bodies={
        "en": (
            "Hi {{1}}, production run {{3}} for design {{2}} is complete — thank you!\n\n"
            "*Produced:* {{4}} piece(s)\n\nYou can see the run in the partner portal. Reply "
            "here if anything looks wrong."
        ),
        "hi": (
            "नमस्ते {{1}}, डिज़ाइन {{2}} के लिए प्रोडक्शन रन {{3}} पूरा हो गया है — धन्यवाद!\n\n"
            "*उत्पादित:* {{4}} पीस\n\nआप पार्टनर पोर्टल में रन देख सकते हैं। कुछ गलत लगे तो यहीं "
            "उत्तर दें।"
        ),
    },
    examples={"en": (*_EXAMPLE_EN, "248"), "hi": (*_EXAMPLE_HI, "248")},
    subjects={
        "en": "Production run {run_id} completed",
        "hi": "प्रोडक्शन रन {run_id} पूरा हुआ",
    },
    url_button=_OPEN_RUN,
)

# Reminder bodies are the brand's own (seed 004), with the buttons that let a partner act.
REMINDER_PENDING = TemplateSpec(
    name="atelier_run_reminder_pending_v1",
    description="Reminder: sent to the partner, not accepted yet.",
    variables=(*_RUN_VARS, "days"),
    bodies={
        "en": (
            "Hi {{1}}, a quick reminder — production run {{3}} for design {{2}} has been "
            "waiting for your response.\n\n*Waiting since:* {{4}} day(s) ago\n\nPlease open the "
            "partner portal and tap Accept or Decline so we can plan the next steps. Reply here "
            "if you need help."
        ),
        "hi": (
            "नमस्ते {{1}}, याद दिला रहे हैं — डिज़ाइन {{2}} के लिए प्रोडक्शन रन {{3}} अभी भी आपके "
            "उत्तर की प्रतीक्षा में है।\n\n*प्रतीक्षा अवधि:* {{4}} दिन\n\nकृपया पार्टनर पोर्टल खोलें "
            "और स्वीकार करें या मना करें पर टैप करें ताकि हम अगले कदम तय कर सकें। मदद चाहिए तो "
            "यहीं उत्तर दें।"
        ),
    },
    examples={"en": (*_EXAMPLE_EN, "2"), "hi": (*_EXAMPLE_HI, "2")},
    subjects={
        "en": "Reminder: run {run_id} is waiting for you",
        "hi": "याद दिलाना: रन {run_id} आपकी प्रतीक्षा में है",
    },
    quick_replies=(_ACCEPT, _DECLINE),
    url_button=_OPEN_RUN,
)

REMINDER_NOT_STARTED = TemplateSpec(
    name="atelier_run_reminder_not_started_v1",
    description="Reminder: accepted, not started yet.",
    variables=(*_RUN_VARS, "days"),
    bodies={
        "en": (
            "Hi {{1}}, just checking in — you've accepted production run {{3}} for design {{2}}, "
            "but we haven't seen it start yet.\n\n*Days since acceptance:* {{4}}\n\nIf you've "
            "already begun, please tap Start so we can track progress. Reply here if you're "
            "blocked on anything and the team will help."
        ),
        "hi": (
            "नमस्ते {{1}}, बस संपर्क कर रहे हैं — आपने डिज़ाइन {{2}} के लिए प्रोडक्शन रन {{3}} "
            "स्वीकार किया है, लेकिन काम अभी शुरू नहीं हुआ है।\n\n*स्वीकृति के बाद के दिन:* {{4}}\n\n"
            "यदि आप पहले से शुरू कर चुके हैं, तो कृपया शुरू करें पर टैप करें ताकि हम प्रगति ट्रैक "
            "कर सकें। कोई बाधा हो तो यहीं उत्तर दें, टीम मदद करेगी।"
        ),
    },
    examples={"en": (*_EXAMPLE_EN, "2"), "hi": (*_EXAMPLE_HI, "2")},
    subjects={
        "en": "Reminder: run {run_id} has not started",
        "hi": "याद दिलाना: रन {run_id} शुरू नहीं हुआ",
    },
    quick_replies=(_START,),
    url_button=_OPEN_RUN,
)

REMINDER_IDLE = TemplateSpec(
    name="atelier_run_reminder_idle_v1",
    description="Reminder: in progress, no activity for days (reply with a number = progress).",
    variables=(*_RUN_VARS, "produced_quantity", "quantity"),
    bodies={
        "en": (
            "Hi {{1}}, checking in on production run {{3}} for design {{2}} — it's been quiet "
            "for a few days.\n\n*Progress:* {{4}} of {{5}} pieces produced\n\nPlease reply with "
            "the number of pieces produced so far, or log an update in the partner portal, so "
            "we know where things stand. Reply here if you're blocked and the team will help."
        ),
        "hi": (
            "नमस्ते {{1}}, डिज़ाइन {{2}} के लिए प्रोडक्शन रन {{3}} पर अपडेट चाहिए — कुछ दिनों से "
            "कोई गतिविधि नहीं है।\n\n*प्रगति:* {{5}} में से {{4}} पीस पूरे\n\nकृपया अब तक बने पीस "
            "की संख्या यहीं उत्तर में भेजें, या पार्टनर पोर्टल में अपडेट दर्ज करें, ताकि हमें "
            "वर्तमान स्थिति का पता चले। कोई बाधा हो तो यहीं उत्तर दें, टीम मदद करेगी।"
        ),
    },
    examples={"en": (*_EXAMPLE_EN, "120", "250"), "hi": (*_EXAMPLE_HI, "120", "250")},
    subjects={
        "en": "Reminder: an update on run {run_id}?",
        "hi": "याद दिलाना: रन {run_id} पर अपडेट?",
    },
    url_button=_OPEN_RUN,
)

PARTNER_DIGEST = TemplateSpec(
    name="atelier_partner_digest_v1",
    description="One message listing several runs that wait on the partner.",
    variables=("partner_name", "run_count", "run_list"),
    bodies={
        "en": (
            "Hi {{1}}, you have {{2}} production run(s) waiting for you: {{3}}.\n\nPlease open "
            "the partner portal to accept, start or update them. Reply here if you need help."
        ),
        "hi": (
            "नमस्ते {{1}}, आपके {{2}} प्रोडक्शन रन आपकी प्रतीक्षा में हैं: {{3}}।\n\nकृपया उन्हें "
            "स्वीकार करने, शुरू करने या अपडेट करने के लिए पार्टनर पोर्टल खोलें। मदद चाहिए तो "
            "यहीं उत्तर दें।"
        ),
    },
    examples={
        "en": ("Rajesh", "3", "Block Print Kurta (prod_run_01ABC, waiting 2 days)"),
        "hi": ("राजेश", "3", "ब्लॉक प्रिंट कुर्ता (prod_run_01ABC, 2 दिन)"),
    },
    subjects={
        "en": "{run_count} production run(s) waiting for you",
        "hi": "{run_count} प्रोडक्शन रन आपकी प्रतीक्षा में",
    },
)

TEMPLATES: dict[str, TemplateSpec] = {
    spec.name: spec
    for spec in (
        RUN_ASSIGNED,
        RUN_ASSIGNED_TEXT,
        RUN_CANCELLED,
        RUN_COMPLETED,
        REMINDER_PENDING,
        REMINDER_NOT_STARTED,
        REMINDER_IDLE,
        PARTNER_DIGEST,
    )
}

DIGEST_EVENT = "production_run.reminder_digest"

# Event → template name. The one mapping table (the flows engine seeds its dispatcher step from
# it); an event missing here sends nothing (reason ``no_template_for_event``).
EVENT_TEMPLATES: dict[str, str] = {
    "production_run.sent_to_partner": RUN_ASSIGNED.name,
    "production_run.cancelled": RUN_CANCELLED.name,
    "production_run.completed": RUN_COMPLETED.name,
    "production_run.reminder_assignment_pending": REMINDER_PENDING.name,
    "production_run.reminder_not_started": REMINDER_NOT_STARTED.name,
    "production_run.reminder_idle": REMINDER_IDLE.name,
    DIGEST_EVENT: PARTNER_DIGEST.name,
}

REMINDER_EVENT_PREFIX = "production_run.reminder_"
__all__ = ["REMINDER_MARKER"]


def get_template(name: str) -> TemplateSpec | None:
    return TEMPLATES.get(name)


def template_for_event(
    event_name: str, mapping: Mapping[str, str] | None = None
) -> TemplateSpec | None:
    """The template an event sends, or None when the event has no mapping."""
    name = (mapping if mapping is not None else EVENT_TEMPLATES).get(event_name)
    return TEMPLATES.get(name) if name else None


def is_reminder(event_name: str) -> bool:
    return event_name.startswith(REMINDER_EVENT_PREFIX)


# --- languages per platform ---------------------------------------------------------------------


def parse_platform_languages(value: str | None) -> dict[str, list[str]]:
    """``"AU=en;IN=en,hi"`` → ``{"au": ["en"], "in": ["en", "hi"]}`` (labels lower-cased)."""
    out: dict[str, list[str]] = {}
    for part in (value or "").split(";"):
        label, sep, langs = part.partition("=")
        if not sep or not label.strip():
            continue
        codes = [c.strip().lower() for c in langs.split(",") if c.strip().lower() in LANGUAGES]
        if codes:
            out[label.strip().lower()] = codes
    return out


def languages_for_platform(
    label: str,
    country_codes: Sequence[str],
    explicit: Sequence[str] | None = None,
    overrides: str | None = None,
) -> list[str]:
    """The languages templates are submitted in (and sent in) for one WhatsApp platform.

    The platform's own ``languages`` win; then ``ATELIER_WHATSAPP_PLATFORM_LANGUAGES`` matched on
    the label; then the policy: a platform serving ``+91`` gets ``en`` and ``hi``, others ``en``.
    """
    if explicit:
        return [lang for lang in explicit if lang in LANGUAGES] or ["en"]
    matched = parse_platform_languages(overrides).get(label.strip().lower())
    if matched:
        return matched
    if any(code.strip().lstrip("+") == "91" for code in country_codes):
        return ["en", "hi"]
    return ["en"]


# --- WhatsApp template definitions (for creating them at Meta) -----------------------------------


def whatsapp_components(
    spec: TemplateSpec, language: str, public_base_url: str, header_handle: str | None = None
) -> list[Any]:
    """The ``components`` of a template-creation request for ``spec`` in ``language``.

    An image-header template needs ``header_handle``: a sample image uploaded through Meta's
    resumable upload API (Meta does not accept a plain URL there).
    """
    components: list[dict[str, Any]] = []
    if spec.image_header:
        if not header_handle:
            raise ValueError(f"{spec.name} has an image header: a header_handle is required")
        components.append(
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [header_handle]}}
        )
    components.append(
        {
            "type": "BODY",
            "text": spec.body(language),
            "example": {"body_text": [list(spec.examples.get(language) or spec.examples["en"])]},
        }
    )
    buttons: list[dict[str, Any]] = [
        {"type": "QUICK_REPLY", "text": reply.labels.get(language) or reply.labels["en"]}
        for reply in spec.quick_replies
    ]
    if spec.url_button is not None:
        link = f"{public_base_url.rstrip('/')}/partners/wa-auth?wa_token="
        buttons.append(
            {
                "type": "URL",
                "text": spec.url_button.get(language) or spec.url_button["en"],
                "url": link + "{{1}}",
                "example": [link + "example-token"],
            }
        )
    if buttons:
        components.append({"type": "BUTTONS", "buttons": buttons})
    return components


def creation_request(
    spec: TemplateSpec, language: str, public_base_url: str, header_handle: str | None = None
) -> dict[str, Any]:
    """The body ``POST /{waba_id}/message_templates`` takes for ``spec`` in ``language``."""
    return {
        "name": spec.name,
        "category": spec.category,
        "language": language,
        "components": whatsapp_components(spec, language, public_base_url, header_handle),
    }
