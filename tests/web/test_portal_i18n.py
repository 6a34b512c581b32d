"""The portal's catalogues: every string in its templates and code has a Hindi translation,
and the formatting follows the locale."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

from atelier.web.portal.i18n import Translator, from_accept_language, supported

ROOT = Path(__file__).resolve().parents[2]


def _messages_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "portal_messages", ROOT / "scripts" / "portal_messages.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_portal_string_has_a_hindi_translation() -> None:
    script = _messages_script()
    source = script.template()
    assert len(source) > 100  # the extractor found the templates and the code
    from babel.messages.pofile import read_po

    path = ROOT / "src/atelier/web/locale/hi/LC_MESSAGES/messages.po"
    with path.open("rb") as handle:
        hindi = read_po(handle, locale="hi_IN")
    missing = []
    for message in source:
        if not message.id:
            continue
        translated = hindi.get(message.id)
        strings = translated.string if translated else None
        if not strings or (isinstance(strings, tuple) and not all(strings)):
            missing.append(message.id)
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    words = Translator("hi", ZoneInfo("Asia/Kolkata"))
    text = words.gettext("Progress saved: %(produced)s pieces made so far.", produced=7)
    assert "7" in text and "प्रगति" in text
    assert "3" in words.ngettext("%(num)d photo added", "%(num)d photos added", 3)


def test_dates_and_numbers_follow_the_locale() -> None:
    moment = datetime(2026, 11, 2, 4, 30, tzinfo=UTC)
    english = Translator("en", ZoneInfo("Asia/Kolkata"))
    hindi = Translator("hi", ZoneInfo("Asia/Kolkata"))
    assert english.number(1234567) == "12,34,567"  # Indian digit grouping
    assert "Nov" in english.datetime(moment) and "10:00" in english.datetime(moment)
    assert "नव॰" in hindi.datetime(moment) or "नवं" in hindi.datetime(moment)
    assert english.datetime("2026-11-02T04:30:00Z") == english.datetime(moment)
    assert english.datetime(None) == "—"


def test_language_choice() -> None:
    assert supported("hi-IN") == "hi"
    assert supported("fr") is None
    assert from_accept_language("fr-FR,hi;q=0.8,en;q=0.5") == "hi"
    assert from_accept_language("de, en;q=0.1") == "en"
    assert from_accept_language("xx;q=abc") is None
    assert from_accept_language(None) is None
