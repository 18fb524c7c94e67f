"""The dashboard in a real browser: Chromium (Debian's /usr/bin/chromium) through Playwright,
against ``python app.py`` started on localhost with the embedded SmolLM2 and the demo adapters.

The tests run in file order and share one server and one page, as a presenter would:
attach an adapter by zip upload, compare, read the diffs, export, then chat in the playground.
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from app_server import LOAD_S, ROOT, RUN_S, AppServer

from browser.chromium import CHROMIUM, MISSING_CHROMIUM, open_dashboard, wait_text

pytestmark = pytest.mark.browser
PROMPTS = ["What is the capital of France?", "Give me one tip for learning to cook."]
SERVER_LOG: list[Path] = []  # the running app's log (one line per ended run)

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python app.py`` as a user starts it, on a free port; its log is shown if it dies."""
    app = AppServer(tmp_path_factory.mktemp("server") / "app.log")
    SERVER_LOG[:] = [app.log]
    yield app.start()
    app.stop()


@pytest.fixture(scope="module")
def page(browser, server):
    page = open_dashboard(browser, server, accept_downloads=True)
    yield page
    page.context.close()


def grid_cells(page) -> list[list[str]]:
    return page.eval_on_selector_all("#grid tr[data-row]", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")


def test_attach_an_adapter_by_uploading_a_zip(page, tmp_path):
    page.get_by_role("tab", name="Adapters").click()
    not_a_zip = tmp_path / "notes.zip"
    not_a_zip.write_text("not a zip")
    page.locator("#zip-upload input[type=file]").set_input_files(str(not_a_zip))
    wait_text(page, "#notice", "is not a zip file")
    message = page.locator("#notice p", has_text="is not a zip file")  # not the timer of an event still finishing
    assert message.count() == 1 and "\n" not in message.inner_text()

    upload = tmp_path / "pirate_copy.zip"  # the demo pirate adapter, files at the top of the zip
    with zipfile.ZipFile(upload, "w") as zf:
        for file in (ROOT / "assets" / "adapters" / "pirate").iterdir():
            zf.write(file, file.name)
    page.locator("#zip-upload input[type=file]").set_input_files(str(upload))
    wait_text(page, "#notice", "Attached pirate_copy (LoRA")
    wait_text(page, "#header", "adapters: 4")
    table = page.inner_text("#adapters-table")
    assert "pirate_copy" in table and "q_proj, v_proj" in table
    page.screenshot(path=str(tmp_path / "adapters.png"), full_page=True)


def test_compare_fills_the_grid_and_draws_the_charts(page):
    page.get_by_role("tab", name="Compare").click()
    page.fill("#prompts textarea", "\n".join(PROMPTS))
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("300")
    tokens.press("Enter")
    page.click("#run")  # a long run, stopped once the first tokens show in the grid
    page.wait_for_function("[...document.querySelectorAll('#grid td')].some(td => td.innerText.length > 10 && !td.querySelector('b'))", timeout=RUN_S * 1000)
    page.click("#stop")
    wait_text(page, "#compare-notice", "Stopped:", 60)
    tokens.fill("16")
    tokens.press("Enter")
    variants = page.locator("#variants")
    for name in ("base", "pirate", "pirate_copy", "json_answer"):
        assert variants.get_by_label(name, exact=True).is_checked()
    variants.get_by_label("bullets", exact=True).uncheck()  # DoRA is the slow path on CPU: keep the test short
    page.click("#run")
    wait_text(page, "#compare-notice", "Done:", RUN_S)

    rows = grid_cells(page)
    headers = page.eval_on_selector_all("#grid th", "cells => cells.map(c => c.innerText)")
    assert headers == ["prompt", "base", "json_answer", "pirate", "pirate_copy"]
    assert [row[0] for row in rows] == PROMPTS
    for _prompt, base, json_answer, pirate, pirate_copy in rows:
        assert pirate_copy == pirate != base, "the uploaded copy must answer exactly like the folder it came from"
        assert pirate.startswith("Arr") and json_answer.startswith("{")
    assert "json_answer: 2/2 changed" in page.inner_text("#compare-notice")

    for chart in ("#storage-chart", "#difference-chart", "#scaling-chart"):
        page.wait_for_selector(f"{chart} .js-plotly-plot .main-svg")
    storage_bars = page.locator("#storage-chart g.point").count()
    assert storage_bars == 5  # 4 adapters + the full model copy
    assert "x smaller" in page.inner_text("#storage-chart")
    assert page.locator("#difference-chart g.point").count() == 6  # 3 adapters x (changed, similarity)

    page.locator("#grid tr[data-row='1']").click()
    wait_text(page, "#diff", PROMPTS[1])
    assert page.locator("#grid tr.selected[data-row='1']").count() == 1
    assert page.locator("#diff ins.add").count() > 0 and page.locator("#diff del.rem").count() > 0
    page.locator("#only-differ input").check()
    page.wait_for_timeout(500)
    assert len(grid_cells(page)) == 2  # every prompt differs here; the filter keeps both


def test_the_api_gives_what_the_grid_shows(page, server):
    """gradio_client against the same running app: /compare returns the texts the grid shows."""
    from gradio_client import Client

    shown = grid_cells(page)
    records = Client(server, verbose=False).predict(
        "\n".join(PROMPTS), ["base", "json_answer", "pirate", "pirate_copy"], 16, api_name="/compare"
    )
    assert [r["prompt"] for r in records] == PROMPTS
    assert [[r["prompt"], *r["outputs"].values()] for r in records] == shown


def test_export_the_report(page, tmp_path):
    with page.expect_download() as info:
        page.click("#export-html")
    report = tmp_path / "report.html"
    info.value.save_as(report)
    text = report.read_text()
    assert all(p in text for p in PROMPTS) and "pirate_copy" in text and "Plotly" in text
    assert 'src="http' not in text and "<ins" in text
    with page.expect_download() as info:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert [r["prompt"] for r in rows] == PROMPTS and rows[0]["pirate"] == rows[0]["pirate_copy"]


def test_analyze_shows_the_heat_view_and_the_weights(page, tmp_path):
    """Analyze the comparison on screen: the divergence table, a heat view whose hover shows both
    probabilities, the size-against-effect chart, the JSON's analysis; then the weights heatmap."""
    page.click("#analyze")
    wait_text(page, "#analysis-notice", "Done:", RUN_S)
    tables = page.inner_text("#analysis-tables")
    assert "mean KL" in tables and "No reference answers" in tables  # these prompts carry none
    kl = {row[0]: row[3] for row in page.eval_on_selector_all(
        "#analysis-tables table:first-of-type tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")}
    assert kl["base"] == "0.0000" and float(kl["pirate"]) > 0
    assert kl["pirate"] == kl["pirate_copy"], "the same adapter twice must depart from the base alike"
    assert page.locator("#heat-variant label").all_inner_texts() == ["json_answer", "pirate", "pirate_copy"]
    page.locator("#heat-variant").get_by_label("pirate", exact=True).check()
    wait_text(page, "#heat", PROMPTS[0])
    token = page.locator("#heat .tok").first
    token.hover()
    tip = token.locator(".tip")
    assert tip.is_visible()
    assert "p(pirate) = " in tip.inner_text() and "p(base) = " in tip.inner_text() and "base's pick" in tip.inner_text()
    page.screenshot(path=str(tmp_path / "heat.png"))
    page.wait_for_selector("#effect-chart .js-plotly-plot .main-svg")
    assert page.locator("#effect-chart .scatterlayer path.point").count() == 3  # one marker per adapter
    with page.expect_download() as info:
        page.click("#export-json")
    document = json.loads(Path(info.value.path()).read_text())
    assert list(document)[-1] == "analysis" and document["analysis"]["mean_divergence"]["base"] == 0.0

    page.get_by_role("tab", name="Adapters").click()
    page.locator("#weights-adapter input").click()
    page.get_by_role("option", name="json_answer").click()
    wait_text(page, "#weights-note", "json_answer (LoRA)")
    page.wait_for_selector("#weights-chart .js-plotly-plot .main-svg")
    assert "down_proj" in page.inner_text("#weights-chart")  # json_answer adapts every linear layer
    page.get_by_role("tab", name="Compare").click()


def server_log_lines(words: str) -> list[str]:
    return [line for line in SERVER_LOG[0].read_text().splitlines() if words in line]


def wait_for_log(words: str, count: int, timeout_s: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(lines := server_log_lines(words)) >= count:
            return lines
        time.sleep(0.25)
    raise AssertionError(f"no {count} log lines with {words!r}: {server_log_lines('run of')}")


def start_long_compare(page) -> None:
    page.get_by_role("tab", name="Compare").click()
    page.fill("#prompts textarea", "\n".join(PROMPTS))
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("300")
    tokens.press("Enter")
    page.click("#run")
    wait_text(page, "#compare-notice", "Running:", RUN_S)  # this run's grid has replaced the last one
    page.wait_for_function("[...document.querySelectorAll('#grid td')].some(td => td.innerText.length > 10 && !td.querySelector('b'))",
                           timeout=RUN_S * 1000)


def test_stop_is_per_visitor_and_a_reload_stops_the_abandoned_run(page, browser, server, tmp_path):
    """Two visitors in two browser contexts: B's Stop does not touch A's run; A's does, and keeps
    what was written (marked as cut off, downloadable). A reload ends the abandoned run."""
    other = open_dashboard(browser, server, "adapters: 4", viewport={"width": 1280, "height": 800})
    start_long_compare(page)
    other.click("#stop")
    wait_text(other, "#compare-notice", "Nothing to stop")
    written = len(page.inner_text("#grid"))
    page.wait_for_timeout(1500)
    assert len(page.inner_text("#grid")) > written, "A's run must go on after B's Stop"
    assert "Stopped" not in page.inner_text("#compare-notice")

    page.click("#stop")
    wait_text(page, "#compare-notice", "Stopped:", 60)
    assert page.locator("#grid td.cut .ag-cut").count() > 0  # cut-off outputs are marked
    assert page.locator("#export-html").is_enabled()  # and what was written can be downloaded
    with page.expect_download() as info:
        page.click("#export-json")
    assert '"status": "stopped"' in Path(info.value.path()).read_text()
    page.screenshot(path=str(tmp_path / "stopped.png"), full_page=True)

    stopped_before = len(server_log_lines("stopped"))
    start_long_compare(page)
    page.reload()  # the visitor leaves mid-run: the server must not keep generating for nobody
    wait_text(page, "#header", "adapters: 4", LOAD_S)
    wait_for_log("compare run of", 0)
    assert len(wait_for_log("stopped", stopped_before + 1, timeout_s=60)) == stopped_before + 1
    other.context.close()


def last_bot_message(page) -> str:
    return page.locator("#chatbot .message-row.bot-row").last.inner_text()


def chat(page, variant: str, message: str) -> str:
    """Send one message and wait for the whole reply: two more rows, and the notice that the
    reply is complete (it says "writing" while tokens stream in, and arrives with the last one)."""
    page.locator("#play-variant").get_by_label(variant, exact=True).check()
    rows = page.locator("#chatbot .message-row").count()
    page.fill("#message textarea", message)
    page.press("#message textarea", "Enter")
    page.wait_for_function(
        """([rows, done]) => document.querySelectorAll('#chatbot .message-row').length === rows + 2
                && document.querySelector('#play-notice').innerText.includes(done)""",
        arg=[rows, f"{variant} answered"], timeout=RUN_S * 1000,
    )
    return last_bot_message(page)


def test_playground_switches_variants_and_each_visitor_keeps_their_own(page, browser, server):
    page.get_by_role("tab", name="Playground").click()
    tokens = page.locator("#play-tokens input[type=number]")
    tokens.fill("24")
    tokens.press("Enter")
    pirate = chat(page, "pirate", "Tell me about the moon.")
    assert pirate.startswith("Arr")
    follow_up = chat(page, "pirate", "And the sun?")  # the conversation so far goes back to the model
    assert follow_up.startswith("Arr") and page.locator("#chatbot .message-row").count() == 4
    page.locator("#chatbot button[aria-label=Clear]").click()
    base = chat(page, "base", "Tell me about the moon.")
    assert base != pirate and not base.startswith("Arr")

    # A second visitor picks another variant; the first visitor's choice and chat stay theirs.
    other = open_dashboard(browser, server, "adapters: 4", viewport={"width": 1280, "height": 900})
    other.get_by_role("tab", name="Playground").click()
    assert other.locator("#play-variant").get_by_label("base", exact=True).is_checked()
    assert other.locator("#chatbot .message-row").count() == 0
    json_reply = chat(other, "json_answer", "Tell me about the moon.")
    # a draft typed while a reply streams in survives it (it used to be wiped by each update), and
    # Enter during the reply sends it once the reply ends (it used to be ignored)
    other.fill("#play-tokens input[type=number]", "120")
    other.press("#play-tokens input[type=number]", "Enter")
    rows = other.locator("#chatbot .message-row").count()
    other.fill("#message textarea", "Tell me a long story about a dragon.")
    other.press("#message textarea", "Enter")
    wait_text(other, "#play-notice", "is writing", RUN_S)
    other.locator("#message textarea").press_sequentially("And then a dog?")
    assert other.input_value("#message textarea") == "And then a dog?"
    other.press("#message textarea", "Enter")
    other.wait_for_function(f"document.querySelectorAll('#chatbot .message-row').length === {rows + 4}", timeout=RUN_S * 1000)
    assert other.locator("#chatbot .message-row").nth(rows + 2).inner_text() == "And then a dog?"
    other.click("#play-stop")  # the second reply: Stop cuts it short and keeps it
    wait_text(other, "#play-notice", "Stopped:", 60)
    assert json_reply.startswith("{")
    assert page.locator("#play-variant").get_by_label("base", exact=True).is_checked()
    page.locator("#chatbot button[aria-label=Clear]").click()
    assert chat(page, "base", "Tell me about the moon.") == base
    other.context.close()


def test_mix_two_adapters_and_compare_the_mix_through_the_api(page, server):
    """Adapters tab: a cat mix of pirate and json_answer attaches as a new adapter; /compare runs it."""
    from gradio_client import Client

    page.get_by_role("tab", name="Adapters").click()
    page.locator("#mix-parts").get_by_role("textbox").fill("pirate: 0.5, json_answer: 0.5")
    page.locator("#mix-name").get_by_role("textbox").fill("blend")
    page.click("#mix-button")
    wait_text(page, "#notice", "Attached blend", RUN_S)
    wait_text(page, "#header", "adapters: 5")
    assert "blend" in page.inner_text("#adapters-table")
    records = Client(server, verbose=False).predict(PROMPTS[0], ["base", "pirate", "blend"], 16, api_name="/compare")
    outputs = records[0]["outputs"]
    assert outputs["blend"] and outputs["blend"] not in (outputs["base"], outputs["pirate"])
    page.locator("#mix-parts").get_by_role("textbox").fill("pirate: 1, bullets: 1")
    page.locator("#mix-name").get_by_role("textbox").fill("nope")
    page.click("#mix-button")
    wait_text(page, "#notice", "'bullets' is DoRA")
    assert "adapters: 5" in page.inner_text("#header")


def test_merge_an_adapter_for_deployment(page, server, tmp_path):
    """Adapters tab: picking pirate shows the one-way warning with the merged model's size next to the adapter's;
    confirming merges it on a copy of the base and offers the model folder as a zip; the page's own pirate is unchanged."""
    from gradio_client import Client

    client = Client(server, verbose=False)
    before = client.predict(PROMPTS[0], ["pirate"], 16, api_name="/compare")[0]["outputs"]["pirate"]
    page.get_by_role("tab", name="Adapters").click()
    page.locator("#merge-adapter input").click()
    page.get_by_role("option", name="pirate", exact=True).click()
    wait_text(page, "#merge-warning", "one-way")
    warning = page.inner_text("#merge-warning").replace("\xa0", " ")
    assert "Merged model: 538.1 MB" in warning and "the adapter's 937.1 kB" in warning and "cannot be un-merged" in warning
    page.click("#merge-confirm")
    wait_text(page, "#merge-notice", "Done: merged pirate (LoRA)", RUN_S)
    notice = page.inner_text("#merge-notice")
    assert "Folder on the server: " in notice and "x the adapter's 937.1 kB" in notice and "of weights" in notice
    assert page.inner_text("#merge-file").split("\n")[1:3] == ["pirate-merged", ".zip"]
    link = page.locator("#merge-file a[download]").first
    assert "adapters_ui-merges" in link.get_attribute("href")  # served where it was written, not copied to gradio's cache
    with page.expect_download() as info:
        link.click()
    with zipfile.ZipFile(info.value.path()) as zf:
        assert {"pirate-merged/model.safetensors", "pirate-merged/config.json", "pirate-merged/tokenizer.json"} <= set(zf.namelist())
    after = client.predict(PROMPTS[0], ["pirate"], 16, api_name="/compare")[0]["outputs"]["pirate"]
    assert after == before  # merged on a copy: the adapter the page serves is still the adapter
