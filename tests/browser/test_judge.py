"""A judge model on a blind review, in a real browser.

``python app.py`` (embedded SmolLM2 + demo adapters) runs with ADAPTERS_UI_JUDGE_URL at the project's vLLM
CPU server serving the same SmolLM2: a weak judge, but every path is real (structured outputs, both orders,
the cache). A person reviews the four pairs of a saved comparison in Chromium; the owner presses Judge and
sees the swap figures, the judge–human agreement with its confusion matrix, the disagreements (each opens its
pair) and the style-controlled table; then counts the judge as one more reviewer, and hides it again. A
second Judge is answered from the cache. The figures are printed for the issue's closing note.
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import httpx
import pytest
from app_server import AppServer

from browser.chromium import CHROMIUM, MISSING_CHROMIUM, no_sideways_scroll, wait_text

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/adapters_ui-judge-shots")
# Four prompts where the better answer is plain to a person; the pirate's is wrong twice, and list-heavy once.
PAIRS = {
    "What is the capital of France?": ("The capital of France is Paris.", "Arr, the capital be London, matey!"),
    "What is 12 + 30?": ("12 + 30 = 42.", "Arr, that be 52 doubloons!"),
    "Name a primary colour.": ("Blue.", "Arr! Red, like the sunset over the sea, be a primary colour, matey."),
    "Give one tip for sleeping well.": ("Sleep.", "- **Keep** a regular bedtime\n- **Dim** the lights an hour before\n"
                                                  "- Arr, no rum after dark!"),
}
PEOPLE_PICK = {  # the prompt -> the variant the person picks: the right answer, and the fuller one where both are right
    "What is the capital of France?": "base", "What is 12 + 30?": "base",
    "Name a primary colour.": "pirate", "Give one tip for sleeping well.": "pirate",
}
JUDGE_S = 300  # 16 judge requests on 2 CPU cores, beside the app's own model

if not CHROMIUM.exists():
    pytest.skip(MISSING_CHROMIUM, allow_module_level=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory, vllm_server):
    """The app on a fresh SQLite file, its judge the vLLM server's base model (it also serves adapters: named)."""
    served = httpx.get(f"{vllm_server.url}/v1/models", timeout=30).json()["data"]
    folder = tmp_path_factory.mktemp("judge-server")
    server = AppServer(folder / "app.log", ADAPTERS_UI_DATABASE_URL=f"sqlite:///{folder / 'judge.db'}",
                       ADAPTERS_UI_JUDGE_URL=vllm_server.url,
                       ADAPTERS_UI_JUDGE_MODEL=next(m["id"] for m in served if not m.get("parent")))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def links(app) -> dict:
    """A saved comparison of base and pirate on ``PAIRS``, and a blind review of it (store calls, as the Saved
    tab makes them: tests/browser/test_review.py drives that tab) -> its reviewer and owner links."""
    from helpers import report_document

    from adapters_ui.store import Database, reviews, saved

    data = report_document(prompts=len(PAIRS), variants=("base", "pirate"))
    data = dataclasses.replace(data, results=[{"prompt": p, "outputs": {"base": b, "pirate": r}}
                                              for p, (b, r) in PAIRS.items()])
    db = Database.open(app.extra["ADAPTERS_UI_DATABASE_URL"])
    try:
        comparison = saved.save_comparison(db, data, []).id
        made = reviews.create_review(db, comparison, ["base", "pirate"], title="Base or pirate?")
    finally:
        db.close()
    return {"reviewer": f"{app.url}/review/?reviewer={made.reviewer_token}",
            "owner": f"{app.url}/review/?owner={made.owner_token}"}


def new_page(browser, width: int = 1280, height: int = 900):
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(30_000)
    return page


def test_a_person_reviews_every_pair_in_the_browser(browser, links):
    page = new_page(browser)
    page.goto(links["reviewer"])
    wait_text(page, "#review-title", "Base or pirate?")
    page.fill("#reviewer-name input", "Ada")
    page.click("#start-review")
    for answered in range(1, len(PAIRS) + 1):
        wait_text(page, "#review-progress", f"{answered} of {len(PAIRS)}")
        prompt = page.input_value("#review-prompt textarea")
        wanted = PAIRS[prompt][0 if PEOPLE_PICK[prompt] == "base" else 1]
        page.click("#vote-a" if page.input_value("#output-a textarea") == wanted else "#vote-b")
        wait_text(page, "#review-notice", f"({answered} answered)")
    wait_text(page, "#review-notice", "All done")
    page.context.close()


def test_the_owner_judges_the_review_and_sees_agreement_and_style_control(browser, links):
    SHOTS.mkdir(exist_ok=True)
    page = new_page(browser)
    page.goto(links["owner"])
    wait_text(page, "#results-summary", "4 judgements from 1 reviewer")
    wait_text(page, "#judge-line", "Judge:")
    assert "SmolLM2" in page.inner_text("#judge-line") or "smollm2" in page.inner_text("#judge-line").lower()
    started = time.perf_counter()
    page.click("#judge-start")
    wait_text(page, "#judge-progress", "finished", JUDGE_S)
    seconds = time.perf_counter() - started
    progress = page.inner_text("#judge-progress")
    assert progress.startswith("4 of 4 pairs (100%)") and "8 judge requests" in progress, progress
    wait_text(page, "#judge-section", "Style control")
    swap, agreement = page.inner_text("#judge-swap"), page.inner_text("#judge-agreement")
    assert "Consistency" in swap and "Position bias" in swap
    assert re.search(r"On [1-4] \(judge, person\) comparisons", agreement), agreement  # unreadable pairs are left out
    style_rows = page.locator("#style-table tbody tr")
    assert style_rows.count() == 4  # base and pirate, by the people and by the judge
    assert {style_rows.nth(i).locator("td").first.inner_text() for i in range(4)} == {"people", "judge"}
    opened = page.locator(".judge-disagreement")
    if opened.count():  # a disagreement opens to its prompt and both answers
        opened.first.locator("summary").click()
        assert any(p in opened.first.inner_text() for p in PAIRS)
    page.screenshot(path=str(SHOTS / "owner-judged.png"), full_page=True)
    print(f"\njudge on the review: {progress} in {seconds:.1f} s\n{swap}\n{agreement}")

    page.check("#show-judge input")
    wait_text(page, "#results-summary", "counted as one more reviewer")
    assert re.search(r"\d+ judgements from 2 reviewers", page.inner_text("#results-summary"))
    page.uncheck("#show-judge input")
    wait_text(page, "#results-summary", "4 judgements from 1 reviewer")

    page.click("#judge-start")  # the same judge and template again: every reply from the cache
    wait_text(page, "#judge-progress", "8 from the cache", 60)
    assert "judge requests" not in page.inner_text("#judge-progress")
    page.context.close()


def test_the_owner_page_with_the_judge_fits_a_phone(browser, links):
    page = new_page(browser, 390, 844)
    page.goto(links["owner"])
    wait_text(page, "#judge-section", "Style control")
    no_sideways_scroll(page, 390)
    page.screenshot(path=str(SHOTS / "owner-judged-phone.png"), full_page=True)
    page.context.close()

