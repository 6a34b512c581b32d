"""Portal languages: gettext catalogues (Babel ``.po`` files) and locale-aware formatting.

The catalogues live in ``atelier/web/locale/<lang>/LC_MESSAGES/messages.po``; they are compiled
in memory on first use, so there is no build step and no stale ``.mo`` file. English is the
source language (the msgids). ``scripts/portal-messages`` re-extracts the strings from the
portal's templates and Python code and updates the Hindi catalogue.
"""

from __future__ import annotations

import datetime as dt
import gettext
from collections.abc import Callable
from datetime import tzinfo
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from io import BytesIO
from typing import Any

# Babel is imported by the first portal page that formats or translates, not when the app
# starts (tests/platform/test_startup.py); later calls find it in ``sys.modules``.

DEFAULT_LANGUAGE = "en"
# Language code → (Babel locale, the language's own name for the switch).
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("en_IN", "English"),
    "hi": ("hi_IN", "हिन्दी"),
}
DOMAIN = "messages"


def catalogue_path(language: str) -> Any:
    return resources.files("atelier.web").joinpath(
        "locale", language, "LC_MESSAGES", f"{DOMAIN}.po"
    )


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the msgids themselves)."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with catalogue_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=LANGUAGES[language][0], domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def supported(language: str | None) -> str | None:
    """``language`` (or its primary subtag) when the portal speaks it."""
    if not language:
        return None
    primary = language.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an ``Accept-Language`` header, by quality."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag))
    for negative_quality, _, tag in sorted(ranked):
        language = supported(tag)
        if language and negative_quality < 0:
            return language
    return None


def _moment(value: dt.datetime | str | None) -> dt.datetime | None:
    """A datetime from a model attribute or a serialised (ISO 8601) API field."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class Translator:
    """``_`` and the formatters a portal page uses, bound to one language and time zone."""

    def __init__(self, language: str, zone: tzinfo) -> None:
        self.language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        self.locale = LANGUAGES[self.language][0]
        self.zone = zone
        self._catalogue = translations(self.language)

    def gettext(self, message: str, **values: Any) -> str:
        text = self._catalogue.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self._catalogue.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def number(self, value: int | float | Decimal | None) -> str:
        if value is None:
            return "—"
        from babel.numbers import format_decimal

        return format_decimal(value, locale=self.locale)

    def datetime(self, value: dt.datetime | str | None) -> str:
        moment = _moment(value)
        if moment is None:
            return "—"
        from babel.dates import format_datetime

        return format_datetime(moment, format="medium", tzinfo=self.zone, locale=self.locale)

    def date(self, value: dt.datetime | str | None) -> str:
        moment = _moment(value)
        if moment is None:
            return "—"
        from babel.dates import format_date

        return format_date(moment.astimezone(self.zone), format="medium", locale=self.locale)

    def helpers(self) -> dict[str, Callable[..., str] | str]:
        """What templates get: ``_``, ``ngettext``, ``fmt_number``, ``fmt_datetime``…"""
        return {
            "_": self.gettext,
            "ngettext": self.ngettext,
            "fmt_number": self.number,
            "fmt_datetime": self.datetime,
            "fmt_date": self.date,
            "lang": self.language,
        }
