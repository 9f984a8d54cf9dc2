#!/usr/bin/env bash
# Run one fuzz target (plain, latex, audit, at_json) for a while: ./run.sh TARGET [SECONDS] [RUNS]
# (default 60 s; with RUNS, stop after that many executions, e.g. ./run.sh plain 0 10000000).
# Needs a nightly toolchain. Uses cargo-fuzz when it is installed; otherwise builds the target
# with the same coverage instrumentation cargo-fuzz would use and runs libFuzzer directly.
# The corpus grows in corpus/TARGET (seeded from the test cases), crashes land in artifacts/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
name="${1:?usage: ./run.sh plain|latex|audit|at_json [SECONDS] [RUNS]}"
secs="${2:-60}"
runs="${3:--1}"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
corpus="corpus/$name"
mkdir -p "$corpus" artifacts
cases=../tests/cases
case "$name" in
  latex)
    # The LaTeX test cases' source lines, without the headers.
    for f in "$cases"/latex/*/*.txt; do grep -v '^# ' "$f" > "$corpus/$(basename "$f" .txt)" || true; done
    dict=(-dict=latex.dict) ;;
  plain)
    # Every `expr:` line of the gradient cases and every `input` of the simplifier's rules.
    i=0
    while IFS= read -r line; do printf '%s' "$line" > "$corpus/seed_$i"; i=$((i + 1)); done \
      < <(sed -n 's/^expr: //p' "$cases"/grad/*.txt; sed -n 's/^input = "\(.*\)"$/\1/p' "$cases"/simplify/rules.toml)
    dict=() ;;
  audit)
    # The noisy and clean homework documents, behind a byte that picks the problem file.
    for d in "$cases"/audit_noisy/*/; do { printf '\0'; cat "$d/doc.md"; } > "$corpus/$(basename "$d")"; done
    for f in "$cases"/audit/*/*.md; do [[ -f "$f" ]] && { printf '\0'; cat "$f"; } > "$corpus/$(basename "$(dirname "$f")")_$(basename "$f")"; done
    dict=(-dict=latex.dict) ;;
  at_json)
    printf '%s' '{"W": [[1,2],[3,4],[5,6]], "x": [1, -1], "y": [1,0,1], "a": 0.5, "A": [[1,0],[0,1]], "S": [[2,1],[1,2]]}' > "$corpus/seed_0"
    printf '%s' '{"W": [[1e308]], "x": [-1e-308], "y": [0], "a": -1, "A": [[0]], "S": [[0]]}' > "$corpus/seed_1"
    dict=() ;;
  *) echo "unknown target $name (plain, latex, audit, at_json)" >&2; exit 2 ;;
esac
args=("${dict[@]}" -max_total_time="$secs" -runs="$runs" -max_len=4096 -timeout=10 -artifact_prefix=artifacts/)
[[ "$secs" == 0 ]] && args=("${dict[@]}" -runs="$runs" -max_len=4096 -timeout=10 -artifact_prefix=artifacts/)
if command -v cargo-fuzz >/dev/null; then
    exec cargo +nightly fuzz run --fuzz-dir . "$name" "$corpus" -- "${args[@]}"
fi
target="$(rustc +nightly -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions" \
    cargo +nightly build --release --target "$target" --bin "$name"
exec "target/$target/release/$name" "$corpus" "${args[@]}"
