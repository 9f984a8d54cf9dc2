#!/usr/bin/env bash
# Side-by-side run: the anchors (JAX, NumPy closed forms; ../shared/anchors) and matdiff's
# compiled evaluator on the same problems and sizes, one after the other on this machine,
# then a table with ratios (bench/results.md). Usage: bash bench/run.sh [--skip-anchors]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${BENCH_OUT:-$ROOT/bench/results}"
mkdir -p "$OUT"
export ANCHORS_OUT="$OUT/anchors"
if [[ "${1:-}" != "--skip-anchors" ]]; then
  ANCHORS="$ROOT/../shared/anchors"
  [[ -d "$ANCHORS" ]] || { echo "no anchors at $ANCHORS" >&2; exit 2; }
  bash "$ANCHORS/run.sh"
fi
cargo build --release -p matdiff-bench --manifest-path "$ROOT/Cargo.toml"
"$ROOT/target/release/matdiff-bench" > "$OUT/matdiff.json"
python3 "$ROOT/bench/compare.py" "$OUT/matdiff.json" "$ANCHORS_OUT/jax_numpy_default.json" | tee "$OUT/results.md"
