"""The layering contracts of pyproject.toml ([tool.importlinter]) hold, and a violation breaks them.

`make lint` runs `lint-imports` too; this test keeps the contracts honest: each deliberate violation
below, made in a copy of the package, must be reported by the contract that forbids it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, capture_output=True, text=True, timeout=300)


def test_the_contracts_hold():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " BROKEN" not in done.stdout and "0 broken" in done.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("store/tokens.py", "import plotly", "store/ knows no model, no plotly and no gradio"),
    ("views/html.py", "from adapters_ui.session import Session", "views/ draw plain data"),
    ("analysis/text_diff.py", "import torch", "analysis/ is pure numbers"),
    ("backends/remote/client.py", "from adapters_ui.adapters import demo", "backends/ know no session"),
    ("runs/prompts.py", "import gradio", "only ui/ imports gradio"),
    ("judging/parse.py", "from adapters_ui.store import Database", "judging/ asks a judge model"),
    ("bench/records.py", "from adapters_ui.session import Session", "bench/ runs lm-eval on a backend"),
    ("names.py", "from adapters_ui.session import Session", "no import cycles"),
])
def test_a_violation_breaks_its_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "adapters_ui", tmp_path / "adapters_ui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "adapters_ui" / module
    target.write_text(target.read_text() + f"\n{line}  # a deliberate violation\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    broken = [text for text in done.stdout.splitlines() if " BROKEN" in text]
    assert any(text.startswith(contract) for text in broken), done.stdout[-3000:]
