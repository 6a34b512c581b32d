"""The admin's walk through production runs in a real browser (issue 12's "done when")."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, LiveServer, no_horizontal_scroll, screenshot
from tests.factories import catalog, runs, tasks


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> dict[str, Any]:
    api: Any = live_server.api
    design = catalog.create_design(
        api,
        name="Block Print Kurta",
        description="Hand block printed cotton kurta",
        specifications={"fabric": "cotton cambric", "gsm": 120, "print": "dabu"},
        colors=["indigo", "madder red"],
        sizes=["S", "M", "L"],
    )
    cutters = catalog.create_partner(api, api, name="Kiran Cutters")
    tailors = catalog.create_partner(api, api, name="Meera Tailoring")
    tasks.create_template(api, "Cut panels", category="Tailoring", subtasks=["Mark", "Cut"])
    tasks.create_template(api, "Stitch kurta", category="Tailoring")
    tasks.create_template(api, "Press and fold", category="Finishing")
    run = runs.create_run(api, design_id=design["id"], quantity=30)
    other = catalog.create_design(api, name="Silk Saree")
    for _ in range(3):
        runs.create_run(api, design_id=other["id"], quantity=5)
    return {"design": design, "cutters": cutters, "tailors": tailors, "run": run}


def test_find_approve_split_dispatch_cancel_export(
    admin_page: Page, live_server: LiveServer, world: dict[str, Any]
) -> None:
    page = admin_page
    run_id = world["run"]["id"]
    # Find the run by searching its design name.
    page.get_by_role("link", name="Production runs", exact=True).click()
    expect(page).to_have_title("Production runs · Atelier")
    page.get_by_label("Search").fill("block print")
    expect(page.locator("#run-count")).to_have_text("1 run")
    expect(page).to_have_url(re.compile(r"q=block\+print"))
    screenshot(page, "admin-runs")
    page.get_by_role("link", name=run_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Block Print Kurta")
    expect(page.locator("#snapshot")).to_contain_text("cotton cambric")
    expect(page.locator("#snapshot")).to_contain_text("madder red")

    # Approve with a two-partner split.
    page.locator("#action-approve summary").click()
    page.get_by_label("Partner", exact=True).first.select_option(label="Kiran Cutters")
    page.locator("#a0-quantity").fill("30")
    page.locator("#a0-role").fill("cutting")
    page.locator("#a0-order").fill("0")
    page.locator("#a1-partner").select_option(label="Meera Tailoring")
    page.locator("#a1-quantity").fill("30")
    page.locator("#a1-role").fill("stitching")
    page.locator("#a1-order").fill("1")
    page.get_by_role("button", name="Approve").click()
    # 30 + 30 ≠ 30: the service refuses, the form stays filled in.
    expect(page.get_by_role("alert")).to_contain_text("quantit")
    expect(page.locator("#a1-role")).to_have_value("stitching")
    screenshot(page, "admin-run-refused")
    page.locator("#a0-quantity").fill("18")
    page.locator("#a1-quantity").fill("12")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Approved and split into 2 runs")
    children = page.locator("#children tbody tr")
    expect(children).to_have_count(2)

    # Dispatch the cutting child choosing a category.
    page.locator("#children tbody tr", has_text="cutting").get_by_role("link").click()
    expect(page.locator("#action-dispatch")).to_be_visible()
    page.locator("#action-dispatch summary").click()
    page.get_by_label("Every template of a category").check()
    page.get_by_label("Category", exact=True).select_option("Tailoring")
    page.get_by_role("button", name="Dispatch to Kiran Cutters").click()
    expect(page.get_by_role("status")).to_contain_text("Dispatched with 2 tasks.")
    expect(page.locator("#tasks")).to_contain_text("Cut panels")
    expect(page.locator("#tasks")).to_contain_text("Mark")
    expect(page.locator("#timeline")).to_contain_text("sent to partner")
    expect(page.locator("#timeline")).to_contain_text("via web")
    screenshot(page, "admin-run-detail")

    # Cancel the stitching child with a reason.
    page.get_by_role("link", name=re.compile(r"^prod_run_")).filter(has_text=run_id).first.click()
    page.locator("#children tbody tr", has_text="stitching").get_by_role("link").click()
    page.locator("#action-cancel summary").click()
    page.get_by_label("Reason").fill("Tailor has no capacity this month")
    page.get_by_role("button", name="Cancel this run").click()
    expect(page.get_by_role("status")).to_have_text("Cancelled.")
    expect(page.locator("#timeline")).to_contain_text("Tailor has no capacity this month")

    # See it in the filtered table (children included), then export that filter.
    page.goto("/app/runs?include_children=1&status=cancelled")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.locator("#runs-table")).to_contain_text("Meera Tailoring")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert [r["status"] for r in rows] == ["cancelled"]
    assert rows[0]["partner_name"] == "Meera Tailoring"


def test_filters_sort_and_pages_keep_the_url(admin_page: Page, world: dict[str, Any]) -> None:
    page = admin_page
    page.goto("/app/runs")
    page.get_by_label("Status", exact=True).select_option("pending_review")
    expect(page).to_have_url(re.compile(r"status=pending_review"))
    page.get_by_label("Design").select_option(label="Silk Saree")
    expect(page).to_have_url(re.compile(r"design_id=design_"))
    expect(page.locator("#run-count")).to_have_text("3 runs")
    page.get_by_role("link", name="Qty").click()
    expect(page).to_have_url(re.compile(r"sort=-quantity"))
    expect(page).to_have_url(re.compile(r"status=pending_review"))
    expect(page.get_by_label("Design")).to_have_value(re.compile(r"^design_"))
    page.reload()
    expect(page.locator("#run-count")).to_have_text("3 runs")


def test_pages_fit_a_phone(admin_page: Page, world: dict[str, Any]) -> None:
    page = admin_page
    page.set_viewport_size(PHONE)
    for url in ("/app/runs", f"/app/runs/{world['run']['id']}"):
        page.goto(url)
        assert no_horizontal_scroll(page), url


def test_add_partner_rows_with_htmx(
    admin_page: Page, live_server: LiveServer, world: dict[str, Any]
) -> None:
    api: Any = live_server.api
    run = runs.create_run(api, design_id=world["design"]["id"], quantity=9)
    page = admin_page
    page.goto(f"/app/runs/{run['id']}")
    page.locator("#action-approve summary").click()
    page.get_by_role("button", name="Add a partner").click()
    expect(page.locator("#a2-partner")).to_be_visible()
    page.get_by_role("button", name="Add a partner").click()
    expect(page.locator("#a3-partner")).to_be_visible()
    expect(page.locator("#assignments fieldset")).to_have_count(4)
    for i, partner in enumerate(["Kiran Cutters", "Meera Tailoring", "Kiran Cutters"]):
        page.locator(f"#a{i + 1}-partner").select_option(label=partner)
        page.locator(f"#a{i + 1}-quantity").fill("3")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("split into 3 runs")
