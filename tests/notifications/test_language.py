"""Language resolution and detection: pure functions, table-tested."""

from __future__ import annotations

import pytest

from atelier.notifications.catalog import languages_for_platform, parse_platform_languages
from atelier.notifications.language import detect_language, resolve_language


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"explicit": "hi", "partner_preference": "en", "phone": "+61400000000"},
            ("hi", "explicit"),
        ),
        (
            {"partner_preference": "en", "last_inbound": "hi", "phone": "+91987"},
            ("en", "partner_preference"),
        ),
        ({"last_inbound": "hi", "phone": "+61400000000"}, ("hi", "last_inbound")),
        ({"phone": "+919876543210"}, ("hi", "phone_prefix")),
        ({"phone": "+61412345678"}, ("en", "phone_prefix")),
        ({}, ("en", "default")),
        ({"default": "hi"}, ("hi", "default")),
        ({"explicit": "fr", "phone": "+919876543210"}, ("hi", "phone_prefix")),
        ({"explicit": "hi-IN"}, ("hi", "explicit")),
        ({"partner_preference": "hi", "available": ["en"]}, ("en", "default")),
        ({"phone": "+919876543210", "available": ["en"]}, ("en", "default")),
        ({"default": "hi", "available": ["en"]}, ("en", "platform")),
    ],
)
def test_resolution_order(kwargs: dict[str, object], expected: tuple[str, str]) -> None:
    choice = resolve_language(**kwargs)  # type: ignore[arg-type]
    assert (choice.language, choice.source) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("नमस्ते, काम शुरू हो गया", "hi"),
        ("Hello, started today", "en"),
        ("Hindi please", "hi"),
        ("english", "en"),
        ("हिंदी", "hi"),
        ("120", None),
        ("", None),
        (None, None),
        ("ok 👍", "en"),
    ],
)
def test_detect_language(text: str | None, expected: str | None) -> None:
    assert detect_language(text) == expected


class TestPlatformLanguages:
    def test_india_gets_english_and_hindi(self) -> None:
        assert languages_for_platform("Main", ["+91"]) == ["en", "hi"]
        assert languages_for_platform("Main", ["91", "+971"]) == ["en", "hi"]

    def test_others_get_english(self) -> None:
        assert languages_for_platform("AU", ["+61"]) == ["en"]

    def test_override_matched_on_label(self) -> None:
        overrides = "AU=en;IN=en,hi;Europe=en,it"
        assert languages_for_platform("au", ["+61"], overrides=overrides) == ["en"]
        assert languages_for_platform("Europe", ["+39"], overrides=overrides) == ["en"]
        assert languages_for_platform("IN", ["+61"], overrides=overrides) == ["en", "hi"]

    def test_platform_setting_wins(self) -> None:
        assert languages_for_platform("IN", ["+91"], ["en"], "IN=en,hi") == ["en"]

    def test_parse_ignores_junk(self) -> None:
        assert parse_platform_languages("=en;X;AU=fr;IN= hi , en ") == {"in": ["hi", "en"]}
        assert parse_platform_languages(None) == {}
