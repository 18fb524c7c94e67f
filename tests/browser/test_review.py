"""Saved comparisons and blind reviews in a real browser: Chromium through Playwright against
``python app.py`` (embedded SmolLM2 + demo adapters) on a database of this module's own.

The tests run in file order and share one server: a small real comparison is saved and
reopened from its permalink, a review of it is created, two reviewers in separate browsers
judge it (one leaves and resumes), and the owner reads the results. Then, on comparisons
seeded through the store: nothing a reviewer receives names a variant, comments are inert
text, bad links give one-line errors, and finally the permalink still opens after a restart
under another base model.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.request
from pathlib import Path

import pytest
from app_server import LOAD_S, RUN_S, AppServer

from browser.chromium import CHROMIUM, MISSING_CHROMIUM, wait_text

pytestmark = pytest.mark.browser
PROMPTS = ["What is the capital of France?", "Give me one tip for learning to cook."]
VARIANTS = ["base", "pirate"]
TOKENS = 12
SECRET_NAMES = ("variant-alpha-93f1", "variant-beta-27c4")  # seeded variants no reviewer may ever see
FLOW: dict = {}  # what the tests pass on, in file order: run id, outputs, links, the votes cast
SHOTS = Path("/tmp/adapters_ui-review-shots")  # screenshots to look at
SHOTS.mkdir(exist_ok=True)

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)

# Every fetch of the page keeps a copy of what it read, chunk by chunk: gradio's queue answers
# through streamed responses (/gradio_api/queue/data) whose bodies Playwright cannot always read.
CAPTURE_FETCH = """
(() => {
  window.__bodies = [];
  const original = window.fetch;
  window.fetch = async (...args) => {
    const response = await original(...args);
    try {
      const entry = {url: String(response.url), text: ''};
      window.__bodies.push(entry);
      const reader = response.clone().body.getReader();
      const decoder = new TextDecoder();
      (async () => {
        for (;;) {
          const {done, value} = await reader.read();
          if (done) break;
          entry.text += decoder.decode(value, {stream: true});
        }
      })();
    } catch (e) {}
    return response;
  };
})();
"""
# Sets a value past the textarea's maxlength, as a script or an old browser could send it.
SET_VALUE_JS = "(el, text) => { el.value = text; el.dispatchEvent(new Event('input', {bubbles: true})); }"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on a fresh SQLite file (restarted by the last test on the same file)."""
    folder = tmp_path_factory.mktemp("review-server")
    server = AppServer(folder / "app.log", ADAPTERS_UI_DATABASE_URL=f"sqlite:///{folder / 'reviews.db'}")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def db(app):
    """The app's database, opened from the test process to seed comparisons and reviews."""
    from adapters_ui.store import Database

    database = Database.open(app.extra["ADAPTERS_UI_DATABASE_URL"])
    yield database
    database.close()


@pytest.fixture(scope="module")
def seeded(db):
    """A saved comparison whose variants have distinctive names its outputs never contain."""
    from helpers import report_document

    from adapters_ui.store import saved

    data = report_document(prompts=2, variants=SECRET_NAMES)
    shown = json.dumps([[r["prompt"], *r["outputs"].values()] for r in data.results])
    assert not any(name in shown for name in SECRET_NAMES)
    return saved.save_comparison(db, data, []).id


def new_page(browser, width: int = 1280, height: int = 900, capture: bool = False):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    if capture:
        context.add_init_script(CAPTURE_FETCH)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def cells(page, grid: str) -> list[list[str]]:
    return page.eval_on_selector_all(f"{grid} tr[data-row]", "rows => rows.map(r => [...r.cells].map(c => c.innerText))")


def words(text: str) -> str:
    return " ".join(text.split())


def link(page, selector: str, contains: str) -> str:
    hrefs = page.eval_on_selector_all(f"{selector} a", "links => links.map(a => a.href)")
    found = [h for h in hrefs if contains in h]
    assert len(found) == 1, f"one link with {contains!r} expected in {selector}: {hrefs}"
    return found[0]


