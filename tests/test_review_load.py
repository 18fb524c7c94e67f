"""The review API of a real ``python app.py`` under load and through a crash, on SQLite and PostgreSQL.

Reviewers talk to /review/ through gradio_client, as a script of theirs would: /join, then /vote
(each reply carries the next pair), every vote with a fresh UUID as its id.

- Many at once: 20 reviewers, each in its own thread with its own client, start together and cast
  50 votes each; about 1 vote in 10 is sent twice with the same id (a retried request) and must
  come back ``duplicate: True`` and count once. The database then holds exactly 1,000 votes.
- A crash: 5 reviewers vote without pause; the serving process is killed (SIGKILL) mid-flight.
  After a restart on the same database every vote whose reply arrived is stored with its answer,
  and each reviewer resumes where the database says they stopped.

The helpers below (start_app, seed_review, run_reviewers, ...) are also what
``benchmarks/reviews.py`` runs; ``pytest -s`` shows the timings.
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("base", "pirate", "formal")
ANSWERS = ("a", "b", "tie", "both_bad", "skip")
START_S = 120  # until the app answers on /review/ (a cold start on 2 cores imports gradio: ~5 s)
REQUEST_S = 60  # one API call, queueing included (SQLite writers wait up to 30 s for the lock)
RETRY_EVERY = 10  # each reviewer sends its 5th, 15th, 25th ... vote twice, with the same vote id


# ---- the app process --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class App:
    """``python app.py`` itself (no shell in between: ``process.pid`` is the serving process)."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def review_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/review/"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no shutdown handler runs."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, grace_s: float = 3) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``: uvicorn's graceful shutdown waits for every open
        heartbeat stream, and gradio_client leaves its own open for up to 15 s after ``close()``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_app(database_url: str, folder: Path, name: str = "app") -> App:
    """Start the app on a free port with ``database_url``; return once /review/ answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), folder / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTERS_UI_")}
    env.update(ADAPTERS_UI_CACHE_DIR=str(folder / "cache"), ADAPTERS_UI_DATABASE_URL=database_url,
               GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_OFFLINE="1")
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    app = App(process, port, log)
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{app.log_tail()}")
        try:
            with urllib.request.urlopen(app.review_url, timeout=5) as reply:
                if reply.status == 200:
                    return app
        except OSError:
            time.sleep(0.3)
    app.stop()
    raise RuntimeError(f"app.py did not answer on {app.review_url} within {START_S} s:\n{app.log_tail()}")


# ---- the review to judge ------------------------------------------------------------------------
@dataclass(frozen=True)
class Seeded:
    review_id: str
    reviewer_token: str
    owner_token: str
    items: int


def seed_review(database_url: str, prompts: int = 25, per_pair: int = 20) -> Seeded:
    """A saved comparison of ``prompts`` x base/pirate/formal and a review of every pair (3 per prompt)."""
    from helpers import report_document

    from adapters_ui.store import Database
    from adapters_ui.store.reviews import create_review
    from adapters_ui.store.saved import save_comparison

    db = Database.open(database_url)
    try:
        saved = save_comparison(db, report_document(prompts, VARIANTS), [])
        links = create_review(db, saved.id, list(VARIANTS), "all", per_pair)
    finally:
        db.close()
    return Seeded(links.review_id, links.reviewer_token, links.owner_token, links.items)


def stored_votes(database_url: str, review_id: str) -> list[dict]:
    """Every vote row of the review with its reviewer's name and its pair, as the reviewer saw it (a/b)."""
    from sqlalchemy import select

    from adapters_ui.store import Database
    from adapters_ui.store.schema import Reviewer, ReviewItem, Vote

    db = Database.open(database_url)
    try:
        with db.transaction() as tx:
            rows = tx.execute(
                select(Vote.id, Vote.choice, Vote.shown_first, Vote.item_id, Vote.reviewer_id, Reviewer.name,
                       ReviewItem.public_id, ReviewItem.prompt_index, ReviewItem.left, ReviewItem.right)
                .join(Reviewer, Vote.reviewer_id == Reviewer.id).join(ReviewItem, Vote.item_id == ReviewItem.id)
                .where(Vote.review_id == review_id)
            ).all()
    finally:
        db.close()
    return [{**row._asdict(), "answer": shown_answer(row.choice, row.shown_first)} for row in rows]


