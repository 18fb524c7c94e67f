"""What the page says about work that has not started yet: a grid cell before its first token. (A playground
reply stopped while it still waits for another visitor's turn on the model: tests/test_ui_fake.py.)"""

from __future__ import annotations

from adapters_ui.runs.run import Output, Partial
from adapters_ui.ui.state import CompareView

WAITING = "waiting…"  # literal: what a visitor reads


def test_a_cell_without_a_token_says_waiting_and_a_finished_empty_one_says_empty():
    view = CompareView([{"prompt": "Hi", "outputs": {"base": None, "lora": None}}], ["base", "lora"])
    assert view.grid().count(WAITING) == 2  # before the run's first event
    view.apply(Partial({(0, "base"): "", (0, "lora"): "Ahoy"}))  # base has no token yet
    grid = view.grid()
    assert "(empty)" not in grid and grid.count(WAITING) == 1 and ">Ahoy<" in grid
    view.apply(Output(0, "base", ""))  # base ended without writing anything: that is an empty output
    grid = view.grid()
    assert "(empty)" in grid and WAITING not in grid
