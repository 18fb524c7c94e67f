"""Serve the embedded SmolLM2 and the demo LoRA adapters with vLLM's CPU build (``make run-vllm``).

    .venv/bin/python scripts/run_vllm.py [--port 8000] [--app]

A tool of the checkout: it needs ``.venv-vllm`` (``make vllm``). With --app, the dashboard runs on
the server (python app.py with ADAPTERS_UI_BACKEND_URL) until it ends; Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters_ui.adapters.demo import demo_loras  # noqa: E402 (after the sys.path line)
from adapters_ui.backends.remote.vllm_launch import ROOT, SERVED_NAME, VLLM_VENV, VLLMServer  # noqa: E402
from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.errors import BackendError  # noqa: E402
from adapters_ui.logs import configure_logging  # noqa: E402

log = logging.getLogger("run_vllm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/run_vllm.py",
                                     description="Serve the embedded SmolLM2 and the demo LoRA adapters with vLLM (CPU).")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--venv", type=Path, default=VLLM_VENV)
    parser.add_argument("--log", type=Path, default=ROOT / ".cache" / "vllm.log")
    parser.add_argument("--app", action="store_true", help="then run the dashboard on it (python app.py) until it ends")
    args = parser.parse_args(argv)
    configure_logging(None, default="INFO")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a plain kill also stops vLLM (the finally below)
    server = VLLMServer(args.port, args.log, Settings.from_env().cache_dir, adapters=demo_loras(), venv=args.venv)
    try:
        log.info("starting vLLM on port %d (log: %s) ...", args.port, args.log)
        url = server.start()
        log.info("vLLM serves %s + %s at %s (started in %.0f s); Ctrl-C stops it.", SERVED_NAME, ", ".join(server.adapters),
                 url, server.start_s)
        if args.app:
            return subprocess.call([sys.executable, str(ROOT / "app.py")], cwd=ROOT,
                                   env={**os.environ, "ADAPTERS_UI_BACKEND_URL": url})
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
        return 1
    except BackendError as exc:
        log.error("error: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
