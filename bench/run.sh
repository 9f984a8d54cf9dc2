#!/usr/bin/env bash
# Side-by-side run: the anchors (JAX, NumPy closed forms; ../shared/anchors) and matdiff's
# compiled evaluator on the same problems and sizes, one after the other on this machine,
# then tables with ratios (bench/results/results.md; second order: bench/results/second_order.md),
# then the scaling run (bench/results/scaling.md).
# Usage: bash bench/run.sh [--skip-anchors | --second]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${BENCH_OUT:-$ROOT/bench/results}"
mkdir -p "$OUT"
export ANCHORS_OUT="$OUT/anchors"
if [[ "${1:-}" == "--second" ]]; then
  # Second order only: hessian_bench.py, then matdiff's Hessians and HVPs (H1's anchors, from
  # jax_numpy_bench.py, are shown when an earlier full run left them in $ANCHORS_OUT).
  VENV=/tmp/anchors-venv
  [[ -x "$VENV/bin/python" ]] || { python3.11 -m venv "$VENV"; "$VENV/bin/pip" install -q -r "$ROOT/../shared/anchors/requirements.txt"; }
  (cd "$ROOT/../shared/anchors" && env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONWARNINGS=ignore \
    "$VENV/bin/python" hessian_bench.py > "$ANCHORS_OUT/hessian.log" 2>&1)
  cargo build --release -p matdiff-bench --manifest-path "$ROOT/Cargo.toml"
  "$ROOT/target/release/matdiff-bench" --only H1,H2,H3,H4,V1,V2,V3 > "$OUT/matdiff_second.json"
  python3 "$ROOT/bench/compare_second.py" "$OUT/matdiff_second.json" "$ANCHORS_OUT/hessian.json" \
    "$ANCHORS_OUT/jax_numpy_default.json" | tee "$OUT/second_order.md"
  exit 0
fi
if [[ "${1:-}" != "--skip-anchors" ]]; then
  ANCHORS="$ROOT/../shared/anchors"
  [[ -d "$ANCHORS" ]] || { echo "no anchors at $ANCHORS" >&2; exit 2; }
  bash "$ANCHORS/run.sh"
fi
cargo build --release -p matdiff-bench -p matdiff-cli --manifest-path "$ROOT/Cargo.toml"
"$ROOT/target/release/matdiff-bench" > "$OUT/matdiff.json"
python3 "$ROOT/bench/compare.py" "$OUT/matdiff.json" "$ANCHORS_OUT/jax_numpy_default.json" | tee "$OUT/results.md"
# Second order (issue 10): Hessians and HVPs against hessian_bench.py (H1 from jax_numpy_bench.py).
python3 "$ROOT/bench/compare_second.py" "$OUT/matdiff.json" "$ANCHORS_OUT/hessian.json" \
  "$ANCHORS_OUT/jax_numpy_default.json" | tee "$OUT/second_order.md"
# The scaling run: grad on definitions chains 1k-32k deep, time and bytes per output.
"$ROOT/target/release/scaling" --bin "$ROOT/target/release/matdiff" | tee "$OUT/scaling.md"
