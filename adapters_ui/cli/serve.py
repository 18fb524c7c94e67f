"""The serve command of the CLI: the dashboard and the blind-review pages, as ``python app.py`` serves them.

    python -m adapters_ui serve --port 8080

The one CLI module that reaches into ``ui/`` (and so gradio): ``run_serve`` hands the process to the UI's server,
and imports it only when ``serve`` runs, so every other command, and --help, loads no gradio.
"""

from __future__ import annotations

import argparse

from adapters_ui.cli.common import add_backend_flag, add_database_flag, add_model_flags, examples
from adapters_ui.config import Settings


def add_commands(commands) -> None:
    """`serve` (loads the base model while the server starts)."""
    serve = commands.add_parser(
        "serve", help="start the dashboard (the same as python app.py in a checkout)",
        description="Serve the dashboard at / and the blind-review pages at /review/, as python app.py does.\n"
                    "The base model loads while the server starts; Ctrl-C stops it.", **examples(
        "%(prog)s  # http://127.0.0.1:7860: the embedded SmolLM2 and the demo adapters",
        "%(prog)s --host 0.0.0.0 --port 8080 --base HuggingFaceTB/SmolLM2-360M-Instruct",
        "%(prog)s --backend-url http://127.0.0.1:8000  # generate on a vLLM server",
        "ADAPTERS_UI_LOG_LEVEL=DEBUG %(prog)s"))
    add_model_flags(serve)
    add_backend_flag(serve)
    add_database_flag(serve)
    serve.add_argument("--host", help="address to listen on (default: env GRADIO_SERVER_NAME, else 127.0.0.1; 0.0.0.0: every interface)")
    serve.add_argument("--port", type=port_number, help="port to listen on (default: env GRADIO_SERVER_PORT, else 7860)")
    serve.set_defaults(handler=run_serve, default_log_level="INFO")  # the app logs its address and a line per run


def port_number(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number: use 1 to 65535")
    return int(value)


def run_serve(args, settings: Settings) -> int:
    """The dashboard and the review pages, as ``python app.py`` serves them (blocks until Ctrl-C)."""
    from adapters_ui.ui.server import create_server, serve  # gradio loads only for this command

    serve(create_server(settings), host=args.host, port=args.port)
    return 0
