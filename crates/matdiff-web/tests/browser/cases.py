"""The inputs the browser tests type, shared with dev/record.py (which records the mock server's
answers for exactly these requests)."""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

AE_EXPR = "0.5*norm2(W'*W*x - x)^2"
AE_LATEX = r"\frac{1}{2}\|W^T W x - x\|^2"
AE_DECL = "W: matrix(m,n); x: vector(n)"
AE_WRT = "W"
AE_GRADIENT = "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'"

# A wrong claim (seed 002's final answer: misses the path through W').
WRONG_CLAIM = "2W(W^T W - I)xx^T"
RIGHT_CLAIM = "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'"

# A syntax error: the `(` of norm2 is never closed; the error's span is that `(`.
BAD_EXPR = "0.5*norm2(W'*W*x - x^2"
BAD_SPAN_TEXT = "("

# A seed-like homework (Markdown + LaTeX) whose last step is wrong (line 19).
with open(os.path.join(HERE, "..", "..", "assets", "samples", "autoencoder-homework.md")) as f:
    HOMEWORK = f.read()
HOMEWORK_PROBLEM = "autoencoder"
HOMEWORK_FIRST_WRONG_LINE = 19

# Expressions derived through the whole page (read, grad, steps, graph, emit x4).
DERIVE = [
    (AE_EXPR, AE_DECL, AE_WRT),
    (AE_LATEX, AE_DECL, AE_WRT),
]


def EXTRA_REQUESTS():
    """Other requests the tests make (endpoint, body), besides the derivations above."""
    problems_dir = os.path.join(HERE, "..", "..", "..", "..", "problems")
    reqs = []
    for claim in (WRONG_CLAIM, RIGHT_CLAIM):
        reqs.append(("check", {"expr": AE_EXPR, "decl": AE_DECL, "wrt": AE_WRT, "claim": claim}))
    reqs.append(("check", {"expr": AE_EXPR, "decl": AE_DECL, "wrt": AE_WRT, "claim": "2*W*x +"}))
    base = {"expr": BAD_EXPR, "decl": AE_DECL, "wrt": AE_WRT}
    reqs += [("read", {"expr": BAD_EXPR, "decl": AE_DECL}),
             ("grad", dict(base, format="json")),
             ("grad", dict(base, format="json", steps=True)),
             ("graph", dict(base, format="svg"))]
    reqs.append(("grad", {"expr": AE_EXPR, "decl": "W: matrx(m,n); x: vector(n)", "wrt": "W",
                          "format": "json"}))
    for name in sorted(os.listdir(problems_dir)):
        if name.endswith(".toml"):
            with open(os.path.join(problems_dir, name)) as f:
                reqs.append(("audit", {"document": HOMEWORK, "problem": f.read()}))
    return reqs
