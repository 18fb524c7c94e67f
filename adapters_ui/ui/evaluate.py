"""The Evaluate tab: an evaluation set through the chosen variants as a background job, then its verdicts.

A job belongs to no page (``session.evaluations``): closing the page does not stop it, only its owner's
Cancel does. Which evaluations a visitor started lives in their browser (``gr.BrowserState``: id -> owner
key), as for saved comparisons; on a public Space the list shows only those. Everything shown is read from
the database (``DocumentCache``), so ``?evaluation=<id>`` opens the same view after a restart, and a timer
redraws the progress bar once a second while a job runs here.
"""

from __future__ import annotations

import functools
import html
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import gradio as gr
import pandas as pd

from adapters_ui.demo_assets import shipped_eval_sets
from adapters_ui.errors import AdaptersUIError, EvalSetError
from adapters_ui.formatting import plural
from adapters_ui.names import BASE
from adapters_ui.runs.evalset import EvalSet, read_eval_set, summarize
from adapters_ui.runs.evaluation import EvaluationProgress
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.store import evaluations as evaluation_store
from adapters_ui.store.links import evaluation_link
from adapters_ui.ui.common import STOPS, UI_ONLY, export_folder, ok, problem, visitor
from adapters_ui.ui.evaluate_bench import EvaluateBench, benchmark_request, build_evaluate_bench
from adapters_ui.ui.evaluate_judge import EvaluateJudge, EvaluateJudgeHandlers, build_evaluate_judge, wire_evaluate_judge
from adapters_ui.ui.evaluation_cache import DocumentCache, judgings_state
from adapters_ui.ui.saved import base_url, browser_secret
from adapters_ui.views.benchmark import benchmark_table_html
from adapters_ui.views.evaluation import EVALUATION_CSS, METRIC_ORDER, slice_names, verdict_table_html
from adapters_ui.views.evaluation_charts import category_heatmap
from adapters_ui.views.evaluation_exports import evaluation_json, items_csv
from adapters_ui.views.evaluation_items import item_columns, item_detail_html, item_rows
from adapters_ui.views.evaluation_report import evaluation_report_html
from adapters_ui.views.html import VIEW_CSS

log = logging.getLogger(__name__)

DEFAULT_SET = "demo"
DEFAULT_TOKENS = 48
TICK_S = 1.0  # the progress bar's redraw while a job runs here
ALL = "all"
ONLY = [("All items", ALL), ("Only failures", "failures"), ("Only regressions", "regressions")]
PICK_ITEM = "<p class='ag-note'><i>Click a row of the table to see every variant's output, its checks and the words that differ from the baseline.</i></p>"
NOTHING_YET = "No evaluation yet: pick a set and the variants, then press **Evaluate**."
# Wide things scroll or wrap inside their box, or a phone's whole page would widen to them: the item table is
# contained (its width no longer depends on its columns: gradio's data frame scrolls them), the permalink wraps.
EVALUATE_CSS = """
#eval-progress .ag-bar {height: 14px; border-radius: 7px; background: #eef0f6; overflow: hidden; margin: 4px 0}
#eval-progress .ag-bar > div {height: 100%; background: #4c72b0; transition: width .4s}
#eval-progress p {margin: 2px 0; font-size: 15px}
#eval-link {overflow-wrap: anywhere}
#eval-results, #eval-results > *, #eval-items, #eval-heatmap, #eval-item, #eval-verdicts {min-width: 0; max-width: 100%}
#eval-items {overflow-x: auto; contain: inline-size}
#eval-upload {min-width: 0}
@media (max-width: 640px) {
  #eval-setup {flex-direction: column}
  #eval-setup > * {width: 100%; min-width: 0}
}
"""
VIEWS_CSS = VIEW_CSS + EVALUATION_CSS  # in this order: the verdict table's own rules win (auto widths, one line a cell)


