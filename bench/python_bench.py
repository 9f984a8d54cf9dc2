"""matdiff's Python package on the anchor problems: value+gradient through `matdiff.compile`,
timed like ../shared/anchors (median of >= 10 calls after 2 warm-ups, >= 0.5 s of timed work),
next to the NumPy/SciPy closed forms (the anchors' own code, timed here in the same process,
interleaved with matdiff's) and, when given, the Rust evaluator's figures (matdiff-bench JSON)
and the anchors' JAX figures (jax_numpy_default.json) from the same run; then the per-call
overhead on 2x2 inputs. Writes a Markdown report (stdout, or --out FILE) and --json FILE.

Usage: python bench/python_bench.py [--rust matdiff.json ...] [--anchors jax_numpy_default.json]
       [--out report.md] [--json results.json] [--quick]
Run by bench/python_run.sh, which produces the two JSON files first.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit

import numpy as np
import scipy.linalg as sla

import matdiff


def median_time(fn, reps=10, warmup=2, min_total=0.5, max_reps=200):
    """The anchors' timing rule (common.py): median wall time of fn() over >= reps calls."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= reps and (time.perf_counter() - start >= min_total or len(times) >= max_reps):
            break
    return statistics.median(times)


def relerr(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


# ------------------------------------------------------------------------------------------
# The problems, as matdiff expressions (bench/src/problems.rs) with the anchors' sizes and data
# distributions, and the anchors' closed forms (jax_numpy_bench.py), verbatim in substance.


def mm(A, B):
    """A @ B through SciPy's BLAS, as the anchors' single-library closed forms do."""
    return sla.blas.dgemm(1.0, B.T, A.T).T


def problems(quick):
    rng = np.random.default_rng(0)
    out = []

    # P1 batched linear autoencoder
    n, m, N = (200, 20, 200) if quick else (1000, 100, 1000)
    W = rng.standard_normal((m, n)) / np.sqrt(n)
    X = rng.standard_normal((n, N))

    def p1_vg(W, X):
        Z = W @ X
        R = W.T @ Z - X
        return 0.5 * np.vdot(R, R), (W @ R) @ X.T + Z @ R.T

    out.append(
        dict(
            id="P1",
            title="P1 batched linear autoencoder",
            sizes=f"n={n}, m={m}, N={N}",
            expr="0.5*norm2(W'*W*X - X)^2",
            decl="W: matrix(m,n); X: matrix(n,N)",
            wrt=["W"],
            inputs=dict(W=W, X=X),
            closed=[("NumPy closed form W.T@(W@X)", lambda: p1_vg(W, X))],
            ref=lambda: p1_vg(W, X)[1],
        )
    )

    # P2 GPLVM
    N2, q2, D2 = (200, 5, 10) if quick else (1000, 10, 50)
    a, b = 0.7, 2.0
    X2, Y2 = rng.standard_normal((N2, q2)), rng.standard_normal((N2, D2))

    def p2_chol(X, Y):
        D = Y.shape[1]
        K = a * mm(X, X.T)
        K[np.diag_indices_from(K)] += 1 / b
        cf = sla.cho_factor(K, lower=True, check_finite=False)
        Lc = cf[0]
        Al = sla.solve_triangular(Lc, Y, lower=True, check_finite=False)
        val = -D * np.sum(np.log(np.diag(Lc))) - 0.5 * np.sum(Al * Al)
        KiY = sla.solve_triangular(Lc, Al, lower=True, trans="T", check_finite=False)
        KiX = sla.cho_solve(cf, X, check_finite=False)
        return val, a * (mm(KiY, mm(KiY.T, X)) - D * KiX)

    def p2_woodbury(X, Y):
        N, q = X.shape
        D = Y.shape[1]
        L = np.linalg.cholesky(np.eye(q) + a * b * (X.T @ X))
        logdetK = -N * np.log(b) + 2 * np.sum(np.log(np.diag(L)))
        KiY = b * (Y - a * b * (X @ sla.cho_solve((L, True), X.T @ Y, check_finite=False)))
        Ci = sla.cho_solve((L, True), np.eye(q), check_finite=False)
        return -D / 2 * logdetK - 0.5 * np.sum(Y * KiY), a * (KiY @ (KiY.T @ X) - D * b * (X @ Ci))

    out.append(
        dict(
            id="P2",
            title="P2 GPLVM",
            sizes=f"N={N2}, q={q2}, D={D2}",
            expr="-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
            decl="X: matrix(N,q); Y: matrix(N,DY); D: scalar; a: scalar; b: scalar",
            wrt=["X"],
            inputs=dict(X=X2, Y=Y2, D=float(D2), a=a, b=b),
            closed=[
                ("SciPy closed form, Cholesky", lambda: p2_chol(X2, Y2)),
                ("NumPy closed form, Woodbury", lambda: p2_woodbury(X2, Y2)),
            ],
            ref=lambda: p2_chol(X2, Y2)[1],
        )
    )

    # P5 PPCA
    d5, q5 = (200, 5) if quick else (1000, 20)
    Nobs, s = 500.0, 0.5
    U = rng.standard_normal((d5, q5)) / np.sqrt(q5)
    G5 = rng.standard_normal((d5, 2 * d5))
    S5 = (G5 @ G5.T) / (2 * d5)

    def p5_chol(U, S):
        C = U @ U.T
        C[np.diag_indices_from(C)] += s
        Lc, _ = sla.lapack.dpotrf(C, lower=1)
        Ci, _ = sla.lapack.dpotri(Lc, lower=1)
        Ci = np.tril(Ci) + np.tril(Ci, -1).T
        val = -Nobs / 2 * (2 * np.sum(np.log(np.diag(Lc))) + np.sum(Ci * S))
        CiU = Ci @ U
        return val, Nobs * (Ci @ (S @ CiU) - CiU)

    def p5_woodbury(U, S):
        d, q = U.shape
        M = U.T @ U
        M[np.diag_indices_from(M)] += s
        Lm = np.linalg.cholesky(M)
        Mi = np.linalg.inv(M)
        SU = S @ U
        logdet = (d - q) * np.log(s) + 2 * np.sum(np.log(np.diag(Lm)))
        tr = (np.trace(S) - np.sum(Mi * (U.T @ SU))) / s
        P = U @ Mi
        SP = SU @ Mi
        CiSP = (SP - U @ (Mi @ (U.T @ SP))) / s
        return -Nobs / 2 * (logdet + tr), Nobs * (CiSP - P)

    out.append(
        dict(
            id="P5",
            title="P5 PPCA",
            sizes=f"d={d5}, q={q5}",
            expr="-Nobs/2*(logdet(U*U' + s*eye(d)) + tr(inv(U*U' + s*eye(d))*S))",
            decl="U: matrix(d,q); S: symmetric(d); Nobs: scalar; s: scalar",
            wrt=["U"],
            inputs=dict(U=U, S=S5, Nobs=Nobs, s=s),
            closed=[
                ("NumPy/SciPy closed form, Cholesky", lambda: p5_chol(U, S5)),
                ("NumPy closed form, Woodbury", lambda: p5_woodbury(U, S5)),
            ],
            ref=lambda: p5_chol(U, S5)[1],
        )
    )

    # P3 batched Swish MLP
    Din, H, C, B = (196, 128, 10, 64) if quick else (784, 512, 10, 256)
    W1 = rng.standard_normal((H, Din)) / np.sqrt(Din)
    b1 = 0.1 * rng.standard_normal(H)
    W2 = rng.standard_normal((C, H)) / np.sqrt(H)
    b2 = 0.1 * rng.standard_normal(C)
    X3, T3 = rng.standard_normal((Din, B)), rng.standard_normal((C, B))

    def sigmoid(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    def p3_vg(W1, b1, W2, b2, X, T):
        Z1 = W1 @ X
        Z1 += b1[:, None]
        sg = sigmoid(Z1)
        Hs = Z1 * sg
        E = W2 @ Hs
        E += b2[:, None]
        E -= T
        val = 0.5 * np.vdot(E, E)
        gW2 = E @ Hs.T
        gb2 = E.sum(axis=1)
        dZ1 = (W2.T @ E) * (sg * (1.0 + Z1 * (1.0 - sg)))
        return val, (dZ1 @ X.T, dZ1.sum(axis=1), gW2, gb2)

    out.append(
        dict(
            id="P3",
            title="P3 batched Swish MLP",
            sizes=f"D={Din}, H={H}, C={C}, B={B}",
            expr="0.5*norm2(W2*swish(W1*X + b1*vector(1)') + b2*vector(1)' - T)^2",
            decl="W1: matrix(H,Din); b1: vector(H); W2: matrix(C,H); b2: vector(C); X: matrix(Din,B); T: matrix(C,B)",
            wrt=["W1", "b1", "W2", "b2"],
            inputs=dict(W1=W1, b1=b1, W2=W2, b2=b2, X=X3, T=T3),
            closed=[("NumPy closed form (backprop by hand)", lambda: p3_vg(W1, b1, W2, b2, X3, T3))],
            ref=lambda: p3_vg(W1, b1, W2, b2, X3, T3)[1][0],
        )
    )
    return out


def bench_problem(p, rounds):
    """Median times (ms) of matdiff (C-order and Fortran-order inputs) and each closed form,
    interleaved over `rounds` rounds (the best round's median is kept for each)."""
    f = matdiff.compile(p["expr"], wrt=p["wrt"], decl=p["decl"])
    c_in = p["inputs"]
    f_in = {k: np.asfortranarray(v) if isinstance(v, np.ndarray) else v for k, v in c_in.items()}
    value, grads = f(**c_in)
    err = relerr(grads[0], p["ref"]())
    assert err < 1e-8, (p["id"], err)
    best = {}

    def keep(name, ms):
        best[name] = min(best.get(name, float("inf")), ms)

    for _ in range(rounds):
        keep("matdiff", 1e3 * median_time(lambda: f(**c_in)))
        for name, fn in p["closed"]:
            keep(name, 1e3 * median_time(fn))
        keep("matdiff F", 1e3 * median_time(lambda: f(**f_in)))
    return best, err


def overhead():
    """Per-call time (µs) on 2x2 inputs: matdiff.compile'd value+gradient vs the same in NumPy."""
    W, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, -1.0])
    f = matdiff.compile("0.5*norm2(W'*W*x - x)^2", wrt="W", decl="W: matrix(m,n); x: vector(n)")
    g = matdiff.compile("x'*x", decl="x: vector(n)")

    def numpy_vg():
        r = W.T @ (W @ x) - x
        return 0.5 * (r @ r), W @ np.outer(r, x) + np.outer(W @ x, r)

    rows = []
    for name, fn in [
        ("matdiff.compile(autoencoder, wrt=W), f(W=W, x=x): value + gradient", lambda: f(W=W, x=x)),
        ("matdiff.compile(\"x'*x\"), value only", lambda: g(x=x)),
        ("NumPy closed form, value + gradient", numpy_vg),
    ]:
        fn()
        n = 20000
        best = min(timeit.repeat(fn, number=n, repeat=5)) / n
        rows.append((name, best * 1e6))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rust", action="append", default=[], help="matdiff-bench JSON of the same run (repeat: the fastest per problem)")
    ap.add_argument(
        "--rust-bin",
        help="the matdiff-bench binary: run before the Python measurements and after each round, "
        "the fastest run per problem kept (so a load change does not land on one side only)",
    )
    ap.add_argument("--anchors", help="the anchors' jax_numpy_default.json of the same run")
    ap.add_argument("--out", help="write the Markdown report here")
    ap.add_argument("--json", help="write the figures as JSON here")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    rust = {}

    def add_rust(rows):
        for r in rows:
            if r["problem"] not in rust or r["fn_plus_grad_ms"] < rust[r["problem"]]["fn_plus_grad_ms"]:
                rust[r["problem"]] = r

    def run_rust():
        if args.rust_bin:
            cmd = [args.rust_bin] + (["--quick"] if args.quick else [])
            add_rust(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["rows"])

    for path in args.rust:
        add_rust(json.load(open(path))["rows"])
    anchors = json.load(open(args.anchors))["rows"] if args.anchors else []
    titles = {"P1": "P1 batched", "P2": "P2 GPLVM", "P3": "P3 MLP swish (batched)", "P5": "P5 PPCA"}

    run_rust()
    results = {}
    for _ in range(args.rounds):
        for p in problems(args.quick):
            times, err = bench_problem(p, 1)
            print(f"{p['title']:32s} {times}", file=sys.stderr, flush=True)
            if p["id"] in results:
                best = results[p["id"]][1]
                times = {k: min(v, best[k]) for k, v in times.items()}
            results[p["id"]] = (p, times, err)
        run_rust()
    results = list(results.values())
    over = overhead()

    lines = []
    lines.append(
        "| problem | sizes | matdiff Python f+grad (C-order inputs) | F-order inputs | Rust evaluator f+grad | Python / Rust "
        "| NumPy closed form(s) f+grad, same process | Python / best closed form | best JAX f+grad (anchors) | Python / JAX |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    out_json = []
    for p, t, err in results:
        py = t["matdiff"]
        r = rust.get(p["id"])
        closed = [(name, t[name]) for name, _ in p["closed"]]
        best_closed = min(closed, key=lambda c: c[1])
        jax_rows = [
            a
            for a in anchors
            if a["problem"] == titles[p["id"]]
            and a["dtype"] == "float64"
            and a["impl"].startswith("jax")
            and a["fn_plus_grad_ms"]
        ]
        jax_best = min(jax_rows, key=lambda a: a["fn_plus_grad_ms"]) if jax_rows else None
        lines.append(
            f"| {p['id']} | {p['sizes']} | {py:.2f} ms | {t['matdiff F']:.2f} ms | "
            + (f"{r['fn_plus_grad_ms']:.2f} ms | {py / r['fn_plus_grad_ms']:.2f}× | " if r else "— | — | ")
            + "; ".join(f"{ms:.2f} ms ({name})" for name, ms in closed)
            + f" | {py / best_closed[1]:.2f}× | "
            + (
                f"{jax_best['fn_plus_grad_ms']:.2f} ms ({jax_best['impl']}) | {py / jax_best['fn_plus_grad_ms']:.2g}× |"
                if jax_best
                else "— | — |"
            )
        )
        out_json.append(
            dict(problem=p["id"], sizes=p["sizes"], times_ms=t, rust_ms=r["fn_plus_grad_ms"] if r else None, grad_rel_err=err)
        )
    lines.append("")
    lines.append("Per-call time on 2×2 inputs (best of 5 × 20 000 calls):")
    lines.append("")
    lines.append("| call | µs per call |")
    lines.append("|---|---|")
    for name, us in over:
        lines.append(f"| {name} | {us:.2f} |")
    env = dict(
        date=datetime.date.today().isoformat(),
        python=sys.version.split()[0],
        numpy=np.__version__,
        matdiff=matdiff.__version__,
        platform=platform.platform(),
        cpus=os.cpu_count(),
        load=os.getloadavg() if hasattr(os, "getloadavg") else None,
    )
    lines.append("")
    lines.append(
        f"Measured {env['date']}: Python {env['python']}, NumPy {env['numpy']}, {env['cpus']} CPUs, "
        f"load average at the end {env['load'][0]:.1f}."
        if env["load"]
        else f"Measured {env['date']}."
    )
    report = "\n".join(lines) + "\n"
    if args.out:
        open(args.out, "w").write(report)
    if args.json:
        json.dump(dict(env=env, rows=out_json, overhead_us=over), open(args.json, "w"), indent=1)
    print(report)


if __name__ == "__main__":
    main()
