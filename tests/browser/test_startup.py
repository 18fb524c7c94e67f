"""The page before the base model (issue 21, items 9 and 10) and attach clicks in a row (item 6), in Chromium.

The app runs in this process on the embedded base with its demo adapters, so the test can hold what a slow start
holds: the base model's load (its lock), or the model (a turn, as a long run does).
"""

from __future__ import annotations

import shutil
import threading

import pytest
from app_server import CACHE, LOAD_S, RUN_S, free_port

from adapters_ui.adapters import demo as demo_set
from adapters_ui.config import Settings
from adapters_ui.session import SessionHolder
from browser.chromium import CHROMIUM, MISSING_CHROMIUM, wait_ready, wait_text

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)

VARIANTS_LISTED = "() => (document.querySelector('#variants')?.innerText || '').includes('pirate')"


@pytest.fixture(scope="module")
def served():
    """(holder, url): the dashboard served while its base model has not loaded yet; ``holder._loading`` is held
    until a test releases it."""
    from adapters_ui.ui.app import create_app

    holder = SessionHolder(Settings(cache_dir=CACHE))
    holder._loading.acquire()  # the load (started by the first page) waits here, as a slow load would
    app = create_app(holder.settings, sessions=holder)
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        yield holder, app.local_url
    finally:
        if holder._loading.locked() and holder.loaded is None:
            holder._loading.release()
        app.close()


def test_the_page_lists_the_adapters_before_the_model_and_compare_waits_for_it(browser, served, tmp_path):
    holder, url = served
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(url)
        page.wait_for_function(VARIANTS_LISTED, timeout=LOAD_S * 1000)  # from disk: the model has not loaded
        assert holder.loaded is None
        wait_text(page, "#run", "Loading the base model")
        assert page.locator("#run").is_disabled()  # pressing Compare early cannot run the base alone
        assert all(box.is_disabled() for box in page.locator("#variants input").all())
        assert "pirate" in page.inner_text("#demo-notes") and "3 adapters read from disk" in page.inner_text("#header")
        page.screenshot(path=str(tmp_path / "before-the-model-compare.png"), full_page=True)
        page.get_by_role("tab", name="Adapters").click()
        wait_text(page, "#adapters-table", "json_answer")
        assert "DoRA" in page.inner_text("#adapters-table")
        page.screenshot(path=str(tmp_path / "before-the-model-adapters.png"), full_page=True)
        page.get_by_role("tab", name="Playground").click()
        wait_text(page, "#play-notice", "Loading the base model")
        assert page.locator("#send").is_disabled()

        holder._loading.release()  # the load goes on
        wait_ready(page)
        assert page.locator("#send").is_enabled() and page.inner_text("#play-notice").strip() == ""
        page.get_by_role("tab", name="Compare").click()
        assert page.inner_text("#run").strip() == "Compare"
        page.fill("#prompts textarea", "What is the capital of France?")
        tokens = page.locator("#max-tokens input[type=number]")
        tokens.fill("8")
        tokens.press("Enter")
        for name in ("bullets", "json_answer"):
            page.locator("#variants").get_by_label(name, exact=True).uncheck()
        page.click("#run")
        wait_text(page, "#compare-notice", "Done:", RUN_S)
        assert page.eval_on_selector_all("#grid th", "cells => cells.map(c => c.innerText)") == ["prompt", "base", "pirate"]
    finally:
        page.context.close()


def test_a_second_attach_click_while_the_first_waits_is_queued_not_dropped(browser, served, tmp_path):
    holder, url = served
    session = holder.get()
    folders = []
    for name in ("pirate_copy_a", "pirate_copy_b"):
        folders.append(tmp_path / name)
        shutil.copytree(demo_set.DEMO_ADAPTERS / "pirate", folders[-1])
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.set_default_timeout(30_000)
    holding, release = threading.Event(), threading.Event()

    def hold_the_model() -> None:  # as a long run does: both attaches wait for a turn
        with session.turns.turn():
            holding.set()
            release.wait(120)

    holder_thread = threading.Thread(target=hold_the_model, daemon=True)
    try:
        page.goto(url)
        wait_ready(page)
        page.get_by_role("tab", name="Adapters").click()
        holder_thread.start()
        assert holding.wait(30)
        for folder in folders:  # one click each, the second while the first is still pending
            field = page.locator("#adapter-folder input")
            field.fill(str(folder))
            field.press("Enter")
            page.click("#attach-folder")
        page.wait_for_timeout(500)
        assert [info.name for info in session.adapters()] == ["bullets", "json_answer", "pirate"]  # both wait
        release.set()
        wait_text(page, "#header", "adapters: 5", RUN_S)
        table = page.inner_text("#adapters-table")
        assert "pirate_copy_a" in table and "pirate_copy_b" in table
    finally:
        release.set()
        page.context.close()
        for name in ("pirate_copy_a", "pirate_copy_b"):
            if name in session.registry.names:
                session.detach(name)
