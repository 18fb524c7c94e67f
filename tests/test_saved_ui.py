"""The Saved tab and the Save button, handler by handler (no server): saving, permalinks, reviews, public mode."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from helpers import report_document

from adapters_ui.config import Settings
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.store.saved import save_comparison
from adapters_ui.ui.app import Handlers
from adapters_ui.ui.compare import GREEDY
from adapters_ui.ui.saved import OPEN_OUTPUTS, SavedHandlers, run_id_of
from adapters_ui.ui.state import CompareView


def visitor(name="a", **params) -> gr.Request:
    return gr.Request(session_hash=name, headers={"host": "demo.example:7860"}, query_params=params)


@pytest.fixture
def database(tiny_settings):
    return DatabaseHolder(tiny_settings.database)


def saved_ui(settings: Settings, database: DatabaseHolder) -> SavedHandlers:
    return SavedHandlers(database, SessionHolder(settings))


def finished_view(settings: Settings, variants=("base", "lora")) -> CompareView:
    ui = Handlers.on(SessionHolder(settings))
    ended = list(ui.compare.run_compare("Hello\nWhat?", list(variants), 4, GREEDY, 0, 0.7, 0.9, False, request=visitor()))[-1]
    return ended[3]


def test_a_finished_comparison_saves_and_reopens_read_only(tiny_settings, database):
    view = finished_view(tiny_settings, variants=("base",))
    ui = saved_ui(tiny_settings, database)
    notice, owned, listing = ui.save(view, {}, visitor())
    (saved_id, owner_key), = owned.items()
    assert f"http://demo.example:7860/?run={saved_id}" in notice and len(owner_key) >= 32
    assert [value for _label, value in listing["choices"]] == [saved_id]
    opened = ui.open(f"http://demo.example:7860/?run={saved_id}", owned)  # a pasted link works like the id
    assert len(opened) == OPEN_OUTPUTS and opened[0] == ""
    notice, meta, grid, diff, saved_view = opened[:5]
    assert saved_id in meta and saved_view.records == view.records and saved_view.saved_id == saved_id
    assert all(r["outputs"]["base"] in grid for r in view.records if r["outputs"]["base"].strip())
    assert all(Path(d["value"]).is_file() for d in opened[8:11])
    assert opened[11]["visible"] is True  # private mode: anyone here may start a review


def test_saving_needs_a_finished_run(tiny_settings, database):
    ui = saved_ui(tiny_settings, database)
    notice, owned, _ = ui.save(CompareView(), {"x": "y"}, visitor())
    assert notice.startswith("**Error:** Run a comparison to the end first") and owned == {"x": "y"}


def test_a_permalink_opens_under_another_base_without_loading_it(tiny_settings, database):
    """The saved view is read from the database alone: a base model that does not exist is never touched."""
    ref = save_comparison(database.get(), report_document(), [])
    elsewhere = tiny_settings.replace(base_model="/no/such/model")
    ui = saved_ui(elsewhere, database)
    tabs, listing, *opened = ui.page_open({ref.id: ref.owner_key}, visitor(run=ref.id))
    assert tabs.selected == "saved" and listing["value"] == ref.id
    assert opened[0] == "" and "tiny/base" in opened[1]
    assert ui.holder.loaded is None


@pytest.mark.parametrize("bad, words", [
    ("", "is not a saved comparison id"),
    ("?run=<img src=x>", "is not a saved comparison id"),
    ("B" * 22, "No saved comparison has the id"),
])
def test_unknown_and_malformed_permalinks_get_one_line(tiny_settings, database, bad, words):
    notice, *rest = saved_ui(tiny_settings, database).open(bad, {})
    assert notice.startswith("**Error:** ") and words in notice and "\n" not in notice
    assert all(isinstance(v, dict) and v.get("__type__") == "update" for v in rest)  # nothing else changes


def test_creating_a_review_gives_two_links(tiny_settings, database):
    ref = save_comparison(database.get(), report_document(prompts=2), [])
    ui = saved_ui(tiny_settings, database)
    view = ui.open(ref.id, {})[4]
    assert ui.review_form(view)["choices"] == ["base", "pirate", "formal"]
    links = ui.create_review(view, ["base", "pirate"], "all", 2.0, "", {}, visitor())
    assert "2 pairs to judge" in links  # 2 prompts x 1 pair
    assert "http://demo.example:7860/review/?reviewer=" in links and "http://demo.example:7860/review/?owner=" in links
    assert ui.create_review(view, ["base"], "all", 1, "", {}, visitor()).startswith("**Error:** A review needs at least 2")
    assert "from 1 to 50" in ui.create_review(view, ["base", "pirate"], "all", 1.5, "", {}, visitor())


def test_public_mode_shows_and_lets_only_the_owner(tiny_settings, database):
    public = tiny_settings.replace(public=True)
    mine = save_comparison(database.get(), report_document(), [])
    theirs = save_comparison(database.get(), report_document(), [])
    ui = saved_ui(public, database)
    owned = {mine.id: mine.owner_key}
    assert [v for _l, v in ui.choices(owned)["choices"]] == [mine.id]  # another visitor's comparison is not listed
    assert ui.open(mine.id, owned)[11]["visible"] is True
    opened = ui.open(theirs.id, owned)  # a permalink still opens read-only ...
    assert opened[0] == "" and opened[11]["visible"] is False  # ... without the review form
    assert "Only the owner" in ui.create_review(opened[4], ["base", "pirate"], "all", 1, "", owned, visitor())
    assert "Review created" in ui.create_review(ui.open(mine.id, owned)[4], ["base", "pirate"], "all", 1, "", owned, visitor())


def test_run_id_of_reads_links_and_bare_ids():
    assert run_id_of(" https://x.hf.space/?run=abc&__theme=dark ") == "abc"
    assert run_id_of("abc") == "abc"


def test_the_browser_state_key_survives_a_restart(tmp_path):
    from adapters_ui.ui.saved import browser_secret

    first = browser_secret(tmp_path / "cache")
    assert len(first) >= 40 and browser_secret(tmp_path / "cache") == first
    assert oct((tmp_path / "cache" / "browser_state.key").stat().st_mode & 0o777) == "0o600"


def test_an_empty_saved_tab_says_how_to_fill_it(tiny_settings, database):
    ui = saved_ui(tiny_settings, database)
    tabs, listing, notice, *rest = ui.page_open({}, visitor())
    assert listing["choices"] == [] and "No saved comparison yet" in notice
    ref = save_comparison(database.get(), report_document(), [])
    owned = {ref.id: ref.owner_key}  # the list holds this browser's saves only (issue 21, item 2)
    assert ui.page_open(owned, visitor())[2] == gr.skip()  # something to open: no note
    assert ui.open(ui.choices(owned)["choices"][0][1], owned)[-1]["visible"] is True  # the opened view shows


# ---- blindness on the dashboard: a reviewer on the same host (issue 21, item 2) ------------------------
SECRET = ("variant-alpha-93f1", "variant-beta-27c4")


def shown_text(outputs) -> str:
    """Everything a handler sent the page, as text (updates, views, markdown)."""
    return " ".join(repr(o) for o in outputs)


@pytest.mark.parametrize("public", [False, True])
def test_the_saved_list_holds_only_this_browsers_saves_in_every_mode(tiny_settings, database, public):
    mine = save_comparison(database.get(), report_document(), [])
    theirs = save_comparison(database.get(), report_document(variants=SECRET), [])
    ui = saved_ui(tiny_settings.replace(public=public), database)
    assert [v for _l, v in ui.choices({mine.id: mine.owner_key})["choices"]] == [mine.id]
    assert ui.choices({})["choices"] == []
    forged = {theirs.id: mine.owner_key, mine.id: "x" * 32, "bad id": 3}  # what a browser sends can be forged
    assert ui.choices(forged)["choices"] == []
    tabs, listing, *_ = ui.page_open({}, visitor())
    assert listing["choices"] == [] and not any(name in shown_text([listing]) for name in SECRET)


@pytest.mark.parametrize("public", [False, True])
def test_under_review_a_permalink_names_the_variants_only_to_its_owner(tiny_settings, database, public):
    from adapters_ui.store.reviews import create_review, revoke_review

    ref = save_comparison(database.get(), report_document(prompts=2, variants=SECRET), [])
    owner = {ref.id: ref.owner_key}
    ui = saved_ui(tiny_settings.replace(public=public), database)
    assert SECRET[0] in shown_text(ui.open(ref.id, {}))  # no review yet: a read-only permalink, as before
    links = create_review(database.get(), ref.id, list(SECRET))
    for someone in ({}, {ref.id: "y" * 32}, {ref.id: links.owner_token}):  # a stranger, a forged key, a reviewer
        opened = ui.open(ref.id, someone)
        assert len(opened) == OPEN_OUTPUTS and opened[0].startswith("**Under blind review:**")
        assert not any(name in shown_text(opened) for name in SECRET)
        assert opened[11]["visible"] is False and opened[12]["visible"] is False and opened[4].records == []
        tabs, listing, *from_link = ui.page_open(someone, visitor(run=ref.id))
        assert from_link[0].startswith("**Under blind review:**")
        assert not any(name in shown_text([listing, *from_link]) for name in SECRET)
    mine = ui.open(ref.id, owner)
    assert mine[0] == "" and SECRET[0] in mine[1] and mine[11]["visible"] is True  # the owner sees it all
    revoke_review(database.get(), links.owner_token)  # voting closed: the permalink names the variants again
    assert ui.open(ref.id, {})[0] == "" and SECRET[0] in shown_text(ui.open(ref.id, {}))


# ---- saving is once per run (issue 21, item 11) -----------------------------------------------------------
def test_saving_one_run_twice_keeps_one_saved_comparison(tiny_settings, database):
    from concurrent.futures import ThreadPoolExecutor

    from adapters_ui.store.saved import list_comparisons

    view = finished_view(tiny_settings, variants=("base",))
    ui = saved_ui(tiny_settings, database)
    first_notice, owned, _ = ui.save(view, {}, visitor())
    second_notice, owned_again, listing = ui.save(view, {}, visitor())  # another click, or another tab's empty list
    (saved_id, key), = owned.items()
    assert owned_again == owned and saved_id in second_notice and "already saved" in second_notice
    with ThreadPoolExecutor(4) as pool:  # clicks arriving together
        list(pool.map(lambda _: ui.save(view, owned, visitor()), range(4)))
    assert [r.id for r in list_comparisons(database.get())] == [saved_id]
    other = finished_view(tiny_settings, variants=("base",))  # a new run is a new saved comparison
    assert ui.save(other, owned, visitor())[1].keys() - owned.keys()
