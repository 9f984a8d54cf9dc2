#!/usr/bin/env python3
"""Check the code `matdiff grad|derivative|hessian --emit LANG` writes, by running it.

For every case (expr:/decl:/wrt: blocks, as in crates/matdiff/tests/cases/emit/*.txt) and
every requested language, emit the module, run its check_gradient() (central differences at
random inputs), and for JAX and PyTorch also compare value and gradients with the NumPy
module at the same inputs (the NumPy modules themselves are compared with matdiff's own
evaluation by `cargo test -p matdiff --test all emit::`). Rust modules are compiled together in a
scratch cargo project that depends on faer, and each check_gradient() is run.

The derivative cases (kind:/expr:/decl:/wrt: blocks of crates/matdiff/tests/cases/derivative/,
kind derivative, hessian or hvp with the direction V) are emitted with `matdiff derivative` /
`matdiff hessian [--direction V] --emit LANG` and their check_jacobian(), check_hessian() or
check_hvp() run the same way (JAX and PyTorch results also compared with the NumPy module's).

    cargo build -p matdiff-cli
    scripts/check_emitted.py                        # every language that is available
    scripts/check_emitted.py --lang jax,torch       # only these
    scripts/check_emitted.py --lang rust --workdir /tmp/emit-rs   # keep the cargo project
    scripts/check_emitted.py my_cases.txt

Languages whose package is missing are skipped with a message (rust needs cargo and network
access to crates.io, or faer in the local cargo cache). Exit status 1 when any case fails.
"""

import argparse
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LANGS = ["numpy", "jax", "torch", "rust"]


def read_cases(path):
    """expr:/decl:/wrt: blocks; indented lines continue a multi-line expr."""
    cases, last = [], None
    stem = os.path.splitext(os.path.basename(path))[0]
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line[:1].isspace() and line.strip() and last == "expr":
            cases[-1]["expr"] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            last = None
            continue
        key, value = key.strip(), value.strip()
        if key == "expr":
            cases.append({"name": f"{stem}_{len(cases) + 1}", "expr": value, "decl": "", "wrt": []})
        elif key == "decl" and cases:
            cases[-1]["decl"] = value
        elif key == "wrt" and cases and value not in cases[-1]["wrt"]:
            cases[-1]["wrt"].append(value)
        else:
            last = None
            continue
        last = key
    return [c for c in cases if c["wrt"]]


