"""One definition of an adapter's size (its weights file's bytes), written one way (decimal units, by
``formatting.format_bytes``), in the table, the storage chart, the bundle manifest, the merge warning and after
a bundle round trip: the demo pirate is 937.1 kB everywhere (its README and training log are not the adapter)."""

from __future__ import annotations

import re
from pathlib import Path

from app_server import CACHE

from adapters_ui.adapters.demo import DEMO_ADAPTERS
from adapters_ui.config import Settings
from adapters_ui.formatting import format_bytes
from adapters_ui.session import Session
from adapters_ui.views import charts
from adapters_ui.views.document import adapter_row

PACKAGE = Path(__file__).resolve().parents[1] / "adapters_ui"


def shown_sizes(session, name: str) -> dict[str, str]:
    """Every place the page, the exports and the merge warning show adapter ``name``'s size."""
    storage = session.storage()
    figure = charts.storage_figure(storage.to_dict()).to_plotly_json()["data"][0]
    chart_label = dict(zip(figure["y"], figure["text"]))[name].split(" · ")[0]
    warning = re.search(r"the adapter's ([\d.]+ \w+)", session.merge_plan(name).warning())[1]
    return {"table": adapter_row(storage.adapters[name], storage.ratio(name))["size"], "chart": chart_label,
            "merge warning": warning}


def test_pirates_size_is_one_number_everywhere_and_after_a_bundle_round_trip(tmp_path):
    pirate = DEMO_ADAPTERS / "pirate"
    weights = (pirate / "adapter_model.safetensors").stat().st_size
    assert sum(p.stat().st_size for p in pirate.iterdir()) > weights  # a README and a training log beside it
    session = Session.start(Settings(cache_dir=CACHE, demo=False))
    info = session.attach(pirate)
    assert info.bytes_on_disk == weights
    expected = {where: format_bytes(weights) for where in ("table", "chart", "merge warning")}
    assert shown_sizes(session, "pirate") == expected
    manifest = session.save_bundle(tmp_path / "team.zip")
    assert [a.bytes for a in manifest.adapters] == [weights] and manifest.total_bytes == weights

    session.detach("pirate")
    (again,) = session.attach_bundle(tmp_path / "team.zip", root=tmp_path / "unpacked")
    assert again.name == "pirate" and again.bytes_on_disk == weights and again.sha256 == info.sha256
    assert shown_sizes(session, "pirate") == expected


def test_sizes_are_written_by_the_one_formatting_function():
    """No module formats bytes by hand (a second unit system would creep in): they call formatting.format_bytes."""
    by_hand = re.compile(r"/\s*(1024|1e6|1e9|1_000_000)\b(?!\*)|\}\s*(k|K|M|G|T)i?B\b")
    found = [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
             for path in sorted(PACKAGE.rglob("*.py")) if path.name != "formatting.py"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if by_hand.search(line)]
    assert found == []
