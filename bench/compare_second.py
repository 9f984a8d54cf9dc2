"""Join matdiff-bench's second-order rows with the anchors' (hessian.json from hessian_bench.py,
and H1 from jax_numpy_default.json when given) into a Markdown table of ratios and the issue's goals:
full Hessians <= 1.0x the NumPy closed form and <= 0.25x jax.hessian; HVPs <= 0.5x JAX's jvp of
grad and <= 3x matdiff's own value+gradient.

Usage: python3 compare_second.py matdiff.json hessian.json [jax_numpy_default.json]"""
import json, sys

ours = json.load(open(sys.argv[1]))["second_order"]
anchors = json.load(open(sys.argv[2]))["rows"]
h1 = []
if len(sys.argv) > 3:
    try:
        h1 = json.load(open(sys.argv[3])).get("hessian", [])
    except FileNotFoundError:
        pass


def anchor(pid, pred):
    """The fastest anchor row of problem `pid` whose implementation matches `pred`."""
    rows = [r for r in anchors if r["problem"].startswith(pid + " ") and pred(r["impl"])]
    if pid == "H1":
        rows = [dict(r, problem="H1") for r in h1 if pred(r["impl"])]
    return min(rows, key=lambda r: r["ms"]) if rows else None


def cell(ms, a, goal):
    if a is None:
        return "—", "—"
    ratio = ms / a["ms"]
    mark = "" if goal is None else (" ✓" if ratio <= goal else " ✗")
    return f"{a['ms']:.2f} ms ({a['impl']})", f"{ratio:.2g}×{mark}"


print("| problem | sizes | matdiff | JAX | ratio (goal) | NumPy closed form | ratio (goal ≤ 1) | matdiff value+grad | HVP / value+grad (goal ≤ 3) |")
print("|---|---|---|---|---|---|---|---|---|")
for r in ours:
    pid, ms = r["problem"], r["ms"]
    if r["kind"] == "hessian":
        j = anchor(pid, lambda i: i.startswith("jax.jit(jax.hessian"))
        n = anchor(pid, lambda i: i.startswith("numpy"))
        (js, jr), (ns, nr) = cell(ms, j, 0.25), cell(ms, n, 1.0)
        jr = jr.replace("×", "× (≤ 0.25)", 1) if j else jr
        vg, own = "—", "—"
    else:
        j = anchor(pid, lambda i: i.startswith("jax.jit(jvp"))
        (js, jr), (ns, nr) = cell(ms, j, 0.5), ("—", "—")
        jr = jr.replace("×", "× (≤ 0.5)", 1) if j else jr
        vg = f"{r['value_grad_ms']:.2f} ms"
        own = f"{ms / r['value_grad_ms']:.2g}×" + (" ✓" if ms <= 3 * r["value_grad_ms"] else " ✗")
    print(f"| {r['title']} | {r['sizes']} | {ms:.2f} ms | {js} | {jr} | {ns} | {nr} | {vg} | {own} |")
print()
print("Results (plain syntax, as matdiff derives them):")
print()
for r in ours:
    res = r["result"] if len(r["result"]) <= 160 else r["result"][:157] + "..."
    print(f"- {r['problem']}: `{res}`")
