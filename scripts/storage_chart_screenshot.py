"""Screenshot the storage chart alone, at the widths the dashboard gives it, to check by eye that nothing overlaps.

    .venv/bin/python scripts/storage_chart_screenshot.py [--out .cache/charts] [--counts 3 16] [--widths 700 500]

Draws ``charts.storage_figure`` for made-up adapters (0.9 to 10 MB beside a 538.1 MB full
copy, some long names) into a plain HTML page per width, inside a box of that width
(700 px: half a 1440 px page; 500 px: half a 1024 px screen), and saves
``storage-<count>-<width>.png``. No model and no server are needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters_ui.charts import storage_figure  # noqa: E402 (after the sys.path line)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FULL = 538_060_032  # SmolLM2-135M as float32
ADAPTERS = {  # name: bytes on disk, in the order they would be attached
    "pirate": 943_000, "json_answer": 1_800_000, "bullets": 2_300_000, "customer_support_v2_long_name": 10_000_000,
    "customer_support_v3_long_name": 9_400_000, "formal": 3_700_000, "shakespeare": 4_200_000, "sql_writer": 6_100_000,
    "summarize_short": 1_200_000, "emoji": 900_000, "legal_plain_english": 7_800_000, "french": 5_000_000,
    "kids_explainer": 2_900_000, "haiku": 950_000, "code_review_assistant_big": 9_900_000, "tiny": 880_000,
}


def storage(count: int) -> dict:
    """A ``StorageReport.to_dict()`` look-alike with the first ``count`` adapters."""
    adapters = {name: {"bytes": n, "params": n // 4, "dtype": "F32", "times_smaller": FULL / n}
                for name, n in list(ADAPTERS.items())[:count]}
    return {"full_model_bytes": FULL, "full_model_params": 134_515_008, "full_model_dtype": "float32",
            "base_file_bytes": 269_060_000, "adapters": adapters}


def page_html(count: int, width: int) -> str:
    """The figure in a box ``width`` px wide, as the dashboard's column would hold it."""
    html = storage_figure(storage(count)).to_html(include_plotlyjs=True, config={"responsive": True})
    return html.replace("<body>", f'<body style="margin:0"><div id="box" style="width:{width}px">', 1).replace("</body>", "</div></body>", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "charts")
    parser.add_argument("--counts", type=int, nargs="+", default=[3, 16])
    parser.add_argument("--widths", type=int, nargs="+", default=[700, 500])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if max(args.counts) > len(ADAPTERS):
        parser.error(f"--counts goes up to {len(ADAPTERS)}")
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for count in args.counts:
            for width in args.widths:
                page_file = args.out / f"storage-{count}-{width}.html"
                page_file.write_text(page_html(count, width), encoding="utf-8")
                page = browser.new_page(viewport={"width": width + 40, "height": 900})
                page.goto(page_file.as_uri())
                page.wait_for_selector("#box .main-svg")
                drawn = page.evaluate("() => document.querySelector('#box .main-svg').getBoundingClientRect().width")
                png = args.out / f"storage-{count}-{width}.png"
                page.locator("#box .js-plotly-plot").screenshot(path=str(png))
                print(f"{png}: drawn {drawn:.0f} px wide in a {width} px box")
                page.close()
        browser.close()


if __name__ == "__main__":
    main()
