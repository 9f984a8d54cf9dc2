#!/usr/bin/env python3
"""Independent numeric verifier for the `matdiff solve` corpus (ok.toml, err.toml).

For every case in ok.toml, at random dimensions (two settings) and random inputs in the case's
domain, it

  * evaluates the reference `solution` (and every `alt_solutions` entry) with its own small
    translator from matdiff plain syntax to NumPy (this file; it also knows `vec`, `kron` and
    `unvec`, which the prebuilt matdiff does not have yet);
  * takes the gradient expression from `matdiff grad EXPR --wrt NAME --decl D --format json` and
    evaluates it with `matdiff eval` at the solution and at a random point: the gradient at the
    solution must be below 1e-7 times its size at the random point (for a `symmetric` unknown,
    the symmetric part of the gradient, the gradient on the space of symmetric matrices);
  * independently of matdiff, does the same with central differences of the loss (translated to
    NumPy), and checks that the translator and `matdiff eval` agree on the loss;
  * checks `kind` from the curvature of the loss at the solution: second differences along
    random directions at every point, and the eigenvalues of the finite-difference Hessian at
    the first point of each dimension setting (minimum: all positive; maximum: all negative;
    saddle: both signs; stationary: not checked).

For err.toml it checks that `matdiff grad` accepts or refuses each expression as the case says
(`grad = "ok"` / `"refused"`), so that a refusal of `solve` has to come from the solver.

With --solve BIN it also runs `BIN solve EXPR --wrt NAME --decl D --format json` on every case:
ok cases must exit 0 with a "solution" whose gradient vanishes and that equals the reference,
and the same "kind"; err cases must exit 2 with the obstacle in the message.

Usage: python3 verify.py [--bin PATH] [--solve PATH] [--seed N] [--only NAME[,NAME...]] [-v]
Exit status 0 when every case passes with at least one point checked, 1 otherwise.
"""

import argparse
import itertools
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import tomllib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

POINTS_PER_SETTING = 3  # random draws per dimension setting
SETTINGS = 2  # dimension settings per case
GRAD_TOL = 1e-7  # |grad at solution| / |grad at random point|, matdiff's gradient
FD_TOL = 1e-6  # the same with central differences of the NumPy loss
VALUE_TOL = 1e-9  # translator vs matdiff eval, relative
ALT_TOL = 1e-8  # alternative solutions vs the reference, relative
CURV_TOL = 1e-6  # curvature signs: relative to the largest |curvature|
KINDS = ("minimum", "maximum", "saddle", "stationary")
FORMS = ("direct", "vec", "change_of_variable")


# ---------------------------------------------------------------------------------------------
# matdiff plain syntax -> NumPy
# ---------------------------------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\.\*|\./|\.\^|[-+*/^'(),;=]))"
)


class ParseError(Exception):
    pass


def tokenize(src):
    out, pos = [], 0
    src = src.rstrip()
    while pos < len(src):
        m = TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise ParseError(f"cannot read {src[pos:]!r}")
        pos = m.end()
        if m.group("num"):
            out.append(("num", float(m.group("num"))))
        elif m.group("name"):
            out.append(("name", m.group("name")))
        else:
            out.append(("op", m.group("op")))
    out.append(("end", None))
    return out


INFIX = {"+": 10, "-": 10, "*": 20, "/": 20, ".*": 20, "./": 20, "^": 30, ".^": 30}
UNARY_BP = 25
POSTFIX_BP = 40


