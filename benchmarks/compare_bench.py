"""Cost of comparing K adapters on N prompts: naive loop vs engine vs the base alone vs the compute floor.

On the embedded default (SmolLM2-135M-Instruct), greedy, every output exactly ``--tokens`` long
(min_new_tokens = max_new_tokens, so early EOS does not flatter anyone). Per cell (K, N):

    (a) naive: PeftModel, set_adapter(name), one generate per prompt per variant
    (b) engine: session.compare of base + K adapters (the time to its first streamed token too)
    (c) the base alone on the N prompts in one batch
    (d) the base alone on one batch of N x (K+1) rows: the same work as (b), without adapters
    floor: the run's matrix FLOPs / this machine's matmul rate, measured in the same run

It prints a/b, b/c, b/d, b/floor, tokens per second and peak memory, and writes a CSV and a
plotly chart (time against K and against N). The defaults are the issue's target cell (K=4, N=8, 48 tokens):

    python benchmarks/compare_bench.py                       # one cell
    python benchmarks/compare_bench.py --kinds mix           # LoRA, DoRA, IA3 and prompt tuning instead of 4 LoRAs
    python benchmarks/compare_bench.py --grid                # the issue's grid (long)
    python benchmarks/compare_bench.py --startup             # `python app.py` to a ready page, and attach time
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import adapter_configs, make_adapter  # noqa: E402

from adapters_ui.config import Settings  # noqa: E402
from adapters_ui.decoding import GenerationSettings  # noqa: E402
from adapters_ui.model.thread import on_model_thread  # noqa: E402
from adapters_ui.runs.prompts import format_prompt  # noqa: E402
from adapters_ui.runs.run import Partial  # noqa: E402
from adapters_ui.session import Session  # noqa: E402

PROMPTS = [
    "What is the capital of France?", "Give me a tip for learning to cook.", "Explain photosynthesis in one sentence.",
    "Name three colours.", "Write a haiku about autumn leaves falling on a quiet pond.", "Why is the sky blue?",
    "Suggest a name for a grey cat.", "What is 12 times 12?", "How do magnets work?", "Describe a sunrise.",
    "What is a prime number?", "Give me a packing list for a weekend trip.", "Why do cats purr?",
    "What does a compiler do?", "Summarise the water cycle.", "Recommend a book for a long flight.",
]
TARGETS = [["q_proj", "v_proj"], ["k_proj", "o_proj"], "all-linear", ["up_proj", "down_proj"]]
GRID_K, GRID_N = [1, 2, 4, 8], [1, 4, 8, 16]  # the grid, plus K=32 and the mix of kinds at N=8


def lora_config(i: int):
    """The i-th LoRA of the K cells: rank 8, cycling through TARGETS."""
    from peft import LoraConfig

    return LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS[i % 4], init_lora_weights=False, task_type="CAUSAL_LM")


def mix_configs() -> dict:
    """One adapter of each kind the engine serves differently: LoRA, DoRA, IA3, prompt tuning.

    DoRA and IA3 are the tests' configs (tests/helpers.py); IA3's weights start at 1 and make_adapter
    perturbs them multiplicatively, which keeps the model sane (init_ia3_weights=False would start them
    at randn, scaling k, v and down_proj by noise around 0)."""
    from peft import PromptTuningConfig

    configs = adapter_configs()
    return {"lora": lora_config(0), "dora": configs["dora"], "ia3": configs["ia3"],
            "prompt": PromptTuningConfig(num_virtual_tokens=8, task_type="CAUSAL_LM")}


def make_adapters(model, folder: Path, loras: int, mix: bool) -> tuple[list[Path], list[Path]]:
    """(``loras`` LoRA folders, the mix's folders or []), saved under ``folder``; runs on the model thread."""
    lora_paths = [make_adapter(model, lora_config(i), folder / f"lora{i}", seed=i + 1, scale=0.05)
                  for i in range(loras)]
    mix_paths = [make_adapter(model, config, folder / name, seed=i + 1, scale=0.05)
                 for i, (name, config) in enumerate(mix_configs().items())] if mix else []
    return lora_paths, mix_paths


def virtual_tokens(path: Path) -> int:
    """Tokens a prompt-learning adapter prepends to every prompt (0 for the others): work the floor counts."""
    return json.loads((path / "adapter_config.json").read_text()).get("num_virtual_tokens") or 0


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(model, rows: int, seconds: float = 1.0) -> float:
    """FLOP/s of a (rows x hidden) @ (hidden x intermediate) product in the model's dtype and
    device, the shape of one decode step's MLP."""
    config, device, dtype = model.config, model.device, model.dtype
    a = torch.randn(rows, config.hidden_size, device=device, dtype=dtype)
    b = torch.randn(config.hidden_size, config.intermediate_size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        done += 1
        sync(device)
    return 2 * rows * config.hidden_size * config.intermediate_size * done / (time.perf_counter() - started)


def weights_rate(model, rows: int, seconds: float = 1.0) -> float:
    """FLOP/s of one decode step's products through the model's own weights: a (rows x in) input
    times every linear weight and the output head, in turn. Unlike ``matmul_rate`` (one small
    weight that stays in cache) the weights stream from memory, as in a real decode step."""
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = {w.shape[1]: torch.randn(rows, w.shape[1], dtype=w.dtype, device=w.device) for w in weights}
    flops = sum(2 * rows * w.numel() for w in weights)
    with torch.inference_mode():
        for w in weights:
            torch.nn.functional.linear(inputs[w.shape[1]], w)
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for w in weights:
                torch.nn.functional.linear(inputs[w.shape[1]], w)
            done += 1
            sync(model.device)
    return flops * done / (time.perf_counter() - started)


def run_flops(model, prompt_tokens: list[int], new_tokens: int) -> float:
    """2 x the non-embedding parameters per token processed, the lm_head once per generated token,
    plus attention (2 x 2 x layers x hidden x context per token)."""
    config = model.config
    embed = model.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in model.parameters()) - embed  # tied lm_head counted below
    head = embed
    layers, hidden = config.num_hidden_layers, config.hidden_size
    total = 0.0
    for length in prompt_tokens:
        total += 2 * body * (length + new_tokens) + 2 * head * new_tokens
        contexts = list(range(1, length + 1)) + [length + t for t in range(new_tokens)]
        total += 4 * layers * hidden * sum(contexts)
    return total


def generate_batch(model, tokenizer, texts: list[str], tokens: int) -> float:
    """Seconds for one left-padded greedy batch of exactly ``tokens`` new tokens."""
    tokenizer.padding_side = "left"
    encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    started = time.perf_counter()
    with torch.no_grad():
        model.generate(**encoded, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, temperature=None,
                       top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id)
    sync(model.device)
    return time.perf_counter() - started


def naive(session: Session, paths: list[Path], names: list[str], texts: list[str], tokens: int) -> tuple[float, dict]:
    """set_adapter + one generate per prompt per variant, as tutorials do. A PeftModel holds one PEFT method
    (LoRA and DoRA are one), so each method gets its own PeftModel on its own copy of the base."""
    from peft import PeftConfig, PeftModel

    tokenizer = session.base.tokenizer
    methods = list(dict.fromkeys(PeftConfig.from_pretrained(str(path)).peft_type for path in paths))
    fresh = Session.start(session.settings.replace(demo=False)).base.model
    bases = [fresh] + [copy.deepcopy(fresh) for _ in methods[1:]]  # copied before PEFT changes ``fresh``
    models: dict = {}  # PEFT method -> its PeftModel
    holder: dict[str, object] = {}  # adapter name -> the PeftModel holding it
    for name, path in zip(names, paths):
        method = PeftConfig.from_pretrained(str(path)).peft_type
        if method in models:
            models[method].load_adapter(str(path), adapter_name=name)
        else:
            base = bases[methods.index(method)]
            models[method] = PeftModel.from_pretrained(base, str(path), adapter_name=name).eval()
        holder[name] = models[method]
    outputs: dict[str, list[str]] = {}

    def one_by_one(model) -> list[str]:
        texts_out = []
        for text in texts:
            encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
            with torch.no_grad():
                out = model.generate(**encoded, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                                     temperature=None, top_p=None, top_k=None, pad_token_id=tokenizer.pad_token_id)
            texts_out.append(tokenizer.decode(out[0, encoded["input_ids"].shape[1]:], skip_special_tokens=True).strip())
        return texts_out

    started = time.perf_counter()
    first = holder[names[0]]
    with first.disable_adapter():
        outputs["base"] = one_by_one(first)
    for name in names:
        holder[name].set_adapter(name)
        outputs[name] = one_by_one(holder[name])
    return time.perf_counter() - started, outputs


def engine(session: Session, prompts: list[str], tokens: int = 0, settings: GenerationSettings | None = None
           ) -> tuple[float, float, object]:
    """(seconds, seconds to the first streamed token, comparison) of one compare of every variant;
    every output exactly ``tokens`` long unless ``settings`` are given."""
    settings = settings or GenerationSettings(max_new_tokens=tokens, min_new_tokens=tokens)
    started = time.perf_counter()
    run = session.start_compare(prompts, None, settings, owner="bench")
    first = None
    for event in run:
        if first is None and isinstance(event, Partial):
            first = time.perf_counter() - started
    return time.perf_counter() - started, first or float("nan"), run.result()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cell(session: Session, paths: list[Path], kinds: str, n: int, tokens: int, with_naive: bool) -> dict:
    """One (K, N) row: the base plus the adapters at ``paths`` (K of them) on N prompts."""
    names = [session.attach(path).name for path in paths]
    k = len(paths)
    tokenizer, model = session.base.tokenizer, session.base.model
    prompts = (PROMPTS * 8)[:n]
    texts = [format_prompt(tokenizer, p, True) for p in prompts]
    # Everything that runs the model goes through the model thread, as the engine does (see model_thread).
    rate = on_model_thread(matmul_rate, model, n * (k + 1))
    streamed = on_model_thread(weights_rate, model, n * (k + 1))
    engine_s, first_s, comparison = engine(session, prompts, tokens)
    base_n = on_model_thread(generate_batch, model, tokenizer, texts, tokens)
    base_all = on_model_thread(generate_batch, model, tokenizer, texts * (k + 1), tokens)
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    lengths += [length + virtual_tokens(path) for path in paths for length in lengths]
    floor = run_flops(model, lengths, tokens) / rate
    row = {"K": k, "N": n, "kinds": kinds, "tokens": tokens, "engine_s": engine_s, "first_token_s": first_s,
           "base_N_s": base_n, "base_NK_s": base_all, "floor_s": floor, "gflops": rate / 1e9,
           "weights_floor_s": floor * rate / streamed, "weights_gflops": streamed / 1e9,
           "tokens_per_s": n * (k + 1) * tokens / engine_s, "peak_rss_mb": peak_rss_mb()}
    if torch.cuda.is_available():  # on a GPU the model's memory is there, not in the process's RSS
        row["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    if with_naive:
        naive_s, naive_out = on_model_thread(naive, session, paths, names, texts, tokens)
        same = all(comparison.outputs(variant) == naive_out[variant] for variant in ["base", *names])
        row.update(naive_s=naive_s, identical=same)
    for name in names:
        session.detach(name)
    return row


def profile_engine(session: Session, paths: list[Path], k: int, n: int, tokens: int, top: int) -> None:
    """cProfile of one engine run, taken on the model thread (where all model work runs), by own time."""
    import cProfile
    import pstats

    for path in paths[:k]:
        session.attach(path)
    engine(session, (PROMPTS * 8)[:n], 2)  # warm-up
    profiler = cProfile.Profile()
    on_model_thread(profiler.enable)  # cProfile profiles the thread that enables it
    try:
        seconds, first, _ = engine(session, (PROMPTS * 8)[:n], tokens)
    finally:
        on_model_thread(profiler.disable)
    print(f"K={k} N={n} {tokens} tokens: engine {seconds:.1f} s under the profiler (first token {first:.2f} s)")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)


def show(row: dict) -> None:
    a = f"a/b {row['naive_s'] / row['engine_s']:5.2f}x  " if "naive_s" in row else ""
    kinds = "" if row["kinds"] == "lora" else f"{row['kinds']} "
    print(f"K={row['K']:<2} N={row['N']:<2} {kinds}engine {row['engine_s']:6.1f} s "
          f"(first token {row['first_token_s']:.2f} s)  "
          f"{a}b/c {row['engine_s'] / row['base_N_s']:5.2f}  b/d {row['engine_s'] / row['base_NK_s']:5.2f}  "
          f"b/floor {row['engine_s'] / row['floor_s']:5.2f} (floor {row['floor_s']:.1f} s at {row['gflops']:.0f} GFLOP/s; "
          f"{row['engine_s'] / row['weights_floor_s']:.2f} of the model-weights floor {row['weights_floor_s']:.1f} s "
          f"at {row['weights_gflops']:.0f} GFLOP/s)  "
          f"{row['tokens_per_s']:6.1f} tok/s  peak {row['peak_rss_mb']:.0f} MB"
          + (f"  identical {row['identical']}" if "identical" in row else ""), flush=True)


def plan(args) -> list[tuple[str, int, int, bool]]:
    """(kinds, K, N, with naive) of every cell to run, in order."""
    if args.grid:
        cells = [("lora", k, n, args.naive_in_grid) for k in GRID_K for n in GRID_N]
        return cells + [("lora", 32, 8, args.naive_in_grid), ("mix", len(mix_configs()), 8, not args.no_naive)]
    ks, ns = [int(x) for x in args.k.split(",")], [int(x) for x in args.n.split(",")]
    if args.kinds == "mix":
        return [("mix", len(mix_configs()), n, not args.no_naive) for n in ns]
    return [("lora", k, n, not args.no_naive) for k in ks for n in ns]


def startup_times(log: Path, timeout_s: float = 300, runs: int = 1) -> dict:
    """Seconds from launching `python app.py` until it answers GET / with 200 (``server_s``), until a visitor's page
    lists the demo adapter "pirate" among the variants (``adapters_s``; the same event fills the adapters table and
    the storage chart), and until the page is ready to compare (``page_s``: the header counts the attached adapters
    and Compare is enabled). Chromium starts before the clock. ``runs`` > 1: the median of that many starts (the
    first start on a cache dequantizes the GGUF: start once before to time warm starts only)."""
    from app_server import CACHE, free_port
    from browser.chromium import launch_chromium
    from playwright.sync_api import sync_playwright

    listed = "() => (document.querySelector('#variants')?.innerText || '').includes('pirate')"
    ready = ("() => (document.querySelector('#header')?.innerText || '').includes('adapters: ') "
             "&& !document.querySelector('#run')?.disabled")
    times = []
    for _ in range(runs):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("ADAPTERS_UI_")}
        env.update(GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False",
                   ADAPTERS_UI_CACHE_DIR=str(CACHE), HF_HUB_OFFLINE="1")
        with sync_playwright() as playwright, open(log, "w") as out:
            browser = launch_chromium(playwright)
            page = browser.new_page()
            started = time.perf_counter()
            app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own process group, ended as one below
            try:
                server_s = wait_for_http(url, app, started + timeout_s, log) - started
                page.goto(url)
                page.wait_for_function(listed, timeout=timeout_s * 1000, polling=50)
                adapters_s = time.perf_counter() - started
                page.wait_for_function(ready, timeout=timeout_s * 1000, polling=50)
                page_s = time.perf_counter() - started
            finally:
                browser.close()
                os.killpg(app.pid, signal.SIGTERM)
                try:
                    app.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(app.pid, signal.SIGKILL)
                    app.wait()
        times.append({"server_s": server_s, "adapters_s": adapters_s, "page_s": page_s})
        print(f"  start: GET / {server_s:.1f} s, adapters listed {adapters_s:.1f} s, ready {page_s:.1f} s", flush=True)
    return {key: statistics.median(t[key] for t in times) for key in times[0]} | {"starts": runs}


