"""Command line: thin over ``Session`` and the store; prints tables or JSON, turns errors into exit codes.
Installed (pip install .) it is the ``adapters-ui`` command; every command's --help ends with examples.

    python -m adapters_ui serve --port 8080             (the dashboard, as python app.py serves it: cli/serve.py)
    python -m adapters_ui compare --adapter pirate=assets/adapters/pirate --prompt "Hi!" --save   (cli/compare.py)
    python -m adapters_ui evaluate demo --json out.json (evaluation jobs and the gate: cli/evaluate.py)
    python -m adapters_ui judge REVIEW_ID --judge-url URL (a judge model over a review or evaluation: cli/judge.py)
    python -m adapters_ui inspect path/to/adapter       (cli/inspect.py)
    python -m adapters_ui train --data pairs.jsonl --output my_adapter                           (cli/train.py)
    python -m adapters_ui merge --adapter assets/adapters/pirate --output pirate-merged          (cli/merge.py)
    python -m adapters_ui saved list                    (the store commands: cli/store.py)
    python -m adapters_ui bundle save --output team.zip (bundles: cli/bundle.py)
    python -m adapters_ui review results REVIEW_ID --json

Each command family keeps its flags beside its handler and adds them with ``add_commands``; what
several share lives in cli/common.py. A handler imports the model libraries it needs when it runs,
so --help and the store commands load no torch.

Saved comparisons and reviews live in ADAPTERS_UI_DATABASE_URL (or --database URL), else in a
SQLite file under the cache folder; printed links start with ADAPTERS_UI_PUBLIC_URL.
"""

from __future__ import annotations

import argparse
import sys

from adapters_ui import __version__
from adapters_ui.cli import bench, bundle, compare, evaluate, inspect, judge, merge, serve, store, train
from adapters_ui.cli.common import EXIT_ERROR, EXIT_STOPPED, examples, program, protect_ids
from adapters_ui.config import Settings
from adapters_ui.errors import AdaptersUIError
from adapters_ui.logs import configure_logging

FAMILIES = (serve, compare, evaluate, bench, judge, train, inspect, merge, store, bundle)  # the order of the commands in --help


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program(), description="Compare PEFT adapters of a causal LM (adapters-ui and python -m adapters_ui are the same command).",
        **examples("%(prog)s serve  # the dashboard at http://127.0.0.1:7860",
                   '%(prog)s compare --prompt "What is 2+2?"  # base vs the demo adapters',
                   "%(prog)s inspect assets/adapters/pirate",
                   "%(prog)s compare --help  # each command's flags and examples"))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for family in FAMILIES:
        family.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(protect_ids(list(sys.argv[1:] if argv is None else argv)))
    if getattr(args, "loads_model", False):  # the store commands and bundle show load no model (nor its libraries)
        from adapters_ui.model.quiet import quiet_libraries

        quiet_libraries()
    try:
        settings = Settings.from_env(base_model=getattr(args, "base", None), device=getattr(args, "device", None),
                                     dtype=getattr(args, "dtype", None), database_url=getattr(args, "database", None),
                                     backend_url=getattr(args, "backend_url", None))
        if argv is None:  # a real command line; a caller passing argv (a test, a notebook) keeps its own logging
            # serve logs its address and a line per run; the other commands print their own output
            configure_logging(settings.log_level, default=getattr(args, "default_log_level", "WARNING"))
        return args.handler(args, settings)
    except AdaptersUIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_STOPPED