def shown_answer(choice: str, shown_first: str) -> str:
    """The stored choice (left/right: the pair's order) back as the reviewer's a/b (sides on screen)."""
    if choice not in ("left", "right"):
        return choice
    return "a" if choice == shown_first else "b"


# ---- reviewers ----------------------------------------------------------------------------------
@dataclass
class CastVote:
    reviewer: str
    task_id: str
    vote_id: str
    answer: str
    shown_a: str  # the text shown as A: checks that the stored side is the side on screen
    seconds: float  # the /vote round trip, resends of a lost reply included
    done: int  # the reply's count of answered pairs


@dataclass
class ReviewerRun:
    name: str
    votes: list[CastVote] = field(default_factory=list)  # confirmed: their reply arrived
    retries: int = 0  # votes sent a second time with the same id, on purpose
    retries_duplicate: int = 0  # ... whose reply said duplicate: True
    retries_same_done: int = 0  # ... whose reply kept the same count (the retry counted once)
    resent: int = 0  # calls sent again because gradio_client lost their reply (see call())
    joined_done: int = -1
    error: str = ""


@functools.cache
def tls_context() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def new_client(url: str):
    """A gradio_client for one reviewer. It gets one TLS context made once: gradio_client opens two httpx
    clients per call and each would load the CA bundle again (~40 ms of CPU, even for http://), which made
    the clients, not the app, the bottleneck of 20 reviewers on 2 cores."""
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, analytics_enabled=False, ssl_verify=tls_context())


def call(client, api_name: str, *args, run: ReviewerRun | None = None, resends: int = 3):
    """One API call; its result. A reply gradio_client lost is asked again with the same arguments.

    gradio_client (2.7) can lose a reply: when a call is sent while the server's ``close_stream`` for the
    previous one is still unread, the new event is tied to the closing stream and its job ends in
    CancelledError although the server ran it. A vote sent again carries the same vote id, so it counts
    once (that is what vote ids are for); a dead server makes the resend fail at once (ConnectError).
    """
    for attempt in range(resends + 1):
        try:
            return client.submit(*args, api_name=api_name).result(timeout=REQUEST_S)
        except concurrent.futures.CancelledError:
            if attempt == resends:
                raise
            if run is not None:
                run.resent += 1
    raise AssertionError("unreachable")


def review(url: str, token: str, run: ReviewerRun, votes: int | None, seed: int, barrier: threading.Barrier | None = None,
           stop: threading.Event | None = None, retry_every: int = RETRY_EVERY) -> None:
    """One reviewer: join, then vote on each next pair until ``votes`` are cast, ``stop`` is set, or
    nothing is left. Every reply that arrives is kept in ``run``; the first failure ends the run."""
    rng = random.Random(seed)
    try:
        client = new_client(url)
    except Exception as exc:  # noqa: BLE001 - reported by the caller
        run.error = f"client: {type(exc).__name__}: {exc}"
        if barrier is not None:
            barrier.abort()
        return
    try:
        if barrier is not None:
            barrier.wait(timeout=120)
        run.joined_done = call(client, "/join", token, run.name, run=run)["done"]
        task = call(client, "/next", token, run.name, run=run)
        while task is not None and (votes is None or len(run.votes) < votes) and not (stop and stop.is_set()):
            answer, vote_id = rng.choice(ANSWERS), str(uuid.uuid4())
            resent, started = run.resent, time.perf_counter()
            reply = call(client, "/vote", token, run.name, task["task_id"], answer, "", vote_id, run=run)
            seconds = time.perf_counter() - started
            if not reply["recorded"] or (reply["duplicate"] and run.resent == resent):
                raise AssertionError(f"the first send of vote {vote_id} came back {reply}")
            run.votes.append(CastVote(run.name, task["task_id"], vote_id, answer, task["a"], seconds, reply["done"]))
            if retry_every and len(run.votes) % retry_every == retry_every // 2:
                again = call(client, "/vote", token, run.name, task["task_id"], answer, "", vote_id, run=run)
                run.retries += 1
                run.retries_duplicate += bool(again["recorded"] and again["duplicate"])
                run.retries_same_done += again["done"] == reply["done"]
            task = reply["next"]
    except Exception as exc:  # noqa: BLE001 - a dead server ends the run; the caller decides if that is wrong
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        client.close()