def one_line_error(page, selector: str, says: str) -> str:
    wait_text(page, selector, says)
    try:  # once gradio's progress timer (shown over the notice while an event runs) is gone
        page.wait_for_function("sel => document.querySelector(sel).innerText.trim().startsWith('Error:')", arg=selector,
                               timeout=10_000)
    except Exception:  # noqa: BLE001 - the assertion below shows what the notice says instead
        pass
    text = page.inner_text(selector).strip()
    assert text.startswith("Error:") and "\n" not in text, text
    assert "Traceback" not in page.content()
    assert page.locator(".toast-body").count() == 0, "no error toast: the message is in the page"
    return text


def join(page, name: str, progress: str) -> None:
    page.fill("#reviewer-name input", name)
    page.click("#start-review")
    wait_text(page, "#review-progress", progress)


def on_screen(page) -> dict:
    return {"progress": page.inner_text("#review-progress"), "prompt": page.input_value("#review-prompt textarea"),
            "a": page.input_value("#output-a textarea"), "b": page.input_value("#output-b textarea")}


def vote(page, choice: str, answered: int, comment: str = "") -> dict:
    """Answer the pair on screen -> what was on screen; waits for the server's receipt."""
    shown = on_screen(page)
    page.fill("#review-comment textarea", comment)
    page.click(f"#vote-{choice}")
    wait_text(page, "#review-notice", f"({answered} answered)")
    return shown


def winner(outputs: dict, shown: dict, side: str) -> str:
    """The variant whose output was shown on ``side`` (the test knows; the page does not)."""
    names = [v for v, text in outputs[shown["prompt"]].items() if text == shown[side]]
    assert len(names) == 1, f"the {side} output matches {names}"
    return names[0]


# ---- 1. the whole flow: compare, save, permalink, review, two reviewers, the owner ----------------------
def test_compare_save_and_reopen_from_the_permalink(browser, app, db):
    page = new_page(browser, 1440, 1000)
    FLOW["dashboard"] = page
    page.goto(app.url)
    wait_text(page, "#header", "adapters: 3", LOAD_S)
    page.fill("#prompts textarea", "\n".join(PROMPTS))
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill(str(TOKENS))
    tokens.press("Enter")
    variants = page.locator("#variants")
    for name in ("json_answer", "bullets"):
        variants.get_by_label(name, exact=True).uncheck()
    page.click("#run")
    wait_text(page, "#compare-notice", "Done:", RUN_S)
    compared = cells(page, "#grid")
    assert [row[0] for row in compared] == PROMPTS

    page.click("#save-comparison")
    wait_text(page, "#save-notice", "Permalink")
    permalink = link(page, "#save-notice", "?run=")
    run_id = permalink.split("?run=", 1)[1]
    assert permalink == f"{app.url}/?run={run_id}" and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", run_id)
    from adapters_ui.store import saved

    stored = saved.load_comparison(db, run_id).data
    assert stored.variants == VARIANTS and [r["prompt"] for r in stored.results] == PROMPTS
    FLOW.update(run_id=run_id, permalink=permalink, grid=compared,
                outputs={r["prompt"]: dict(r["outputs"]) for r in stored.results})
    for row, record in zip(compared, stored.results):
        assert [words(c) for c in row[1:]] == [words(record["outputs"][v]) for v in VARIANTS]

    page.goto(permalink)  # a fresh page view: the Saved tab opens by itself, nothing runs
    wait_text(page, "#saved-meta", run_id)
    assert page.locator("#saved-grid tr[data-row]").count() == 2
    assert cells(page, "#saved-grid") == compared
    assert page.eval_on_selector_all("#saved-grid th", "cells => cells.map(c => c.innerText)") == ["prompt", *VARIANTS]
    assert "pirate" in page.inner_text("#saved-meta") and "sha256" in page.inner_text("#saved-meta")
    page.locator("#saved-grid tr[data-row='1']").click()
    wait_text(page, "#saved-diff", PROMPTS[1])
    for chart in ("#saved-storage-chart", "#saved-difference-chart", "#saved-scaling-chart"):
        page.wait_for_selector(f"{chart} .js-plotly-plot .main-svg")
    for button in ("#saved-csv", "#saved-json", "#saved-html"):
        assert page.locator(button).is_enabled()