@dataclass
class EvaluateTab:
    """The Evaluate tab's components (each set by ``build_evaluate_tab``)."""

    owned: gr.BrowserState = None  # evaluation id -> owner key, in this browser only
    opened: gr.State = None  # the id on screen
    seen: gr.State = None  # the document key last drawn (redraw only when it changes)
    set_choice: gr.Dropdown = None
    set_file: gr.File = None
    set_summary: gr.Markdown = None
    variants: gr.CheckboxGroup = None
    samples: gr.Number = None
    max_tokens: gr.Number = None
    first_items: gr.Number = None
    start: gr.Button = None
    cancel: gr.Button = None
    notice: gr.Markdown = None
    progress: gr.HTML = None
    permalink: gr.Markdown = None
    timer: gr.Timer = None
    results: gr.Column = None
    baseline: gr.Dropdown = None
    baseline_other: gr.Textbox = None
    slice: gr.Dropdown = None
    verdicts: gr.HTML = None
    metric: gr.Dropdown = None
    heatmap: gr.Plot = None
    only: gr.Radio = None
    category: gr.Dropdown = None
    tag: gr.Dropdown = None
    items: gr.Dataframe = None
    item: gr.HTML = None
    csv: gr.DownloadButton = None
    json: gr.DownloadButton = None
    html: gr.DownloadButton = None
    recent: gr.Dropdown = None
    open: gr.Button = None
    judge: EvaluateJudge = None
    bench: EvaluateBench = None

    def view(self) -> list:
        """What ``EvaluateHandlers.show`` fills, in its order."""
        return [self.opened, self.seen, self.notice, self.progress, self.permalink, self.timer, self.results,
                self.baseline, self.slice, self.verdicts, self.metric, self.heatmap, self.category, self.tag,
                self.items, self.item, self.csv, self.json, self.html]

    def choices(self) -> list:
        """The visitor's current selections, which a redraw keeps."""
        return [self.slice, self.metric, self.only, self.category, self.tag]


VIEW_OUTPUTS = 19


def build_evaluate_tab(settings) -> EvaluateTab:
    """A set, variants and settings, Evaluate and Cancel, the progress bar, then the results of the open evaluation."""
    e = EvaluateTab()
    e.owned = gr.BrowserState({}, storage_key="adapters_ui_evaluations", secret=browser_secret(settings.cache_dir))
    e.opened, e.seen = gr.State(None), gr.State(None)
    with gr.Row(equal_height=False, elem_id="eval-setup"):
        with gr.Column(scale=3):
            _build_set(e)
        with gr.Column(scale=2):
            _build_settings(e)
    with gr.Row(elem_id="eval-bar"):
        e.start = gr.Button("Evaluate", variant="primary", size="lg", elem_id="eval-start", scale=3)
        e.cancel = gr.Button("Cancel", variant="stop", size="lg", elem_id="eval-cancel", scale=1)
    e.bench = build_evaluate_bench(settings.public)
    e.notice = gr.Markdown(elem_id="eval-notice")
    e.progress = gr.HTML("", elem_id="eval-progress")
    e.permalink = gr.Markdown(elem_id="eval-link")
    e.timer = gr.Timer(TICK_S, active=False)
    with gr.Column(visible=False, elem_id="eval-results") as e.results:
        _build_results(e)
    with gr.Row(equal_height=True):
        e.recent = gr.Dropdown([], label="Recent evaluations (newest first)", scale=4, elem_id="eval-recent")
        e.open = gr.Button("Open", scale=1, elem_id="eval-open")
    return e


def _build_set(e: EvaluateTab) -> None:
    shipped = list(shipped_eval_sets())
    e.set_choice = gr.Dropdown(shipped, value=DEFAULT_SET if DEFAULT_SET in shipped else None,
                               label="Evaluation set (shipped)", elem_id="eval-set")
    e.set_file = gr.File(label="…or upload one (.jsonl, .csv, .parquet)", file_types=[".jsonl", ".csv", ".parquet"],
                         elem_id="eval-upload", height=140)
    e.set_summary = gr.Markdown(elem_id="eval-summary")


