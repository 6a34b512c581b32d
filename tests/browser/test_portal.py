"""The partner portal in Debian chromium at a phone's size (360×740): a deep link, every
milestone, a photo, a comment, completion with consumption — in English and in Hindi — plus
JavaScript off, another partner's run, an expired link, and each page's transferred bytes."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from atelier.auth.deeplinks import build_wa_token
from tests.browser.conftest import SCREENSHOTS, LiveServer, no_horizontal_scroll
from tests.factories import catalog, inventory
from tests.production.lifecycle_helpers import Dispatched, dispatched

PORTAL_PHONE = {"width": 360, "height": 740}
PAGE_BUDGET = 60 * 1024


def tiny_png() -> bytes:
    """A valid 2×2 PNG (what a phone camera would send, only smaller)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Workshop:
    run: Dispatched
    fabric: dict[str, Any]
    location: dict[str, Any]


def workshop_run(live: LiveServer, *, language: str | None = None) -> Workshop:
    """A dispatched run (one task with two steps) for a new partner with a stocked location."""
    api = live.api
    anonymous = httpx.Client(base_url=live.url, timeout=30)
    fabric = inventory.create_item(api, unit_of_measure="m")
    design = catalog.create_design(
        api,
        name="Block Print Kurta",
        specifications={"fabric": "cotton cambric", "print": "hand block"},
        colors=["indigo", "madder red"],
        sizes=["M", "L"],
    )
    catalog.set_bom(api, design["id"], {fabric["id"]: 1.5})
    extra = {"preferred_language": language} if language else {}
    partner = catalog.create_partner(api, anonymous, **extra)
    location = inventory.create_location(api, name="Workshop floor", partner_id=partner.id)
    inventory.set_level(api, fabric["id"], location["id"], 100.0)
    run = dispatched(api, anonymous, partner=partner, design=design, quantity=4, subtasks=2)
    anonymous.close()
    return Workshop(run, fabric, location)


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=live_server.url, viewport=PORTAL_PHONE, is_mobile=True)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def snap(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"portal-{name}-phone.png"), full_page=True)
    assert no_horizontal_scroll(page), f"{name}: the page scrolls sideways at 360 px"


def open_link(page: Page, live: LiveServer, w: Workshop) -> None:
    token = build_wa_token(live.settings, partner_id=w.run.partner.id, run_id=w.run.id)
    page.goto(f"/partners/wa-auth?wa_token={token}")
    expect(page).to_have_url(f"{live.url}/portal/runs/{w.run.id}")


