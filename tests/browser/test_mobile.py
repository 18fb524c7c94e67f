"""The dashboard on a phone (390 x 844): every tab in sight, a grid that scrolls sideways with whole words,
and chart titles that fit and that the plotly toolbar does not cover.

Screenshots go to a temporary folder, or to SCREENSHOTS_DIR when set (assets/screenshots/mobile_*.png came from
`SCREENSHOTS_DIR=assets/screenshots pytest tests/browser/test_mobile.py`)."""

from __future__ import annotations

import pytest
from app_server import RUN_S, AppServer

from browser.chromium import CHROMIUM, MISSING_CHROMIUM, PHONE, no_sideways_scroll, open_dashboard, wait_text

pytestmark = pytest.mark.browser
if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)

PROMPTS = ["Explain why the sky is blue in two sentences.", "Give me three tips for a job interview."]
MIN_COLUMN_PX = 150

# Words (up to 16 characters) of the grid's cells drawn across two lines, i.e. broken mid-word.
BROKEN_WORDS_JS = """() => {
  let words = 0, broken = 0;
  for (const td of document.querySelectorAll('#grid td')) {
    const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.data.matchAll(/\\S+/g)) {
        if (m[0].length > 16) continue;
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        words++; if (lines.size > 1) broken++;
      }
    }
  }
  return {words, broken};
}"""
# Per chart: the title's box, the toolbar's box and the plot's box.
CHART_BOXES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null).map(p => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const title = p.querySelector('.gtitle'), bar = p.querySelector('.modebar');
  return {id: p.closest('[id]').id, title: title && box(title), bar: bar && box(bar), plot: box(p)};
})"""


def overlap(a, b) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


@pytest.fixture(scope="module")
def phone(browser, tmp_path_factory):
    app = AppServer(tmp_path_factory.mktemp("server") / "app.log")
    page = open_dashboard(browser, app.start(), **PHONE)
    yield page
    page.context.close()
    app.stop()


def test_every_tab_is_in_sight_without_an_overflow_menu(phone, shots):
    page = phone
    tabs = page.locator(".tab-container button[role=tab]")
    names = tabs.all_inner_texts()
    assert names == ["Compare", "Adapters", "Playground", "Saved", "Evaluate"]
    for i in range(tabs.count()):
        box = tabs.nth(i).bounding_box()
        assert tabs.nth(i).is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 390, names[i]
    assert not page.locator(".overflow-menu").is_visible()  # no "…" menu hiding tabs
    no_sideways_scroll(page, 390)  # the page itself never scrolls sideways
    page.screenshot(path=str(shots / "mobile_tabs.png"))


def test_the_grid_scrolls_sideways_with_whole_words_and_charts_keep_their_titles(phone, shots):
    page = phone
    page.fill("#prompts textarea", "\n".join(PROMPTS))
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("20")
    tokens.press("Enter")
    page.locator("#variants").get_by_label("bullets", exact=True).uncheck()  # DoRA is the slow path on CPU
    page.click("#run")
    wait_text(page, "#compare-notice", "Done:", RUN_S)

    scroller = page.locator("#grid .ag-scroll")
    sizes = scroller.evaluate("e => ({scroll: e.scrollWidth, client: e.clientWidth, overflow: getComputedStyle(e).overflowX})")
    assert sizes["overflow"] == "auto" and sizes["scroll"] > sizes["client"], sizes  # 4 columns do not fit: it scrolls
    widths = page.eval_on_selector_all("#grid th, #grid td", "cells => cells.map(c => c.getBoundingClientRect().width)")
    assert len(widths) == 4 * (1 + len(PROMPTS)) and min(widths) >= MIN_COLUMN_PX, widths
    words = page.evaluate(BROKEN_WORDS_JS)
    assert words["words"] > 30 and words["broken"] == 0, words
    no_sideways_scroll(page, 390)  # the grid scrolls, not the page
    page.locator("#grid").scroll_into_view_if_needed()
    page.locator("#grid").screenshot(path=str(shots / "mobile_grid.png"))

    for chart in ("#storage-chart", "#difference-chart", "#scaling-chart"):
        page.wait_for_selector(f"{chart} .js-plotly-plot .gtitle")
    page.locator("#storage-chart").scroll_into_view_if_needed()
    page.locator("#storage-chart").hover()  # the toolbar shows on hover (a tap on a phone)
    page.wait_for_timeout(500)
    charts = [c for c in page.evaluate(CHART_BOXES_JS) if c["title"]]
    assert {"storage-chart", "difference-chart", "scaling-chart"} <= {c["id"] for c in charts}
    for chart in charts:
        title, plot = chart["title"], chart["plot"]
        assert title[0] >= plot[0] - 1 and title[2] <= plot[2] + 1, chart  # the whole title fits the plot's width
        assert chart["bar"] is None or overlap(title, chart["bar"]) == 0, chart  # the toolbar never covers it
    page.locator("#storage-chart").screenshot(path=str(shots / "mobile_storage_chart.png"))

    page.locator("#grid tr[data-row='0'] td.prompt").click()
    wait_text(page, "#diff", PROMPTS[0])
    pairs = page.eval_on_selector_all("#diff .ag-pair", "ps => ps.map(p => getComputedStyle(p).gridTemplateColumns)")
    assert pairs and all(len(p.split()) == 1 for p in pairs), pairs  # base and variant one above the other
    page.locator("#diff").screenshot(path=str(shots / "mobile_diff.png"))
