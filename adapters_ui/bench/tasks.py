"""Task folders for lm-eval: the shipped offline tasks, with ``data_files`` that work from any directory.

lm-eval hands a YAML's ``dataset_kwargs`` to ``datasets.load_dataset`` as they are, so a relative
``data_files`` is read against the working directory, not against the YAML. ``resolved_folder`` copies
a task folder with every relative ``data_files`` path made absolute against the YAML's own folder:

    data_files: {test: arith_mc.jsonl}  ->  data_files: {test: /…/assets/lm_eval_tasks/arith_mc.jsonl}

A YAML that plain ``yaml.safe_load`` cannot read (lm-eval's ``!function`` tags) is copied unchanged,
with every other file of the folder (a ``utils.py`` beside it), so such a task works as lm-eval runs it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from adapters_ui.demo_assets import ASSETS

SHIPPED = ASSETS / "lm_eval_tasks"
SHIPPED_TASKS = ("adapters_ui_arith_mc", "adapters_ui_units_gen", "adapters_ui_general_text")


def task_names(folder: Path = SHIPPED) -> list[str]:
    """The ``task`` names the YAMLs of ``folder`` define (those plain YAML can read), sorted."""
    names = []
    for path in sorted(folder.rglob("*.yaml")):
        config = _read(path)
        if isinstance(config, dict) and isinstance(config.get("task"), str):
            names.append(config["task"])
    return sorted(names)


def resolved_folder(folder: Path, target: Path) -> Path:
    """A copy of ``folder`` under ``target`` whose YAMLs name their ``data_files`` by absolute paths."""
    folder = Path(folder).resolve()
    target = Path(target)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        copy = target / path.relative_to(folder)
        copy.parent.mkdir(parents=True, exist_ok=True)
        config = _read(path) if path.suffix in (".yaml", ".yml") else None
        if isinstance(config, dict) and isinstance(config.get("dataset_kwargs"), dict) and "data_files" in config["dataset_kwargs"]:
            config["dataset_kwargs"]["data_files"] = _absolute(config["dataset_kwargs"]["data_files"], path.parent)
            copy.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        else:
            shutil.copyfile(path, copy)
    return target


def _read(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None


def _absolute(files, folder: Path):
    """``data_files`` (a path, a list, or a split -> path(s) mapping) with relative local paths made absolute."""
    if isinstance(files, dict):
        return {split: _absolute(value, folder) for split, value in files.items()}
    if isinstance(files, list):
        return [_absolute(value, folder) for value in files]
    if isinstance(files, str) and "://" not in files and not Path(files).is_absolute():
        return str(folder / files)
    return files