def test_create_a_review_from_the_saved_tab():
    page = FLOW["dashboard"]
    form = page.locator("#review-variants")
    for name in VARIANTS:
        assert form.get_by_label(name, exact=True).is_checked()
    assert page.get_by_label("Every pair").is_checked()
    page.fill("#per-pair input", "2")
    page.fill("#review-title-input input", "Which answer would you rather get?")
    page.click("#create-review")
    wait_text(page, "#review-links", "Review created")
    assert "2 pairs to judge" in page.inner_text("#review-links")
    FLOW["reviewer_link"] = link(page, "#review-links", "/review/?reviewer=")
    FLOW["owner_link"] = link(page, "#review-links", "/review/?owner=")
    FLOW["wins"] = dict.fromkeys(VARIANTS, 0)


def test_a_reviewer_on_the_dashboard_cannot_unblind_the_review(browser, app):
    """Issue 21, item 2: the reviewer opens the dashboard on the same host (default mode) while the review is open.
    Neither the Saved tab, nor the permalink, nor any API the two apps expose maps the outputs to names."""
    run_id, outputs = FLOW["run_id"], [t for o in FLOW["outputs"].values() for t in o.values() if t.strip()]
    page = new_page(browser, 1440, 1000, capture=True)  # another browser: no save of its own
    page.goto(app.url)
    page.get_by_role("tab", name="Saved").click()
    wait_text(page, "#saved-notice", "No saved comparison yet")
    page.goto(FLOW["permalink"])
    wait_text(page, "#saved-notice", "Under blind review")
    page.wait_for_timeout(500)  # the last stream's end
    assert not page.locator("#saved-meta").is_visible() and page.locator("#saved-grid tr[data-row]").count() == 0
    assert not page.locator("#review-form").is_visible()
    page.screenshot(path=str(SHOTS / "reviewer-permalink-under-review.png"), full_page=False)
    streams = page.evaluate("window.__bodies")
    assert any("Under blind review" in b["text"] for b in streams), "the captured streams hold the page's answers"
    for body in streams:  # the Saved list, the permalink: no output and no label of the saved run
        assert not any(text in body["text"] for text in outputs), body["url"]
        assert "prompts · base, pirate" not in body["text"] and "sha256" not in body["text"], body["url"]
    page.context.close()

    # the evaluation endpoints take an evaluation's unguessable id; none lists saved runs or evaluations
    dashboard = {"/compare", "/compare_and_save", "/evaluate", "/benchmark", "/evaluation", "/cancel_evaluation"}
    for root, expected in ((app.url, dashboard),
                           (f"{app.url}/review", {"/join", "/next", "/vote", "/results"})):
        with urllib.request.urlopen(f"{root}/gradio_api/info", timeout=30) as answer:
            info = json.loads(answer.read())
        assert set(info["named_endpoints"]) == expected and not info["unnamed_endpoints"], root  # none lists saved runs
        with urllib.request.urlopen(f"{root}/config", timeout=30) as answer:
            config = answer.read().decode()
        assert run_id not in config and not any(text in config for text in outputs), root

    owner = FLOW["dashboard"].context.new_page()  # the owner's browser still sees it all
    owner.goto(FLOW["permalink"])
    wait_text(owner, "#saved-meta", run_id)
    assert "pirate" in owner.inner_text("#saved-meta") and cells(owner, "#saved-grid") == FLOW["grid"]
    owner.close()


def test_the_first_reviewer_votes_a_on_every_pair(browser):
    page = new_page(browser)
    page.goto(FLOW["reviewer_link"])
    wait_text(page, "#review-title", "Which answer would you rather get?")
    assert not page.locator("#output-a").is_visible()
    join(page, "Ada", "1 of 2")
    wait_text(page, "#review-notice", "Thank you, Ada")
    shown = vote(page, "a", 1)
    FLOW["wins"][winner(FLOW["outputs"], shown, "a")] += 1
    assert "2 of 2" in page.inner_text("#review-progress")
    second = vote(page, "a", 2)
    assert second["prompt"] != shown["prompt"], "each pair is shown once"
    FLOW["wins"][winner(FLOW["outputs"], second, "a")] += 1
    wait_text(page, "#review-notice", "All done")
    assert not page.locator("#output-a").is_visible() and not page.locator("#vote-a").is_visible()
    page.context.close()