class Parser:
    def __init__(self, src):
        self.toks = tokenize(src)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, op):
        t = self.next()
        if t != ("op", op):
            raise ParseError(f"expected {op!r}, found {t[1]!r}")

    def program(self):
        """`name = expr; ...; expr` -> (list of definitions, final expression)."""
        defs = []
        while True:
            if (self.peek()[0] == "name" and self.toks[self.i + 1] == ("op", "=")):
                name = self.next()[1]
                self.next()
                defs.append((name, self.expr(0)))
                if self.peek() == ("op", ";"):
                    self.next()
                continue
            e = self.expr(0)
            if self.peek() == ("op", ";"):
                self.next()
            if self.peek()[0] != "end":
                raise ParseError(f"unexpected {self.peek()[1]!r}")
            return defs, e

    def expr(self, min_bp):
        t = self.next()
        if t[0] == "num":
            lhs = ("num", t[1])
        elif t[0] == "name":
            if self.peek() == ("op", "("):
                self.next()
                args = []
                if self.peek() != ("op", ")"):
                    while True:
                        args.append(self.expr(0))
                        if self.peek() == ("op", ","):
                            self.next()
                            continue
                        break
                self.expect(")")
                lhs = ("call", t[1], args)
            else:
                lhs = ("var", t[1])
        elif t == ("op", "("):
            lhs = self.expr(0)
            self.expect(")")
        elif t == ("op", "-"):
            lhs = ("neg", self.expr(UNARY_BP))
        elif t == ("op", "+"):
            lhs = self.expr(UNARY_BP)
        else:
            raise ParseError(f"unexpected {t[1]!r}")
        while True:
            t = self.peek()
            if t == ("op", "'"):
                if POSTFIX_BP < min_bp:
                    break
                self.next()
                lhs = ("T", lhs)
                continue
            if t[0] != "op" or t[1] not in INFIX:
                break
            bp = INFIX[t[1]]
            if bp <= min_bp:
                break
            self.next()
            rbp = bp - 1 if t[1] in ("^", ".^") else bp  # right-associative powers
            rhs = self.expr(rbp)
            lhs = ("bin", t[1], lhs, rhs)
        return lhs


def parse(src):
    return Parser(src).program()


def names_in(node, acc=None):
    acc = set() if acc is None else acc
    if node[0] == "var":
        acc.add(node[1])
    elif node[0] == "neg" or node[0] == "T":
        names_in(node[1], acc)
    elif node[0] == "bin":
        names_in(node[2], acc)
        names_in(node[3], acc)
    elif node[0] == "call":
        # size arguments of eye/vector/matrix/unvec may be dimension names
        for a in node[2]:
            names_in(a, acc)
    return acc


FUTURE_FUNCTIONS = {"vec", "kron", "unvec"}


def calls_in(node, acc=None):
    acc = set() if acc is None else acc
    if node[0] == "call":
        acc.add(node[1])
        for a in node[2]:
            calls_in(a, acc)
    elif node[0] in ("neg", "T"):
        calls_in(node[1], acc)
    elif node[0] == "bin":
        calls_in(node[2], acc)
        calls_in(node[3], acc)
    return acc


def is_scalar(v):
    return np.ndim(v) == 0


def scalarize(v):
    if not is_scalar(v) and v.shape == (1, 1):
        return float(v[0, 0])
    return v


def is_vector(v):
    return not is_scalar(v) and v.ndim == 2 and v.shape[1] == 1


