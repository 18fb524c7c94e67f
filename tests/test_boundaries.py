"""Layering: the core never imports gradio; importing the app loads no weights."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def package_modules() -> list[str]:
    """Every module of the package, found in its file tree (a module added tomorrow is checked too)."""
    package = ROOT / "adapters_ui"
    names = []
    for path in sorted(package.rglob("*.py")):
        if "migrations" in path.parts:  # Alembic scripts: run by alembic on a connection, never imported
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


CORE = [m for m in package_modules() if m != "adapters_ui.ui" and not m.startswith("adapters_ui.ui.")]

# In one fresh interpreter, import the modules one by one and note after each whether gradio is
# loaded, and which module of the package asked for it first (a finder that only watches).
# One interpreter, not one per module: each would spend seconds importing torch again, and
# importing any adapters_ui.X runs adapters_ui/__init__ first anyway.
# __main__ runs the CLI when imported: --help makes that a quiet SystemExit.
IMPORT_IN_TURN = """
import contextlib, importlib, io, json, sys
importers = []

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "gradio" and not importers:
            frame = sys._getframe(1)
            while frame and not frame.f_globals.get("__name__", "").startswith("adapters_ui"):
                frame = frame.f_back
            importers.append(frame.f_globals["__name__"] if frame else "?")
        return None  # only watching: the real finders do the import

sys.meta_path.insert(0, Watch())
seen = []
sys.argv = ["adapters_ui", "--help"]
for module in json.loads(sys.stdin.read()):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            importlib.import_module(module)
        except SystemExit:
            pass
    seen.append([module, "gradio" in sys.modules])