def test_the_second_reviewer_resumes_after_a_reload_and_finishes(browser):
    """Another browser: B with a comment, then a reload; the same name in other letters resumes at 2 of 2."""
    page = new_page(browser)
    page.goto(FLOW["reviewer_link"])
    join(page, "Bob", "1 of 2")
    comment = "B answers the question; A wanders off."
    shown = vote(page, "b", 1, comment)
    FLOW["wins"][winner(FLOW["outputs"], shown, "b")] += 1
    FLOW["comment"] = (comment, winner(FLOW["outputs"], shown, "b"))

    page.reload()
    wait_text(page, "#review-notice", "Give your name")
    join(page, "bOB", "2 of 2")
    wait_text(page, "#review-notice", "Welcome back, Bob: you answered 1 so far")
    assert on_screen(page)["prompt"] != shown["prompt"]
    vote(page, "skip", 2)
    wait_text(page, "#review-notice", "Skipped. (2 answered) All done")
    page.context.close()


def test_the_owner_sees_the_results(browser):
    page = new_page(browser, 1440, 1000)
    page.goto(FLOW["owner_link"])
    wait_text(page, "#results-summary", "3 judgements from 2 reviewers")  # the skip is no judgement
    summary = page.inner_text("#results-summary")
    assert "Which answer would you rather get?" in summary and "2 pairs (every pair), 2 judgements" in summary
    for plot in ("#win-matrix", "#strengths"):
        page.wait_for_selector(f"{plot} .js-plotly-plot .main-svg")
    assert page.locator("#win-matrix g.hm, #win-matrix .heatmaplayer").count() > 0
    assert page.locator("#strengths path.point").count() == 2

    tables = page.eval_on_selector_all(
        "#results-tables table", "ts => ts.map(t => [...t.rows].map(r => [...r.cells].map(c => c.innerText)))")
    win_rates = {row[0]: row for row in tables[0][1:]}
    assert tables[0][0][:3] == ["variant", "judgements", "wins"] and set(win_rates) == set(VARIANTS)
    for variant, wins in FLOW["wins"].items():
        row = win_rates[variant]
        assert row[1:4] == ["3", str(wins), str(3 - wins)], row
        assert row[6] == f"{100 * wins / 3:.0f}%"
    comment, chosen = FLOW["comment"]
    comments = [row for table in tables for row in table if comment in row]
    assert len(comments) == 1 and comments[0][0] == "Bob" and f"{chosen} better" in comments[0]
    for button in ("#review-csv", "#review-json", "#review-html"):
        assert page.locator(button).is_enabled()
    with page.expect_download() as info:
        page.click("#review-csv")
    rows = csv.DictReader(io.StringIO(Path(info.value.path()).read_text()))
    assert {r["variant"]: int(r["wins"]) for r in rows} == FLOW["wins"]
    with page.expect_download() as info:
        page.click("#review-json")
    assert comment in Path(info.value.path()).read_text()
    page.context.close()


# ---- 3. blindness: nothing a reviewer's browser receives names a variant -----------------------------------
def assert_blind(text: str, where: str) -> None:
    lowered = text.lower()
    for secret in (*SECRET_NAMES, "variant-alpha", "variant-beta"):
        assert secret not in lowered, f"{secret!r} reached the reviewer in {where}"