def walk(page: Page, live: LiveServer, w: Workshop, words: dict[str, str], lang: str) -> None:
    """Deep link → accept → start → progress → photo → comment → finish → complete."""
    open_link(page, live, w)
    snap(page, f"{lang}-run-new")
    page.get_by_role("button", name=words["accept"]).click()
    expect(page.locator(".notice")).to_be_visible()
    page.get_by_role("button", name=words["start"]).click()
    page.get_by_label(words["so_far"]).fill("2")
    page.get_by_role("button", name=words["save"]).click()
    expect(page.locator(".notice")).to_contain_text("2")
    page.set_input_files(
        "#photo-files", files=[{"name": "floor.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    page.get_by_role("button", name=words["upload"]).click()
    expect(page.locator("#photos .gallery img")).to_have_count(1)
    thumb = page.locator("#photos .gallery img").first
    assert "/media/thumbs/192/" in (thumb.get_attribute("src") or "")
    # The thumbnail loads (it may still be on its way when the element appears).
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    page.locator("textarea[name=body]").first.fill(words["comment"])
    page.get_by_role("button", name=words["send"]).first.click()
    expect(page.locator(".comments")).to_contain_text(words["comment"])
    snap(page, f"{lang}-run-working")
    page.get_by_role("button", name=words["finish"]).click()
    page.get_by_label(words["produced"]).fill("4")
    page.locator("input[name=item_quantity]").first.fill("6")
    snap(page, f"{lang}-run-complete-form")
    page.get_by_role("button", name=words["complete"]).click()
    expect(page.locator(".notice")).to_be_visible()
    snap(page, f"{lang}-run-completed")


def check_admin_view(live: LiveServer, w: Workshop) -> None:
    live.drain()
    api = live.api
    run = api.get(f"/admin/production-runs/{w.run.id}").json()["production_run"]
    assert run["status"] == "completed"
    assert run["produced_quantity"] == 4
    item = api.get(f"/admin/inventory-items/{w.fabric['id']}").json()["inventory_item"]
    level = next(lv for lv in item["levels"] if lv["location_id"] == w.location["id"])
    assert float(level["stocked_quantity"]) == 94.0  # 100 − 6, moved once
    events = api.get(f"/admin/production-runs/{w.run.id}/events").json()["events"]
    by_kind = {e["kind"]: e["channel"] for e in events}
    for kind in ("accepted", "started", "progress_updated", "finished", "completed"):
        assert by_kind.get(kind) == "web", (kind, by_kind)


ENGLISH = {
    "accept": "Accept this run",
    "start": "Start work",
    "so_far": "Pieces made so far",
    "save": "Save progress",
    "upload": "Upload photos",
    "comment": "Cutting done, stitching tomorrow",
    "send": "Send comment",
    "finish": "Finish work",
    "produced": "Pieces produced (including rejected)",
    "complete": "Complete run",
}
HINDI = {
    "accept": "यह रन स्वीकार करें",
    "start": "काम शुरू करें",
    "so_far": "अब तक बने पीस",
    "save": "प्रगति सहेजें",
    "upload": "फ़ोटो अपलोड करें",
    "comment": "कटिंग पूरी, कल सिलाई",
    "send": "टिप्पणी भेजें",
    "finish": "काम खत्म करें",
    "produced": "बने हुए पीस (रिजेक्ट सहित)",
    "complete": "रन पूरा करें",
}


def test_partner_walks_a_run_from_a_deep_link(
    phone: BrowserContext, live_server: LiveServer
) -> None:
    w = workshop_run(live_server)
    page = phone.new_page()
    walk(page, live_server, w, ENGLISH, "en")
    expect(page.locator("#timeline")).to_contain_text("Completed")
    check_admin_view(live_server, w)
    page.goto("/portal")
    snap(page, "en-runs")


def test_the_same_walk_in_hindi(phone: BrowserContext, live_server: LiveServer) -> None:
    w = workshop_run(live_server, language="hi")
    page = phone.new_page()
    walk(page, live_server, w, HINDI, "hi")
    assert page.locator("html").get_attribute("lang") == "hi"
    expect(page.locator("#timeline h2")).to_have_text("गतिविधि")
    check_admin_view(live_server, w)
    page.goto("/portal")
    expect(page.get_by_role("link", name="उत्पादन", exact=True)).to_be_visible()
    snap(page, "hi-runs")


def test_language_switch_on_the_page(phone: BrowserContext, live_server: LiveServer) -> None:
    w = workshop_run(live_server)
    page = phone.new_page()
    open_link(page, live_server, w)
    page.get_by_role("button", name="हिन्दी").click()
    expect(page.get_by_role("button", name=HINDI["accept"])).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name=ENGLISH["accept"])).to_be_visible()


def test_accept_works_without_javascript(browser: Browser, live_server: LiveServer) -> None:
    w = workshop_run(live_server)
    ctx = browser.new_context(
        base_url=live_server.url, viewport=PORTAL_PHONE, java_script_enabled=False
    )
    try:
        page = ctx.new_page()
        open_link(page, live_server, w)
        page.get_by_role("button", name=ENGLISH["accept"]).click()
        expect(page.locator(".notice")).to_be_visible()
        run = live_server.api.get(f"/admin/production-runs/{w.run.id}").json()["production_run"]
        assert run["status"] == "in_progress"
    finally:
        ctx.close()


def test_another_partners_run_is_a_404_page(phone: BrowserContext, live_server: LiveServer) -> None:
    mine, theirs = workshop_run(live_server), workshop_run(live_server)
    page = phone.new_page()
    open_link(page, live_server, mine)
    response = page.goto(f"/portal/runs/{theirs.run.id}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_contain_text("404")
    snap(page, "en-not-found")


def test_an_expired_link_shows_the_sign_in_page(
    phone: BrowserContext, live_server: LiveServer
) -> None:
    page = phone.new_page()
    page.goto("/partners/wa-auth?wa_token=expired.or.broken")
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.locator(".warning")).to_contain_text("expired")
    snap(page, "en-sign-in-expired-link")


def _transferred(ctx: BrowserContext, url: str) -> tuple[int, list[str]]:
    """Bytes on the wire (headers + encoded bodies) to load ``url`` with an empty cache."""
    page = ctx.new_page()
    seen: list[Any] = []
    page.on("requestfinished", lambda request: seen.append(request))
    page.goto(url)
    page.wait_for_load_state("load")
    total, names = 0, []
    for request in seen:
        if request.resource_type == "image":
            continue
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        names.append(f"{request.url} {sizes['responseBodySize']}")
    page.close()
    return total, names


@pytest.mark.parametrize("language", ["en", "hi"])
def test_every_portal_page_is_light(
    browser: Browser, live_server: LiveServer, language: str
) -> None:
    w = workshop_run(live_server, language=language)
    # Sign in once, then measure each page in a fresh context (empty cache) with that cookie.
    first = browser.new_context(base_url=live_server.url, viewport=PORTAL_PHONE)
    open_link(first.new_page(), live_server, w)
    state = first.storage_state()
    first.close()
    pages = [
        "/portal",
        f"/portal/runs/{w.run.id}",
        "/portal?type=sample",
        "/portal/sign-in?link=expired",
    ]
    weights: dict[str, int] = {}
    for path in pages:
        ctx = browser.new_context(
            base_url=live_server.url, viewport=PORTAL_PHONE, storage_state=state
        )
        try:
            total, names = _transferred(ctx, path)
        finally:
            ctx.close()
        weights[
            path.split("?")[0].replace(w.run.id, ":id")
            + ("?" + path.split("?")[1] if "?" in path else "")
        ] = total
        assert total <= PAGE_BUDGET, (path, total, names)
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    report = SCREENSHOTS.parent / f"portal-page-weights-{language}.json"
    report.write_text(json.dumps(weights, indent=2))
