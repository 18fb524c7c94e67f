"""Gradio entry point, as a Hugging Face Space expects: `python app.py`.

The same as `adapters-ui serve` (the installed package's command). Settings come from ADAPTERS_UI_*
environment variables (see adapters_ui/config.py; ADAPTERS_UI_LOG_LEVEL for the log); the one flag,
`--backend-url URL`, drives a vLLM (OpenAI-compatible) server instead of a model in this process
(like ADAPTERS_UI_BACKEND_URL). The base model loads when the server starts, not at import. The
dashboard is served at / and the blind-review pages at /review (see adapters_ui/ui/server.py).
"""

import argparse

from adapters_ui.config import Settings
from adapters_ui.ui.server import create_server, serve


def flags() -> dict:
    parser = argparse.ArgumentParser(prog="python app.py", description="The adapters_ui dashboard.")
    parser.add_argument("--backend-url", metavar="URL", help="an OpenAI-compatible server (vLLM) to generate with, "
                        "e.g. http://127.0.0.1:8000 (default: env ADAPTERS_UI_BACKEND_URL, else in process)")
    args, _ = parser.parse_known_args()  # a Space may pass its own arguments
    return {"backend_url": args.backend_url}


if __name__ == "__main__":
    from adapters_ui.errors import AdaptersUIError
    from adapters_ui.logs import configure_logging

    try:
        settings = Settings.from_env(**flags())
        configure_logging(settings.log_level, default="INFO")  # its address, one line per run: whose, how it ended, how long
        app = create_server(settings)
        serve(app)
    except AdaptersUIError as exc:  # e.g. an unreachable ADAPTERS_UI_DATABASE_URL: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
else:
    app = create_server()