def _build_settings(e: EvaluateTab) -> None:
    e.variants = gr.CheckboxGroup([], value=[], label="Variants (none ticked: all)", elem_id="eval-variants")
    with gr.Row():
        e.samples = gr.Number(1, label="Samples per item", precision=0, minimum=1, maximum=20, elem_id="eval-samples")
        e.max_tokens = gr.Number(DEFAULT_TOKENS, label="Max new tokens", precision=0, minimum=1, elem_id="eval-tokens")
        e.first_items = gr.Number(0, label="Only N items, spread over the set (0: all)", precision=0, minimum=0,
                                  elem_id="eval-first")


def _build_results(e: EvaluateTab) -> None:
    with gr.Row():
        e.baseline = gr.Dropdown([BASE], value=BASE, label="Baseline", elem_id="eval-baseline", scale=2)
        e.baseline_other = gr.Textbox(label="…or another evaluation's id (ID or ID/variant)", max_lines=1,
                                      elem_id="eval-baseline-other", scale=3)
    e.slice = gr.Dropdown([ALL], value=ALL, label="Slice", elem_id="eval-slice")
    e.verdicts = gr.HTML("", css_template=VIEWS_CSS, elem_id="eval-verdicts", padding=False)
    e.metric = gr.Dropdown(list(METRIC_ORDER[:1]), value=METRIC_ORDER[0], label="Heatmap metric", elem_id="eval-metric")
    e.heatmap = gr.Plot(show_label=False, elem_id="eval-heatmap")
    gr.Markdown("#### Items")
    with gr.Row():
        e.only = gr.Radio(ONLY, value=ALL, label="Show", elem_id="eval-only", scale=2)
        e.category = gr.Dropdown([ALL], value=ALL, label="Category", elem_id="eval-category", scale=1)
        e.tag = gr.Dropdown([ALL], value=ALL, label="Tag", elem_id="eval-tag", scale=1)
    e.items = gr.Dataframe(interactive=False, wrap=False, max_height=420, elem_id="eval-items")
    e.item = gr.HTML(PICK_ITEM, css_template=VIEWS_CSS, elem_id="eval-item")
    with gr.Row():
        e.csv = gr.DownloadButton("CSV (items)", interactive=False, elem_id="eval-csv")
        e.json = gr.DownloadButton("JSON (document)", interactive=False, elem_id="eval-json")
        e.html = gr.DownloadButton("HTML report", interactive=False, variant="primary", elem_id="eval-html")
    e.judge = build_evaluate_judge()


# ---- what the handlers share ---------------------------------------------------------------------

def set_file_of(choice: str | None, upload) -> Path:
    """The set to run: the uploaded file, else the shipped set picked by name (never a path typed by a visitor)."""
    if upload:
        return Path(getattr(upload, "name", upload))
    shipped = shipped_eval_sets()
    if not choice or choice not in shipped:
        raise EvalSetError(f"No evaluation set picked: choose one of {', '.join(shipped) or 'the shipped sets'}, "
                           "or upload a .jsonl, .csv or .parquet file.")
    return shipped[choice]