ELEMENTWISE = {
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "tanh": np.tanh,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sign": np.sign,
    "relu": lambda z: np.maximum(z, 0.0),
    "step": lambda z: np.where(np.asarray(z) > 0, 1.0, 0.0) if not is_scalar(z) else float(z > 0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "swish": lambda z: z / (1.0 + np.exp(-z)),
}


class Evaluator:
    def __init__(self, env, dims):
        self.env = env  # name -> float or 2-D array (vectors are n×1)
        self.dims = dims  # dimension name -> int

    def size(self, node):
        if node[0] == "var" and node[1] in self.dims:
            return self.dims[node[1]]
        # a product of dimensions, as matdiff prints the size of a Kronecker factor: eye(p*q)
        if node[0] == "bin" and node[1] == "*":
            return self.size(node[2]) * self.size(node[3])
        v = self.ev(node)
        if not is_scalar(v) or abs(v - round(v)) > 1e-12:
            raise ValueError("a size must be a dimension name or a whole number")
        return int(round(v))

    def run(self, program):
        defs, e = program
        saved = dict(self.env)
        try:
            for name, d in defs:
                self.env[name] = self.ev(d)
            return self.ev(e)
        finally:
            self.env = saved

    def ev(self, node):
        k = node[0]
        if k == "num":
            return node[1]
        if k == "var":
            if node[1] not in self.env:
                raise KeyError(f"no value for `{node[1]}`")
            return self.env[node[1]]
        if k == "neg":
            return -self.ev(node[1])
        if k == "T":
            v = self.ev(node[1])
            return v if is_scalar(v) else v.T
        if k == "bin":
            return self.binop(node[1], self.ev(node[2]), self.ev(node[3]))
        if k == "call":
            return self.call(node[1], node[2])
        raise ValueError(k)

    def binop(self, op, a, b):
        if op == "+":
            return scalarize(np.add(a, b))
        if op == "-":
            return scalarize(np.subtract(a, b))
        if op == "*":
            if is_scalar(a) or is_scalar(b):
                return a * b
            if a.shape[1] != b.shape[0]:
                raise ValueError(f"product of {a.shape} and {b.shape}")
            return scalarize(a @ b)
        if op == "/":
            if not is_scalar(b):
                raise ValueError("division by a non-scalar")
            return a / b
        if op == ".*":
            return scalarize(np.multiply(a, b))
        if op == "./":
            return scalarize(np.divide(a, b))
        if op == ".^":
            return scalarize(np.power(a, b))
        if op == "^":
            if not is_scalar(b):
                raise ValueError("non-scalar exponent")
            if is_scalar(a):
                return a ** b
            if a.shape[0] != a.shape[1] or abs(b - round(b)) > 0:
                raise ValueError("matrix power needs a square matrix and an integer")
            return np.linalg.matrix_power(a, int(round(b)))
        raise ValueError(op)

    def call(self, f, args):
        if f in ("eye", "vector", "matrix", "unvec"):
            if f == "eye":
                n = self.size(args[0])
                return np.eye(n)
            if f == "vector":
                if len(args) != 2:
                    raise ValueError("vector(c, n) needs an explicit size here")
                return np.full((self.size(args[1]), 1), float(self.ev(args[0])))
            if f == "matrix":
                if len(args) != 3:
                    raise ValueError("matrix(c, m, n) needs explicit sizes here")
                return np.full((self.size(args[1]), self.size(args[2])), float(self.ev(args[0])))
            v = self.ev(args[0])
            m, n = self.size(args[1]), self.size(args[2])
            if is_scalar(v) or v.shape[1] != 1 or v.shape[0] != m * n:
                raise ValueError(f"unvec of {np.shape(v)} to {m}x{n}")
            return scalarize(v.reshape((m, n), order="F"))
        vals = [self.ev(a) for a in args]
        x = vals[0] if vals else None
        if f in ELEMENTWISE:
            return scalarize(ELEMENTWISE[f](x))
        if f == "sum":
            return float(np.sum(x))
        if f == "norm1":
            return float(np.sum(np.abs(x)))
        if f == "norm2":
            return float(np.sqrt(np.sum(np.square(x))))
        if f in ("tr", "trace"):
            if is_scalar(x):
                return x
            return float(np.trace(x))
        if f == "det":
            return x if is_scalar(x) else float(np.linalg.det(x))
        if f == "logdet":
            if is_scalar(x):
                return math.log(x) if x > 0 else float("nan")
            sign, ld = np.linalg.slogdet(x)
            return float(ld) if sign > 0 else float("nan")
        if f == "inv":
            return 1.0 / x if is_scalar(x) else np.linalg.inv(x)
        if f == "transpose":
            return x if is_scalar(x) else x.T
        if f == "diag":
            if is_vector(x):
                return np.diag(x[:, 0])
            return np.diag(x).reshape(-1, 1).copy()
        if f == "vec":
            return x if is_scalar(x) else x.reshape((-1, 1), order="F")
        if f == "kron":
            a, b = (np.atleast_2d(v) for v in vals)
            return scalarize(np.kron(a, b))
        raise ValueError(f"unknown function `{f}`")


# ---------------------------------------------------------------------------------------------
# declarations, dimensions, domains
# ---------------------------------------------------------------------------------------------

DECL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(scalar|vector|matrix|symmetric)\s*(?:\(([^)]*)\))?\s*$")


def parse_decl(src):
    out = {}
    for part in re.split(r"[;\n]", src):
        if not part.strip():
            continue
        m = DECL.match(part)
        if not m:
            raise ValueError(f"cannot read declaration {part!r}")
        name, kind, sizes = m.group(1), m.group(2), m.group(3)
        sizes = [s.strip() for s in sizes.split(",")] if sizes else []
        want = {"scalar": 0, "vector": 1, "matrix": 2, "symmetric": 1}[kind]
        if len(sizes) != want:
            raise ValueError(f"{name}: {kind} needs {want} size(s), has {sizes}")
        if kind == "symmetric":
            sizes = [sizes[0], sizes[0]]
        out[name] = (kind, sizes)
    return out


