#!/usr/bin/env python3
"""Record the API answers the mock server replays, by running a matdiff binary.

    python3 crates/matdiff-web/dev/record.py [--bin /work/bin/matdiff-old]

Writes dev/fixtures/<endpoint>.json (a list of {"request", "status", "body"}) and
dev/fixtures/examples.json (the seed models of crates/matdiff/src/examples.rs, as the page's
examples menu wants them). Requests: every example through every endpoint the page calls, plus
the cases the browser tests use (tests/browser/cases.py).
"""

import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "browser"))

from cli_backend import CliBackend, normalize  # noqa: E402
import cases  # noqa: E402

EMIT_TARGETS = ["numpy", "jax", "torch", "rust"]


def rust_examples():
    """The seed models, read from crates/matdiff/src/examples.rs."""
    src = open(os.path.join(ROOT, "crates", "matdiff", "src", "examples.rs")).read()
    out = []
    for block in re.findall(r"Example \{(.*?)\n    \}", src, re.S):
        def field(name):
            m = re.search(name + r': "((?:[^"\\]|\\.)*)"', block)
            return m.group(1).encode().decode("unicode_escape") if m else ""
        wrt = re.findall(r'"([^"]+)"', re.search(r"wrt: &\[(.*?)\]", block).group(1))
        out.append({"name": field("name"), "title": field("title"), "expr": field("expr"),
                    "decl": field("decls"), "wrt": ",".join(wrt)})
    return out


def page_requests(expr, decl, wrt):
    """What the page sends for one derivation (see app.js: derive())."""
    base = {"expr": expr, "decl": decl, "wrt": wrt}
    yield "read", {"expr": expr, "decl": decl}
    yield "grad", dict(base, format="json")
    yield "grad", dict(base, format="json", steps=True)
    yield "graph", dict(base, format="svg")
    for target in EMIT_TARGETS:
        yield "emit", dict(base, emit=target)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("MATDIFF_BIN", "/work/bin/matdiff-old"))
    args = ap.parse_args()
    backend = CliBackend(args.bin, os.path.join(ROOT, "problems"))
    fixtures_dir = os.path.join(HERE, "fixtures")
    os.makedirs(fixtures_dir, exist_ok=True)

    examples = rust_examples()
    requests = []
    for ex in examples:
        requests += list(page_requests(ex["expr"], ex["decl"], ex["wrt"]))
    for expr, decl, wrt in cases.DERIVE:
        requests += list(page_requests(expr, decl, wrt))
    requests += cases.EXTRA_REQUESTS()

    by_endpoint = {}
    seen = set()
    for endpoint, body in requests:
        key = normalize(endpoint, body)
        if key in seen:
            continue
        seen.add(key)
        status, answer = backend.handle(endpoint, body)
        by_endpoint.setdefault(endpoint, []).append(
            {"request": body, "status": status, "body": answer})
        print(f"{status} {endpoint} {key[len(endpoint) + 1:][:100]}")

    for name in os.listdir(fixtures_dir):
        if name.endswith(".json"):
            os.remove(os.path.join(fixtures_dir, name))
    for endpoint, entries in by_endpoint.items():
        with open(os.path.join(fixtures_dir, endpoint + ".json"), "w") as f:
            json.dump(entries, f, indent=1, ensure_ascii=False)
            f.write("\n")
    with open(os.path.join(fixtures_dir, "examples.json"), "w") as f:
        json.dump(examples, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(seen)} answers recorded in {fixtures_dir}")


if __name__ == "__main__":
    main()
