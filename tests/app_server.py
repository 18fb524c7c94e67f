"""``python app.py`` on a free port, as a user starts it: for the browser tests and the tests of a served app.

    server = AppServer(log_path, ADAPTERS_UI_DATABASE_URL="sqlite:///...")  # extra env for the app
    url = server.start()      # http://127.0.0.1:<port>, once it listens (its log is shown if it dies)
    server.stop()             # the same database and cache survive a restart: server.start() again
    server.start(same_port=True)  # back where open pages expect it
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "test-models"  # shared with the integration tests: the GGUF is dequantized once
LOAD_S, RUN_S = 240, 300  # first load may dequantize the GGUF (~35 s); a compare on 2 CPU cores


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """``python app.py`` as a user starts it: no ADAPTERS_UI_* from the caller's shell, the shared test cache,
    offline, on a free port; ``env`` adds or overrides variables. Each start appends to the same log file."""

    def __init__(self, log: Path, **env: str):
        self.log = Path(log)
        self.extra = env
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120, same_port: bool = False, **env: str) -> str:
        """Start ``app.py`` and wait until it listens; ``same_port`` restarts it where open pages expect it."""
        self.port = self.port if same_port and self.port else free_port()
        full = {k: v for k, v in os.environ.items() if not k.startswith("ADAPTERS_UI_")}
        full.update(ADAPTERS_UI_CACHE_DIR=str(CACHE), GRADIO_SERVER_PORT=str(self.port), GRADIO_SERVER_NAME="127.0.0.1",
                    GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
        full.update({**self.extra, **env})
        with open(self.log, "a") as out:
            self.process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"app.py exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self.url
            except OSError:
                time.sleep(0.5)
        self.process.kill()
        pytest.fail(f"app.py did not listen on {self.port} within {timeout_s:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def log_lines(self, words: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if words in line]