def wait_for_http(url: str, app: subprocess.Popen, deadline: float, log: Path) -> float:
    """The perf_counter time at which ``url`` first answered 200; SystemExit if the app dies or never answers."""
    while time.perf_counter() < deadline:
        if app.poll() is not None:
            raise SystemExit(f"app.py exited with {app.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.perf_counter()
        except OSError:  # refused while it starts (URLError is an OSError)
            pass
        time.sleep(0.1)
    raise SystemExit(f"app.py did not answer {url} in time:\n{log.read_text()[-3000:]}")


def attach_times(session: Session, folder: Path, cycles: int = 5) -> dict:
    """Mean seconds to attach, and to detach, a ~2 MB LoRA (r=8 on q_proj, v_proj, fp32) on a loaded session."""
    from peft import LoraConfig

    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    path = on_model_thread(make_adapter, session.base.model, config, folder / "attach", scale=0.05)
    size = sum(file.stat().st_size for file in path.glob("*.safetensors"))
    attach, detach = [], []
    for _ in range(cycles):
        started = time.perf_counter()
        name = session.attach(path).name  # attach and detach run on the model thread themselves
        attach.append(time.perf_counter() - started)
        started = time.perf_counter()
        session.detach(name)
        detach.append(time.perf_counter() - started)
    return {"attach_s": statistics.mean(attach), "detach_s": statistics.mean(detach), "adapter_mb": size / 1e6,
            "cycles": cycles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", default="4", help="adapter counts, comma-separated (LoRA, rank 8)")
    parser.add_argument("--n", default="8", help="prompt counts, comma-separated")
    parser.add_argument("--kinds", choices=["lora", "mix"], default="lora",
                        help="mix: one LoRA, DoRA, IA3 and prompt-tuning adapter (K=4, --k ignored) instead of K LoRAs")
    parser.add_argument("--grid", action="store_true",
                        help=f"the issue's grid: K in {GRID_K} x N in {GRID_N}, K=32 at N=8, the mix at N=8 "
                             "(ignores --k, --n, --kinds; the naive loop only for the mix)")
    parser.add_argument("--naive-in-grid", action="store_true", help="with --grid: run the naive loop in every cell")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop (it dominates the run time)")
    parser.add_argument("--startup", action="store_true",
                        help="time `python app.py` to a ready page and attaching a ~2 MB adapter (startup.csv); "
                             "the cells run too only with --grid")
    parser.add_argument("--starts", type=int, default=3, help="with --startup: warm starts to time (the median)")
    parser.add_argument("--startup-only", action="store_true", help="with --startup: skip the attach timing")
    parser.add_argument("--demo", action="store_true",
                        help="time the demo click: the demo prompts through the base and the demo adapters, "
                             "default settings (demo.csv); the cells run too only with --grid")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "compare_bench")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="profile one engine run of the first cell with cProfile and print its TOP entries")
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    cells = plan(args) if args.grid or not (args.startup or args.demo) else []
    startup = startup_times(args.out / "startup_app.log", runs=args.starts) if args.startup else {}  # no model here yet
    if startup:
        print(f"start-up (median of {startup['starts']}): GET / answers after {startup['server_s']:.1f} s; the page "
              f"lists the demo adapters after {startup['adapters_s']:.1f} s and is ready to compare after "
              f"{startup['page_s']:.1f} s", flush=True)
    if args.demo:
        demo = demo_click()
        print(f"demo click: {demo['click_s']:.1f} s, first token {demo['first_token_s']:.2f} s "
              f"({demo['prompts']} prompts x {demo['variants']} variants, {demo['tokens']} tokens, "
              f"{demo['batches']} decode loop(s)), best of {demo['clicks']}", flush=True)
        write_csv([demo], args.out / "demo.csv")
    if not cells and (not args.startup or args.startup_only):
        return
    # K=32 at N=8 is over the app's default caps of 16 adapters and 256 outputs
    session = Session.start(Settings(cache_dir=ROOT / ".cache" / "test-models", demo=False, max_adapters=64,
                                     max_outputs=1024))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.startup:
            startup.update(attach_times(session, Path(tmp)))
            print(f"attach {startup['attach_s']:.2f} s (file {startup['adapter_mb']:.1f} MB), "
                  f"detach {startup['detach_s']:.2f} s, mean of {startup['cycles']}", flush=True)
            write_csv([startup], args.out / "startup.csv")
        loras = max((k for kinds, k, _, _ in cells if kinds == "lora"), default=0)
        lora_paths, mix_paths = on_model_thread(make_adapters, session.base.model, Path(tmp), loras,
                                                any(kinds == "mix" for kinds, *_ in cells))
        for kinds, k, n, with_naive in cells:
            paths = mix_paths if kinds == "mix" else lora_paths[:k]
            if args.profile:
                profile_engine(session, paths, k, n, args.tokens, args.profile)
                return
            rows.append(cell(session, paths, kinds, n, args.tokens, with_naive))
            show(rows[-1])
    if rows:
        write(rows, args.out)


