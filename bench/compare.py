"""Join matdiff-bench's JSON with the anchors' (jax_numpy_default.json) into a Markdown table of ratios."""
import json, sys

ours = json.load(open(sys.argv[1]))
anchors = json.load(open(sys.argv[2]))["rows"]
TITLES = {"P1": "P1 batched", "P2": "P2 GPLVM", "P3": "P3 MLP swish (batched)", "P5": "P5 PPCA"}


def best(problem, pred):
    rows = [r for r in anchors if r["problem"] == problem and r["dtype"] == "float64" and pred(r["impl"]) and r["fn_plus_grad_ms"]]
    return min(rows, key=lambda r: r["fn_plus_grad_ms"]) if rows else None


def naive(problem):
    """JAX as a user writes the formula (the first JAX row: W.T@W@X, inv(K), slogdet+solve)."""
    rows = [r for r in anchors if r["problem"] == problem and r["dtype"] == "float64" and r["impl"].startswith("jax value_and_grad")]
    return rows[0] if rows else None


print("| problem | sizes | matdiff f | matdiff f+grad | grad/f | JAX f+grad (as written) | ratio | best JAX f+grad | ratio | best closed form f+grad | ratio |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in ours["rows"]:
    p = TITLES[r["problem"]]
    j, jb, c = naive(p), best(p, lambda i: i.startswith("jax")), best(p, lambda i: not i.startswith("jax"))
    cell = lambda a: ("—", "—") if a is None else (f"{a['fn_plus_grad_ms']:.2f} ms ({a['impl']})", f"{r['fn_plus_grad_ms'] / a['fn_plus_grad_ms']:.2g}×")
    (js, jr), (bs, br), (cs, cr) = cell(j), cell(jb), cell(c)
    print(f"| {r['problem']} | {r['sizes']} | {r['fn_ms']:.2f} ms | {r['fn_plus_grad_ms']:.2f} ms | {r['ratio']:.2f} | {js} | {jr} | {bs} | {br} | {cs} | {cr} |")