def test_nothing_a_reviewer_receives_names_a_variant(browser, app, db, seeded):
    from gradio_client import Client

    from adapters_ui.store import reviews

    links = reviews.create_review(db, seeded, list(SECRET_NAMES), "all", 2, "Tone check")
    reviewer_url = f"{app.url}/review/?reviewer={links.reviewer_token}"
    with urllib.request.urlopen(reviewer_url, timeout=30) as answer:
        assert_blind(answer.read().decode(), "the page source")
    with urllib.request.urlopen(f"{app.url}/review/config", timeout=30) as answer:
        assert_blind(answer.read().decode(), "/review/config")

    page = new_page(browser, capture=True)
    received: list[tuple[str, str]] = []

    def keep(response) -> None:
        if "/review/" in response.url:
            try:
                received.append((response.url, response.body().decode("utf-8", "replace")))
            except Exception:  # noqa: BLE001 - a streamed body Playwright cannot read: CAPTURE_FETCH has it
                pass

    page.on("response", keep)
    page.goto(reviewer_url)
    wait_text(page, "#review-notice", "Give your name")
    assert_blind(page.content(), "the page")
    join(page, "Eve", "1 of 2")
    for answered, choice in ((1, "a"), (2, "b")):
        assert_blind(page.content(), f"the page before vote {answered}")
        vote(page, choice, answered, "fine")
        assert_blind(page.content(), f"the page after vote {answered}")
    wait_text(page, "#review-notice", "All done")
    page.wait_for_timeout(500)  # the last stream's end
    streams = page.evaluate("window.__bodies")
    answers = [b for b in streams if "/queue/data" in b["url"] and "process_completed" in b["text"]]
    assert len(answers) >= 4, "page load, join and two votes each answered through the queue"
    assert any("Reply 0/" in b["text"] for b in answers), "the captured streams hold the outputs shown"
    for body in streams:
        assert_blind(body["text"], body["url"])
    assert received, "responses under /review/ were recorded"
    for url, body in received:
        assert_blind(body, url)

    client = Client(f"{app.url}/review/", verbose=False)  # the same pages' API, as a script would call it
    joined = client.predict(links.reviewer_token, "Finn", api_name="/join")
    task = client.predict(links.reviewer_token, "Finn", api_name="/next")
    receipt = client.predict(links.reviewer_token, "Finn", task["task_id"], "tie", "", "", api_name="/vote")
    assert joined["total"] == 2 and task["prompt"].startswith("Prompt number") and receipt["recorded"]
    for answer in (joined, task, receipt):
        assert_blind(json.dumps(answer), "the API")
    page.context.close()


# ---- 4. comments are text, and at most 1000 characters ------------------------------------------------
def test_comments_are_inert_and_capped(browser, app, db, seeded):
    from adapters_ui.store import reviews

    links = reviews.create_review(db, seeded, list(SECRET_NAMES), "all", 1, "Comment check")
    FLOW["xss"] = links
    page = new_page(browser)
    page.goto(f"{app.url}/review/?reviewer={links.reviewer_token}")
    wait_text(page, "#review-notice", "Give your name")
    join(page, '<img src=x onerror="window.__xss=3">', "1 of 2")

    before = on_screen(page)
    page.eval_on_selector("#review-comment textarea", SET_VALUE_JS, "x" * 1001)
    page.click("#vote-a")
    one_line_error(page, "#review-notice", "at most 1000 characters (this one has 1001)")
    assert on_screen(page) == before, "the pair stays on screen after a refused vote"
    assert page.locator("#output-a").is_visible()

    script, image = "<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=2">'
    vote(page, "a", 1, script)
    vote(page, "b", 2, image)
    wait_text(page, "#review-notice", "All done")
    assert page.evaluate("typeof window.__xss") == "undefined"
    page.context.close()

    owner = new_page(browser, 1440, 1000)
    owner.goto(f"{app.url}/review/?owner={links.owner_token}")
    wait_text(owner, "#results-summary", "2 judgements from 1 reviewer ")
    wait_text(owner, "#results-tables", script)
    wait_text(owner, "#results-tables", image)
    owner.wait_for_timeout(500)  # an <img src=x> would have failed to load (and run onerror) by now
    assert owner.evaluate("typeof window.__xss") == "undefined"
    assert owner.locator("img[src=x]").count() == 0
    assert "window.__xss=3" in owner.inner_text("#results-tables")  # the name, as text too
    FLOW["owner_page"] = owner


# ---- 5. bad links: one line in the page, nothing else --------------------------------------------------
def test_bad_links_say_so_in_one_line(browser, app):
    from adapters_ui.store.tokens import new_id, new_token

    page = new_page(browser)
    page.goto(f"{app.url}/review/?reviewer=nonsense")
    one_line_error(page, "#review-notice", "This review link is malformed")
    page.goto(f"{app.url}/review/?owner={new_token()}")
    one_line_error(page, "#review-notice", "This owner link is unknown or the review was deleted")
    page.goto(f"{app.url}/review/?reviewer={new_token()}")
    one_line_error(page, "#review-notice", "This review link is unknown")
    for hidden in ("#reviewer-name", "#output-a", "#results-summary", "#close-review"):
        assert not page.locator(hidden).is_visible()

    unknown = new_id()
    page.goto(f"{app.url}/?run={unknown}")
    one_line_error(page, "#saved-notice", f"No saved comparison has the id '{unknown}'")
    assert page.locator("#saved-grid tr[data-row]").count() == 0
    assert not page.locator("#review-form").is_visible()
    page.goto(f"{app.url}/?run=../../etc/passwd")
    one_line_error(page, "#saved-notice", "is not a saved comparison id")
    page.context.close()


