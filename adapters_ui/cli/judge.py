"""`judge`: a judge model over a review or an evaluation, as a stored job that resumes, with its figures.

    adapters-ui judge REVIEW_OR_EVALUATION_ID --judge-url http://gpu-host:8001 [--judge-model NAME] --json out.json
    adapters-ui judge EVALUATION_ID --judge-local ./prometheus-7b --mode rubric    # a judge loaded in this process
    adapters-ui judge --resume JUDGING_ID                     # finish a killed or cancelled one, with the judge it had

The judge's API key is read from the variable --judge-api-key-env names (never a flag, never stored).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from adapters_ui.cli.common import EXIT_STOPPED, add_database_flag, examples, follow_with_bar, open_database
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError, ConfigError

PROGRESS_S = 0.5
MAX_TOKENS = 512


def add_commands(commands) -> None:
    judge = commands.add_parser("judge", help="a judge model over a review or an evaluation: pairwise both ways, or rubric "
                                "grades; agreement with the people", **examples(
                                    "%(prog)s REVIEW_ID --judge-url http://127.0.0.1:8001 --json judged.json",
                                    "%(prog)s EVALUATION_ID --judge-url http://127.0.0.1:8001 --mode rubric",
                                    "%(prog)s EVALUATION_ID --judge-local ./judge-model  # loaded in this process",
                                    "%(prog)s --resume JUDGING_ID  # the judge server it was made by"))
    judge.add_argument("target", nargs="?", metavar="REVIEW_OR_EVALUATION_ID")
    judge.add_argument("--resume", metavar="JUDGING_ID", help="finish a stored judging from what it stored")
    judge.add_argument("--judge-url", help="the judge's OpenAI-compatible endpoint (ADAPTERS_UI_JUDGE_URL)")
    judge.add_argument("--judge-model", help="which of the server's models judges (default: the one it serves)")
    judge.add_argument("--judge-api-key-env", metavar="VAR", help="the variable holding the judge's API key "
                       "(default ADAPTERS_UI_JUDGE_API_KEY)")
    judge.add_argument("--judge-local", metavar="MODEL", help="load this judge in process instead: a model folder, a "
                       ".gguf file, or 'embedded' for the embedded SmolLM2 (weak: for trying the path only)")
    judge.add_argument("--mode", choices=("pairwise", "rubric"), default="pairwise")
    judge.add_argument("--baseline", default="base", help="the variant the others are paired with (an evaluation) or "
                       "measured against (a review's length-controlled win rates)")
    judge.add_argument("--rubric", type=Path, metavar="FILE", help="a rubric text file for --mode rubric "
                       "(default: helpful, correct, in the form asked for)")
    judge.add_argument("--concurrency", type=int, default=4, help="judge requests in flight (default 4)")
    judge.add_argument("--max-tokens", type=int, help=f"tokens per judge reply (default {MAX_TOKENS}; --resume: as "
                       "stored, so the cached replies are found)")
    judge.add_argument("--json", type=Path, metavar="OUT", help="write the judging's document to OUT")
    add_database_flag(judge)
    judge.set_defaults(handler=run_judge, loads_model=True)


def make_judge(args, settings: Settings, stored=None):
    """The judge the flags name: a server (flags, then settings), or a model loaded here; resuming ``stored``
    without --judge-url or --judge-local, the server it was made by, asked as it was."""
    key_env = args.judge_api_key_env or settings.judge_api_key_env
    if stored is not None and not (args.judge_url or args.judge_local or args.max_tokens):
        from adapters_ui.runs.judging import stored_judge

        return stored_judge(stored, os.environ.get(key_env) or None)
    stored_tokens = (stored.settings.get("max_tokens") if stored is not None else None)
    max_tokens = args.max_tokens or stored_tokens or MAX_TOKENS
    url = args.judge_url or settings.judge_url
    local = args.judge_local or (None if url else settings.judge_local)
    if local:
        from adapters_ui.judging.local import LocalJudge

        return LocalJudge(None if local == "embedded" else local, settings, max_tokens=max_tokens)
    if not url:
        raise ConfigError("No judge is set: pass --judge-url (an OpenAI-compatible server), set ADAPTERS_UI_JUDGE_URL, "
                          "or --judge-local MODEL (ADAPTERS_UI_JUDGE_LOCAL).")
    from adapters_ui.judging.client import JudgeClient

    return JudgeClient(url, args.judge_model or settings.judge_model, os.environ.get(key_env) or None,
                       concurrency=args.concurrency, max_tokens=max_tokens)


def run_judge(args, settings: Settings) -> int:
    """Start (or resume) a judging, follow it with a progress bar, then print its figures and write --json."""
    from adapters_ui.runs.judging import resume_judging, start_judging
    from adapters_ui.runs.judging_document import judging_document
    from adapters_ui.store.judgements import load_judging

    if bool(args.target) == bool(args.resume):
        raise ConfigError("Give a review or evaluation id, or --resume JUDGING_ID, not both: e.g. "
                          "`adapters-ui judge REVIEW_ID --judge-url URL`.")
    rubric = args.rubric.read_text(encoding="utf-8") if args.rubric else None
    with open_database(settings) as db:
        stored = load_judging(db, args.resume) if args.resume else None  # an unknown id fails before a judge loads
        judge = make_judge(args, settings, stored)
        try:
            if args.resume:
                job = resume_judging(db, args.resume, judge)
            else:
                job = start_judging(db, args.target, judge, args.mode, args.baseline, rubric=rubric)
            print(f"judging: {job.id} ({job.stored.mode}, {judge.name}, {job.stored.target_kind} "
                  f"{job.stored.target_id})", file=sys.stderr)
            follow(job)
        finally:
            judge.close()
        progress = job.progress()
        if progress.status == "failed":
            raise AdaptersUIError(progress.error)
        document = judging_document(db, job.id)
    print_figures(document, progress.line())
    if args.json:
        args.json.write_text(json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    if progress.status != "finished":
        print(f"{progress.status}; go on with: adapters-ui judge --resume {job.id} (the same judge)", file=sys.stderr)
        return EXIT_STOPPED
    return 0


def follow(job) -> None:
    """A progress bar until the job ends; Ctrl-C cancels it after the batch in flight."""
    follow_with_bar(job, job.progress().unit.rstrip("s"), f"judging {job.id[:8]}",
                    "cancelling after the batch in flight: every stored verdict is kept ...", PROGRESS_S)


def print_figures(document: dict, line: str) -> None:
    """The judge's figures in a few lines: its swap behaviour, agreement with people, strengths or verdicts."""
    print(line)
    swap = document.get("swap")
    if swap:
        print(f"swap: {swap['consistent']} of {swap['pairs'] - swap['unparseable']} parsed pairs consistent "
              f"({_share(swap['consistency'])}), position bias {_share(swap['position_bias'])} (0.5 = none), "
              f"{swap['unparseable']} unparseable")
    agreement = document.get("agreement")
    if agreement:
        print(f"agreement with people: {_percent(agreement['percent_with_ties'])} with ties (kappa "
              f"{_number(agreement['kappa_with_ties'])}, {agreement['compared']} compared), "
              f"{_percent(agreement['percent_without_ties'])} without (kappa {_number(agreement['kappa_without_ties'])}, "
              f"{agreement['compared_without_ties']} compared)")
    for who, fit in (document.get("strengths") or {}).items():
        ranks = ", ".join(f"{s['variant']} {s['plain']:.0f}->{s['controlled']:.0f}" + (" (rank changes)" if s["rank_changed"] else "")
                          for s in fit["strengths"])
        print(f"strengths ({who}), plain -> style-controlled: {ranks}")
    for grade in document.get("grades") or []:
        print(f"grade {grade['variant']}: mean {_number(grade['mean'])} over {grade['read']} of {grade['n']} outputs read")
    for record in document.get("verdicts") or []:
        if record.get("slice") is None:
            print(f"{record['variant']} {record['metric']} vs {record['baseline']}: {_number(record['mean'])} "
                  f"(difference {_number(record['difference'])}, p {_number(record['p_value'])}): {record['verdict']}")


def _share(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def _percent(value) -> str:
    return "–" if value is None else f"{value:.0f}%"


def _number(value) -> str:
    return "–" if value is None else f"{value:.3g}"