def dim_names(decl):
    return sorted({s for _, sizes in decl.values() for s in sizes if not s.isdigit()})


RULE = re.compile(r"^\s*(.+?)\s*(>=|<=|>|<|==|!=)\s*(.+?)\s*$")


def rule_side(src, dims):
    """`n`, `3` or `n + 2`: a sum of dimension names and whole numbers."""
    total = 0
    for term in src.split("+"):
        term = term.strip()
        total += int(term) if term.isdigit() else dims[term]
    return total


def rule_holds(rule, dims):
    m = RULE.match(rule)
    if not m:
        raise ValueError(f"cannot read dim rule {rule!r}")
    a, op, b = m.groups()
    va, vb = rule_side(a, dims), rule_side(b, dims)
    return {">=": va >= vb, "<=": va <= vb, ">": va > vb, "<": va < vb, "==": va == vb, "!=": va != vb}[op]


def draw_dims(names, rules, rng, count, lo=2, hi=5):
    """`count` different assignments of the names (sizes lo..hi), each satisfying the rules."""
    if not names:
        return [{} for _ in range(count)]
    settings = []
    for _ in range(5000):
        d = {n: int(rng.integers(lo, hi + 1)) for n in names}
        if all(rule_holds(r, d) for r in rules) and d not in settings:
            settings.append(d)
            if len(settings) == count:
                return settings
    raise ValueError(f"could not draw {count} dimension settings for rules {rules}")


def size_of(s, dims):
    return int(s) if s.isdigit() else dims[s]


def shape_of(kind, sizes, dims):
    if kind == "scalar":
        return ()
    if kind == "vector":
        return (size_of(sizes[0], dims), 1)
    return (size_of(sizes[0], dims), size_of(sizes[1], dims))


def draw_value(kind, shape, domain, rng):
    if kind == "scalar":
        if domain in (None, "positive"):
            return float(rng.uniform(0.5, 2.0))
        if domain == "negative":
            return -float(rng.uniform(0.5, 2.0))
        if domain == "normal":
            return float(rng.standard_normal())
        raise ValueError(f"domain {domain!r} for a scalar")
    if domain == "positive":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "symmetric" or domain in ("spd", "sym_indef", "posdef"):
        n = shape[0]
        if shape[0] != shape[1]:
            raise ValueError(f"domain {domain!r} needs a square matrix")
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        if domain in (None, "spd", "posdef"):
            eig = rng.uniform(0.5, 2.0, size=n)
        elif domain == "sym_indef":
            eig = rng.uniform(0.5, 2.0, size=n) * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
            rng.shuffle(eig)
        elif domain == "normal":
            g = rng.standard_normal((n, n))
            return (g + g.T) / 2
        else:
            raise ValueError(f"domain {domain!r}")
        m = (q * eig) @ q.T
        m = (m + m.T) / 2
        if domain == "posdef" and kind != "symmetric":
            k = rng.standard_normal((n, n))
            m = m + 0.5 * (k - k.T)  # symmetric part positive definite, not symmetric
        return m
    if domain is None and kind == "vector":
        return rng.standard_normal(shape)
    if domain is None:
        # generic but well conditioned: random orientations, singular values in [0.5, 2]
        m, n = shape
        k = min(m, n)
        u, _ = np.linalg.qr(rng.standard_normal((m, k)))
        v, _ = np.linalg.qr(rng.standard_normal((n, k)))
        return (u * rng.uniform(0.5, 2.0, size=k)) @ v.T
    if domain == "normal":
        return rng.standard_normal(shape)
    raise ValueError(f"domain {domain!r} for a {kind}")


# ---------------------------------------------------------------------------------------------
# matdiff CLI
# ---------------------------------------------------------------------------------------------


