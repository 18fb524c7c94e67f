"""What the UI, the API and the CLI all call: "attach these, compare those prompts" -> runs and results.

    >>> session = Session.start(Settings.from_env())                       # loads the base model
    >>> session.attach("assets/adapters/pirate")                            # doctest: +SKIP
    >>> run = session.start_compare(["Hi!"], ["base", "pirate"], owner="me")  # doctest: +SKIP
    >>> for event in run: ...                                               # doctest: +SKIP
    >>> run.result().outputs("pirate")                                      # doctest: +SKIP
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from adapters_ui.adapters import demo as demo_set
from adapters_ui.adapters.files import model_storage
from adapters_ui.adapters.merge import MergedModel, MergePlan
from adapters_ui.adapters.registry import AdapterRegistry
from adapters_ui.adapters.weight_effects import weight_effects
from adapters_ui.analysis.analyze import Analysis, analyze
from adapters_ui.analysis.weights import WeightEffects
from adapters_ui.backends.inprocess.backend import InProcessBackend
from adapters_ui.backends.protocol import Backend
from adapters_ui.config import Settings
from adapters_ui.decoding import GenerationSettings, generation_settings
from adapters_ui.errors import AdapterError, AdaptersUIError, ConfigError, MergeError, PromptError, UnknownVariantError, first_line
from adapters_ui.formatting import format_chat
from adapters_ui.model.base import LoadedBase, load_base
from adapters_ui.model.quiet import quiet_known_warnings, quiet_progress_bars
from adapters_ui.model.thread import model_call, on_model_thread
from adapters_ui.model.turns import TurnQueue
from adapters_ui.names import BASE
from adapters_ui.records import AdapterInfo, ModelStorage, StorageReport
from adapters_ui.runs.evalset import EvalSet, item_record, read_eval_set
from adapters_ui.runs.evaluation import BATCH_ITEMS, EvaluationBook, EvaluationJob
from adapters_ui.runs.prompts import format_prompt
from adapters_ui.runs.run import CompareRun, Comparison, PromptResult, RunBook, RunRequest

__all__ = ["Comparison", "PromptResult", "Session", "SessionHolder", "StorageReport"]

if TYPE_CHECKING:  # the judge's HTTP client loads only when a judging is resumed
    from adapters_ui.runs.judging import JudgingJob

log = logging.getLogger(__name__)
_importing = threading.Lock()
MAX_SAMPLES = 20  # outputs per item and variant: several only make sense with sampling


def import_model_libraries() -> None:
    """Import transformers and peft one thread at a time. The page's preview reads adapter configs (peft) while
    the background load imports transformers; two threads importing them at once can see a half-initialised
    transformers ("cannot import name 'AutoModelForCausalLM'"), and the model never loads."""
    with _importing:
        import peft  # noqa: F401  (imports transformers' auto classes on the way)
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401



class Session:
    """One base model behind a backend, its attached adapters, and the runs over them."""

    def __init__(self, base: LoadedBase, settings: Settings, backend: Backend | None = None):
        self.base = base
        self.settings = settings
        self.backend = backend or InProcessBackend(base)
        # Every use of the model takes a turn: fair sharing between visitors. A server batches the
        # rows of several runs together, so up to max_runs of them are in flight at once.
        self.turns = TurnQueue(1 if self.backend.in_process else settings.max_runs)
        self.registry = AdapterRegistry(self.backend, self.turns, settings, base.source.name)
        self.runs = RunBook()
        self.evaluations = EvaluationBook()  # jobs belong to no page: closing one never stops them
        self.judgings: dict[str, JudgingJob] = {}  # the judgings this process resumed at start, by id
        # Adapters held by work that is not a run (an analysis, a mix): with the runs' own, they are never evicted.
        self._holding: Counter[str] = Counter()
        self.registry.busy = lambda: (self.runs.in_use() | self.evaluations.in_use()
                                      | {n for n, k in self._holding.items() if k > 0})
        if settings.public:  # at the cap, the least recently used visitor upload (or mix) makes room
            from adapters_ui.adapters.sources import is_visitor_upload, remove_visitor_upload

            self.registry.evictable = lambda info: is_visitor_upload(info.path, settings)
            self.registry.on_evicted = lambda info: remove_visitor_upload(
                info.path, settings, keep=[i.path for i in self.registry.list()])
        # Measured now, while the model is bare: mounted adapters add parameters to it in place.
        self._token_counter = None  # a copy of the tokenizer for evaluation jobs (``_count_tokens``)
        self._token_counter_lock = threading.Lock()
        self._model_storage: ModelStorage = model_storage(base.model, base.source.file)

    @classmethod
    def start(cls, settings: Settings | None = None) -> "Session":
        settings = settings or Settings.from_env()
        if settings.backend_url:
            from adapters_ui.backends.remote.backend import connect

            base, backend = connect(settings)  # the server's tokenizer and architecture; no weights here
            session = cls(base, settings, backend)
            session.adopt_server_adapters()
            return session
        return cls(on_model_thread(load_base, settings), settings)

    # ---- adapters ---------------------------------------------------------------
    def attach(self, path: str | Path, name: str | None = None) -> AdapterInfo:
        return self.registry.attach(path, name)

    def server_adapters(self) -> list:
        """The adapters the server serves on this base and that are not attached here (``ServerAdapter``s), e.g.
        after a detach, or loaded there since; [] in process."""
        if self.backend.in_process:
            return []
        return [a for a in self.backend.server_variants() if a.name not in self.registry.names]

    def adopt(self, name: str) -> AdapterInfo:
        """Attach the server's own adapter ``name`` as a variant (nothing is loaded)."""
        found = {a.name: a for a in self.server_adapters()}
        if name not in found:
            offered = ", ".join(found) or "none that is not attached"
            raise AdapterError(f"The server serves no adapter {name!r} to attach: it offers {offered}.")
        return self.registry.adopt(found[name])

    def adopt_server_adapters(self) -> list[AdapterInfo]:
        """Every adapter the server serves on this base (``--lora-modules``), attached as a variant, in name order;
        one that cannot be (a name the dashboard refuses, the cap) is left out with a log line."""
        adopted = []
        for adapter in self.server_adapters():
            try:
                adopted.append(self.registry.adopt(adapter))
            except AdapterError as exc:
                log.warning("server adapter left out: %s", exc)
        return adopted

    def detach(self, name: str) -> None:
        """Detach ``name``. In public mode only visitor uploads (zips, Hub downloads, mixes) may go: the shipped
        and listed adapters are the Space's own, there for every visitor."""
        if self.settings.public and name in self.registry.names and self.registry.evictable is not None \
                and not self.registry.evictable(self.registry.get(name)):
            raise AdapterError(f"{name!r} is one of this Space's own adapters, there for every visitor: in public mode "
                               "only uploaded adapters (zips, Hub downloads, mixes) can be detached.")
        self.registry.detach(name)

    def mix(self, name: str, parts: dict[str, float], method: str = "linear", density: float | None = None,
            root: Path | None = None) -> AdapterInfo:
        """A new adapter ``name`` from attached LoRA adapters with weights ({adapter: weight}), made with PEFT's
        add_weighted_adapter, saved under ``root`` (default: the uploads folder, where the page's Detach deletes
        it) and attached."""
        from adapters_ui.adapters.mix import check_mix, save_mix
        from adapters_ui.adapters.sources import uploads_root
        from adapters_ui.adapters.validation import check_name

        check_name(name, set(self.registry.names))
        if BASE in parts:
            raise AdapterError("The base model is not an adapter: mix attached LoRA adapters.")
        self.check_variants(list(parts))
        if not self.backend.in_process:
            raise AdapterError("Mixing adapters needs the model in this process: the serving engine only runs saved "
                               "adapters; make the mix in the in-process dashboard and attach its folder here.")
        specs = {n: self.registry.spec(n) for n in parts}
        weights = [float(w) for w in parts.values()]
        check_mix(specs, weights, method, density)
        with self._using(list(specs)), self.turns.turn():
            config, tensors = on_model_thread(self.backend.combine, list(specs), weights, method, density)
        folder = (root or uploads_root(self.settings)) / f"mix-{name}-{uuid.uuid4().hex[:8]}"
        recipe = {"method": method, "weights": dict(zip(specs, weights)), "density": density,
                  "sources": {n: {"path": str(s.path), "sha256": self.registry.get(n).sha256} for n, s in specs.items()}}
        save_mix(folder, config, tensors, self.base.source.name, recipe)
        try:
            return self.attach(folder, name)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def merge_plan(self, name: str) -> MergePlan:
        """What merging attached adapter ``name`` into the base produces (the merged weights' size next to the
        adapter's), or a one-line MergeError saying why it cannot be merged; no model work."""
        from adapters_ui.adapters.merge import check_mergeable, plan_merge

        if not self.settings.merges:
            raise MergeError("Merging is turned off on this server (ADAPTERS_UI_MERGES=0): merge on your own machine "
                             "with `python -m adapters_ui merge --adapter PATH --output DIR`.")
        if not self.backend.in_process:
            raise AdapterError("Merging needs the base weights in this process: the serving engine holds them; merge "
                               "with `python -m adapters_ui merge --adapter PATH --output DIR` on a machine with the base.")
        if name == BASE:
            raise AdapterError("The base model is not an adapter: pick an attached adapter to merge into it.")
        self.check_variants([name])
        spec = self.registry.spec(name)
        check_mergeable(spec, self.base.source.name)
        return plan_merge(spec, self._model_storage)

    def merge(self, name: str, output: Path) -> MergedModel:
        """Attached adapter ``name`` merged into a fresh copy of the base (on the CPU, in the dtype the base was
        loaded in) and saved as a standalone model folder at ``output``. The model serving comparisons is not
        touched: its layers hold the mounted adapters, and visitors keep switching them."""
        from adapters_ui.adapters.merge import check_memory, check_output, check_room, merge_adapter

        plan = self.merge_plan(name)
        check_output(output)
        check_memory(plan.merged_bytes)
        check_room(plan.merged_bytes, Path(output).expanduser().parent)
        settings = self.settings.replace(device="cpu", dtype=self.base.dtype_name)
        with self.turns.turn():  # a model turn: the merge works on the model thread (see model_thread)
            return on_model_thread(merge_adapter, self.registry.spec(name), settings, Path(output))

    def save_bundle(self, target: str | Path):
        """Every attached adapter's own files under ``<target>/<name>/`` with a ``bundle.json`` manifest (names,
        types, sizes, base model, SHA-256 of each file); ``target``: a ``.zip`` path or a new folder -> the Manifest."""
        from adapters_ui.adapters.bundle import write_bundle

        infos = [info for info in self.registry.list() if info.files_here]  # "on the server": no files to bundle
        return write_bundle(target, [(info, self.registry.spec(info.name)) for info in infos], self.base.source)

    def attach_bundle(self, path: str | Path, root: Path | None = None) -> list[AdapterInfo]:
        """Attach every adapter of a bundle (folder or ``.zip``) under its own name, after checking it whole
        (hashes, base model, names, caps); all or none. A zip unpacks under ``root`` (default: the uploads folder)."""
        from adapters_ui.adapters.bundle import attach_bundle

        return attach_bundle(self, path, root)

    def adapters(self) -> list[AdapterInfo]:
        return self.registry.list()

    @property
    def variants(self) -> list[str]:
        return [BASE, *self.registry.names]

    def check_variants(self, variants: list[str]) -> list[str]:
        """The variants in the order given, without repeats; UnknownVariantError for a name
        that is neither "base" nor attached, before any work."""
        known = self.variants
        for name in variants:
            if name not in known:
                raise UnknownVariantError(f"Unknown variant {name!r}: choose from {', '.join(known)}.")
        return list(dict.fromkeys(variants))

    # ---- runs -------------------------------------------------------------------
    def generation_settings(self, **overrides) -> GenerationSettings:
        return generation_settings(self.settings, **overrides)

    def start_compare(
        self,
        prompts: list[str],
        variants: list[str] | None = None,
        settings: GenerationSettings | None = None,
        owner: str = "local",
        references: list[str | None] | None = None,
        kind: str = "compare",
        categories: list[str | None] | None = None,
    ) -> CompareRun:
        """Start running every prompt through every variant (default: base and all adapters).
        ``references`` and ``categories`` (one per prompt, None where it has none) are kept with the
        outputs for scoring. Everything that can be wrong is checked here, before any model work."""
        nothing = [None] * len(prompts)
        rows = [(p.strip(), ref, cat) for p, ref, cat in zip(prompts, references or nothing, categories or nothing)
                if p and p.strip()]
        if not rows:
            raise PromptError("No prompts given: enter at least one prompt.")
        variants = self.check_variants(list(variants or self.variants))
        if not variants:
            raise PromptError("No variants chosen: pick the base and/or at least one adapter.")
        self._check_caps(len(rows), len(variants))
        settings = settings or self.generation_settings()
        kept, refs, cats = (list(column) for column in zip(*rows))
        texts = [format_prompt(self.base.tokenizer, p, settings.use_chat_template) for p in kept]
        request = RunRequest(kept, texts, variants, settings, refs, cats if any(cats) else [])
        return self._add_run(CompareRun(self.backend, self.turns, request, owner, kind))

    def compare(self, prompts: list[str], variants: list[str] | None = None,
                settings: GenerationSettings | None = None, owner: str = "local") -> Comparison:
        """Run to the end and return the comparison (a failed run raises its one-line error)."""
        return self.start_compare(prompts, variants, settings, owner).result()

    def start_chat(self, messages: list[dict], variant: str = BASE, settings: GenerationSettings | None = None,
                   owner: str = "local") -> CompareRun:
        """One variant's next assistant reply to a conversation ([{role, content}, ...])."""
        if not messages or messages[-1].get("role") != "user" or not str(messages[-1].get("content", "")).strip():
            raise PromptError("No message given: type a message first.")
        return self._start_one(str(messages[-1]["content"]), format_chat(self.base.tokenizer, messages), variant, settings, owner)

    def start_completion(self, text: str, variant: str = BASE, settings: GenerationSettings | None = None,
                         owner: str = "local") -> CompareRun:
        """One variant's raw continuation of ``text`` (no chat template)."""
        if not text or not text.strip():
            raise PromptError("No text given: type the start of a text to continue.")
        return self._start_one(text, text, variant, settings, owner)

    def chat(self, messages: list[dict], variant: str = BASE, settings: GenerationSettings | None = None) -> str:
        return self.start_chat(messages, variant, settings).result().outputs(variant)[0]

    def complete(self, text: str, variant: str = BASE, settings: GenerationSettings | None = None) -> str:
        return self.start_completion(text, variant, settings).result().outputs(variant)[0]

    # ---- evaluations ------------------------------------------------------------
    def start_evaluation(self, db, eval_set: EvalSet | str | Path, variants: list[str] | None = None, samples: int = 1,
                         settings: GenerationSettings | None = None, owner: str = "local",
                         batch_items: int = BATCH_ITEMS):
        """Store a new evaluation job (every item of ``eval_set`` x ``variants`` x ``samples``) and start it in
        the background; (the job, its ``EvaluationRef`` with the owner key). Checked before anything is stored."""
        from adapters_ui.disk import file_sha256
        from adapters_ui.store.evaluations import create_evaluation

        digest = ""
        if not isinstance(eval_set, EvalSet):
            digest = file_sha256(Path(eval_set)) if Path(eval_set).is_file() else ""
            eval_set = read_eval_set(Path(eval_set))
        variants = self.check_variants(list(variants or self.variants))
        if not variants:
            raise PromptError("No variants chosen: pick the base and/or at least one adapter.")
        if not 1 <= int(samples) <= MAX_SAMPLES:
            raise ConfigError(f"samples must be between 1 and {MAX_SAMPLES}, got {samples}: "
                              "pick how many outputs each item gets per variant.")
        settings = settings or self.generation_settings()
        ref = create_evaluation(db, base_model=self.base.source.name, set_name=eval_set.name, set_sha256=digest,
                                variants=variants, samples=int(samples), batch_items=batch_items,
                                settings=asdict(settings), items=[item_record(item) for item in eval_set.items])
        return self._start_job(db, ref.id, owner), ref

    def resume_evaluation(self, db, evaluation_id: str, owner: str = "local") -> EvaluationJob:
        """Go on with a stored job that did not finish (killed, cancelled or failed) from its last committed batch."""
        from adapters_ui.store.evaluations import FINISHED, RUNNING, load_evaluation, set_status

        stored = load_evaluation(db, evaluation_id)
        if stored.status == FINISHED:
            raise ConfigError(f"Evaluation {evaluation_id} has already finished: open it, or start a new one.")
        if stored.base_model != self.base.source.name:
            raise ConfigError(f"Evaluation {evaluation_id} ran on {stored.base_model}, not {self.base.source.name}: "
                              "start the app on that base model to resume it.")
        missing = [v for v in stored.variants if v not in self.variants]
        if missing:
            raise UnknownVariantError(f"Evaluation {evaluation_id} needs adapter {missing[0]!r}, which is not attached: "
                                      "attach it under that name, then resume.")
        set_status(db, evaluation_id, RUNNING)
        return self._start_job(db, evaluation_id, owner)

    def resume_unfinished(self, db) -> list[EvaluationJob]:
        """Resume every job that was running when the process ended (the app calls this at start). One that
        cannot go on here is marked failed with the reason, so it is not retried at every start."""
        from adapters_ui.store.evaluations import FAILED, set_status, unfinished_ids

        jobs = []
        for evaluation_id in unfinished_ids(db):
            running = self.evaluations.get(evaluation_id)
            if running is not None and not running.ended:
                continue
            try:
                jobs.append(self.resume_evaluation(db, evaluation_id))
            except AdaptersUIError as exc:
                log.warning("evaluation %s was not resumed: %s", evaluation_id[:8], exc)
                set_status(db, evaluation_id, FAILED, str(exc))
        return jobs

    def resume_unfinished_judgings(self, db, created_before=None) -> list[JudgingJob]:
        """Resume every judging that was running when the process ended (the app calls this at start), with the
        judge server it was made by (``runs.judging.stored_judge``; the API key from the variable
        ``judge_api_key_env`` names). One that cannot go on is marked failed with the reason, as evaluations are.
        ``created_before`` (a datetime: the app's start) leaves out the judgings a visitor started since: a review
        owner may judge before the model has loaded, and that judging is running here already."""
        from adapters_ui.runs.judging import resume_judging, stored_judge
        from adapters_ui.store.judgements import FAILED, load_judging, set_status, unfinished_ids

        jobs = []
        for judging_id in unfinished_ids(db, created_before):
            running = self.judgings.get(judging_id)
            if running is not None and not running.ended:
                continue
            try:
                judge = stored_judge(load_judging(db, judging_id), os.environ.get(self.settings.judge_api_key_env) or None)
                try:
                    job = resume_judging(db, judging_id, judge)
                except AdaptersUIError:
                    judge.close()
                    raise
            except AdaptersUIError as exc:
                log.warning("judging %s was not resumed: %s", judging_id[:8], exc)
                set_status(db, judging_id, FAILED, str(exc))
                continue
            self.judgings[judging_id] = job
            jobs.append(job)
        return jobs

    def start_benchmark(self, db, tasks: list[str], variants: list[str] | None = None, *, include_path=None,
                        limit: int | float | None = None, num_fewshot: int | None = None, batch_size: int = 8,
                        owner: str = "local"):
        """Store a benchmark (lm-eval ``tasks`` x ``variants``, an evaluation of kind benchmark: ``runs/benchmark``)
        and start it in the background; (the job, its ``EvaluationRef``). Checked before anything is stored."""
        from adapters_ui.runs.benchmark import create_benchmark

        variants = self.check_variants(list(variants or self.variants))
        if not variants:
            raise PromptError("No variants chosen: pick the base and/or at least one adapter.")
        ref = create_benchmark(db, self.backend, self.base.source.name, tasks, variants, include_path=include_path,
                               limit=limit, num_fewshot=num_fewshot, batch_size=batch_size)
        return self._start_job(db, ref.id, owner), ref

    def _start_job(self, db, evaluation_id: str, owner: str) -> EvaluationJob:
        from adapters_ui.store.benchmarks import is_benchmark
        from adapters_ui.store.evaluations import load_evaluation

        with self.registry.starting():
            if is_benchmark(load_evaluation(db, evaluation_id).settings):
                from adapters_ui.runs.benchmark import BenchmarkJob

                job = BenchmarkJob(db, evaluation_id, self.backend, self.turns, owner)
            else:
                job = EvaluationJob(db, evaluation_id, self.backend, self.turns, self._render_item, self._count_tokens,
                                    owner)
            self.check_variants(job.variants)
            self.registry.touch(job.variants)
            return self.evaluations.add(job).start()

    def _render_item(self, item: dict, use_chat_template: bool = True) -> str:
        """An evaluation item as the model sees it: the conversation (or prompt) with the chat template."""
        if item.get("messages"):
            return format_chat(self.base.tokenizer, item["messages"])
        return format_prompt(self.base.tokenizer, item["prompt"], use_chat_template)

    def _count_tokens(self, text: str) -> int:
        """Tokens of an output, counted with a tokenizer of its own: the job's thread never shares the one in use
        on the model thread (a fast tokenizer is not safe to call from two threads at once)."""
        with self._token_counter_lock:
            if self._token_counter is None:
                self._token_counter = copy.deepcopy(self.base.tokenizer)
            return len(self._token_counter(text, add_special_tokens=False)["input_ids"]) if text else 0

    # ---- analysis -----------------------------------------------------------------
    def analyze(self, comparison: Comparison, stop: threading.Event | None = None) -> Analysis:
        """Token divergence from the base and reference scores of a finished comparison (after its
        outputs, never while they stream): one model turn per group of prompts, so other visitors interleave."""
        gone = [v for v in comparison.variants if v not in self.variants]
        if gone:
            raise UnknownVariantError(f"Adapter {gone[0]!r} was detached after this comparison ran: "
                                      "attach it again, or run a new comparison, to analyze it.")
        texts = [format_prompt(self.base.tokenizer, r.prompt, comparison.settings.use_chat_template)
                 for r in comparison.results]

        def read(texts: list[str], outputs: dict, references: list):
            with self.turns.turn(cancel=stop):
                return model_call(self.backend, self.backend.read_back, texts, outputs, references)

        with self._using(list(comparison.variants)):
            return analyze(comparison, texts, read)

    def weight_effects(self, name: str) -> WeightEffects:
        """What adapter ``name`` changed in the weights, per layer and module (read from its factors)."""
        spec = self.registry.spec(name)
        with self.turns.turn():
            return on_model_thread(weight_effects, spec, self.base.model)

    def _start_one(self, shown: str, text: str, variant: str, settings, owner: str) -> CompareRun:
        self.check_variants([variant])
        request = RunRequest([shown], [text], [variant], settings or self.generation_settings())
        return self._add_run(CompareRun(self.backend, self.turns, request, owner, kind="playground"))

    def _add_run(self, run: CompareRun) -> CompareRun:
        """Start ``run`` and keep it in the run book. Its variants are checked again under the registry's
        ``starting`` lock, so an eviction (public mode) either happened before (one-line error) or waits."""
        variants = run.request.variants
        with self.registry.starting():
            self.check_variants(variants)
            self.registry.touch(variants)  # used: last in line for eviction
            return self.runs.add(run.start())

    @contextmanager
    def _using(self, names: list[str]):
        """Hold attached adapters ``names`` for work that is not a run: checked, marked used, never evicted meanwhile."""
        with self.registry.starting():
            self.check_variants(names)
            self.registry.touch(names)
            self._holding.update(names)
        try:
            yield
        finally:
            with self.registry.starting():
                self._holding.subtract(names)

    def _check_caps(self, prompts: int, variants: int) -> None:
        limit = self.settings.max_prompts
        if prompts > limit:
            raise ConfigError(
                f"{prompts} prompts is over the limit of {limit} per comparison: "
                "run fewer at a time (or raise ADAPTERS_UI_MAX_PROMPTS)."
            )
        limit = self.settings.max_outputs
        if prompts * variants > limit:
            raise ConfigError(
                f"{prompts} prompts x {variants} variants = {prompts * variants} outputs is over the limit of {limit} "
                "per comparison: pick fewer prompts or variants (or raise ADAPTERS_UI_MAX_OUTPUTS)."
            )

    # ---- storage --------------------------------------------------------------------
    def storage(self) -> StorageReport:
        return StorageReport(self._model_storage, {info.name: info for info in self.adapters()})


