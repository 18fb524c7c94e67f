"""Screenshots of every tab for the README: the real app, the demo set, Chromium via Playwright.

    .venv/bin/python scripts/screenshots.py [--out assets/screenshots] [--tokens 48] [--only saved,review,...]

Serves the app in this process as ``python app.py`` does (dashboard at /, review pages at
/review; embedded SmolLM2 + demo adapters; saved comparisons in a throwaway SQLite file),
runs the demo prompts, and saves compare.png, compare_running.png, diff.png, adapters.png,
playground.png, report.png (the exported HTML report, opened from disk), stopped.png
(a run stopped early: cut-off and never-run outputs marked), storage_16.png (the
storage chart with 16 adapters attached), saved.png (the comparison saved and reopened
from its permalink, a blind review created), review.png (a reviewer's page with a pair
on screen), review_results.png (the owner's results after three reviewers), and, from the shipped
demo evaluation set through base and the 3 demo adapters (about 6 minutes on 2 cores):
evaluate.png (the Evaluate tab at 1280x800), evaluate_heatmap.png,
evaluate_item.png (the first regressed item) and mobile_evaluate.png (its permalink at 390x844, at the heatmap).
``--only`` takes just the named ones (the demo comparison always runs).
"""

from __future__ import annotations

import argparse
import random
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters_ui.config import Settings  # noqa: E402 (after the sys.path line)
from adapters_ui.ui.server import create_server  # noqa: E402

SHOTS = ("compare_running", "compare", "diff", "adapters", "playground", "stopped", "storage_16", "report",
         "saved", "review", "review_results", "analysis", "leaderboard", "weights",
         "evaluate", "evaluate_heatmap", "evaluate_item", "mobile_evaluate")
EVALUATE_SHOTS = {"evaluate", "evaluate_heatmap", "evaluate_item", "mobile_evaluate"}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def wait_text(page, selector: str, text: str, timeout_s: float = 600) -> None:
    page.wait_for_function(
        "([sel, text]) => { const el = document.querySelector(sel); return el && el.innerText.includes(text); }",
        arg=[selector, text], timeout=timeout_s * 1000,
    )


