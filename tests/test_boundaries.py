"""Layering: the core never imports gradio; importing the app loads no weights."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_core_does_not_import_gradio():
    modules = "base_model cli config engine errors generation prompts registry session storage validation".split()
    code = "import sys\n" + "".join(f"import adapters_ui.{m}\n" for m in modules) + "print('gradio' in sys.modules)"
    assert run_python(code) == "False"


def test_importing_the_app_loads_no_model():
    code = (
        "import sys, adapters_ui.session as s\n"
        "calls = []\n"
        "s.load_base = lambda *a, **k: calls.append(1)\n"
        "import app\n"
        "print(type(app.demo).__name__, len(calls))"
    )
    assert run_python(code) == "Blocks 0"