def demo_click(clicks: int = 3) -> dict:
    """What a presenter's first Compare costs: the demo prompts through the base and the demo
    adapters with the app's default settings, as the Compare tab starts it (best of ``clicks``)."""
    from adapters_ui.runs.prompts import demo_prompts
    from adapters_ui.session import SessionHolder

    session = SessionHolder(Settings(cache_dir=ROOT / ".cache" / "test-models")).get()
    prompts = demo_prompts()
    best = None
    for _ in range(clicks):
        seconds, first, comparison = engine(session, prompts, settings=session.generation_settings())
        if best is None or seconds < best[0]:
            best = (seconds, first, comparison)
    seconds, first, comparison = best
    texts = [format_prompt(session.base.tokenizer, p) for p in prompts]
    loops = len(session.backend.plan(list(comparison.variants), texts, comparison.settings).batches)
    return {"click_s": seconds, "first_token_s": first, "prompts": len(prompts), "variants": len(comparison.variants),
            "tokens": comparison.settings.max_new_tokens, "batches": loops, "clicks": clicks}


def write_csv(rows: list[dict], path: Path) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def write(rows: list[dict], out: Path) -> None:
    """compare_bench.csv and compare_bench.html: engine time and the floor against K (a line per N) and against
    N (a line per K), side by side; mix-of-kinds rows are single stars, beside the LoRA lines."""
    from plotly.subplots import make_subplots

    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "compare_bench.csv")
    figure = make_subplots(rows=1, cols=2, subplot_titles=("against the number of adapters K",
                                                           "against the number of prompts N"))
    loras, mixes = [r for r in rows if r["kinds"] == "lora"], [r for r in rows if r["kinds"] == "mix"]
    for col, (x, per) in enumerate([("K", "N"), ("N", "K")], 1):
        for value in sorted({r[per] for r in loras}):
            picked = sorted((r for r in loras if r[per] == value), key=lambda r: r[x])
            figure.add_scatter(x=[r[x] for r in picked], y=[r["engine_s"] for r in picked],
                               name=f"engine, {per}={value}", row=1, col=col)
            figure.add_scatter(x=[r[x] for r in picked], y=[r["floor_s"] for r in picked], name=f"floor, {per}={value}",
                               line={"dash": "dot"}, row=1, col=col)
        if mixes:
            figure.add_scatter(x=[r[x] for r in mixes], y=[r["engine_s"] for r in mixes], mode="markers",
                               marker={"symbol": "star", "size": 12, "color": "black"}, name="engine, mix of kinds",
                               legendgroup="mix", showlegend=col == 1, hovertext=[f"K={r['K']} N={r['N']}" for r in mixes],
                               row=1, col=col)
        figure.update_xaxes(title_text=f"{x} {'adapters' if x == 'K' else 'prompts'}", row=1, col=col)
        figure.update_yaxes(title_text="seconds", row=1, col=col)
    figure.update_layout(title="Engine time (solid) and the compute floor (dotted)")
    figure.write_html(out / "compare_bench.html", include_plotlyjs=True)
    print(f"wrote {out / 'compare_bench.csv'} and {out / 'compare_bench.html'}")


if __name__ == "__main__":
    main()