class Cli:
    def __init__(self, path):
        self.path = path
        self.tmp = tempfile.mkdtemp(prefix="solve-verify-")

    def run(self, args):
        p = subprocess.run([self.path, *args], capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def grad(self, expr, wrt, decl):
        rc, out, err = self.run(["grad", expr, "--wrt", wrt, "--decl", decl, "--format", "json"])
        if rc != 0:
            raise RuntimeError(f"matdiff grad failed (exit {rc}): {err.strip()}")
        return json.loads(out)

    def eval(self, expr, decl, env):
        path = os.path.join(self.tmp, "at.json")
        with open(path, "w") as f:
            json.dump({k: to_json(v) for k, v in env.items()}, f)
        rc, out, err = self.run(["eval", expr, "--decl", decl, "--at", path])
        if rc != 0:
            raise RuntimeError(f"matdiff eval failed (exit {rc}): {err.strip()}")
        return from_json(json.loads(out))


def to_json(v):
    if is_scalar(v):
        return float(v)
    if v.shape[1] == 1:
        return [float(t) for t in v[:, 0]]
    return [[float(t) for t in row] for row in v]


def from_json(j):
    if isinstance(j, (int, float)):
        return float(j)
    if j and isinstance(j[0], list):
        return np.array(j, dtype=float)
    return np.array(j, dtype=float).reshape(-1, 1)


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------


def sym(g):
    return (g + g.T) / 2


def norm(v):
    return float(np.sqrt(np.sum(np.square(v))))


def basis(kind, shape):
    """An orthonormal basis of the unknown's space (symmetric matrices for `symmetric`)."""
    if kind == "scalar":
        return [1.0]
    out = []
    if kind == "symmetric":
        n = shape[0]
        for i in range(n):
            for j in range(i, n):
                e = np.zeros(shape)
                if i == j:
                    e[i, i] = 1.0
                else:
                    e[i, j] = e[j, i] = 1 / math.sqrt(2)
                out.append(e)
        return out
    for idx in itertools.product(*(range(s) for s in shape)):
        e = np.zeros(shape)
        e[idx] = 1.0
        out.append(e)
    return out


def random_direction(kind, shape, rng):
    if kind == "scalar":
        return float(rng.choice([-1.0, 1.0]))
    d = rng.standard_normal(shape)
    if kind == "symmetric":
        d = sym(d)
    return d / norm(d)


def fd_gradient(f, x, kind, shape, h):
    """Central-difference gradient on the unknown's space, as a matrix (the symmetric part for
    a symmetric unknown)."""
    if kind == "scalar":
        return (f(x + h) - f(x - h)) / (2 * h)
    g = np.zeros(shape)
    for e in basis(kind, shape):
        g += (f(x + h * e) - f(x - h * e)) / (2 * h) * e
    return g


def fd_hessian_eigs(f, x, kind, shape, h):
    es = basis(kind, shape)
    n = len(es)
    H = np.zeros((n, n))
    f0 = f(x)
    for i in range(n):
        ei = es[i]
        H[i, i] = (f(x + h * ei) + f(x - h * ei) - 2 * f0) / h**2
        for j in range(i + 1, n):
            ej = es[j]
            H[i, j] = H[j, i] = (
                f(x + h * ei + h * ej) - f(x + h * ei - h * ej) - f(x - h * ei + h * ej) + f(x - h * ei - h * ej)
            ) / (4 * h**2)
    return np.linalg.eigvalsh(H)


def classify(curvs):
    curvs = np.asarray(curvs, dtype=float)
    top = float(np.max(np.abs(curvs)))
    if top == 0 or not np.all(np.isfinite(curvs)):
        return "degenerate"
    pos = curvs > CURV_TOL * top
    neg = curvs < -CURV_TOL * top
    if np.all(pos):
        return "minimum"
    if np.all(neg):
        return "maximum"
    if np.any(pos) and np.any(neg):
        return "saddle"
    return "degenerate"


def kind_agrees(want, got):
    if want == "stationary":
        return True
    if want == "saddle":
        return got == "saddle"
    return got == want


class CaseFailure(Exception):
    pass


def check_ok_case(case, cli, solve_bin, rng, verbose):
    name = case["name"]
    for key in ("name", "expr", "wrt", "decl", "solution", "conditions", "kind", "form"):
        if key not in case:
            raise CaseFailure(f"missing field `{key}`")
    if case["kind"] not in KINDS:
        raise CaseFailure(f"kind {case['kind']!r} is not one of {KINDS}")
    if case["form"] not in FORMS:
        raise CaseFailure(f"form {case['form']!r} is not one of {FORMS}")
    if not isinstance(case["conditions"], list):
        raise CaseFailure("conditions must be a list of strings")
    decl = parse_decl(case["decl"])
    wrt = case["wrt"]
    if wrt not in decl:
        raise CaseFailure(f"`{wrt}` is not declared")
    expr_p = parse(case["expr"])
    dims_all = dim_names(decl)
    used = names_in(expr_p[1]) | {n for _, d in expr_p[0] for n in names_in(d)}
    undeclared = used - set(decl) - set(dims_all) - {n for n, _ in expr_p[0]}
    if undeclared:
        raise CaseFailure(f"undeclared names in expr: {sorted(undeclared)}")
    sols = [case["solution"]] + list(case.get("alt_solutions", []))
    sol_ps = [parse(s) for s in sols]
    for s, p in zip(sols, sol_ps):
        if wrt in names_in(p[1]):
            raise CaseFailure(f"solution {s!r} uses the unknown `{wrt}`")
    domain = case.get("domain", {})
    rules = case.get("dim_rules", [])

    g = cli.grad(case["expr"], wrt, case["decl"])
    grad_expr = g["gradient"]
    grad_p = parse(grad_expr)

    tool = None
    if solve_bin:
        tool = run_solve(solve_bin, case)

    wkind, wsizes = decl[wrt]
    points = 0
    worst = {"grad": 0.0, "fd": 0.0, "alt": 0.0, "value": 0.0, "tool": 0.0}
    kinds_seen = set()
    checked_in_matdiff = set()
    for setting in draw_dims(dims_all, rules, rng, SETTINGS):
        for draw in range(POINTS_PER_SETTING):
            env = {}
            for v, (k, sizes) in decl.items():
                if v == wrt:
                    continue
                env[v] = draw_value(k, shape_of(k, sizes, setting), domain.get(v), rng)
            wshape = shape_of(wkind, wsizes, setting)
            x0 = draw_value(wkind, wshape, domain.get(wrt), rng)
            ev = Evaluator(dict(env), setting)
            xs = [ev.run(p) for p in sol_ps]
            x = xs[0]
            if np.shape(x) != wshape:
                raise CaseFailure(f"solution has shape {np.shape(x)}, `{wrt}` is {wshape} at {setting}")
            if not np.all(np.isfinite(x)):
                raise CaseFailure(f"solution is not finite at {setting}")
            if wkind == "symmetric":
                asym = norm(x - x.T) / max(norm(x), 1e-300)
                if asym > 1e-10:
                    raise CaseFailure(f"solution is not symmetric (relative asymmetry {asym:.1e})")
                x = sym(x)
            for s, xa in zip(sols[1:], xs[1:]):
                rel = norm(np.asarray(xa) - x) / max(norm(x), 1e-300)
                worst["alt"] = max(worst["alt"], rel)
                if rel > ALT_TOL:
                    raise CaseFailure(f"alt solution {s!r} differs from the solution by {rel:.1e} at {setting}")

            def loss(val, env=env, setting=setting):
                e = dict(env)
                e[wrt] = val
                return float(Evaluator(e, setting).run(expr_p))

            # the translator agrees with matdiff on the loss
            f_mine = loss(x0)
            f_md = cli.eval(case["expr"], case["decl"], {**env, wrt: x0})
            rel = abs(f_mine - f_md) / max(abs(f_md), 1e-300)
            worst["value"] = max(worst["value"], rel)
            if not rel <= VALUE_TOL:
                raise CaseFailure(f"translator and matdiff eval disagree on the loss: {f_mine} vs {f_md}")

            # matdiff's gradient vanishes at the solution
            proj = sym if wkind == "symmetric" else (lambda t: t)
            g_sol = proj(cli.eval(grad_expr, case["decl"], {**env, wrt: x}))
            g_rand = proj(cli.eval(grad_expr, case["decl"], {**env, wrt: x0}))
            g_mine = proj(Evaluator({**env, wrt: x}, setting).run(grad_p))
            if norm(g_rand) == 0:
                raise CaseFailure("the gradient is zero at a random point")
            ratio = norm(g_sol) / norm(g_rand)
            ratio_mine = norm(g_mine) / norm(g_rand)
            worst["grad"] = max(worst["grad"], ratio, ratio_mine)
            if not ratio <= GRAD_TOL or not ratio_mine <= GRAD_TOL:
                raise CaseFailure(
                    f"gradient at the solution is {ratio:.1e} (matdiff eval) / {ratio_mine:.1e} "
                    f"(translated) of its size at a random point, at {setting}"
                )

            # independently: central differences of the translated loss
            scale = max(1.0, float(np.max(np.abs(x))))
            if wkind == "symmetric":
                # covariance-type unknowns (positive definite solutions): keep the steps well
                # inside the positive definite cone
                lmin = float(np.min(np.linalg.eigvalsh(x)))
                if lmin > 0:
                    scale = min(scale, lmin)
            h = 1e-5 * scale
            fd_sol = fd_gradient(loss, x, wkind, wshape, h)
            fd_rand = fd_gradient(loss, x0, wkind, wshape, h)
            fratio = norm(fd_sol) / max(norm(fd_rand), 1e-300)
            worst["fd"] = max(worst["fd"], fratio)
            if not fratio <= FD_TOL:
                raise CaseFailure(f"central-difference gradient at the solution is {fratio:.1e} of its size at a random point")

            # curvature
            hc = 1e-3 * scale
            f0 = loss(x)
            curvs = []
            for _ in range(8):
                d = random_direction(wkind, wshape, rng)
                curvs.append((loss(x + hc * d) + loss(x - hc * d) - 2 * f0) / hc**2)
            got = classify(curvs)
            if draw == 0:
                eigs = fd_hessian_eigs(loss, x, wkind, wshape, hc)
                got_h = classify(eigs)
                if verbose:
                    print(f"    {name} {setting}: Hessian eigenvalues {np.round(eigs, 4).tolist()} -> {got_h}")
                if not kind_agrees(case["kind"], got_h):
                    raise CaseFailure(
                        f"kind {case['kind']} but the Hessian at the solution says {got_h} at {setting} "
                        f"(eigenvalues {np.round(eigs, 6).tolist()})"
                    )
                kinds_seen.add(got_h)
            # random directions may all miss a saddle's negative (or positive) side
            if case["kind"] != "saddle" and not kind_agrees(case["kind"], got):
                raise CaseFailure(f"kind {case['kind']} but curvature along random directions says {got}")

            # the references parse and mean the same in matdiff itself (those without vec,
            # kron, unvec, which the prebuilt matdiff does not have yet)
            for s_src, s_p, xa in zip(sols, sol_ps, xs):
                if not FUTURE_FUNCTIONS & calls_in(s_p[1]):
                    xm = cli.eval(s_src, case["decl"], env)
                    rel = norm(np.asarray(xm) - np.asarray(xa)) / max(norm(np.asarray(xa)), 1e-300)
                    worst["matdiff_eval"] = max(worst.get("matdiff_eval", 0.0), rel)
                    if not rel <= ALT_TOL:
                        raise CaseFailure(f"matdiff eval reads {s_src!r} differently: relative difference {rel:.1e}")
                    checked_in_matdiff.add(s_src)

            if tool is not None:
                xt = Evaluator(dict(env), setting).run(parse(tool["solution"]))
                if np.shape(xt) != wshape:
                    raise CaseFailure(f"solve's solution has shape {np.shape(xt)}, want {wshape}")
                rel = norm(np.asarray(xt) - x) / max(norm(x), 1e-300)
                worst["tool"] = max(worst["tool"], rel)
                if rel > ALT_TOL:
                    raise CaseFailure(f"solve's solution {tool['solution']!r} differs from the reference by {rel:.1e}")
            points += 1
    if tool is not None and tool.get("kind") != case["kind"]:
        raise CaseFailure(f"solve says kind {tool.get('kind')!r}, the corpus says {case['kind']!r}")
    worst["solutions_in_matdiff"] = f"{len(checked_in_matdiff)}/{len(sols)}"
    return points, worst, kinds_seen


def run_solve(bin_path, case):
    p = subprocess.run(
        [bin_path, "solve", case["expr"], "--wrt", case["wrt"], "--decl", case["decl"], "--format", "json"],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        raise CaseFailure(f"solve exited {p.returncode}: {p.stderr.strip()[:400]}")
    j = json.loads(p.stdout)
    for key in ("solution", "shape", "conditions", "kind"):
        if key not in j:
            raise CaseFailure(f"solve's JSON has no {key!r}")
    return j


def check_err_case(case, cli, solve_bin):
    for key in ("name", "expr", "wrt", "decl", "obstacle", "grad", "why"):
        if key not in case:
            raise CaseFailure(f"missing field `{key}`")
    rc, _, err = cli.run(["grad", case["expr"], "--wrt", case["wrt"], "--decl", case["decl"], "--format", "json"])
    want = case["grad"]
    if want == "ok" and rc != 0:
        raise CaseFailure(f"matdiff grad should accept it but exited {rc}: {err.strip()[:300]}")
    if want == "refused" and rc != 2:
        raise CaseFailure(f"matdiff grad should refuse it (exit 2) but exited {rc}")
    if want not in ("ok", "refused"):
        raise CaseFailure(f"grad must be \"ok\" or \"refused\", not {want!r}")
    if solve_bin:
        p = subprocess.run(
            [solve_bin, "solve", case["expr"], "--wrt", case["wrt"], "--decl", case["decl"]],
            capture_output=True,
            text=True,
        )
        if p.returncode != 2:
            raise CaseFailure(f"solve exited {p.returncode}, want 2: {p.stdout.strip()[:200]}")
        msg = (p.stderr + p.stdout).lower()
        phrases = [case["obstacle"]] + list(case.get("also_accept", []))
        if not any(ph.lower() in msg for ph in phrases):
            raise CaseFailure(f"solve's message names none of {phrases}: {p.stderr.strip()[:300]}")
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("MATDIFF", "/work/bin/matdiff-old"))
    ap.add_argument("--solve", default=None, help="a matdiff with `solve`, to check it against the corpus")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--only", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    cli = Cli(a.bin)
    rng = np.random.default_rng(a.seed)
    only = set(a.only.split(",")) if a.only else None
    failures = 0

    with open(os.path.join(HERE, "ok.toml"), "rb") as f:
        ok = tomllib.load(f)["case"]
    with open(os.path.join(HERE, "err.toml"), "rb") as f:
        errs = tomllib.load(f)["case"]
    inputs = {}
    for c in ok + errs:
        key = (c.get("expr"), c.get("wrt"), c.get("decl"))
        if key in inputs:
            print(f"cases {inputs[key]} and {c['name']} have the same expr, wrt and decl")
            failures += 1
        inputs.setdefault(key, c["name"])
    names = [c["name"] for c in ok + errs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        print(f"duplicate case names: {sorted(dup)}")
        failures += 1

    print(f"ok.toml: {len(ok)} cases ({SETTINGS} dimension settings x {POINTS_PER_SETTING} random points each)")
    by_form = {}
    for case in ok:
        if only and case["name"] not in only:
            continue
        try:
            points, worst, kinds = check_ok_case(case, cli, a.solve, rng, a.verbose)
            if points == 0:
                raise CaseFailure("checked 0 points")
            by_form.setdefault(case["form"], []).append(case["name"])
            print(
                f"  ok    {case['name']:<36} {points} points  kind {case['kind']:<10} "
                f"(Hessian: {'/'.join(sorted(kinds))})  |grad| ratio <= {worst['grad']:.0e}  fd <= {worst['fd']:.0e}  refs in matdiff eval {worst['solutions_in_matdiff']}"
            )
        except (CaseFailure, ParseError, ValueError, KeyError, RuntimeError, np.linalg.LinAlgError) as e:
            failures += 1
            print(f"  FAIL  {case['name']:<36} {type(e).__name__}: {e}")

    print(f"err.toml: {len(errs)} cases")
    for case in errs:
        if only and case["name"] not in only:
            continue
        try:
            check_err_case(case, cli, a.solve)
            print(f"  ok    {case['name']:<36} grad {case['grad']:<8} obstacle {case['obstacle']!r}")
        except CaseFailure as e:
            failures += 1
            print(f"  FAIL  {case['name']:<36} {e}")

    if len(ok) < 30 or len(errs) < 8:
        print(f"the corpus needs at least 30 ok cases and 8 err cases, has {len(ok)} and {len(errs)}")
        failures += 1
    for form, cases in sorted(by_form.items()):
        print(f"form {form}: {len(cases)} cases: {', '.join(cases)}")
    if failures:
        print(f"FAILED: {failures} case(s)")
        return 1
    print("all cases pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
