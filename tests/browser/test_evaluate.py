"""The Evaluate tab in Chromium against ``python app.py`` (the embedded SmolLM2 and the demo adapters): the shipped
demo set (24 items spread over its 4 categories, 16 new tokens: one committed batch) through base and every demo
adapter but bullets (DoRA, the slow path on CPU, as in test_dashboard), its verdicts and heatmap, a regressed item,
the HTML report; then the permalink on a 390 px phone.

Screenshots go to SCREENSHOTS_DIR when set (else a temporary folder): evaluate_{desktop,phone}_{tab,heatmap,item}.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from app_server import AppServer

from browser.chromium import CHROMIUM, DESKTOP, MISSING_CHROMIUM, PHONE, no_sideways_scroll, open_dashboard, wait_text

pytestmark = pytest.mark.browser
ITEMS, TOKENS = 24, 16
EVALUATE_S = 600  # one batch of 24 items x 3 variants and its reference read-back, on a shared 2-core machine
DEMO_VARIANTS = ("bullets", "json_answer", "pirate")
RUN_VARIANTS = ("base", "json_answer", "pirate")

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with a database of its own: no other test's evaluation is resumed or listed here."""
    folder = tmp_path_factory.mktemp("evaluate-server")
    app = AppServer(folder / "app.log", ADAPTERS_UI_DATABASE_URL=f"sqlite:///{folder / 'evaluations.db'}")
    yield app.start()
    app.stop()


ROWS = "#eval-items [role=row]:has([role=gridcell])"  # gradio's data frame: the rows shown (a hidden table sizes them)


def open_regressed_item(page) -> str:
    """Filter the item table to regressions and open the first row: its id."""
    page.locator("#eval-only").get_by_label("Only regressions").check()
    page.wait_for_function("""sel => { const rows = [...document.querySelectorAll(sel)];
        return rows.length > 0 && rows.every(r => { const cells = r.querySelectorAll('[role=gridcell]');
                                                    return cells[cells.length - 1].innerText.trim() !== ''; }); }""",
                           arg=ROWS)
    first = page.locator(ROWS).first.locator("[role=gridcell]").first
    item_id = first.inner_text().strip()
    first.click()
    wait_text(page, "#eval-item", "regressed")
    return item_id


def test_evaluate_the_demo_set_and_read_its_verdicts(browser, server, shots, tmp_path):
    page = open_dashboard(browser, server, accept_downloads=True, **DESKTOP)
    page.get_by_role("tab", name="Evaluate").click()
    wait_text(page, "#eval-summary", "152 items")
    for name in ("base", *DEMO_VARIANTS):
        assert page.locator("#eval-variants").get_by_label(name, exact=True).is_checked()
    page.locator("#eval-variants").get_by_label("bullets", exact=True).uncheck()
    for box, value in (("#eval-first", ITEMS), ("#eval-tokens", TOKENS)):
        field = page.locator(f"{box} input[type=number]")
        field.fill(str(value))
        field.press("Tab")
    page.click("#eval-start")
    wait_text(page, "#eval-notice", "started")
    wait_text(page, "#eval-progress", f"of {ITEMS * len(RUN_VARIANTS)} outputs")
    page.screenshot(path=str(shots / "evaluate_desktop_running.png"), full_page=True)
    wait_text(page, "#eval-progress", ": finished", EVALUATE_S)

    link = page.inner_text("#eval-link")
    evaluation_id = re.search(r"\?evaluation=([\w-]+)", link).group(1)
    verdicts = page.inner_text("#eval-verdicts table")
    assert all(name in verdicts for name in RUN_VARIANTS[1:]) and "against base" in verdicts
    assert page.locator("#eval-verdicts .ag-badge").count() >= 3
    page.wait_for_selector("#eval-heatmap .js-plotly-plot .heatmaplayer, #eval-heatmap .js-plotly-plot .hm",
                           state="attached")
    assert "checks vs base, by category" in page.locator("#eval-heatmap").text_content()
    no_sideways_scroll(page, 1280)
    page.screenshot(path=str(shots / "evaluate_desktop_tab.png"), full_page=True)
    page.locator("#eval-heatmap").screenshot(path=str(shots / "evaluate_desktop_heatmap.png"))

    item_id = open_regressed_item(page)
    detail = page.inner_text("#eval-item")
    assert item_id in detail and "▼" in detail
    page.locator("#eval-item").screenshot(path=str(shots / "evaluate_desktop_item.png"))

    with page.expect_download() as info:
        page.click("#eval-html")
    report = Path(info.value.path()).read_text()
    assert report.startswith("<!DOCTYPE html>") and evaluation_id in report and "pirate" in report
    page.context.close()

    # the permalink, later, on a phone: the tab opens on the evaluation at page load
    phone = browser.new_context(**PHONE).new_page()
    phone.set_default_timeout(30_000)
    phone.goto(f"{server}/?evaluation={evaluation_id}")
    wait_text(phone, "#eval-progress", ": finished", 120)
    phone.wait_for_selector("#eval-verdicts table")
    scroller = phone.locator("#eval-verdicts .ag-scroll")
    sizes = scroller.evaluate("e => ({scroll: e.scrollWidth, client: e.clientWidth})")
    assert sizes["client"] <= 390 and sizes["scroll"] > sizes["client"]  # the table scrolls inside its box
    no_sideways_scroll(phone, 390)
    phone.screenshot(path=str(shots / "evaluate_phone_tab.png"), full_page=True)
    phone.locator("#eval-heatmap").scroll_into_view_if_needed()
    phone.wait_for_timeout(500)
    box = phone.locator("#eval-heatmap").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    phone.locator("#eval-heatmap").screenshot(path=str(shots / "evaluate_phone_heatmap.png"))
    open_regressed_item(phone)
    no_sideways_scroll(phone, 390)
    phone.locator("#eval-item").screenshot(path=str(shots / "evaluate_phone_item.png"))
    phone.context.close()
