"""Screenshot of the dashboard running on the vLLM backend (the header names it), for the README.

    .venv/bin/python scripts/vllm_screenshot.py [--out assets/screenshots/vllm.png] [--tokens 48]
    .venv/bin/python scripts/vllm_screenshot.py --backend-url http://127.0.0.1:8000   # a vLLM already running

Without --backend-url it starts vLLM's CPU build (``make vllm``) serving the embedded SmolLM2 with
pirate and json_answer, serves the app on it in this process, runs the demo prompts in Chromium
and saves the page with a row's differences open.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests")]

from app_server import CACHE, free_port  # noqa: E402
from browser.chromium import CHROMIUM_ARGS  # noqa: E402
from screenshots import serve, wait_text  # noqa: E402

from adapters_ui.adapters.demo import demo_loras  # noqa: E402
from adapters_ui.backends.remote.vllm_launch import VLLMServer  # noqa: E402
from adapters_ui.config import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "screenshots" / "vllm.png")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--backend-url")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        vllm = None if args.backend_url else VLLMServer(free_port(), Path(scratch) / "vllm.log", CACHE, adapters=demo_loras())
        url = args.backend_url or vllm.start()
        settings = Settings(cache_dir=CACHE, backend_url=url, max_new_tokens=args.tokens,
                            database_url=f"sqlite:///{scratch}/screenshots.db")
        server, app_url = serve(settings)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                page.goto(app_url)
                wait_text(page, "#header", "adapters: 2")
                wait_text(page, "#variants", "pirate")
                started = time.perf_counter()
                page.click("#run")
                wait_text(page, "#compare-notice", "Done:")
                print(f"compare through vLLM in the browser: {time.perf_counter() - started:.1f} s; "
                      f"{page.inner_text('#compare-notice')}")
                page.locator("#grid tr[data-row='2']").click()
                wait_text(page, "#diff", "similar to base")
                wait_text(page, "#header", "backend:")  # redrawn after each run
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
                print(f"header: {page.inner_text('#header')}")
                browser.close()
        finally:
            server.should_exit = True
            if vllm is not None:
                vllm.stop()
    print(f"screenshot: {args.out}")


if __name__ == "__main__":
    main()
