"""Gradio entry point, as a Hugging Face Space expects: `python app.py`.

Settings come from ADAPTERS_UI_* environment variables (see adapters_ui/config.py); the one flag,
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


app = create_server(Settings.from_env(**flags())) if __name__ == "__main__" else create_server()

if __name__ == "__main__":
    import logging

    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("adapters_ui").setLevel(logging.INFO)  # one line per run: whose, how it ended, how long
    from adapters_ui.errors import AdaptersUIError

    try:
        serve(app)
    except AdaptersUIError as exc:  # e.g. an unreachable ADAPTERS_UI_DATABASE_URL: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
