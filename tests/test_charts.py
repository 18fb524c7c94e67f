"""Figures from hand-made storage dicts and summaries: right traces, right numbers, a hint when empty."""

from __future__ import annotations

import pytest

from adapters_ui.analysis.text_diff import VariantDifference
from adapters_ui.views.charts import (
    FONT_SIZE,
    FULL_COPY,
    HEIGHT,
    NAME_CHARS,
    NO_ADAPTERS,
    NO_ADAPTERS_SCALING,
    NO_COMPARISON,
    ROW_PX,
    difference_figure,
    scaling_figure,
    storage_figure,
)

FULL = 538_060_032


def storage(**adapter_bytes: int) -> dict:
    return {
        "full_model_bytes": FULL,
        "full_model_params": 134_515_008,
        "full_model_dtype": "float32",
        "base_file_bytes": None,
        "adapters": {
            name: {"bytes": n, "params": n // 4, "dtype": "F32", "times_smaller": round(FULL / n, 1)}
            for name, n in adapter_bytes.items()
        },
    }


def test_storage_figure_bars_labels_and_log_axis():
    fig = storage_figure(storage(pirate=943_000, formal=3_700_000))
    (bars,) = fig.data
    assert bars.orientation == "h" and fig.layout.yaxis.autorange == "reversed"  # names on the left, top to bottom
    assert list(bars.y) == ["pirate", "formal", FULL_COPY]
    assert list(bars.x) == [943_000, 3_700_000, FULL]
    assert fig.layout.xaxis.type == "log"
    # 538,060,032 / 943,000 = 570.58 -> "571x smaller"; the full copy states its size once, on its own bar
    assert list(bars.text) == ["943.0 kB · 571x smaller", "3.7 MB · 145x smaller", "538.1 MB (float32)"]
    assert list(bars.textposition) == ["outside", "outside", "inside"]
    assert "235,750 params (F32)" in bars.hovertext[0]
    assert "134,515,008 params" in bars.hovertext[2] and "as float32" in bars.hovertext[2]
    colors = list(bars.marker.color)
    assert colors[0] == colors[1] != colors[2]  # the full copy in its own colour
    assert "Bytes on disk" in fig.layout.title.text


def test_storage_figure_log_ticks_stay_inside_the_axis_and_few():
    fig = storage_figure(storage(tiny=5_000))
    low, high = fig.layout.xaxis.range
    ticks = list(fig.layout.xaxis.tickvals)
    assert 10**low < 5_000 and 10**high > FULL
    assert all(10**low <= t <= 10**high for t in ticks) and len(ticks) <= 5  # 1 kB .. 100 MB: every other decade
    assert list(fig.layout.xaxis.ticktext) == ["1 kB", "100 kB", "10 MB"]


def test_storage_figure_grows_a_row_per_adapter():
    heights = [storage_figure(storage(**{f"a{i}": 1_000_000 for i in range(n)})).layout.height for n in range(1, 17)]
    assert heights[0] == HEIGHT and heights == sorted(heights)
    assert heights[-1] >= 17 * ROW_PX + 100  # 16 adapters + the full copy, with room for title and axis
    assert heights[-1] <= 700  # still fits a laptop screen


def test_storage_figure_long_names_are_cut_but_stay_apart():
    long = {"customer_support_v2_long_name": 9_400_000, "customer_support_v3_long_name": 10_000_000}
    fig = storage_figure(storage(pirate=943_000, **long))
    (bars,) = fig.data
    shown = list(fig.layout.yaxis.ticktext)
    assert list(fig.layout.yaxis.tickvals) == list(bars.y)  # rows are the full names: no two bars share one
    assert shown[0] == "pirate" and shown[-1] == FULL_COPY
    assert shown[1] != shown[2] and all(s.endswith("…") and len(s) <= NAME_CHARS + 8 for s in shown[1:3])
    assert "customer_support_v2_long_name" in bars.hovertext[1]


def test_storage_figure_puts_labels_of_long_bars_inside():
    fig = storage_figure(storage(small=900_000, big=300_000_000, bigger=900_000_000))
    (bars,) = fig.data
    assert list(bars.textposition) == ["outside", "inside", "inside", "inside"]
    assert bars.text[2] == "900.0 MB · 1.7x larger"


def test_storage_figure_names_are_text():
    fig = storage_figure(storage(**{"a<b>": 1_000_000, "2024": 2_000_000}))
    assert fig.layout.yaxis.type == "category"  # "2024" is a name, not a position on a number line
    assert fig.layout.yaxis.ticktext[0] == "a&lt;b&gt;" and fig.data[0].hovertext[0].startswith("a&lt;b&gt;<br>")


def test_scaling_figure_numbers_at_n():
    fig = scaling_figure(storage(a=1_000_000, b=3_000_000), max_tasks=10)
    copies, shared = fig.data
    assert (copies.name, shared.name) == ("N full fine-tuned copies", "one base + N adapters")
    assert list(copies.x) == list(range(1, 11))
    assert fig.layout.yaxis.title.text == "GB on disk"  # 10 copies = 5.4 GB
    assert copies.y[-1] == pytest.approx(10 * FULL / 1e9)
    assert shared.y[-1] == pytest.approx((FULL + 10 * 2_000_000) / 1e9)  # mean adapter: 2 MB
    assert shared.y[0] == pytest.approx((FULL + 2_000_000) / 1e9)
    (note,) = fig.layout.annotations
    assert note.text == "10 tasks: 5.4 GB vs 558.1 MB"


def test_scaling_figure_picks_a_readable_unit_and_checks_n():
    small = {**storage(a=1_000), "full_model_bytes": 40_000}
    fig = scaling_figure(small, max_tasks=3)
    assert fig.layout.yaxis.title.text == "kB on disk"
    assert list(fig.data[0].y) == pytest.approx([40, 80, 120])
    with pytest.raises(ValueError, match="max_tasks"):
        scaling_figure(small, max_tasks=0)


def test_difference_figure_values():
    summary = [VariantDifference("pirate", 4, 4, 1.0, 0.53), VariantDifference("formal", 4, 1, 0.25, 0.9)]
    fig = difference_figure(summary)
    changed, similar = fig.data
    assert (changed.name, similar.name) == ("prompts changed vs base", "mean word similarity to base")
    assert list(changed.y) == ["pirate", "formal"] and changed.orientation == "h"
    assert list(changed.x) == pytest.approx([100, 25]) and list(similar.x) == pytest.approx([53, 90])
    assert list(changed.text) == ["100%", "25%"] and list(similar.text) == ["53%", "90%"]
    assert tuple(fig.layout.xaxis.range) == (0, 100) and fig.layout.barmode == "group"


def test_difference_figure_grows_a_row_per_adapter_and_keeps_names_apart():
    few = difference_figure([VariantDifference(f"a{i}", 4, 1, 0.25, 0.9) for i in range(3)])
    many = [VariantDifference(f"customer_support_v{i}_long_name", 4, 1, 0.25, 0.9) for i in range(16)]
    fig = difference_figure(many)
    assert fig.layout.height > few.layout.height
    assert len(set(fig.layout.yaxis.ticktext)) == 16  # cut names still tell the adapters apart


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: storage_figure(storage()), NO_ADAPTERS),
        (lambda: storage_figure({}), NO_ADAPTERS),
        (lambda: scaling_figure(storage()), NO_ADAPTERS_SCALING),
        (lambda: difference_figure([]), NO_COMPARISON),
    ],
)
def test_empty_input_says_what_to_do(make, message):
    fig = make()
    assert fig.data == ()
    (note,) = fig.layout.annotations
    assert note.text == message and (note.x, note.y) == (0.5, 0.5)