class SessionHolder:
    """The one session every visitor of an app shares; the base model loads on first use,
    with the demo adapters when the base is the embedded default (so importing the app is cheap).
    While it loads, ``preview()`` says what the page can show without it (see ``adapters_ui.adapters.preview``)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self._session: Session | None = None
        self._loading = threading.Lock()
        self._state = threading.Lock()  # guards starting a preload and reading the preview
        self._preloading: threading.Thread | None = None
        self._since: float | None = None  # when the running (or last) preload began (time.monotonic)
        self._error: str | None = None  # why the last preload failed, in one line
        self._preview = None
        self._when_loaded: list = []  # callbacks(session) run once the session has loaded

    def when_loaded(self, callback) -> None:
        """Run ``callback(session)`` once the session has loaded (now if it has): the app resumes unfinished
        evaluation jobs so. A callback that fails is logged and never stops the load."""
        self._when_loaded.append(callback)
        if self._session is not None:
            self._run_callback(callback, self._session)

    @staticmethod
    def _run_callback(callback, session) -> None:
        try:
            callback(session)
        except Exception:  # noqa: BLE001 - the model is loaded and serves either way
            log.exception("a start-up step after loading the base model failed")

    @property
    def loaded(self) -> Session | None:
        """The session if it has loaded, without loading it."""
        return self._session

    @property
    def error(self) -> str | None:
        """Why the last load in the background failed (one line); None while it runs or once it succeeded."""
        return None if self._session is not None else self._error

    def loading_s(self) -> float:
        """Seconds since the background load began (0 when none began)."""
        return 0.0 if self._since is None else time.monotonic() - self._since

    def preview(self):
        """The adapters the start attaches, read from disk, and the model's remembered size (read once)."""
        from adapters_ui.adapters.preview import Preview

        with self._state:
            if self._preview is None:
                import_model_libraries()
                self._preview = Preview.read(self.settings)
            return self._preview

    def preload(self) -> None:
        """Start loading in the background, unless it is loaded or loading: ``python app.py`` calls it before
        the web framework imports, so the two overlap, and the page serves meanwhile. A failure is logged and
        kept in ``error``; the next page load tries again."""
        with self._state:
            if self._session is not None or (self._preloading is not None and self._preloading.is_alive()):
                return
            self._since, self._error = time.monotonic(), None

            def load() -> None:
                started = time.perf_counter()
                try:
                    session = self.get()
                    log.info("base model and %d adapter(s) ready in %.1f s", len(session.adapters()),
                             time.perf_counter() - started)
                except Exception as exc:  # noqa: BLE001 - the page shows it to the visitor
                    self._error = first_line(exc)
                    log.warning("the base model did not load at start: %s", self._error)

            self._preloading = threading.Thread(target=load, name="preload", daemon=True)
            self._preloading.start()

    def wait(self, timeout_s: float | None = None) -> Session | None:
        """Wait for a background load to end (tests, the CLI); the session, or None if it failed or is still going."""
        thread = self._preloading
        if thread is not None:
            thread.join(timeout_s)
        return self._session

    def get(self) -> Session:
        with self._loading:
            if self._session is None:
                import_model_libraries()
                from adapters_ui.adapters.preview import remember_model_storage
                from adapters_ui.adapters.sources import clear_stale_uploads

                quiet_known_warnings()  # the app's log shows runs, not PEFT's harmless chatter
                quiet_progress_bars()  # nor a progress bar per load
                clear_stale_uploads(self.settings)  # an earlier run's uploads: nothing attaches them any more
                session = Session.start(self.settings)
                remember_model_storage(self.settings, session.storage().model)  # for the next start's page
                if demo_set.wants_demo(self.settings):
                    demo_set.attach_demo_adapters(session)
                self._session = session
                for callback in self._when_loaded:
                    self._run_callback(callback, session)
            return self._session