def some_of(eval_set: EvalSet, count: int | float | None) -> EvalSet:
    """``count`` items spread evenly over ``eval_set`` (0 or None: all of it), for a quick first look: a set
    sorted by category keeps every category. Named so the list says so.

        >>> [item.id for item in some_of(EvalSet("s.jsonl", tuple(EvalItem(id=f"q{i}", prompt="?") for i in range(10))), 3).items]
        ['q0', 'q3', 'q6']
    """
    count, total = int(count or 0), len(eval_set.items)
    if count <= 0 or count >= total:
        return eval_set
    items = tuple(eval_set.items[i * total // count] for i in range(count))
    return replace(eval_set, name=f"{eval_set.name} ({count} of {total})", items=items)


def _selected(value, choices: list) -> str:
    return value if value in choices else ALL


def _as_filter(value) -> str | None:
    return None if value in (None, "", ALL) else value


def progress_html(progress: EvaluationProgress, here: bool, batch: str | None = None) -> str:
    """A bar and its line ("40 of 608 outputs (7%), 3.1 outputs/s, about 3 min 15 s left"); ``here``: the job
    runs in this process (a running evaluation elsewhere, or not resumed yet, says so); ``batch``: how far the
    batch in progress is (the bar moves a committed batch at a time, which takes minutes on a CPU)."""
    share = 100 * progress.done / progress.total if progress.total else 0
    line = progress.line()
    if progress.status == evaluation_store.RUNNING and not here:
        line += " (not running in this process: it goes on when the app that runs it does)"
    now = f'<p class="ag-note">this batch: {html.escape(batch)}</p>' if batch and progress.status == evaluation_store.RUNNING else ""
    return (f'<div class="ag-bar" role="progressbar" aria-valuenow="{share:.0f}" aria-valuemin="0" aria-valuemax="100">'
            f'<div style="width: {share:.1f}%"></div></div><p>{html.escape(line)}</p>{now}')


def verdicts_html(document: dict, slice=ALL) -> str:
    """The verdict table of ``slice``; a benchmark's "all" is lm-eval's numbers beside its verdicts, task by task."""
    if "benchmark" in document and _as_filter(slice) is None:
        return benchmark_table_html(document)
    return verdict_table_html(document, _as_filter(slice))


def _label(stored: evaluation_store.StoredEvaluation) -> str:
    return (f"{stored.created[:16].replace('T', ' ')} · {stored.set_name} · {plural(stored.items, 'item')} · "
            f"{', '.join(stored.variants)} · {stored.status}")


class EvaluateHandlers:
    """The Evaluate tab's handlers, on the shared session and database (testable without a server)."""

    def __init__(self, holder: SessionHolder, database: DatabaseHolder, documents: DocumentCache | None = None):
        self.holder = holder
        self.database = database
        self.settings = holder.settings
        self.documents = documents or DocumentCache()
        self.judge = EvaluateJudgeHandlers(database, self.settings)

    # ---- the set and the variants -------------------------------------------------------------
    def summary(self, choice: str | None, upload) -> tuple:
        """-> (summary, notice). A file that is not a set is one line; nothing is stored either way."""
        try:
            eval_set = read_eval_set(set_file_of(choice, upload))
        except AdaptersUIError as exc:
            return "", problem(exc)
        return f"**{html.escape(eval_set.name)}:** {summarize(eval_set).text()}", ""

    def first_summary(self, choice: str | None) -> str:
        """Page load: the preselected shipped set's summary."""
        return self.summary(choice, None)[0]

    def variant_choices(self, ticked: list[str] | None = None):
        """The variants to tick once the session has loaded: the visitor's ticks that still exist, else all."""
        session = self.holder.loaded
        if session is None:
            return gr.skip()
        kept = [v for v in ticked or [] if v in session.variants]
        return gr.update(choices=session.variants, value=kept or session.variants)

    # ---- starting and cancelling --------------------------------------------------------------
    def start(self, choice, upload, variants, samples, max_tokens, first, owned: dict | None, selections: tuple = (),
              request: gr.Request = None) -> tuple:
        """-> (owned, *view). The job runs in the background; the owner key stays in this browser."""
        owned = dict(owned or {})
        try:
            session = self.holder.get()
            path = set_file_of(choice, upload)
            whole = read_eval_set(path)
            eval_set = some_of(whole, first)
            sampled = int(samples or 1) > 1  # several samples of greedy decoding would all be the same
            settings = session.generation_settings(max_new_tokens=int(max_tokens or DEFAULT_TOKENS), do_sample=sampled)
            source = path if eval_set is whole else eval_set  # a path: the set's sha256 is stored with it
            _job, ref = session.start_evaluation(self.database.get(), source, list(variants or []), int(samples or 1),
                                                 settings=settings, owner=visitor(request))
        except (AdaptersUIError, ValueError, TypeError) as exc:
            return (owned, *[gr.skip()] * 2, problem(exc), *[gr.skip()] * (VIEW_OUTPUTS - 3))
        return self._opened(ref, owned, selections, request, f"evaluation `{ref.id}` started: it goes on if you close "
                            "the page; only this browser can cancel it.")

    def start_benchmark(self, tasks, more, limit, fewshot, variants, owned: dict | None, selections: tuple = (),
                        request: gr.Request = None) -> tuple:
        """-> (owned, *view): lm-eval's tasks on the ticked variants, a stored job like an evaluation."""
        owned = dict(owned or {})
        try:
            names, limit, fewshot = benchmark_request(tasks, more, limit, fewshot, self.settings.public)
            _job, ref = self.holder.get().start_benchmark(self.database.get(), names, list(variants or []), limit=limit,
                                                          num_fewshot=fewshot, owner=visitor(request))
        except (AdaptersUIError, ValueError, TypeError) as exc:
            return (owned, *[gr.skip()] * 2, problem(exc), *[gr.skip()] * (VIEW_OUTPUTS - 3))
        return self._opened(ref, owned, selections, request, f"benchmark `{ref.id}` started: lm-eval scores one variant "
                            "after another; it goes on if you close the page, and only this browser can cancel it.")

    def _opened(self, ref, owned: dict, selections: tuple, request, started: str) -> tuple:
        """A job just started: its owner key kept in this browser, and its view opened with ``started`` as the notice."""
        owned[ref.id] = ref.owner_key
        view = self.show(ref.id, BASE, *selections, request=request)
        return (owned, *view[:2], ok(started), *view[3:])

    def cancel(self, evaluation_id: str | None, owned: dict | None) -> str:
        """Only the browser that started the evaluation (its owner key) cancels it."""
        if not evaluation_id:
            return problem("No evaluation is open: start or open one first.")
        try:
            db = self.database.get()
            if not evaluation_store.is_owner(db, evaluation_id, (owned or {}).get(evaluation_id)):
                return problem("Only the browser that started this evaluation can cancel it.")
        except AdaptersUIError as exc:
            return problem(exc)
        session = self.holder.loaded
        job = session.evaluations.get(evaluation_id) if session is not None else None
        if job is None or job.ended:
            return problem("This evaluation is not running here: nothing to cancel.")
        job.cancel()
        return "**Cancelling…** (every committed batch is kept)"

    # ---- showing one evaluation ---------------------------------------------------------------
    def progress(self, evaluation_id: str) -> tuple[EvaluationProgress, bool, str | None]:
        """(progress, runs here, the batch in progress) of the job when it runs here, else what the database says."""
        session = self.holder.loaded
        job = session.evaluations.get(evaluation_id) if session is not None else None
        if job is not None and not job.ended:
            return job.progress(), True, job.batch_line()
        db = self.database.get()
        stored = evaluation_store.load_evaluation(db, evaluation_id)
        done = evaluation_store.count_outputs(db, evaluation_id)
        return EvaluationProgress(done, stored.rows, None, stored.status, stored.error), False, None

    def document(self, evaluation_id: str, baseline: str | None) -> dict:
        return self.documents.get(self.database.get(), evaluation_id, baseline or BASE)

    def show(self, evaluation_id: str | None, baseline: str | None = BASE, slice=ALL, metric=None, only=ALL,
             category=ALL, tag=ALL, seen=None, request: gr.Request = None) -> tuple:
        """The whole view of one evaluation (``EvaluateTab.view``'s order): progress, permalink, verdicts,
        heatmap, items and downloads; the visitor's slice, metric and filters are kept when they still apply."""
        try:
            evaluation_id = evaluation_store.load_evaluation(self.database.get(), (evaluation_id or "").strip()).id
            progress, here, batch = self.progress(evaluation_id)
            document = self.document(evaluation_id, baseline)
        except AdaptersUIError as exc:
            return (gr.skip(), gr.skip(), problem(exc), *[gr.skip()] * (VIEW_OUTPUTS - 3))
        running = progress.status == evaluation_store.RUNNING and here
        watching = progress.status == evaluation_store.RUNNING  # elsewhere or not resumed yet: the bar still follows
        key = (evaluation_id, document["baseline"], len(document["items"]), document["status"], running,
               judgings_state(self.database.get(), evaluation_id))  # a judge's new batch redraws the verdicts
        link = evaluation_link(base_url(request) or self.settings.public_url, evaluation_id)
        permalink = f"**Permalink** (read-only, survives restarts): [{link}]({link})"
        bar = progress_html(progress, here, batch)
        if key == seen:
            return (evaluation_id, seen, gr.skip(), bar, gr.skip(), gr.Timer(active=watching), *[gr.skip()] * 13)
        slices = [ALL, *slice_names(document, "category"), *slice_names(document, "tag")]
        metrics = [m for m in METRIC_ORDER if any(v["metric"] == m for v in document["verdicts"])] or ["checks"]
        metric = metric if metric in metrics else metrics[0]
        categories = [ALL, *sorted({i["category"] for i in document["set_items"] if i.get("category")})]
        tags = [ALL, *sorted({t for i in document["set_items"] for t in i.get("tags") or []})]
        slice, category, tag = _selected(slice, slices), _selected(category, categories), _selected(tag, tags)
        variants = document["variants"]
        picked = baseline if baseline in variants else (BASE if BASE in variants else variants[0])
        finished = not running and document["items"]
        return (evaluation_id, key, "" if not running else gr.skip(), bar, permalink, gr.Timer(active=watching),
                gr.update(visible=True), gr.update(choices=variants, value=picked),
                gr.update(choices=slices, value=slice), verdicts_html(document, slice),
                gr.update(choices=metrics, value=metric), category_heatmap(document, metric),
                gr.update(choices=categories, value=category), gr.update(choices=tags, value=tag),
                self._items_frame(document, only, category, tag), PICK_ITEM,
                *(self._downloads(document) if finished else [gr.update(value=None, interactive=False)] * 3))

    def tick(self, evaluation_id, baseline, slice, metric, only, category, tag, seen, request: gr.Request = None) -> tuple:
        """Timer, while a job runs here: the bar every tick; the results each time a batch is committed."""
        if not evaluation_id:
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False), *[gr.skip()] * 13)
        return self.show(evaluation_id, baseline, slice, metric, only, category, tag, seen, request=request)

    # ---- parts of the view ---------------------------------------------------------------------
    @staticmethod
    def _items_frame(document: dict, only=ALL, category=ALL, tag=ALL) -> pd.DataFrame:
        rows = item_rows(document, only=_as_filter(only), category=_as_filter(category), tag=_as_filter(tag))
        columns = item_columns(document)
        return pd.DataFrame([[row[c] for c in columns] for row in rows], columns=columns)

    def verdict_table(self, evaluation_id, baseline, slice) -> str:
        if not evaluation_id:
            return gr.skip()
        try:
            return verdicts_html(self.document(evaluation_id, baseline), slice)
        except AdaptersUIError as exc:
            return f"<p>{html.escape(problem(exc))}</p>"

    def heatmap(self, evaluation_id, baseline, metric):
        if not evaluation_id:
            return gr.skip()
        try:
            return category_heatmap(self.document(evaluation_id, baseline), metric or "checks")
        except AdaptersUIError:
            return gr.skip()

    def items(self, evaluation_id, baseline, only, category, tag) -> tuple:
        """-> (the item table, the detail box reset)."""
        if not evaluation_id:
            return gr.skip(), gr.skip()
        try:
            return self._items_frame(self.document(evaluation_id, baseline), only, category, tag), PICK_ITEM
        except AdaptersUIError as exc:
            return gr.skip(), f"<p>{html.escape(problem(exc))}</p>"

    def item(self, evaluation_id, baseline, item_id) -> str:
        """One item's detail: every variant's output, its checks and its word diff from the baseline."""
        if not evaluation_id or not item_id:
            return PICK_ITEM
        try:
            return item_detail_html(self.document(evaluation_id, baseline), str(item_id))
        except AdaptersUIError as exc:
            return f"<p>{html.escape(problem(exc))}</p>"

    def select_item(self, evaluation_id, baseline, evt: gr.SelectData) -> str:
        """A click on a row of the item table: its first cell is the item id."""
        row = getattr(evt, "row_value", None) or []
        return self.item(evaluation_id, baseline, row[0] if row else None)

    def _downloads(self, document: dict) -> list:
        folder = export_folder()
        stem = f"evaluation-{document['id']}"
        files = {"csv": (folder / f"{stem}.csv", items_csv(document)),
                 "json": (folder / f"{stem}.json", evaluation_json(document)),
                 "html": (folder / f"{stem}.html", evaluation_report_html(document))}
        for path, text in files.values():
            path.write_text(text, encoding="utf-8")
        return [gr.update(value=str(files[kind][0]), interactive=True) for kind in ("csv", "json", "html")]

    # ---- the list and the page load -----------------------------------------------------------
    def recent(self, owned: dict | None, selected: str | None = None):
        """Newest first; on a public Space only this browser's own (their ids are in its state)."""
        try:
            ids = list((owned or {})) if self.settings.public else None
            rows = evaluation_store.list_evaluations(self.database.get(), ids=ids)
        except AdaptersUIError:
            return gr.update(choices=[])
        return gr.update(choices=[(_label(r), r.id) for r in rows],
                         value=selected if any(r.id == selected for r in rows) else None)

    def page_open(self, owned: dict | None, request: gr.Request = None) -> tuple:
        """Page load: the list, the variants, and with ``?evaluation=<id>`` that evaluation opened in this tab."""
        wanted = (getattr(request, "query_params", None) or {}).get("evaluation")
        if not wanted:
            return (gr.skip(), self.recent(owned), *[gr.skip()] * VIEW_OUTPUTS)
        return (gr.Tabs(selected="evaluate"), self.recent(owned, wanted), *self.show(wanted, BASE, request=request))