print(json.dumps({"seen": seen, "importer": importers[0] if importers else None}))
"""


def gradio_after_each(modules: list[str]) -> tuple[list[tuple[str, bool]], str | None]:
    """([(module, whether gradio is loaded once it is imported)], the module that imported gradio first)."""
    done = subprocess.run([sys.executable, "-c", IMPORT_IN_TURN], cwd=ROOT, input=json.dumps(modules),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return [tuple(pair) for pair in result["seen"]], result["importer"]


def test_every_core_module_is_found():
    assert {"adapters_ui", "adapters_ui.__main__", "adapters_ui.cli.main", "adapters_ui.session", "adapters_ui.views.report"} <= set(CORE)
    assert len(CORE) >= 20 and not any(m == "adapters_ui.ui" or m.startswith("adapters_ui.ui.") for m in CORE)


def test_no_core_module_imports_gradio():
    """Only adapters_ui/ui/ may import gradio. The last import is a control: the check must see gradio there."""
    seen, importer = gradio_after_each([*CORE, "adapters_ui.ui.common"])
    assert [module for module, _ in seen] == [*CORE, "adapters_ui.ui.common"]
    first = next((module for module, loaded in seen if loaded), None)
    assert first == "adapters_ui.ui.common", (
        f"{importer} imports gradio (found while importing {first}): only adapters_ui/ui/ may import it"
    )
    assert importer.startswith("adapters_ui.ui."), "the check cannot see who imports gradio"


def test_importing_the_app_loads_no_model():
    code = (
        "import sys, adapters_ui.session as s\n"
        "calls = []\n"
        "s.load_base = lambda *a, **k: calls.append(1)\n"
        "import app\n"
        "print(type(app.app).__name__, len(calls))"
    )
    assert run_python(code) == "FastAPI 0"


def test_ui_handlers_are_short_and_leave_threads_to_the_core():
    """Threads, locks and queues live in the core (runs, scheduler); a handler only folds run events into the page."""
    import ast

    handler_modules = ("common", "state", "page", "compare", "adapters", "merge", "playground", "api")
    tree = ast.Module(body=[node for name in handler_modules
                            for node in ast.parse((ROOT / "adapters_ui" / "ui" / f"{name}.py").read_text()).body],
                      type_ignores=[])
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"threading", "queue", "concurrent", "multiprocessing"}
    long = {f.name: f.end_lineno - f.lineno + 1 for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) and f.end_lineno - f.lineno >= 40}
    assert long == {}


def torch_free_modules() -> list[str]:
    """The modules that must load no torch: the package itself, its shared names and records, and every
    module of store/, views/ and analysis/ (plus the backend protocol and the run object's settings)."""
    top = ["adapters_ui", "adapters_ui.names", "adapters_ui.records", "adapters_ui.config", "adapters_ui.decoding",
           "adapters_ui.errors", "adapters_ui.formatting", "adapters_ui.demo_assets", "adapters_ui.backends.protocol",
           "adapters_ui.runs.prompts", "adapters_ui.runs.evalset", "adapters_ui.runs.run"]
    folders = ("adapters_ui.store", "adapters_ui.views", "adapters_ui.analysis")
    return top + [m for m in CORE if m.startswith(folders)]


# Import the modules one by one in one fresh interpreter; after each, list the heavy libraries loaded.
HEAVY_AFTER_EACH = """
import importlib, json, sys
heavy = ("torch", "transformers", "peft", "gradio")
seen = []
for module in json.loads(sys.stdin.read()):
    importlib.import_module(module)
    seen.append([module, [name for name in heavy if name in sys.modules]])
print(json.dumps(seen))
"""


def test_the_package_store_views_and_analysis_load_no_torch():
    """`import adapters_ui` (lazy public API), the store, the views and the analysis cost no model libraries,
    so `saved list` or a report reader never pays for torch. The last module is a control that must load it."""
    modules = [*torch_free_modules(), "adapters_ui.session"]
    assert {"adapters_ui.store.saved", "adapters_ui.views.report", "adapters_ui.analysis.review_stats"} <= set(modules)
    done = subprocess.run([sys.executable, "-c", HEAVY_AFTER_EACH], cwd=ROOT, input=json.dumps(modules),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = [(module, heavy) for module, heavy in seen[:-1] if heavy]
    assert loaded == [], f"these modules load model libraries: {loaded}"
    assert "torch" in seen[-1][1], "the control (the session) must load torch, or the check sees nothing"


def test_the_public_api_loads_lazily():
    """`adapters_ui.Session` still works; the first use imports it."""
    code = ("import sys, adapters_ui\n"
            "before = 'torch' in sys.modules\n"
            "session_class = adapters_ui.Session\n"
            "print(before, 'torch' in sys.modules, session_class.__module__, sorted(adapters_ui.__all__))")
    assert run_python(code) == ("False True adapters_ui.session ['AdaptersUIError', 'CompareRun', 'Comparison', "
                                "'GenerationSettings', 'Session', 'Settings', '__version__']")


# In one fresh interpreter, run CLI commands in turn through main() and note after each which of the model and
# chart libraries are loaded (a heavy import shows first after the command that made it).
HEAVY = ("torch", "transformers", "peft", "gradio", "plotly")
RUN_IN_TURN = """
import contextlib, io, json, sys
from adapters_ui.cli.main import main
loaded = []
for argv in json.loads(sys.stdin.read()):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit:  # --help
            code = exit.code
    loaded.append([argv[:2], code, sorted(name for name in %r if name in sys.modules)])
print(json.dumps(loaded))
""" % (HEAVY,)


def test_help_and_the_store_commands_load_no_model_library(tmp_path):
    """--help, saved list/show and review results --json read text and a database: no torch, transformers, peft,
    gradio or plotly (their cost is for the commands that load a model, serve and --html)."""
    from helpers import report_document

    from adapters_ui.store import Database
    from adapters_ui.store.reviews import create_review
    from adapters_ui.store.saved import save_comparison

    url = f"sqlite:///{tmp_path / 'store.db'}"
    db = Database.open(url)
    try:
        run_id = save_comparison(db, report_document(prompts=2), []).id
        review_id = create_review(db, run_id, ["base", "pirate"]).review_id
    finally:
        db.close()
    commands = [["--help"], ["saved", "list", "--database", url], ["saved", "show", run_id, "--database", url],
                ["review", "list", run_id, "--database", url], ["review", "results", review_id, "--json", "--database", url]]
    done = subprocess.run([sys.executable, "-c", RUN_IN_TURN], cwd=ROOT, input=json.dumps(commands),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [[argv[:2], 0, []] for argv in commands]
