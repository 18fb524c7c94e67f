"""Screenshots of every tab for the README: the real app, the demo set, Chromium via Playwright.

    .venv/bin/python scripts/screenshots.py [--out assets/screenshots] [--tokens 48]

Starts the dashboard in this process (embedded SmolLM2 + demo adapters), runs the demo
prompts, and saves compare.png, compare_running.png, diff.png, adapters.png,
playground.png, report.png (the exported HTML report, opened from disk), stopped.png
(a run stopped early: cut-off and never-run outputs marked) and storage_16.png (the
storage chart with 16 adapters attached).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters_ui.ui.app import create_app, launch_kwargs  # noqa: E402 (after the sys.path line)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def wait_text(page, selector: str, text: str, timeout_s: float = 600) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel); return el && el.innerText.includes(text); }",
        arg=[selector, text], timeout=timeout_s * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "screenshots")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    demo = create_app()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, **launch_kwargs())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True).new_page()
            page.goto(demo.local_url)
            wait_text(page, "#header", "adapters: 3")

            tokens = page.locator("#max-tokens input[type=number]")
            tokens.fill(str(args.tokens))
            tokens.press("Enter")
            started = time.perf_counter()
            page.click("#run")
            wait_text(page, "#compare-notice", "of 32 outputs done")
            page.wait_for_timeout(4000)
            page.screenshot(path=str(args.out / "compare_running.png"))
            wait_text(page, "#compare-notice", "Done:")
            print(f"compare in the browser: {time.perf_counter() - started:.1f} s; {page.inner_text('#compare-notice')}")
            page.locator("#grid tr[data-row='2']").click()
            wait_text(page, "#diff", "similar to base")
            page.screenshot(path=str(args.out / "compare.png"), full_page=True)
            page.locator("#diff").screenshot(path=str(args.out / "diff.png"))

            with page.expect_download() as info:
                page.click("#export-html")
            report = args.out.parent.parent / ".cache" / "report.html"
            report.parent.mkdir(exist_ok=True)
            info.value.save_as(report)

            page.get_by_role("tab", name="Adapters").click()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(args.out / "adapters.png"), full_page=True)

            page.get_by_role("tab", name="Playground").click()
            for variant, message in [("pirate", "What should I pack for a day at the beach?")]:
                page.locator("#play-variant").get_by_label(variant, exact=True).check()
                page.fill("#message textarea", message)
                page.press("#message textarea", "Enter")
                wait_text(page, "#play-notice", f"{variant} answered")
            page.screenshot(path=str(args.out / "playground.png"), full_page=True)

            stopped_run(page, args.out)
            sixteen_adapters(page, args.out)

            report_page = browser.new_page(viewport={"width": 1280, "height": 900})
            report_page.goto(report.as_uri())
            report_page.wait_for_selector(".js-plotly-plot .main-svg")
            report_page.screenshot(path=str(args.out / "report.png"))
            browser.close()
    finally:
        demo.close()
    print(f"screenshots in {args.out}")


def stopped_run(page, out: Path) -> None:
    """A long run, stopped a few seconds in, at a laptop's 1280x800."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("tab", name="Compare").click()
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("200")
    tokens.press("Enter")
    page.click("#run")
    wait_text(page, "#compare-notice", "Running:")  # the new run's grid has replaced the last one
    page.wait_for_function("[...document.querySelectorAll('#grid td:not(.prompt)')].filter(td => td.innerText.length > 60).length >= 8",
                           timeout=600_000)
    page.click("#stop")
    wait_text(page, "#compare-notice", "Stopped:")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / "stopped.png"), full_page=True)


def sixteen_adapters(page, out: Path) -> None:
    """Attach copies of the demo adapters (under other names) until 16 are attached."""
    page.set_viewport_size({"width": 1440, "height": 900})
    page.get_by_role("tab", name="Adapters").click()
    names = ["formal_tone", "customer_support_v2", "customer_support_v3", "sql_writer", "summarize_short", "emoji",
             "legal_plain_english", "french", "kids_explainer", "haiku", "code_review_assistant", "tiny", "shakespeare"]
    for i, name in enumerate(names):
        folder = ("pirate", "json_answer", "bullets")[i % 3]
        page.fill("#adapter-name textarea, #adapter-name input", name)
        page.locator("input[aria-label='Adapter folder']").fill(str(ROOT / "assets" / "adapters" / folder))
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Attach folder").click()
        wait_text(page, "#notice", f"Attached {name}")
    wait_text(page, "#header", "adapters: 16")
    page.get_by_role("tab", name="Compare").click()
    page.wait_for_timeout(1500)
    page.locator("#storage-chart").screenshot(path=str(out / "storage_16.png"))


if __name__ == "__main__":
    main()
