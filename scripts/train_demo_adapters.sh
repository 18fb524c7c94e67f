#!/usr/bin/env bash
# Retrain the three demo adapters in assets/adapters from the data in assets/data.
# (Data: `.venv/bin/python scripts/make_demo_data.py`.) About 10-12 min each on 2 CPU cores.
# Usage: bash scripts/train_demo_adapters.sh [pirate|json_answer|bullets ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(pirate json_answer bullets)
for name in "${names[@]}"; do
  case "$name" in
    pirate)      args=(--method lora --rank 4 --targets q_proj v_proj --learning-rate 3e-3) ;;
    json_answer) args=(--method lora --rank 16 --targets all-linear --learning-rate 1e-3 --save-dtype float16) ;;
    bullets)     args=(--method dora --rank 8 --targets q_proj k_proj v_proj o_proj --learning-rate 2e-3) ;;
    *) echo "unknown demo adapter: $name (pirate, json_answer, bullets)" >&2; exit 2 ;;
  esac
  "$PY" -m adapters_ui train --data "assets/data/$name.jsonl" --output "assets/adapters/$name" \
    --steps 80 --batch-size 8 --seed 0 "${args[@]}"
done