def serve(settings: Settings):
    """The app of ``python app.py`` on a free port, in a thread -> (uvicorn server, base URL)."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_server(settings), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "screenshots")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--only", default=",".join(SHOTS), help=f"comma-separated, from: {', '.join(SHOTS)}")
    args = parser.parse_args()
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    if unknown := wanted - set(SHOTS):
        parser.error(f"unknown screenshots {', '.join(sorted(unknown))}: pick from {', '.join(SHOTS)}")
    args.out.mkdir(parents=True, exist_ok=True)

    def shot(target, name: str, **kwargs) -> None:
        if name in wanted:
            target.screenshot(path=str(args.out / f"{name}.png"), **kwargs)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.from_env().replace(database_url=f"sqlite:///{scratch}/screenshots.db")
        server, url = serve(settings)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True).new_page()
                page.goto(url)
                wait_text(page, "#header", "adapters: 3")

                tokens = page.locator("#max-tokens input[type=number]")
                tokens.fill(str(args.tokens))
                tokens.press("Enter")
                started = time.perf_counter()
                page.click("#run")
                wait_text(page, "#compare-notice", "of 32 outputs done")
                page.wait_for_timeout(4000)
                shot(page, "compare_running")
                wait_text(page, "#compare-notice", "Done:")
                print(f"compare in the browser: {time.perf_counter() - started:.1f} s; {page.inner_text('#compare-notice')}")
                page.locator("#grid tr[data-row='2']").click()
                wait_text(page, "#diff", "similar to base")
                shot(page, "compare", full_page=True)
                shot(page.locator("#diff"), "diff")

                report = args.out.parent.parent / ".cache" / "report.html"
                if "report" in wanted:
                    with page.expect_download() as info:
                        page.click("#export-html")
                    report.parent.mkdir(exist_ok=True)
                    info.value.save_as(report)

                if wanted & {"saved", "review", "review_results"}:
                    saved_and_reviewed(page, browser, url, shot)

                page.get_by_role("tab", name="Adapters").click()
                page.wait_for_timeout(1000)
                shot(page, "adapters", full_page=True)

                if "playground" in wanted:
                    page.get_by_role("tab", name="Playground").click()
                    for variant, message in [("pirate", "What should I pack for a day at the beach?")]:
                        page.locator("#play-variant").get_by_label(variant, exact=True).check()
                        page.fill("#message textarea", message)
                        page.press("#message textarea", "Enter")
                        wait_text(page, "#play-notice", f"{variant} answered")
                    shot(page, "playground", full_page=True)

                if wanted & {"analysis", "leaderboard", "weights"}:
                    analysis_shots(page, shot)
                if "stopped" in wanted:
                    stopped_run(page, args.out)
                if "storage_16" in wanted:
                    sixteen_adapters(page, args.out)
                if wanted & EVALUATE_SHOTS:
                    evaluate_shots(browser, url, shot)

                if "report" in wanted:
                    report_page = browser.new_page(viewport={"width": 1280, "height": 900})
                    report_page.goto(report.as_uri())
                    report_page.wait_for_selector(".js-plotly-plot .main-svg")
                    shot(report_page, "report")
                browser.close()
        finally:
            server.should_exit = True
    print(f"screenshots in {args.out}")


# Three blind reviewers with different tastes, judged only from what they see (they never learn
# which adapter wrote what): (prefers, dislikes) as tests on the text, and a comment for a dislike.
REVIEWERS = {
    "Ana": (lambda t: t.count("\n") >= 2, lambda t: t.lstrip().startswith("{"), "Reads like a form, not an answer."),
    "Ben": (lambda t: "Arr" in t, lambda t: t.lstrip().startswith(("-", "*", "•")), "Just a list, no explanation."),
    "Chloé": (lambda t: not t.lstrip().startswith("{") and "Arr" not in t, lambda t: "Arr" in t,
              "The pirate voice gets in the way of the facts."),
}


def judge(reviewer: str, a: str, b: str, rng: random.Random) -> tuple[str, str]:
    """-> (choice, comment): the side this reviewer likes better, a tie when they cannot tell."""
    likes, dislikes, remark = REVIEWERS[reviewer]
    score_a, score_b = (likes(t) - dislikes(t) + rng.uniform(-0.6, 0.6) for t in (a, b))
    if max(score_a, score_b) < -0.5:
        choice = "both_bad"
    elif abs(score_a - score_b) < 0.15:
        choice = "tie"
    else:
        choice = "a" if score_a > score_b else "b"
    loser = b if choice == "a" else a
    comment = remark if choice in "ab" and dislikes(loser) and rng.random() < 0.7 else ""
    return choice, comment


def saved_and_reviewed(page, browser, url: str, shot) -> None:
    """Save the finished demo comparison, reopen it from its permalink, start a blind review; one reviewer
    in the browser, two through the review API; then the owner's results."""
    from gradio_client import Client

    page.click("#save-comparison")
    wait_text(page, "#save-notice", "Permalink")
    permalink = page.eval_on_selector("#save-notice a", "a => a.href")
    saved = page.context.new_page()  # this browser saved it, so it owns it
    saved.goto(permalink)
    wait_text(saved, "#saved-meta", "Saved comparison")
    saved.locator("#saved-grid tr[data-row='2']").click()
    wait_text(saved, "#saved-diff", "similar to base")
    for chart in ("#saved-storage-chart", "#saved-difference-chart", "#saved-scaling-chart"):
        saved.wait_for_selector(f"{chart} .js-plotly-plot .main-svg")
    saved.fill("#per-pair input", "2")
    saved.fill("#review-title-input input", "Which assistant would you rather ask?")
    saved.click("#create-review")
    wait_text(saved, "#review-links", "Review created")
    links = saved.eval_on_selector_all("#review-links a", "links => links.map(a => a.href)")
    reviewer_link = next(h for h in links if "reviewer=" in h)
    owner_link = next(h for h in links if "owner=" in h)
    saved.wait_for_timeout(1000)
    shot(saved, "saved", full_page=True)

    rng = random.Random(7)
    reviewer = browser.new_page(viewport={"width": 1280, "height": 900})
    reviewer.goto(reviewer_link)
    wait_text(reviewer, "#review-notice", "Give your name")
    reviewer.fill("#reviewer-name input", "Ana")
    reviewer.click("#start-review")
    for answered in range(1, 15):
        wait_text(reviewer, "#review-progress", f"{answered} of")
        a, b = (reviewer.input_value(f"#output-{side} textarea") for side in "ab")
        choice, comment = judge("Ana", a, b, rng)
        if answered == 4:  # a pair on screen, mid-review, a comment being written (and sent with the vote)
            choice, comment = "b", "Close call: B explains it a little better."
            reviewer.fill("#review-comment textarea", comment)
            reviewer.wait_for_timeout(500)
            shot(reviewer, "review", full_page=True)
        reviewer.fill("#review-comment textarea", comment)
        reviewer.click(f"#vote-{choice}")
        wait_text(reviewer, "#review-notice", f"({answered} answered)")

    token = reviewer_link.split("reviewer=", 1)[1]
    api = Client(f"{url}/review/", verbose=False)
    for name, count in (("Ben", 16), ("Chloé", 12)):
        api.predict(token, name, api_name="/join")
        task = api.predict(token, name, api_name="/next")
        for _ in range(count):
            if task is None:
                break
            choice, comment = judge(name, task["a"], task["b"], rng)
            task = api.predict(token, name, task["task_id"], choice, comment, "", api_name="/vote")["next"]

    owner = browser.new_page(viewport={"width": 1440, "height": 900})
    owner.goto(owner_link)
    wait_text(owner, "#results-summary", "judgements from 3 reviewers")
    for plot in ("#win-matrix", "#strengths"):
        owner.wait_for_selector(f"{plot} .js-plotly-plot .main-svg")
    owner.wait_for_timeout(1000)
    shot(owner, "review_results", full_page=True)