def resume_jobs(session, database: DatabaseHolder, started: datetime | None = None) -> list:
    """App start, once the model has loaded: the evaluations, then the judgings, the last process left running go
    on from their last committed batch; judgings created since ``started`` (the app's start) are this process's
    own, already running. A database that fails is logged: the dashboard serves without the jobs."""
    jobs = []
    judgings = functools.partial(session.resume_unfinished_judgings, created_before=started)
    for what, resume in (("evaluation", session.resume_unfinished), ("judging", judgings)):
        try:
            resumed = resume(database.get())
        except Exception:  # noqa: BLE001 - never stop the app for the jobs
            log.exception("unfinished %ss were not resumed", what)
            continue
        if resumed:
            log.info("resumed %s", plural(len(resumed), f"unfinished {what}"))
        jobs += resumed
    return jobs


def baseline_of(choice: str | None, other: str | None) -> str:
    """The baseline: another evaluation's id when one is typed, else the variant picked."""
    return (other or "").strip() or choice or BASE


def wire_evaluate(demo: gr.Blocks, tabs: gr.Tabs, tab: gr.Tab, e: EvaluateTab, handlers: EvaluateHandlers) -> None:
    """Page load (the list, ``?evaluation=``), the set's summary, Evaluate, Cancel, the timer, Open, the result views."""
    view, picks = e.view(), e.choices()
    shown = [e.opened, e.baseline, e.baseline_other]  # the open evaluation and its baseline, for every redraw
    demo.load(handlers.page_open, e.owned, [tabs, e.recent, *view], **UI_ONLY)
    for event in (demo.load, tab.select):
        event(handlers.variant_choices, e.variants, e.variants, **UI_ONLY)
    demo.load(handlers.first_summary, e.set_choice, e.set_summary, **UI_ONLY)  # the notice is the permalink's
    for event in (e.set_choice.change, e.set_file.change):
        event(handlers.summary, [e.set_choice, e.set_file], [e.set_summary, e.notice], **UI_ONLY)

    # explicit parameters throughout: gradio hands gr.Request only to a positional parameter (none after *args)
    def start(choice, upload, variants, samples, tokens, first, owned, slice, metric, only, category, tag,
              request: gr.Request = None):
        return handlers.start(choice, upload, variants, samples, tokens, first, owned, (slice, metric, only, category, tag),
                              request=request)

    def redraw(evaluation_id, choice, other, slice, metric, only, category, tag, seen, request: gr.Request = None):
        return handlers.tick(evaluation_id, baseline_of(choice, other), slice, metric, only, category, tag, seen,
                             request=request)

    def open_one(evaluation_id, slice, metric, only, category, tag, request: gr.Request = None):
        return handlers.show(evaluation_id, BASE, slice, metric, only, category, tag, request=request)

    e.start.click(start, [e.set_choice, e.set_file, e.variants, e.samples, e.max_tokens, e.first_items, e.owned, *picks],
                  [e.owned, *view], trigger_mode="once", **UI_ONLY
                  ).then(handlers.recent, [e.owned, e.opened], e.recent, **UI_ONLY)
    wire_benchmark(e, handlers, picks, view)
    e.cancel.click(handlers.cancel, [e.opened, e.owned], e.notice, **UI_ONLY)
    e.seen.change(handlers.recent, [e.owned, e.opened], e.recent, **UI_ONLY)  # a new batch or the end: the list's status
    e.timer.tick(redraw, [*shown, *picks, e.seen], view, show_progress="hidden", **STOPS)
    e.open.click(open_one, [e.recent, *picks], view, **UI_ONLY)
    wire_result_views(e, handlers, shown, picks, view)
    wire_evaluate_judge(e, e.judge, handlers.judge)


