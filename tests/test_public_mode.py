"""Public mode: unexpected errors are one line (traceback in the log), and at the adapter cap the least
recently used visitor upload makes room, on the tiny model."""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from adapters_ui.adapters import sources
from adapters_ui.config import Settings
from adapters_ui.errors import AdapterError, PromptError, UnknownVariantError
from adapters_ui.session import Session, SessionHolder


def zipped(folder: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in folder.iterdir():
            archive.write(file, f"{path.stem}/{file.name}")
    return path


@pytest.fixture
def public_settings(tiny_settings) -> Settings:
    return tiny_settings.replace(public=True, max_adapters=3)


@pytest.fixture
def public(public_settings) -> Session:
    return Session.start(public_settings)


def upload(session: Session, folder: Path, name: str, tmp_path: Path):
    return sources.attach_zip(session, zipped(folder, tmp_path / f"{name}.zip"), name)


# ---- unexpected errors ---------------------------------------------------------------------------------
def test_guard_turns_an_unexpected_error_into_one_line_and_logs_the_traceback(caplog):
    import gradio as gr

    from adapters_ui.ui.guard import guard

    def broken(text: str):
        raise RuntimeError(f"KeyError deep inside /srv/secret/{text}")

    def streaming():
        yield 1
        yield 2
        raise ValueError("tensor shapes (3, 4) and (5, 6)")

    assert guard(broken, public=False) is broken  # outside public mode the detail stays (gradio's show_error)
    with caplog.at_level(logging.ERROR, logger="adapters_ui"):
        with pytest.raises(gr.Error) as raised:
            guard(broken, public=True)("x")
    message = raised.value.message
    assert message.startswith("Something went wrong on the server (logged as error ") and "\n" not in message
    assert "secret" not in message and "RuntimeError" not in message
    ref = message.split("logged as error ")[1].split(")")[0]
    (record,) = [r for r in caplog.records if ref in r.getMessage()]
    assert record.exc_info[0] is RuntimeError and "broken" in record.getMessage()
    assert "/srv/secret/x" in caplog.text and "Traceback" in caplog.text

    seen = []
    with pytest.raises(gr.Error, match="Something went wrong"):
        for value in guard(streaming, public=True)():
            seen.append(value)
    assert seen == [1, 2]  # a generator still streams until it fails

    def bad_input():
        raise PromptError("No prompts given: enter at least one prompt.")

    def meant_for_the_visitor():
        raise gr.Error("Pick a variant.")

    with pytest.raises(gr.Error) as known:
        guard(bad_input, public=True)()
    assert known.value.message == "No prompts given: enter at least one prompt."
    with pytest.raises(gr.Error) as own:
        guard(meant_for_the_visitor, public=True)()
    assert own.value.message == "Pick a variant."


@pytest.mark.parametrize("public", [True, False], ids=["public", "private"])
def test_a_dashboard_handler_that_fails_unexpectedly(public, tiny_settings, monkeypatch, caplog):
    import gradio as gr

    from adapters_ui.ui.app import create_app, launch_kwargs

    holder = SessionHolder(tiny_settings.replace(public=public))
    demo = create_app(sessions=holder)
    assert launch_kwargs(holder.settings)["show_error"] is not public
    (compare,) = [fn for fn in demo.fns.values() if fn.name == "run_compare"]
    assert compare.types_generator
    holder.get()

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error at /opt/venv/lib/python3.11/site-packages/torch/x.py:12")

    monkeypatch.setattr(Session, "start_compare", broken)
    with caplog.at_level(logging.ERROR, logger="adapters_ui"):
        run = compare.fn("Hi", ["base"], 4, "greedy", 0, 0.7, 0.9, False, {})
        if public:
            with pytest.raises(gr.Error) as raised:
                list(run)
            assert "Something went wrong on the server" in raised.value.message
            assert "CUDA" not in raised.value.message and "site-packages" not in raised.value.message
            assert "site-packages/torch/x.py" in caplog.text and "Traceback" in caplog.text
        else:
            with pytest.raises(RuntimeError, match="CUDA error"):
                list(run)
    # bad input still gets the page's own one-line message, in both modes
    monkeypatch.undo()
    notice, *_ = next(compare.fn("", ["base"], 4, "greedy", 0, 0.7, 0.9, False, {}))
    assert notice.startswith("**Error:** No prompts given")


def test_the_public_api_answers_one_line_and_the_log_keeps_the_traceback(tiny_settings, monkeypatch, caplog):
    from gradio_client import Client

    from adapters_ui.ui.app import create_app

    demo = create_app(tiny_settings.replace(public=True))
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        assert client.predict("Hi", ["base"], 2, api_name="/compare")[0]["outputs"].keys() == {"base"}

        def broken(*args, **kwargs):
            raise KeyError("model.layers.3.self_attn.q_proj.lora_A.weight")

        monkeypatch.setattr(Session, "start_compare", broken)
        with caplog.at_level(logging.ERROR, logger="adapters_ui"), pytest.raises(Exception) as raised:
            client.predict("Hi", ["base"], 2, api_name="/compare")
        text = str(raised.value)
        assert "Something went wrong on the server (logged as error" in text
        assert "q_proj" not in text and "KeyError" not in text
        assert "model.layers.3.self_attn.q_proj" in caplog.text and "Traceback" in caplog.text
        monkeypatch.undo()
        with pytest.raises(Exception, match="Unknown variant 'ghost'"):  # a known error keeps its own line
            client.predict("Hi", ["ghost"], 2, api_name="/compare")
    finally:
        demo.close()


# ---- least recently used uploads make room --------------------------------------------------------------
def test_at_the_cap_the_least_recently_used_upload_makes_room(public, tiny_adapters, tmp_path):
    listed = public.attach(tiny_adapters["lora"], "listed")  # a folder of the adapter directory: stays
    a = upload(public, tiny_adapters["lora_b"], "a", tmp_path)
    b = upload(public, tiny_adapters["ia3"], "b", tmp_path)
    assert public.variants == ["base", "listed", "a", "b"]
    settings = public.generation_settings(max_new_tokens=2)
    public.compare(["Hi"], ["a"], settings)  # 'a' was attached first, but used since: 'b' is the oldest now

    c = upload(public, tiny_adapters["loha"], "c", tmp_path)
    assert public.variants == ["base", "listed", "a", "c"]
    assert public.registry.evicted_for("c").name == "b" and public.registry.evicted_for("c") is None  # asked once
    assert not Path(b.path).exists() and Path(a.path).exists() and Path(c.path).exists()
    assert Path(listed.path).exists()

    public.start_chat([{"role": "user", "content": "Hi"}], "c", settings).result()  # a chat is a use too
    upload(public, tiny_adapters["lokr"], "d", tmp_path)
    assert public.variants == ["base", "listed", "c", "d"] and not Path(a.path).exists()
    assert public.compare(["Hi"], ["listed", "c", "d"], settings).complete  # the rest still works


def test_mixes_and_hub_downloads_are_visitor_uploads(public, tiny_adapters, tmp_path):
    hub = fake_hub_download(public.settings, tiny_adapters["lora"])
    assert sources.is_visitor_upload(hub, public.settings)
    for folder in (tiny_adapters["lora"], *(path for _, path in sources.adapter_folder_choices(public.settings))):
        assert not sources.is_visitor_upload(folder, public.settings)  # demo set and listed folders never go

    public.attach(hub, "from_hub")
    public.attach(tiny_adapters["lora_b"], "listed")
    mix = public.mix("mixed", {"from_hub": 0.5, "listed": 0.5}, "cat")  # uses both: the hub one is still older
    assert sources.is_visitor_upload(mix.path, public.settings)
    blobs = list((hub.parents[1] / "blobs").iterdir())

    upload(public, tiny_adapters["ia3"], "newest", tmp_path)
    assert public.variants == ["base", "listed", "mixed", "newest"]
    assert not hub.exists() and not any(blob.exists() for blob in blobs)  # the revision and its blobs are gone
    upload(public, tiny_adapters["loha"], "newer_still", tmp_path)
    assert public.variants == ["base", "listed", "newest", "newer_still"] and not Path(mix.path).exists()


def test_an_upload_a_running_comparison_uses_is_never_evicted(public, tiny_adapters, tmp_path):
    import threading
    import time

    public.attach(tiny_adapters["lora"], "listed")
    old = upload(public, tiny_adapters["lora_b"], "old", tmp_path)
    young = upload(public, tiny_adapters["ia3"], "young", tmp_path)
    settings = public.generation_settings(max_new_tokens=2)
    deadline = time.monotonic() + 60
    with public.turns.turn():  # hold the model: the run below waits for its turn, so it cannot end
        run = public.start_compare(["Hi"], ["old"], settings, owner="someone")
        # 'old' is the least recently used upload, but in use: 'young' goes (its detach waits for a turn too)
        attach = threading.Thread(target=upload, args=(public, tiny_adapters["loha"], "new", tmp_path))
        attach.start()
        while public.turns.waiting < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    attach.join(60)
    assert run.result().complete and public.variants == ["base", "listed", "old", "new"]
    assert not Path(young.path).exists() and Path(old.path).exists()

    with public.turns.turn():  # both uploads in running runs: nothing may go
        runs = [public.start_compare(["Hi"], [name], settings, owner=name) for name in ("old", "new")]
        with pytest.raises(AdapterError, match="none can make room .*uploads a running comparison uses"):
            upload(public, tiny_adapters["lokr"], "refused", tmp_path)
        assert sorted(p.name for p in sources.uploads_root(public.settings).iterdir()) == sorted(
            Path(info.path).parent.name for info in public.adapters() if info.name != "listed")  # nothing left behind
    assert all(r.result().complete for r in runs)
    upload(public, tiny_adapters["lokr"], "later", tmp_path)  # once the runs ended, room is made again
    assert public.variants == ["base", "listed", "new", "later"]


def test_an_analysis_holds_its_adapters(public, tiny_adapters, tmp_path):
    import threading
    import time

    public.attach(tiny_adapters["lora"], "listed")
    upload(public, tiny_adapters["lora_b"], "a", tmp_path)
    b = upload(public, tiny_adapters["ia3"], "b", tmp_path)
    comparison = public.compare(["Hi"], ["base", "a"], public.generation_settings(max_new_tokens=2))
    done = {}
    with public.turns.turn():  # hold the model: the analysis waits for its turn, holding 'a'
        analysis = threading.Thread(target=lambda: done.setdefault("analysis", public.analyze(comparison)))
        analysis.start()
        deadline = time.monotonic() + 30
        while "a" not in public.registry.busy() and time.monotonic() < deadline:
            time.sleep(0.01)
        public.registry.touch(["b"])  # 'a' is the least recently used now, but held
        attach = threading.Thread(target=lambda: done.setdefault("c", upload(public, tiny_adapters["loha"], "c", tmp_path)))
        attach.start()
        while public.turns.waiting < 2 and time.monotonic() < deadline:  # the analysis and the eviction's detach
            time.sleep(0.01)
    analysis.join(60)
    attach.join(60)
    assert public.variants == ["base", "listed", "a", "c"] and not Path(b.path).exists()
    assert set(done) == {"analysis", "c"} and "a" in done["analysis"].to_dict()["tokens"]
    assert public.registry.busy() == set()
    public.detach("a")
    with pytest.raises(UnknownVariantError, match="'a' was detached after this comparison ran"):
        public.analyze(comparison)


def test_only_the_shipped_and_listed_adapters_refuse_as_before(tiny_settings, tiny_adapters, tmp_path):
    public = Session.start(tiny_settings.replace(public=True, max_adapters=2))
    public.attach(tiny_adapters["lora"], "one")
    public.attach(tiny_adapters["lora_b"], "two")
    with pytest.raises(AdapterError, match="2 adapters are attached, the most allowed, and none can make room"):
        upload(public, tiny_adapters["ia3"], "three", tmp_path)
    assert list(sources.uploads_root(public.settings).iterdir()) == []  # the refused upload was cleaned up

    private = Session.start(tiny_settings.replace(max_adapters=2))
    upload(private, tiny_adapters["lora"], "one", tmp_path)
    upload(private, tiny_adapters["lora_b"], "two", tmp_path)
    with pytest.raises(AdapterError, match="^2 adapters are attached, the most allowed: detach one first"):
        upload(private, tiny_adapters["ia3"], "three", tmp_path)
    assert private.variants == ["base", "one", "two"]


def test_the_page_says_what_was_detached_to_make_room(public_settings, tiny_adapters, tmp_path):
    from adapters_ui.ui.app import Handlers

    ui = Handlers.on(SessionHolder(public_settings))
    ui.holder.get().attach(tiny_adapters["lora"], "listed")
    for name, kind in (("first", "lora_b"), ("second", "ia3")):
        assert ui.adapters.attach_zip(str(zipped(tiny_adapters[kind], tmp_path / f"{name}.zip")), name)[1].startswith("**Done:** Attached")
    notice = ui.adapters.attach_zip(str(zipped(tiny_adapters["loha"], tmp_path / "third.zip")), "third")[1]
    assert notice.startswith("**Done:** Detached 'first' (least recently used upload) to make room. Attached **third**")
    assert ui.holder.get().variants == ["base", "listed", "second", "third"]


def fake_hub_download(settings: Settings, folder: Path) -> Path:
    """An adapter laid out as snapshot_download leaves it: blobs, a snapshot of links to them, refs/main."""
    repo = sources.hub_root(settings) / "models--someone--adapter"
    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for i, file in enumerate(sorted(folder.iterdir())):
        blob = repo / "blobs" / f"{i:040x}"
        shutil.copyfile(file, blob)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / file.name)
    return snapshot


def test_in_public_mode_only_uploads_can_be_detached(public, tiny_adapters, tmp_path):
    """A visitor may detach uploads (their own or another's: the adapters are shared), never the Space's own."""
    public.attach(tiny_adapters["lora"], "listed")
    mine = upload(public, tiny_adapters["lora_b"], "mine", tmp_path)
    with pytest.raises(AdapterError, match="^'listed' is one of this Space's own adapters.*only uploaded adapters"):
        public.detach("listed")
    public.detach("mine")
    assert public.variants == ["base", "listed"] and Path(mine.path).exists()  # the page's Detach deletes the files
    with pytest.raises(AdapterError, match="No adapter named 'mine'"):
        public.detach("mine")