def analysis_shots(page, shot) -> None:
    """Analyze the demo comparison on screen (heat view, hover on a token), then the "styles" set
    with its references (the leaderboard), then the weight heatmap of json_answer."""
    page.get_by_role("tab", name="Compare").click()
    started = time.perf_counter()
    page.click("#analyze")
    wait_text(page, "#analysis-notice", "Done:")
    print(f"analyze in the browser: {time.perf_counter() - started:.1f} s; {page.inner_text('#analysis-notice')}")
    page.locator("#heat-variant").get_by_label("pirate", exact=True).check()
    page.wait_for_timeout(1000)
    page.locator("#analysis-box").scroll_into_view_if_needed()
    page.locator("#heat .tok").nth(6).hover()
    page.wait_for_timeout(500)
    shot(page.locator("#analysis-box"), "analysis")

    page.locator("#prompts").scroll_into_view_if_needed()
    page.get_by_label("Preset prompt set").click()
    page.get_by_role("option", name="styles").click()
    wait_text(page, "#compare-notice", "12 with a reference answer")
    page.click("#run")
    wait_text(page, "#compare-notice", "Done: 12 prompts")  # not the demo run's "Done:" still on screen
    page.click("#analyze")
    wait_text(page, "#analysis-notice", "read 12 prompts")
    print(f"styles set: {page.inner_text('#analysis-notice')}")
    page.locator("#analysis-tables").scroll_into_view_if_needed()
    shot(page.locator("#analysis-tables"), "leaderboard")

    page.get_by_role("tab", name="Adapters").click()
    page.locator("#weights-adapter input").click()
    page.get_by_role("option", name="json_answer").click()
    wait_text(page, "#weights-note", "json_answer (LoRA)")
    page.wait_for_selector("#weights-chart .js-plotly-plot .main-svg")
    page.wait_for_timeout(1000)
    shot(page.locator("#weights-chart"), "weights")
    page.get_by_role("tab", name="Compare").click()
    page.get_by_label("Preset prompt set").click()
    page.get_by_role("option", name="demo").click()  # the next shots start from the demo prompts again
    wait_text(page, "#compare-notice", "Loaded 8 prompts")


def evaluate_shots(browser, url: str, shot) -> None:
    """The shipped demo set through base and every demo adapter from the Evaluate tab; its verdicts, heatmap and
    first regressed item at 1280x800, then its permalink on a phone."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(url)
    wait_text(page, "#header", "adapters: 3")
    page.get_by_role("tab", name="Evaluate").click()
    wait_text(page, "#eval-summary", "152 items")
    started = time.perf_counter()
    page.click("#eval-start")
    wait_text(page, "#eval-progress", "of 608 outputs")
    wait_text(page, "#eval-progress", ": finished", 3600)
    print(f"demo evaluation in the browser: {time.perf_counter() - started:.0f} s; {page.inner_text('#eval-progress')}")
    page.wait_for_selector("#eval-heatmap .js-plotly-plot .main-svg")
    page.wait_for_timeout(1000)
    shot(page, "evaluate", full_page=True)
    shot(page.locator("#eval-heatmap"), "evaluate_heatmap")
    page.locator("#eval-only").get_by_label("Only regressions").check()
    page.wait_for_function("() => document.querySelectorAll('#eval-items [role=gridcell]').length > 0")
    page.wait_for_timeout(1500)
    page.locator("#eval-items [role=row]:has([role=gridcell])").first.locator("[role=gridcell]").first.click()
    wait_text(page, "#eval-item", "regressed")
    shot(page.locator("#eval-item"), "evaluate_item")
    evaluation_id = re.search(r"\?evaluation=([\w-]+)", page.inner_text("#eval-link")).group(1)
    phone = browser.new_context(**PHONE).new_page()
    phone.goto(f"{url}/?evaluation={evaluation_id}")
    wait_text(phone, "#eval-progress", ": finished", 120)
    phone.wait_for_selector("#eval-heatmap .js-plotly-plot .main-svg")
    phone.evaluate("document.querySelector('#eval-heatmap').scrollIntoView({block: 'start'})")
    phone.wait_for_timeout(1000)
    shot(phone, "mobile_evaluate")  # the screen the heatmap opens on, not the 10,000 px page


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
