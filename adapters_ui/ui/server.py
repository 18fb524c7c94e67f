"""One server for both apps: the dashboard at / and the review pages at /review.

The review pages are a separate gradio app so that a reviewer's page and every response
it gets are built without the dashboard's components (which list adapter names).

    >>> app = create_server()          # doctest: +SKIP  (a FastAPI app; uvicorn serves it)
    >>> serve()                        # doctest: +SKIP  (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)
"""

from __future__ import annotations

import logging
import os

import gradio as gr
from fastapi import FastAPI

from adapters_ui.config import Settings
from adapters_ui.session import SessionHolder
from adapters_ui.store import DatabaseHolder
from adapters_ui.store.links import REVIEW_PATH
from adapters_ui.ui import zerogpu
from adapters_ui.ui.app import UI_CONCURRENCY, create_app, launch_kwargs
from adapters_ui.ui.guard import guard_events
from adapters_ui.ui.review_app import REVIEW_CSS, create_review_app

log = logging.getLogger(__name__)


def create_server(settings: Settings | None = None, sessions: SessionHolder | None = None) -> FastAPI:
    sessions = sessions or SessionHolder(settings)
    settings = sessions.settings
    database = DatabaseHolder(settings.database)
    server = FastAPI()
    server.state.database = database  # serve() opens it (and migrates) before taking requests
    kwargs = launch_kwargs(settings)
    review = guard_events(create_review_app(settings, database), settings.public)
    review.queue(default_concurrency_limit=UI_CONCURRENCY)
    gr.mount_gradio_app(server, review, path=REVIEW_PATH, **{**kwargs, "css": REVIEW_CSS})
    server.state.sessions = sessions
    gr.mount_gradio_app(server, create_app(settings, database, sessions), path="", **kwargs)
    return server


def serve(server: FastAPI | None = None, host: str | None = None, port: int | None = None) -> None:
    """Serve both apps (blocks); host and port default to what gradio reads, so a Space needs nothing more."""
    import uvicorn

    server = server or create_server()
    database = server.state.database.get()  # migrations run now: a bad URL stops the start with one line
    log.info("database: %s at migration %s", database.safe_url, database.revision())
    host = host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = port or int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    log.info("adapters_ui on http://%s:%d (reviews under %s/)", host, port, REVIEW_PATH)
    if zerogpu.on_zero_gpu():
        # ZeroGPU hands its workers the weights loaded on "cuda" before startup(): load them first, here
        server.state.sessions.get()
        zerogpu.startup()
    else:
        server.state.sessions.preload()  # the model loads while the server starts, not when the first page opens
    uvicorn.run(server, host=host, port=port, log_level="warning",
                # open pages hold heartbeat streams that gradio ends only once shutdown began: without a
                # limit, a stop signal would wait for every visitor to close their tab
                timeout_graceful_shutdown=5)
