"""A page left open while the server restarts (issue 13, faults): while the server is down gradio's page says the
connection is lost; once the server is back, the page reloads itself, says the server restarted and that unsaved
results are gone, and a comparison gives the same output as before the restart. A reload by hand on the same server
says nothing of a restart.

Its own ``python app.py``: the shared one of test_dashboard.py must not restart under the other tests.
"""

from __future__ import annotations

import pytest
from app_server import LOAD_S, RUN_S, AppServer

from browser.chromium import CHROMIUM, MISSING_CHROMIUM, open_dashboard, wait_ready, wait_text

pytestmark = pytest.mark.browser
PROMPT = "What is the capital of France?"

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)


def compare_base_and_pirate(page) -> list[str]:
    """One prompt through base and pirate, 12 tokens: the grid's row (prompt, base, pirate)."""
    page.fill("#prompts textarea", PROMPT)
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("12")
    tokens.press("Enter")
    variants = page.locator("#variants")
    for name in ("bullets", "json_answer"):
        variants.get_by_label(name, exact=True).uncheck()
    page.click("#run")
    wait_text(page, "#compare-notice", "Done:", RUN_S)
    assert page.eval_on_selector_all("#grid th", "cells => cells.map(c => c.innerText)") == ["prompt", "base", "pirate"]
    [row] = page.eval_on_selector_all("#grid tr[data-row]", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    return row


def test_a_page_open_across_a_server_restart_says_so_and_works_again(browser, tmp_path):
    app = AppServer(tmp_path / "app.log")
    url = app.start()
    page = open_dashboard(browser, url)
    try:
        assert page.inner_text("#server-note").strip() == ""
        before = compare_base_and_pirate(page)
        assert before[2].startswith("Arr") and before[1] != before[2]

        app.stop()  # the page stays open
        page.wait_for_function("document.body.innerText.includes('Connection to the server was lost')", timeout=60_000)
        page.screenshot(path=str(tmp_path / "server_down.png"))

        app.start(same_port=True)
        wait_text(page, "#server-note", "The server restarted", LOAD_S)  # the page reloaded itself and says why
        wait_ready(page)
        assert "results that were not saved are gone" in page.inner_text("#server-note")
        assert page.locator("#grid tr[data-row]").count() == 0
        page.screenshot(path=str(tmp_path / "server_restarted.png"))
        assert compare_base_and_pirate(page) == before  # greedy: the same output as before the restart

        page.reload()  # by hand, same server: nothing to report
        wait_ready(page)
        page.wait_for_timeout(2000)  # the page load's handlers have run
        assert page.inner_text("#server-note").strip() == ""
    finally:
        page.context.close()
        app.stop()
