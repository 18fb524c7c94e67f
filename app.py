"""Gradio entry point, as a Hugging Face Space expects: `python app.py`.

Settings come from ADAPTERS_UI_* environment variables (see adapters_ui/config.py).
The base model loads when the first page opens, not at import.
"""

from adapters_ui.ui.app import create_app, launch_kwargs

demo = create_app()

if __name__ == "__main__":
    import logging

    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("adapters_ui").setLevel(logging.INFO)  # one line per run: whose, how it ended, how long
    demo.launch(**launch_kwargs())
