#!/usr/bin/env bash
# The Python package next to the anchors and the Rust evaluator, in one run on this machine:
#   1. the anchors' JAX / NumPy benchmark (../shared/anchors/jax_numpy_bench.py, default threads),
#   2. matdiff-bench (the Rust evaluator on the same problems),
#   3. bench/python_bench.py (matdiff.compile from Python, the NumPy closed forms timed in the
#      same process, and the per-call overhead on 2x2 inputs),
# then bench/results/python.md. Usage: bash bench/python_run.sh [--skip-anchors]
# The anchors' virtualenv (/tmp/anchors-venv, from their requirements.txt) gets the package
# installed the README's way (pip install ./crates/matdiff-py).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${BENCH_OUT:-$ROOT/bench/results}"
ANCHORS="${ANCHORS:-$ROOT/../shared/anchors}"
VENV=/tmp/anchors-venv
mkdir -p "$OUT/anchors"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r "$ANCHORS/requirements.txt"
fi
"$VENV/bin/pip" install -q "$ROOT/crates/matdiff-py"
RUN="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONWARNINGS=ignore"
if [[ "${1:-}" != "--skip-anchors" ]]; then
  (cd "$ANCHORS" && ANCHORS_OUT="$OUT/anchors" ANCHOR_TAG=default $RUN "$VENV/bin/python" jax_numpy_bench.py \
    > "$OUT/anchors/jax_numpy_default.log" 2>&1)
fi
cargo build --release -p matdiff-bench --manifest-path "$ROOT/Cargo.toml"
# python_bench.py runs matdiff-bench (the Rust figures) before its measurements and after each
# round, and interleaves its own, so that a load change does not land on one side only.
$RUN "$VENV/bin/python" "$ROOT/bench/python_bench.py" --rust-bin "$ROOT/target/release/matdiff-bench" --rounds 2 \
  --anchors "$OUT/anchors/jax_numpy_default.json" --out "$OUT/python.md" --json "$OUT/python.json"
