"""Gradio entry point, as a Hugging Face Space expects: `python app.py`.

Settings come from ADAPTERS_UI_* environment variables (see adapters_ui/config.py).
The base model loads when the first page opens, not at import. The dashboard is served
at / and the blind-review pages at /review (see adapters_ui/ui/server.py).
"""

from adapters_ui.ui.server import create_server, serve

app = create_server()

if __name__ == "__main__":
    import logging

    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("adapters_ui").setLevel(logging.INFO)  # one line per run: whose, how it ended, how long
    from adapters_ui.errors import AdaptersUIError

    try:
        serve(app)
    except AdaptersUIError as exc:  # e.g. an unreachable ADAPTERS_UI_DATABASE_URL: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
