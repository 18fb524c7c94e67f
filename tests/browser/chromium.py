"""What the Chromium tests share: Chromium's path and flags, opening the dashboard as a new visitor, waiting for text."""

from __future__ import annotations

import os
from pathlib import Path

from app_server import LOAD_S

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"viewport": {"width": 1280, "height": 800}}  # the screens the tests look at (new_context / open_dashboard kwargs)
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
MISSING_CHROMIUM = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium) to run the browser tests"


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def open_dashboard(browser, url: str, header: str = "adapters: 3", **context):
    """A new visitor (a browser context of its own) on the dashboard at ``url``, once it is ready: the header shows
    ``header`` (the base model loaded, the demo adapters attached) and Compare is enabled (the variants are listed);
    ``page.context.close()`` ends the visit."""
    page = browser.new_context(**{"viewport": {"width": 1440, "height": 1000}, **context}).new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    wait_ready(page, header)
    return page


def wait_ready(page, header: str = "adapters: 3", timeout_s: float = LOAD_S) -> None:
    """The page's explicit readiness (issue 21, item 10): Compare is enabled only once the base model has loaded and
    the variants are listed; until then it is disabled and says why."""
    wait_text(page, "#header", header, timeout_s)
    page.wait_for_function("() => { const b = document.querySelector('#run'); return b && !b.disabled; }",
                           timeout=timeout_s * 1000)


def wait_text(page, selector: str, text: str, timeout_s: float = 30) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel); return el && el.innerText.includes(text); }",
        arg=[selector, text], timeout=timeout_s * 1000,
    )


def no_sideways_scroll(page, width: int) -> None:
    """The page itself never scrolls sideways at this viewport width (a wide table scrolls inside its own box)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width