@dataclass
class LoadRun:
    runs: list[ReviewerRun]
    wall_s: float

    @property
    def votes(self) -> list[CastVote]:
        return [v for run in self.runs for v in run.votes]

    def total(self, counter: str) -> int:
        return sum(getattr(run, counter) for run in self.runs)

    def report(self) -> str:
        times = sorted(v.seconds for v in self.votes)
        return (f"{len(self.runs)} reviewers: votes cast {len(times)}, retries {self.total('retries')} "
                f"(duplicate {self.total('retries_duplicate')}, counted once {self.total('retries_same_done')}), "
                f"lost replies resent {self.total('resent')}, wall {self.wall_s:.1f} s, per vote median "
                f"{percentile(times, 50) * 1000:.0f} ms p95 {percentile(times, 95) * 1000:.0f} ms, "
                f"{len(times) / self.wall_s:.1f} votes/s")


def run_reviewers(url: str, token: str, reviewers: int, votes: int, retry_every: int = RETRY_EVERY) -> LoadRun:
    """``reviewers`` threads, each with its own client, released together; wall time from the release."""
    barrier = threading.Barrier(reviewers + 1)
    runs = [ReviewerRun(f"Reviewer {i:02d}") for i in range(reviewers)]
    threads = [threading.Thread(target=review, args=(url, token, run, votes, i, barrier), kwargs={"retry_every": retry_every},
                                daemon=True) for i, run in enumerate(runs)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait(timeout=120)
    except threading.BrokenBarrierError:  # a client could not connect: its run says why
        pass
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=600)
    return LoadRun(runs, time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (nan when empty)."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


# ---- tests --------------------------------------------------------------------------------------
def test_twenty_reviewers_at_once_each_vote_counts_once(database_url, tmp_path):
    reviewers, votes = 20, 50
    seeded = seed_review(database_url, prompts=25, per_pair=20)
    assert seeded.items == 75
    app = start_app(database_url, tmp_path / "app")
    try:
        load = run_reviewers(app.review_url, seeded.reviewer_token, reviewers, votes)
    finally:
        app.stop()
    summary = load.report()
    print(f"\n[{database_url.split(':', 1)[0]}] {summary}")
    context = f"{summary}\napp log:\n{app.log_tail()}"

    assert [r.error for r in load.runs if r.error] == [], context
    assert all(r.joined_done == 0 for r in load.runs), context
    for run in load.runs:
        assert [v.done for v in run.votes] == list(range(1, votes + 1)), f"{run.name}: {context}"
        assert run.retries_duplicate == run.retries_same_done == run.retries == votes // RETRY_EVERY, f"{run.name}: {context}"

    rows = stored_votes(database_url, seeded.review_id)
    sent = {v.vote_id: v for v in load.votes}
    assert len(rows) == len(sent) == reviewers * votes, context
    assert len({r["id"] for r in rows}) == len(rows), context
    assert len({(r["item_id"], r["reviewer_id"]) for r in rows}) == len(rows), f"a pair judged twice by one reviewer: {context}"
    per_reviewer: dict[str, int] = {}
    for row in rows:
        per_reviewer[row["name"]] = per_reviewer.get(row["name"], 0) + 1
    assert per_reviewer == {r.name: votes for r in load.runs}, context
    from helpers import reply_text

    for row in rows:
        vote = sent[row["id"]]  # KeyError: a stored id the test never sent
        shown_a = row["left"] if row["shown_first"] == "left" else row["right"]
        assert (row["public_id"], row["name"], row["answer"]) == (vote.task_id, vote.reviewer, vote.answer), context
        assert reply_text(row["prompt_index"], VARIANTS.index(shown_a)) == vote.shown_a, context


def test_confirmed_votes_survive_a_killed_server(database_url, tmp_path):
    reviewers, before_kill = 5, 100
    seeded = seed_review(database_url, prompts=25, per_pair=20)
    runs = [ReviewerRun(f"Crash {i}") for i in range(reviewers)]
    stop = threading.Event()
    app = start_app(database_url, tmp_path / "app", "first")
    try:
        threads = [threading.Thread(target=review, args=(app.review_url, seeded.reviewer_token, run, None, i),
                                    kwargs={"stop": stop}, daemon=True) for i, run in enumerate(runs)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while sum(len(r.votes) for r in runs) < before_kill and time.monotonic() < deadline and any(t.is_alive() for t in threads):
            time.sleep(0.02)
        confirmed_at_kill = sum(len(r.votes) for r in runs)
        app.kill()  # votes are in flight: some committed, some not, some committed without a reply
        for thread in threads:
            thread.join(timeout=REQUEST_S + 10)
        stop.set()
    finally:
        stop.set()
        app.stop()
    first_log = app.log_tail()
    confirmed = [v for r in runs for v in r.votes]
    assert confirmed_at_kill >= before_kill, f"only {confirmed_at_kill} votes in 120 s: {[r.error for r in runs]}\n{first_log}"
    assert not any(t.is_alive() for t in threads), "a reviewer thread still waits after the server died"

    rows = stored_votes(database_url, seeded.review_id)
    stored = {r["id"]: r for r in rows}
    lost = [v for v in confirmed if v.vote_id not in stored]
    unconfirmed = len(rows) - (len(confirmed) - len(lost))
    summary = (f"votes confirmed {len(confirmed)} (at kill: {confirmed_at_kill}), votes stored {len(rows)}, "
               f"lost {len(lost)}, stored without a reply {unconfirmed}; reviewers ended with: "
               f"{sorted({r.error.split(':')[0] for r in runs})}")
    print(f"\n[{database_url.split(':', 1)[0]}] {summary}")
    context = f"{summary}\nfirst app log:\n{first_log}"
    assert lost == [], context
    for vote in confirmed:
        row = stored[vote.vote_id]
        assert (row["public_id"], row["name"], row["answer"]) == (vote.task_id, vote.reviewer, vote.answer), context
    assert len({(r["item_id"], r["reviewer_id"]) for r in rows}) == len(rows), context

    app = start_app(database_url, tmp_path / "app", "restarted")
    try:
        client = new_client(app.review_url)
        try:
            for run in runs:
                mine = {r["public_id"] for r in rows if r["name"] == run.name}
                assert len(mine) >= len(run.votes), context
                joined = call(client, "/join", seeded.reviewer_token, run.name)
                assert joined["done"] == len(mine), f"{run.name}: {joined} {context}"
                task = call(client, "/next", seeded.reviewer_token, run.name)
                assert task is not None and task["task_id"] not in mine and task["done"] == len(mine), f"{run.name}: {context}"
                reply = call(client, "/vote", seeded.reviewer_token, run.name, task["task_id"], "tie", "", str(uuid.uuid4()))
                assert reply["recorded"] and not reply["duplicate"] and reply["done"] == len(mine) + 1, context
        finally:
            client.close()
    finally:
        app.stop()
    assert len(stored_votes(database_url, seeded.review_id)) == len(rows) + reviewers, context
