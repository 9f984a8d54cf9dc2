#!/usr/bin/env bash
# Run the LaTeX fuzz target for a while (default 60 s): ./run.sh [SECONDS]
# Needs a nightly toolchain. Uses cargo-fuzz when it is installed; otherwise builds the target
# with the same coverage instrumentation cargo-fuzz would use and runs libFuzzer directly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
secs="${1:-60}"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
mkdir -p corpus/latex artifacts
# Seed the corpus with the LaTeX test cases (their source lines, without the headers).
for f in ../tests/cases/latex/*/*.txt; do
    grep -v '^# ' "$f" > "corpus/latex/$(basename "$f" .txt)" || true
done
args=(-dict=latex.dict -max_total_time="$secs" -max_len=4096 -artifact_prefix=artifacts/)
if command -v cargo-fuzz >/dev/null; then
    exec cargo +nightly fuzz run latex corpus/latex -- "${args[@]}"
fi
target="$(rustc +nightly -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions" \
    cargo +nightly build --release --target "$target" --bin latex
exec "target/$target/release/latex" corpus/latex "${args[@]}"
