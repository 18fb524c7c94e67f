"""Bundles in a real browser, on ``python app.py`` with the embedded SmolLM2 and the demo adapters: save every
attached adapter as one zip, download it, and upload it again to attach them all in one step (refused whole while
their names are taken); the reattached adapters answer exactly as before."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from app_server import RUN_S, AppServer

from browser.chromium import CHROMIUM, MISSING_CHROMIUM, open_dashboard, wait_text

pytestmark = pytest.mark.browser
PROMPT = "What is the capital of France?"
DEMO = ["bullets", "json_answer", "pirate"]

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = AppServer(tmp_path_factory.mktemp("server") / "app.log")
    yield app.start()
    app.stop()


@pytest.fixture(scope="module")
def page(browser, server):
    page = open_dashboard(browser, server, accept_downloads=True)
    yield page
    page.context.close()


def test_save_all_as_a_bundle_then_upload_it_to_attach_all(page, server, tmp_path):
    from gradio_client import Client

    client = Client(server, verbose=False)
    before = client.predict(PROMPT, ["base", *DEMO], 16, api_name="/compare")[0]["outputs"]
    page.get_by_role("tab", name="Adapters").click()
    page.click("#save-bundle")
    wait_text(page, "#notice", "Saved 3 adapters (bullets, json_answer, pirate;")
    link = page.locator("#bundle-file a[download]").first
    shown = page.inner_text("#bundle-file")
    assert "adapters-bundle-" in shown and ".zip" in shown and "MB" in shown
    with page.expect_download() as info:
        link.click()
    bundle = tmp_path / "team.zip"
    Path(info.value.path()).replace(bundle)
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("bundle.json"))
        assert {"pirate/adapter_config.json", "pirate/adapter_model.safetensors"} <= set(zf.namelist())
    assert [a["name"] for a in manifest["adapters"]] == DEMO
    assert manifest["base_model"]["name"] == "HuggingFaceTB/SmolLM2-135M-Instruct"

    upload = page.locator("#zip-upload input[type=file]")
    upload.set_input_files(str(bundle))  # every name is taken: refused whole
    wait_text(page, "#notice", "team.zip holds bullets, json_answer, pirate, already attached under the same name")
    assert "adapters: 3" in page.inner_text("#header")

    for name in DEMO:
        page.locator("#detach-name input").click()
        page.get_by_role("option", name=name, exact=True).click()
        page.get_by_role("button", name="Detach", exact=True).click()
        wait_text(page, "#notice", f"Detached {name}")
    wait_text(page, "#header", "adapters: 0")

    upload.set_input_files(str(bundle))
    wait_text(page, "#notice", "Attached 3 adapters from the bundle team.zip: bullets (DoRA), json_answer (LoRA), pirate (LoRA)", RUN_S)
    wait_text(page, "#header", "adapters: 3")
    table = page.inner_text("#adapters-table")
    assert all(name in table for name in DEMO)
    page.screenshot(path=str(tmp_path / "bundle.png"), full_page=True)
    after = client.predict(PROMPT, ["base", *DEMO], 16, api_name="/compare")[0]["outputs"]
    assert after == before and len(set(before.values())) == 4  # the same adapters, each still its own