def wire_benchmark(e: EvaluateTab, handlers: EvaluateHandlers, picks: list, view: list) -> None:
    """Run benchmark: lm-eval's tasks on the ticked variants, opened in the tab's view like an evaluation."""
    def start_benchmark(tasks, more, limit, fewshot, variants, owned, slice, metric, only, category, tag,
                        request: gr.Request = None):
        return handlers.start_benchmark(tasks, more, limit, fewshot, variants, owned, (slice, metric, only, category, tag),
                                        request=request)

    e.bench.start.click(start_benchmark, [*e.bench.inputs(), e.variants, e.owned, *picks], [e.owned, *view],
                        trigger_mode="once", **UI_ONLY).then(handlers.recent, [e.owned, e.opened], e.recent, **UI_ONLY)


def wire_result_views(e: EvaluateTab, handlers: EvaluateHandlers, shown: list, picks: list, view: list) -> None:
    """The open evaluation's views: another baseline redraws them all; a slice, a metric or a filter its own view."""
    def rebase(evaluation_id, choice, other, slice, metric, only, category, tag, request: gr.Request = None):
        return handlers.show(evaluation_id, baseline_of(choice, other), slice, metric, only, category, tag, request=request)

    def verdicts(evaluation_id, choice, other, slice):
        return handlers.verdict_table(evaluation_id, baseline_of(choice, other), slice)

    def heatmap(evaluation_id, choice, other, metric):
        return handlers.heatmap(evaluation_id, baseline_of(choice, other), metric)

    def items(evaluation_id, choice, other, only, category, tag):
        return handlers.items(evaluation_id, baseline_of(choice, other), only, category, tag)

    def select(evaluation_id, choice, other, evt: gr.SelectData):
        return handlers.select_item(evaluation_id, baseline_of(choice, other), evt)

    e.baseline.input(rebase, [*shown, *picks], view, **UI_ONLY)
    e.baseline_other.submit(rebase, [*shown, *picks], view, **UI_ONLY)
    e.slice.input(verdicts, [*shown, e.slice], e.verdicts, **UI_ONLY)
    e.metric.input(heatmap, [*shown, e.metric], e.heatmap, **UI_ONLY)
    for box in (e.only, e.category, e.tag):
        box.input(items, [*shown, e.only, e.category, e.tag], [e.items, e.item], **UI_ONLY)
    e.items.select(select, shown, e.item, **UI_ONLY)
