"""Public mode in a real browser: ``python app.py`` with ADAPTERS_UI_PUBLIC=1 and room for one upload beside the
three demo adapters; a second upload makes room by detaching the first, and the page says so."""

from __future__ import annotations

import shutil
import zipfile

import pytest
from app_server import ROOT, AppServer

from browser.chromium import CHROMIUM, MISSING_CHROMIUM, open_dashboard, wait_text

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = AppServer(tmp_path_factory.mktemp("public") / "app.log", ADAPTERS_UI_PUBLIC="1", ADAPTERS_UI_MAX_ADAPTERS="4")
    yield app.start()
    app.stop()


def demo_zip(path, adapter: str):
    with zipfile.ZipFile(path, "w") as zf:
        for file in (ROOT / "assets" / "adapters" / adapter).iterdir():
            zf.write(file, file.name)
    return path


def test_an_upload_at_the_cap_detaches_the_least_recently_used_upload(browser, server, tmp_path):
    page = open_dashboard(browser, server)
    try:
        page.get_by_role("tab", name="Adapters").click()
        upload = page.locator("#zip-upload input[type=file]")
        upload.set_input_files(str(demo_zip(tmp_path / "first_upload.zip", "pirate")))
        wait_text(page, "#notice", "Attached first_upload (LoRA")
        wait_text(page, "#header", "adapters: 4")

        upload.set_input_files(str(demo_zip(tmp_path / "second_upload.zip", "json_answer")))
        wait_text(page, "#notice", "Detached 'first_upload' (least recently used upload) to make room. Attached second_upload")
        table = page.inner_text("#adapters-table")
        assert "second_upload" in table and "first_upload" not in table
        assert all(name in table for name in ("pirate", "json_answer"))  # the demo set stays
        assert "adapters: 4" in page.inner_text("#header")
        page.screenshot(path=str(tmp_path / "public-eviction.png"), full_page=True)
    finally:
        page.context.close()


def test_a_typed_folder_path_is_refused_first(browser, server, tmp_path):
    """Issue 21, item 12: a path typed into the folder box reaches the server, which refuses it in one line (the
    page used to put back the listed pick silently and say that one was already attached)."""
    page = open_dashboard(browser, server, header="adapters: ")  # 3, or 4 after the upload test on this server
    try:
        page.get_by_role("tab", name="Adapters").click()
        field = page.locator("#adapter-folder input")
        mine = tmp_path / "mine"  # a real adapter folder on the server, not among the listed ones
        shutil.copytree(ROOT / "assets" / "adapters" / "pirate", mine)
        field.fill(str(mine))
        field.press("Enter")
        page.click("#attach-folder")
        wait_text(page, "#notice", "In public mode only the listed adapter folders can be attached")
        assert "already attached" not in page.inner_text("#notice")
    finally:
        page.context.close()