def test_a_closed_review_takes_no_more_votes(browser, app):
    owner, links = FLOW["owner_page"], FLOW["xss"]
    owner.click("#close-review")
    wait_text(owner, "#review-notice", "Closed:")
    owner.click("#refresh-results")
    wait_text(owner, "#results-summary", "closed")
    owner.context.close()

    page = new_page(browser)
    page.goto(f"{app.url}/review/?reviewer={links.reviewer_token}")
    one_line_error(page, "#review-notice", "closed by its owner")
    assert not page.locator("#reviewer-name").is_visible()
    page.context.close()


def test_deleting_a_review_asks_first_and_says_how_many_votes_go(browser, app):
    """Issue 21, item 7: one click on Delete deletes nothing; it asks, saying how many votes would be lost."""
    links = FLOW["xss"]
    owner = new_page(browser, 1440, 1000)
    owner.goto(f"{app.url}/review/?owner={links.owner_token}")
    wait_text(owner, "#results-summary", "2 judgements")
    owner.click("#delete-review")
    wait_text(owner, "#delete-question", "Delete this review?")  # beside the buttons that answer it
    assert "Its 2 votes and both links will be gone" in owner.inner_text("#delete-question")
    owner.screenshot(path=str(SHOTS / "delete-review-asks.png"), full_page=True)
    owner.click("#cancel-delete")
    wait_text(owner, "#review-notice", "Nothing was deleted")
    assert not owner.locator("#confirm-delete").is_visible()
    owner.reload()
    wait_text(owner, "#results-summary", "2 judgements")  # still there
    owner.click("#delete-review")
    wait_text(owner, "#delete-question", "Delete this review?")
    owner.click("#confirm-delete")
    wait_text(owner, "#review-notice", "Deleted:")
    assert "its 2 votes" in owner.inner_text("#review-notice") and not owner.locator("#results-summary").is_visible()
    owner.goto(f"{app.url}/review/?owner={links.owner_token}")
    one_line_error(owner, "#review-notice", "This owner link is unknown or the review was deleted")
    owner.context.close()


# ---- 6. the permalink after a restart, under another base model ------------------------------------------
def test_the_permalink_works_after_a_restart_under_another_base(browser, app, tiny_base_dir):
    dashboard = FLOW.pop("dashboard")
    dashboard.close()
    app.stop()
    # the same port: the owner's browser keeps its saves per address, and its review is still open (issue 21, item 2)
    app.start(same_port=True, ADAPTERS_UI_BASE_MODEL=str(tiny_base_dir), ADAPTERS_UI_DEMO="0")
    page = dashboard.context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{app.url}/?run={FLOW['run_id']}")
    wait_text(page, "#saved-meta", FLOW["run_id"])
    assert cells(page, "#saved-grid") == FLOW["grid"]
    assert "pirate" in page.inner_text("#saved-meta")  # the adapter that took part, though none is attached now
    for chart in ("#saved-storage-chart", "#saved-difference-chart", "#saved-scaling-chart"):
        page.wait_for_selector(f"{chart} .js-plotly-plot .main-svg")
    with page.expect_download() as info:
        page.click("#saved-csv")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert [r["prompt"] for r in rows] == PROMPTS
    assert [[r[v] for v in VARIANTS] for r in rows] == [[FLOW["outputs"][p][v] for v in VARIANTS] for p in PROMPTS]
    wait_text(page, "#header", "adapters: 0", LOAD_S)  # another base, no adapter: nothing of the run is attached
    assert tiny_base_dir.name in page.inner_text("#header")

    owner = new_page(browser)
    owner_token = FLOW["owner_link"].split("?owner=", 1)[1]
    owner.goto(f"{app.url}/review/?owner={owner_token}")  # the review's results survive too
    wait_text(owner, "#results-summary", "3 judgements from 2 reviewers")
    page.context.close()
    owner.context.close()
    stranger = new_page(browser)  # anyone else still gets no names while the review is open
    stranger.goto(f"{app.url}/?run={FLOW['run_id']}")
    wait_text(stranger, "#saved-notice", "Under blind review")
    stranger.context.close()
