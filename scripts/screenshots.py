"""Screenshots of every tab for the README: the real app, the demo set, Chromium via Playwright.

    .venv/bin/python scripts/screenshots.py [--out assets/screenshots] [--tokens 48]

Starts the dashboard in this process (embedded SmolLM2 + demo adapters), runs the demo
prompts, and saves compare.png, compare_running.png, diff.png, adapters.png,
playground.png and report.png (the exported HTML report, opened from disk).
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

            report_page = browser.new_page(viewport={"width": 1280, "height": 900})
            report_page.goto(report.as_uri())
            report_page.wait_for_selector(".js-plotly-plot .main-svg")
            report_page.screenshot(path=str(args.out / "report.png"))
            browser.close()
    finally:
        demo.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
