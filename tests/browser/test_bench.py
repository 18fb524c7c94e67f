"""A benchmark from the Evaluate tab in Chromium against ``python app.py`` (the embedded SmolLM2 and the demo adapters):
the three shipped lm-eval tasks, 6 items each, through base and pirate; the bar counts lm-eval's requests, and
the finished benchmark shows lm-eval's numbers (± stderr) beside the paired verdicts, then one task's slice;
then the permalink on a 390 px phone.

Screenshots go to SCREENSHOTS_DIR when set (else a temporary folder): bench_{desktop,phone}.png.
"""

from __future__ import annotations

import re

import pytest
from app_server import AppServer

from browser.chromium import CHROMIUM, DESKTOP, MISSING_CHROMIUM, PHONE, no_sideways_scroll, open_dashboard, wait_text

pytestmark = pytest.mark.browser
LIMIT = 6
BENCH_S = 600  # 3 tasks x 6 items x 2 variants on a shared 2-core machine: under a minute alone
UNTICKED = ("bullets", "json_answer")

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-server")
    app = AppServer(folder / "app.log", ADAPTERS_UI_DATABASE_URL=f"sqlite:///{folder / 'bench.db'}")
    yield app.start()
    app.stop()


def test_run_a_benchmark_and_read_lm_evals_numbers_with_the_verdicts(browser, server, shots):
    page = open_dashboard(browser, server, **DESKTOP)
    page.get_by_role("tab", name="Evaluate").click()
    page.wait_for_selector("#eval-variants input[type=checkbox]")
    for name in UNTICKED:
        page.locator("#eval-variants").get_by_label(name, exact=True).uncheck()
    page.locator("#bench-box").get_by_text("Benchmark with lm-evaluation-harness").click()
    field = page.locator("#bench-limit input[type=number]")
    field.fill(str(LIMIT))
    field.press("Tab")
    page.click("#bench-start")
    wait_text(page, "#eval-notice", "started")
    wait_text(page, "#eval-progress", "requests")
    wait_text(page, "#eval-progress", ": finished", BENCH_S)

    table = page.locator("#eval-verdicts table.ag-bench")
    text = table.inner_text()
    for expected in ("adapters_ui_arith_mc", "adapters_ui_units_gen", "adapters_ui_general_text", "acc", "exact_match",
                     "bits_per_byte", "loglikelihood", "pirate", "±"):
        assert expected in text, expected
    assert re.search(r"0\.\d{3} ± 0\.\d{3}", text)  # lm-eval's number and stderr
    assert table.locator(".ag-badge").count() >= 5  # a paired verdict on each task's metrics
    no_sideways_scroll(page, 1280)
    page.screenshot(path=str(shots / "bench_desktop.png"), full_page=True)

    page.locator("#eval-slice input").click()
    page.get_by_role("option", name="category:adapters_ui_arith_mc").click()
    page.wait_for_selector("#eval-verdicts table[data-slice='category:adapters_ui_arith_mc']")
    assert "acc_norm" in page.inner_text("#eval-verdicts")
    evaluation_id = re.search(r"\?evaluation=([\w-]+)", page.inner_text("#eval-link")).group(1)
    page.context.close()

    phone = browser.new_context(**PHONE).new_page()
    phone.set_default_timeout(30_000)
    phone.goto(f"{server}/?evaluation={evaluation_id}")
    wait_text(phone, "#eval-progress", ": finished", 120)
    phone.wait_for_selector("#eval-verdicts table.ag-bench")
    no_sideways_scroll(phone, 390)
    phone.screenshot(path=str(shots / "bench_phone.png"), full_page=True)
    phone.context.close()
