"""matdiff: matrix calculus you can trust, in Python.

Give matdiff a scalar expression over scalars, vectors and matrices, in plain syntax
(``"0.5*norm2(W'*W*x - x)^2"``) or LaTeX, and it derives the gradient in closed matrix form,
explains the derivation step by step, checks claimed answers, audits homework, exports code and
compiles value-and-gradient functions that take and return NumPy arrays::

    import matdiff
    g = matdiff.grad("0.5*norm2(W'*W*x - x)^2", wrt="W", decl="W: matrix(m,n); x: vector(n)")
    g.expr                      # "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'"
    f = matdiff.compile("0.5*norm2(W'*W*x - x)^2", wrt=["W"], decl="W: matrix(m,n); x: vector(n)")
    value, (dW,) = f(W=W, x=x)  # float, tuple of np.ndarray

Every function takes the expression first; ``decl`` declares names (``"W: matrix(m,n); x:
vector(n); a: scalar; S: symmetric(n)"``, or a dict ``{"W": "matrix(m,n)"}``); ``wrt`` names the
variable(s) to differentiate with respect to; ``latex=True`` reads the expression as LaTeX even
when it does not look like it (it is detected otherwise). Errors raise :class:`MatdiffError`
subclasses whose ``str()`` shows the input with the offending span underlined.

The expression language, the gradient convention and the command-line tool are described in the
repository's README; this package is documented in docs/python.md.
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._errors import (
    DomainError,
    InputError,
    InternalError,
    LimitError,
    MatdiffError,
    ParseError,
    ShapeError,
    UnknownNameError,
    UnsupportedError,
)
from ._native import Function

__all__ = [
    "grad",
    "derivative",
    "hessian",
    "compile",
    "evaluate",
    "check",
    "steps",
    "graph",
    "audit",
    "emit",
    "Gradient",
    "Derivative",
    "Verdict",
    "Steps",
    "Graph",
    "Audit",
    "AuditQuestion",
    "Function",
    "MatdiffError",
    "ParseError",
    "UnknownNameError",
    "ShapeError",
    "DomainError",
    "LimitError",
    "InputError",
    "UnsupportedError",
    "InternalError",
]

__version__ = _native.version()

Decl = Union[str, Mapping[str, str], None]
Wrt = Union[str, Sequence[str]]


def _decl(decl: Decl) -> str:
    """Declarations as the text the core reads: a string as is, a mapping as ``name: kind``."""
    if decl is None:
        return ""
    if isinstance(decl, str):
        return decl
    if isinstance(decl, Mapping):
        return "; ".join(f"{name}: {kind}" for name, kind in decl.items())
    raise TypeError(f"decl must be a string or a mapping of names to kinds, not {type(decl).__name__}")


def _wrt(wrt: Optional[Wrt]) -> List[str]:
    """``"W"``, ``"W,x"`` or ``["W", "x"]`` as a list of names."""
    if wrt is None:
        return []
    if isinstance(wrt, str):
        return [w.strip() for w in wrt.split(",")]
    return [str(w).strip() for w in wrt]


def _single(wrt: Wrt) -> bool:
    return isinstance(wrt, str) and "," not in wrt


def _array(v: Any) -> Any:
    """A JSON value of a report (number, list, list of rows) as a float or an ndarray."""
    if v is None or isinstance(v, (int, float)):
        return None if v is None else float(v)
    return np.array(v, dtype=np.float64)


class Gradient:
    """The gradient of a scalar expression with respect to one variable.

    Attributes:
        wrt: the variable.
        expr: the gradient in plain syntax, self-contained and re-parseable (the CLI's JSON
            ``"gradient"``): ``matdiff.evaluate(g.expr, decl=..., **arrays)`` evaluates it.
        latex: the same in LaTeX.
        shape: the gradient's shape as dimension names: ``()``, ``("n",)`` or ``("m", "n")``
            (the variable's shape).
        cse: the compact form, with subterms used more than once named (``t0``, ...).
        where: the named subterms of ``cse``: ``{"t0": "W'*W*x - x"}``.
        check: with ``check=True``, the numeric check against central differences
            (``{"max_rel_error": ..., "settings": ...}``), else ``None``.
        notes: how the input was read, where there was a choice (LaTeX readings, kinds
            decided by usage).
    """

    def __init__(self, d: Dict[str, Any]) -> None:
        self.wrt: str = d["wrt"]
        self.expr: str = d["gradient"]
        self.latex: str = d["latex"]
        self.shape: Tuple[str, ...] = tuple(d["shape"])
        self.cse: str = d["cse"]
        self.where: Dict[str, str] = dict(d["where"])
        self.check: Optional[Dict[str, Any]] = d.get("check")
        self.notes: List[str] = list(d.get("notes", []))

    def _repr_latex_(self) -> str:
        """The gradient as display math, for Jupyter."""
        return f"${self.latex}$"

    def __str__(self) -> str:
        lines = [self.cse] + [f"where {n} = {d}" for n, d in self.where.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<matdiff.Gradient wrt={self.wrt!r}: {self.cse}{' (with where)' if self.where else ''}>"


def grad(
    expr: str,
    wrt: Wrt,
    decl: Decl = "",
    *,
    latex: bool = False,
    check: bool = False,
) -> Union[Gradient, Tuple[Gradient, ...]]:
    """The gradient of the scalar expression ``expr`` with respect to ``wrt``.

    Args:
        expr: the expression, plain syntax or LaTeX.
        wrt: one variable (``"W"``: returns a :class:`Gradient`) or several (``["W", "x"]`` or
            ``"W,x"``: returns a tuple of them, subterms named consistently across them).
        decl: declarations, e.g. ``"W: matrix(m,n); x: vector(n)"``.
        latex: read ``expr`` as LaTeX even if it does not look like it.
        check: also compare with central finite differences at random inputs (``.check``).

    Raises:
        MatdiffError: the expression does not parse or type-check (``ParseError``,
            ``ShapeError``, ...), is not scalar, or ``wrt`` is not one of its variables.
    """
    items = _native.grad(expr, _wrt(wrt), _decl(decl), latex, check)
    grads = tuple(Gradient(d) for d in items)
    return grads[0] if _single(wrt) else grads


class Derivative:
    """A derivative in matrix form (:func:`derivative`, :func:`hessian`).

    Attributes:
        wrt: the variable.
        expr: the derivative in plain syntax, self-contained and re-parseable.
        latex: the same in LaTeX.
        shape: its shape as dimension names.
        layout: ``"gradient"`` (scalar by anything), ``"elementwise"`` (by a scalar),
            ``"jacobian"`` (vector by vector) or ``"vec"`` (d vec(f) / d vec(X)^T).
        where: named shared subterms of the compact form ``cse``.
    """

    def __init__(self, d: Dict[str, Any], expr_key: str = "derivative") -> None:
        self.wrt: str = d.get("wrt", "")
        # The expression's key in the CLI's JSON: "derivative", "hessian", or the product's.
        key = next((k for k in (expr_key, "derivative", "hessian", "hvp", "gradient") if k in d), expr_key)
        self.expr: str = d[key]
        self.latex: str = d.get("latex", "")
        self.shape: Tuple[str, ...] = tuple(d.get("shape", ()))
        self.layout: str = d.get("layout", "gradient")
        self.cse: str = d.get("cse", self.expr)
        self.where: Dict[str, str] = dict(d.get("where", {}))
        self.json: Dict[str, Any] = d

    def _repr_latex_(self) -> str:
        """The derivative as display math, for Jupyter."""
        return f"${self.latex}$"

    def __str__(self) -> str:
        return "\n".join([self.cse] + [f"where {n} = {d}" for n, d in self.where.items()])

    def __repr__(self) -> str:
        return f"<matdiff.Derivative wrt={self.wrt!r} layout={self.layout}: {self.cse}>"


def derivative(expr: str, wrt: str, decl: Decl = "", *, latex: bool = False, check: bool = False) -> Derivative:
    """The derivative of any expression (scalar, vector or matrix valued) w.r.t. ``wrt``.

    Layout (as ``matdiff derivative``): a scalar by anything is the gradient (shape of
    ``wrt``); a vector or matrix by a scalar is the entrywise derivative; a vector by a vector
    is the Jacobian ``J[i, j] = d f_i / d x_j``; everything else is ``d vec(f) / d vec(X)^T``
    (``vec`` stacks columns), e.g. ``kron(x', eye(m))`` for ``W*x`` by ``W``. With
    ``check=True`` the result is compared with central differences at random inputs
    (``.json["check"]``).
    """
    return Derivative(_native.derivative(expr, wrt, _decl(decl), latex, check))


def hessian(
    expr: str,
    wrt: str,
    decl: Decl = "",
    direction: Optional[str] = None,
    *,
    latex: bool = False,
    check: bool = False,
) -> Derivative:
    """The Hessian of the scalar ``expr`` w.r.t. ``wrt``: ``n×n`` for a vector, ``mn×mn``
    w.r.t. ``vec(X)`` for a matrix (e.g. ``A + A'`` for ``x'*A*x``).

    With ``direction`` — the name of a new variable with ``wrt``'s shape, say ``"V"`` — the
    Hessian-vector product ``d/dt grad f(X + t V)`` at ``t = 0`` instead, in ``wrt``'s shape and
    plain matrix notation (never a Kronecker product); evaluate it with ``V`` among the inputs.
    With ``check=True`` the result is compared with second differences (``.json["check"]``).
    """
    key = "hessian" if direction is None else "hvp"
    return Derivative(_native.hessian(expr, wrt, _decl(decl), direction, latex, check), expr_key=key)


def compile(expr: str, wrt: Optional[Wrt] = None, decl: Decl = "", *, latex: bool = False) -> Function:
    """Compile ``expr`` and its gradients w.r.t. ``wrt`` into a fast :class:`Function`.

    ``f = matdiff.compile(expr, wrt=["W"], decl=...)`` plans the computation once per set of
    input sizes; ``value, grads = f(W=W, x=x)`` then returns the value (a float, or an ndarray
    for a vector or matrix expression) and a tuple with one ndarray per ``wrt`` variable.
    float64 arrays (C or Fortran order) are read without copying; other dtypes, lists and
    numbers are converted to float64. Without ``wrt``, ``grads`` is ``()``. The call releases
    the GIL and is safe from several threads.
    """
    return _native.compile(expr, _wrt(wrt), _decl(decl), latex)


def evaluate(expr: str, /, decl: Decl = "", *, latex: bool = False, **arrays: Any) -> Union[float, np.ndarray]:
    """The value of ``expr`` at the given arrays (keyword arguments named after its variables):
    a float for a scalar expression, else an ndarray (``(n,)`` for a vector, ``(m, n)`` for a
    matrix). Inputs are read as by :func:`compile`."""
    return _native.evaluate(expr, _decl(decl), latex, arrays)


class Verdict:
    """Whether a claimed gradient is right (:func:`check`). ``bool(v)`` is ``v.right``.

    Attributes:
        right: the claim equals the gradient.
        diagnosis: what is wrong, in words (``"the claim is the transpose of the gradient"``,
            a missing path, a constant factor, ...), or ``None`` when right or undiagnosed.
        diagnoses: the same as structured dicts (``kind``, ``message`` and per-kind fields).
        counterexample: for a wrong claim, inputs where it differs: a dict with ``dims``
            (each dimension's size), ``inputs`` (each variable's value, floats or ndarrays;
            each is also a key of its own, ``counterexample["W"]``), ``gradient`` and
            ``claim`` (their values there; ``claim`` is ``None`` when shapes differ) and
            ``max_diff``; ``None`` when right.
        gradient: the true gradient, plain syntax.
        claim_read_as: the claim as matdiff read it.
        method: ``"symbolic"`` (the same canonical form, or different shapes) or
            ``"numeric"`` (evaluation at random points).
        confidence: what the verdict rests on (``summary``, ``exact``, ...).
        text: the verdict as ``matdiff check`` prints it.
        json: the ``matdiff check --format json`` object.
    """

    def __init__(self, d: Dict[str, Any], text: str) -> None:
        self.json: Dict[str, Any] = d
        self.text: str = text
        self.right: bool = d["verdict"] == "right"
        self.method: str = d["method"]
        self.confidence: Dict[str, Any] = d["confidence"]
        self.diagnoses: List[Dict[str, Any]] = list(d["diagnosis"])
        self.diagnosis: Optional[str] = "; ".join(x["message"] for x in self.diagnoses) or None
        self.gradient: str = d["gradient"]
        self.claim_read_as: str = d["claim_read_as"]
        cx = d.get("counterexample")
        self.counterexample: Optional[Dict[str, Any]] = None
        if cx is not None:
            inputs = {k: _array(v) for k, v in cx["inputs"].items()}
            self.counterexample = {
                "dims": dict(cx["dims"]),
                "inputs": inputs,
                "gradient": _array(cx["gradient"]),
                "claim": _array(cx.get("claim")),
                "max_diff": cx.get("max_diff"),
            }
            # Each input also under its own name (unless it clashes with a key above), so that
            # `v.counterexample["W"]` reads like the inputs it describes.
            for k, val in inputs.items():
                self.counterexample.setdefault(k, val)

    def __bool__(self) -> bool:
        return self.right

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        head = "right" if self.right else "wrong"
        why = f": {self.diagnosis}" if self.diagnosis else ""
        return f"<matdiff.Verdict {head}{why}>"

    def _repr_markdown_(self) -> str:
        return "```\n" + self.text.rstrip() + "\n```"


def check(expr: str, wrt: str, claim: str, decl: Decl = "", *, latex: bool = False) -> Verdict:
    """Decide whether ``claim`` (plain syntax or LaTeX) is the gradient of ``expr`` w.r.t.
    ``wrt``: exactly by canonical form when it can, otherwise by evaluation at random points
    over several dimension settings. A wrong claim gets a counterexample and, where one
    applies, a diagnosis (transposed, off by a factor, a missing path, wrong shape, right only
    for symmetric matrices). Errors in the claim point into it (``e.input == "claim"``)."""
    d, text = _native.check(expr, wrt, claim, _decl(decl), latex)
    return Verdict(d, text)


class Steps:
    """The derivation step by step (:func:`steps`): the forward graph, the backward pass node
    by node with each local rule, total-derivative sums, and a numeric check.

    Attributes:
        text: plain text (as ``matdiff grad --steps``).
        markdown: Markdown with ``$...$`` math (what Jupyter shows).
        latex: a LaTeX fragment.
        json: the derivation as data (a dict; the ``--format json`` schema).
        max_rel_error: the numeric check's largest relative error, or ``None``.
    """

    def __init__(self, d: Dict[str, Any]) -> None:
        import json as _json

        self.text: str = d["text"]
        self.markdown: str = d["markdown"]
        self.latex: str = d["latex"]
        self.json: Dict[str, Any] = _json.loads(d["json"])
        self.max_rel_error: Optional[float] = d["max_rel_error"]

    def _repr_markdown_(self) -> str:
        return self.markdown

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<matdiff.Steps: {len(self.text.splitlines())} lines>"


def steps(expr: str, wrt: Wrt, decl: Decl = "", *, latex: bool = False) -> Steps:
    """The derivation of the gradient(s) of ``expr`` w.r.t. ``wrt``, step by step."""
    return Steps(_native.steps(expr, _wrt(wrt), _decl(decl), latex))


class Graph:
    """The computational graph (:func:`graph`), drawn in pure Rust.

    Attributes:
        svg: an SVG document (what Jupyter shows).
        dot: the same graph in Graphviz DOT.
    """

    def __init__(self, svg: str, dot: str) -> None:
        self.svg: str = svg
        self.dot: str = dot

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return f"<matdiff.Graph: {self.dot.count('->')} edges>"


def graph(expr: str, decl: Decl = "", wrt: Optional[Wrt] = None, *, latex: bool = False) -> Graph:
    """The computational graph of ``expr``; with ``wrt``, each node is labelled with its
    adjoint."""
    svg, dot = _native.graph(expr, _decl(decl), None if wrt is None else _wrt(wrt), latex)
    return Graph(svg, dot)


class AuditQuestion:
    """The audit of one question of the problem file (see :class:`Audit`).

    Attributes:
        id, title, wrt, loss: the question, from the problem file.
        gradient: the true gradient, plain syntax.
        answer: ``"right"``, ``"wrong"``, ``"missing"`` (never stated) or ``"unreadable"``.
        final_line: the document line of the final answer (the last readable step), or None.
        first_wrong_line: the line of the first step that is not the gradient, or None.
        steps: each member of the chains that state the gradient, as dicts (``line``,
            ``text``, ``status``, ``read_as``, ``verdict``, ``diagnosis``, ...).
        definitions: the definitions used (``name``, ``value``, ``source``).
    """

    def __init__(self, d: Dict[str, Any]) -> None:
        self.json: Dict[str, Any] = d
        self.id: str = d["id"]
        self.title: str = d["title"]
        self.wrt: str = d["wrt"]
        self.loss: str = d["loss"]
        self.gradient: str = d["gradient"]
        self.answer: str = d["answer"]
        self.final_line: Optional[int] = d["final_line"]
        self.first_wrong_line: Optional[int] = d["first_wrong_line"]
        self.steps: List[Dict[str, Any]] = d["steps"]
        self.definitions: List[Dict[str, Any]] = d["definitions"]

    def __getitem__(self, key: str) -> Any:
        return self.json[key]

    def __repr__(self) -> str:
        return f"<matdiff.AuditQuestion {self.id}: {self.answer}>"


class Audit:
    """The audit of a document (:func:`audit`): per question, each step read and judged, the
    first wrong step and the final answer. ``audit["questions"]`` etc. read the JSON form.

    Attributes:
        right: every question's final answer is right.
        equations: how many equations the document holds.
        questions: one :class:`AuditQuestion` per question of the problem file.
        text: the report as ``matdiff audit`` prints it.
        json: the ``matdiff audit --format json`` object.
    """

    def __init__(self, d: Dict[str, Any], text: str, right: bool) -> None:
        self.json: Dict[str, Any] = d
        self.text: str = text
        self.right: bool = right
        self.equations: int = d["equations"]
        self.questions: List[AuditQuestion] = [AuditQuestion(q) for q in d["questions"]]

    def __getitem__(self, key: str) -> Any:
        return self.json[key]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        answers = ", ".join(f"{q.id}: {q.answer}" for q in self.questions)
        return f"<matdiff.Audit {answers}>"

    def _repr_markdown_(self) -> str:
        return "```\n" + self.text.rstrip() + "\n```"


def audit(document_text: str, problem_toml_text: str) -> Audit:
    """Follow the derivation in a document (Markdown/LaTeX, OCR noise tolerated) against a
    problem file (PROBLEM.toml text, see docs/problem-files.md): which equations state each
    asked gradient, each step equal or not to the one before, the first wrong step and the
    final verdict."""
    d, text, right = _native.audit(document_text, problem_toml_text)
    return Audit(d, text, right)


def emit(expr: str, wrt: Wrt, decl: Decl = "", target: str = "numpy", *, latex: bool = False) -> str:
    """A self-contained module computing the value and gradient(s) of ``expr``: ``target`` is
    ``"numpy"``, ``"jax"``, ``"torch"`` or ``"rust"``. The Python modules define
    ``f_and_grad(...)`` (keyword arguments in declaration order) and ``check_gradient()``."""
    return _native.emit(expr, _wrt(wrt), _decl(decl), target, latex)