def read_derivative_cases(path):
    """Blocks of kind:/expr:/decl:/wrt: lines separated by blank lines (other keys ignored)."""
    cases, cur = [], None
    name = os.path.basename(path)
    for i, line in enumerate(open(path, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if line.strip().startswith("#"):
            continue
        if not line.strip():
            cur = None
            continue
        if cur is None:
            cur = {"name": f"{name}:{i}", "kind": "", "expr": "", "decl": "", "wrt": []}
            cases.append(cur)
        if line[:1].isspace():
            cur["expr"] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("kind", "expr", "decl"):
            cur[key] = value
        elif key == "wrt":
            cur["wrt"] = [value]
    return [c for c in cases if c["kind"] and c["wrt"]]


# What a derivative module exports, by kind: the function and its check.
EXPORTS = {
    "grad": ("f_and_grad", "check_gradient"),
    "derivative": ("jacobian", "check_jacobian"),
    "hessian": ("f_grad_hess", "check_hessian"),
    "hvp": ("f_grad_hvp", "check_hvp"),
}


def emit(matdiff, case, lang):
    kind = case.get("kind", "grad")
    wrt = ",".join(case["wrt"])
    if kind == "grad":
        cmd = [matdiff, "grad", "--emit", lang, "--decl", case["decl"], "--wrt", wrt, "--", case["expr"]]
    else:
        sub = "derivative" if kind == "derivative" else "hessian"
        cmd = [matdiff, sub, "--emit", lang, "--decl", case["decl"], "--wrt", wrt]
        if kind == "hvp":
            cmd += ["--direction", "V"]
        cmd += ["--", case["expr"]]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"matdiff failed: {out.stderr.strip()}")
    return out.stdout


def importable(module):
    return importlib.util.find_spec(module) is not None


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def rel_err(a, b):
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    # Relative to the results' own size, no absolute floor (a tiny loss's derivative is judged as
    # strictly as a large one's; all-zero results must match exactly).
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    diff = float(np.max(np.abs(a - b), initial=0.0))
    if not np.isfinite(diff):
        return float("inf")
    return diff / scale if scale > 0 else diff


def results(mod, kind, inputs):
    """What a module computes at `inputs`: the value and the derivative(s), as arrays."""
    import numpy as np

    if kind == "grad":
        value, grads = mod._value_and_grads(inputs)
        return [value] + list(grads)
    if kind == "derivative":
        got = [mod.f_value(**inputs), mod.jacobian(**inputs)]
    else:
        got = list(getattr(mod, EXPORTS[kind][0])(**inputs))
    return [np.asarray(g, dtype=np.float64) for g in got]


def check_python(matdiff, cases, lang, workdir):
    """Failures (one line each) of the `lang` modules."""
    import numpy as np

    failures = []
    for i, case in enumerate(cases):
        kind = case.get("kind", "grad")
        try:
            path = os.path.join(workdir, f"{lang}_{i}.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(emit(matdiff, case, lang))
            mod = load(path, f"{lang}_{i}")
            err = getattr(mod, EXPORTS[kind][1])(verbose=False)
            if lang != "numpy":
                ref_path = os.path.join(workdir, f"numpy_ref_{i}.py")
                with open(ref_path, "w", encoding="utf-8") as f:
                    f.write(emit(matdiff, case, "numpy"))
                ref = load(ref_path, f"numpy_ref_{i}")
                rng = np.random.default_rng(i)
                for _attempt in range(30):  # a point where the reference is finite
                    inputs = ref._random_inputs(rng, 2, 5)
                    want = results(ref, kind, inputs)
                    if all(np.all(np.isfinite(w)) for w in want):
                        break
                got = results(mod, kind, inputs)
                diff = max(rel_err(g, w) for g, w in zip(got, want))
                if not diff < 1e-8:
                    raise AssertionError(f"differs from the NumPy module by {diff:.1e}")
            print(f"  ok    {case['name']}: {EXPORTS[kind][1]} {err:.1e}")
        except Exception as e:  # report and go on with the other cases
            failures.append(f"{case['name']} `{case['expr']}`: {type(e).__name__}: {e}")
            print(f"  FAIL  {failures[-1]}")
    return failures


CARGO_TOML = """[package]
name = "check_emitted"
version = "0.1.0"
edition = "2021"

[dependencies]
faer = { version = "0.24", default-features = false, features = ["std", "linalg"] }
"""


def check_rust(matdiff, cases, workdir):
    src = os.path.join(workdir, "src")
    os.makedirs(src, exist_ok=True)
    with open(os.path.join(workdir, "Cargo.toml"), "w") as f:
        f.write(CARGO_TOML)
    mods, calls, failures = [], [], []
    for i, case in enumerate(cases):
        try:
            code = emit(matdiff, case, "rust")
        except RuntimeError as e:
            failures.append(f"{case['name']} `{case['expr']}`: {e}")
            print(f"  FAIL  {failures[-1]}")
            continue
        with open(os.path.join(src, f"case_{i}.rs"), "w", encoding="utf-8") as f:
            f.write(code)
        mods.append(f"mod case_{i};")
        check = EXPORTS[case.get("kind", "grad")][1]
        calls.append(f'    run("{case["name"]}", "{check}", case_{i}::{check});')
    main = "\n".join(mods) + """

fn run(name: &str, what: &str, check: fn(u64) -> f64) {
    match std::panic::catch_unwind(|| check(1)) {
        Ok(err) => println!("  ok    {name}: {what} {err:.1e}"),
        Err(_) => println!("  FAIL  {name}"),
    }
}

fn main() {
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
""" + "\n".join(calls) + "\n}\n"
    with open(os.path.join(src, "main.rs"), "w") as f:
        f.write(main)
    out = subprocess.run(["cargo", "run", "--release", "--quiet"], cwd=workdir, capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    if out.returncode != 0:
        sys.stdout.write(out.stderr[-4000:])
        return failures + ["the Rust project did not build or run"]
    return failures + [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("FAIL")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "cases",
        nargs="*",
        help="case files (default: crates/matdiff/tests/cases/emit/*.txt and the derivative cases)",
    )
    ap.add_argument("--lang", default=",".join(LANGS), help="comma-separated: numpy,jax,torch,rust")
    ap.add_argument("--matdiff", default=os.path.join(ROOT, "target", "debug", "matdiff"))
    ap.add_argument("--workdir", help="where to write the modules (default: a temporary directory)")
    args = ap.parse_args()

    if not os.path.exists(args.matdiff):
        sys.exit(f"no matdiff binary at {args.matdiff}: run `cargo build -p matdiff-cli` or pass --matdiff")
    files = args.cases or sorted(glob.glob(os.path.join(ROOT, "crates/matdiff/tests/cases/emit/*.txt")))
    cases = [c for f in files for c in read_cases(f)]
    if not args.cases:
        for f in sorted(glob.glob(os.path.join(ROOT, "crates/matdiff/tests/cases/derivative/*.txt"))):
            cases += read_derivative_cases(f)
    workdir = args.workdir or tempfile.mkdtemp(prefix="matdiff-emitted-")
    os.makedirs(workdir, exist_ok=True)
    print(f"{len(cases)} cases; modules in {workdir}")

    failures, ran = [], []
    for lang in args.lang.split(","):
        lang = lang.strip()
        if lang not in LANGS:
            sys.exit(f"unknown language {lang!r}; choose from {', '.join(LANGS)}")
        if lang == "rust":
            if subprocess.run(["cargo", "--version"], capture_output=True).returncode != 0:
                print("rust: SKIPPED (cargo not found)")
                continue
            print("rust:")
            failures += check_rust(args.matdiff, cases, os.path.join(workdir, "rust"))
        else:
            needs = ["numpy"] + ([] if lang == "numpy" else [lang])
            missing = [m for m in needs if not importable(m)]
            if missing:
                print(f"{lang}: SKIPPED ({', '.join(missing)} not installed)")
                continue
            print(f"{lang}:")
            failures += check_python(args.matdiff, cases, lang, workdir)
        ran.append(lang)
    print(f"checked {', '.join(ran) or 'nothing'}: {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
