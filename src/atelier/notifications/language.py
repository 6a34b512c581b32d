"""Which language a partner message goes out in: one pure function, table-tested.

Order: explicit → the partner's saved preference → the language of the partner's last inbound
WhatsApp message → the phone prefix (``+91`` → ``hi``, any other number → ``en``) →
``ATELIER_DEFAULT_LANGUAGE``. A candidate the catalogue (or the sending platform) does not
offer is skipped, so a ``hi`` preference on an English-only platform goes out in ``en``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from atelier.notifications.catalog import LANGUAGES

_DEVANAGARI = re.compile(r"[\u0900-\u097F]")
_LATIN = re.compile(r"[A-Za-z]")
_HINDI_WORDS = {"hindi", "हिंदी", "हिन्दी"}
_ENGLISH_WORDS = {"english", "अंग्रेज़ी", "अंग्रेजी"}


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    language: str
    source: str  # explicit | partner_preference | last_inbound | phone_prefix | default


def _normalise(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code or None


def resolve_language(
    *,
    explicit: str | None = None,
    partner_preference: str | None = None,
    last_inbound: str | None = None,
    phone: str | None = None,
    default: str = "en",
    available: Sequence[str] = LANGUAGES,
) -> LanguageChoice:
    """The first candidate that is ``available``; see the module docstring for the order."""
    offered = [lang for lang in available if lang in LANGUAGES] or ["en"]
    candidates: list[tuple[str | None, str]] = [
        (_normalise(explicit), "explicit"),
        (_normalise(partner_preference), "partner_preference"),
        (_normalise(last_inbound), "last_inbound"),
    ]
    if phone:
        digits = phone.strip()
        candidates.append(("hi" if digits.startswith("+91") else "en", "phone_prefix"))
    candidates.append((_normalise(default), "default"))
    for language, source in candidates:
        if language and language in offered:
            return LanguageChoice(language, source)
    return LanguageChoice(offered[0], "platform")


def detect_language(text: str | None) -> str | None:
    """The language an inbound text is written in: Devanagari → ``hi``, Latin → ``en``.

    Naming a language ("Hindi", "हिंदी", "English") picks it outright. Digits alone say nothing.
    """
    if not text:
        return None
    words = {w.strip(".,!?").lower() for w in text.split()}
    if words & _HINDI_WORDS:
        return "hi"
    if words & _ENGLISH_WORDS:
        return "en"
    devanagari = len(_DEVANAGARI.findall(text))
    latin = len(_LATIN.findall(text))
    if devanagari == 0 and latin == 0:
        return None
    return "hi" if devanagari >= latin else "en"