@pytest.mark.parametrize(
    "fig",
    [
        storage_figure(storage(a=1_000_000)),
        scaling_figure(storage(a=1_000_000)),
        difference_figure([VariantDifference("a", 1, 1, 1.0, 0.5)]),
        difference_figure([]),
    ],
)
def test_shared_look(fig):
    assert fig.layout.font.size >= 14 and fig.layout.font.size == FONT_SIZE
    assert fig.layout.height == 380 and fig.layout.legend.orientation == "h"
    assert fig.layout.template.layout.paper_bgcolor == "white"  # plotly_white


@pytest.mark.parametrize("count", [0, 1, 16])
def test_no_figure_fixes_its_width(count):
    """The page sets the width: a fixed one overflows a half-width column, or a chart drawn in a hidden tab."""
    adapters = storage(**{f"a{i}": 1_000_000 + i for i in range(count)})
    summary = [VariantDifference(f"a{i}", 1, 1, 1.0, 0.5) for i in range(count)]
    for fig in (storage_figure(adapters), scaling_figure(adapters), difference_figure(summary)):
        assert fig.layout.width is None and fig.layout.autosize is True
        assert fig.layout.template.layout.width is None


def test_difference_chart_of_a_run_stopped_before_any_complete_pair_says_so():
    from adapters_ui.analysis.text_diff import VariantDifference
    from adapters_ui.views.charts import NO_COMPLETE_PAIRS, difference_figure

    fig = difference_figure([VariantDifference("pirate", 0, 0, 0.0, 0.0), VariantDifference("json", 0, 0, 0.0, 0.0)])
    assert not fig.data and fig.layout.annotations[0].text == NO_COMPLETE_PAIRS
    fig = difference_figure([VariantDifference("pirate", 0, 0, 0.0, 0.0), VariantDifference("json", 2, 1, 0.5, 0.7)])
    assert list(fig.data[0].y) == ["json"]


def test_a_server_adapter_of_unknown_size_gets_a_row_that_says_so():
    """A vLLM adapter whose files this machine cannot read ("bytes": None): its own row, no bar, "on the server";
    the scaling chart averages the sizes it knows, and says so when it knows none."""
    data = storage(pirate=937_056)
    data["adapters"]["far"] = {"bytes": None, "params": None, "dtype": "", "times_smaller": None}
    fig = storage_figure(data)
    (bars,) = fig.data
    assert list(bars.y) == ["pirate", "far", FULL_COPY]
    assert bars.text[1] == "on the server: its files are not readable here" and "on the server" in bars.hovertext[1]
    assert bars.text[0] == "937.1 kB · 574x smaller" and bars.x[0] == 937_056
    assert bars.marker.color[1] == "rgba(0,0,0,0)" and 10 ** fig.layout.xaxis.range[0] < bars.x[1] < 937_056
    assert "server adapters: size unknown here" in fig.layout.title.text
    shared = scaling_figure(data).data[1]  # one base + N adapters, at pirate's size
    assert shared.y[0] * 1e9 == pytest.approx(FULL + 937_056)
    only_far = {**data, "adapters": {"far": data["adapters"]["far"]}}
    assert "on the server" in storage_figure(only_far).data[0].text[0]
    assert "their sizes are not known here" in scaling_figure(only_far).layout.annotations[0].text
