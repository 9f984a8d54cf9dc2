#!/usr/bin/env bash
# Re-run every fixture in forms.toml and claims.toml with a matdiff binary; exit 1 on a mismatch.
#   verify.sh BINARY            explicit forms and verdicts (today's binary must pass)
#   verify.sh BINARY --gaps     ... plus what BINARY does with each input as typed
#   verify.sh BINARY --typed    ... and the typed forms must pass too (the goal of issue 11)
# Needs python3 >= 3.11 (tomllib); PYTHON=... to choose the interpreter.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 BINARY [--gaps|--typed]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  for c in python3.13 python3.12 python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import tomllib' 2>/dev/null; then py="$c"; break; fi
  done
fi
[ -n "$py" ] || { echo "verify.sh: needs python >= 3.11 (tomllib)" >&2; exit 2; }
bin="$1"; shift
case "$bin" in */*) bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")";; esac
exec "$py" "$here/verify.py" "$bin" "$@"
