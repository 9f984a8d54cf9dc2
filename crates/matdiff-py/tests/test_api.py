"""Every public function of the matdiff package, its result objects and its errors."""

import json
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import matdiff
from conftest import ROOT, SEEDS, fd_rel_err, rel_err

AE = "0.5*norm2(W'*W*x - x)^2"
AE_DECL = "W: matrix(m,n); x: vector(n)"
WRONG_CLAIM = "2W(W^T W - I)xx^T"


def ae_loss(W, x):
    return 0.5 * np.sum((W.T @ W @ x - x) ** 2)


def ae_grad(W, x):
    r = W.T @ W @ x - x
    return W @ np.outer(r, x) + W @ np.outer(x, r)


# --- grad -------------------------------------------------------------------------------------


def test_grad_fields_and_values(rng):
    g = matdiff.grad(AE, wrt="W", decl=AE_DECL)
    assert isinstance(g, matdiff.Gradient)
    assert g.wrt == "W"
    assert g.shape == ("m", "n")
    assert g.expr == "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'"
    assert g.where == {"t0": "W'*W*x - x"} and "t0" in g.cse
    assert isinstance(g.latex, str) and "W^\\top" in g.latex
    r = g._repr_latex_()
    assert r.startswith("$") and r.endswith("$") and g.latex in r
    assert str(g).splitlines() == [g.cse, "where t0 = W'*W*x - x"]
    # The printed gradient is the gradient: evaluate it and compare with the closed form.
    W, x = rng.standard_normal((3, 5)), rng.standard_normal(5)
    assert rel_err(matdiff.evaluate(g.expr, decl=AE_DECL, W=W, x=x), ae_grad(W, x)) < 1e-12
    assert fd_rel_err(ae_grad(W, x), lambda w: ae_loss(w, x), W) < 1e-6


def test_grad_several_variables_and_check(rng):
    gs = matdiff.grad("x'*A*y", wrt=["x", "y"], decl="A: matrix(m,n); x: vector(m); y: vector(n)", check=True)
    assert isinstance(gs, tuple) and [g.wrt for g in gs] == ["x", "y"]
    assert gs[0].shape == ("m",) and gs[1].shape == ("n",)
    assert gs[0].check["max_rel_error"] < 1e-6 and gs[0].check["settings"] == 2
    A, x, y = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal(4)
    d = "A: matrix(m,n); x: vector(m); y: vector(n)"
    assert rel_err(matdiff.evaluate(gs[0].expr, decl=d, A=A, y=y, x=x), A @ y) < 1e-12
    assert rel_err(matdiff.evaluate(gs[1].expr, decl=d, A=A, x=x, y=y), A.T @ x) < 1e-12
    # "x,y" is the CLI's spelling of the same.
    assert [g.expr for g in matdiff.grad("x'*A*y", wrt="x,y", decl=d)] == [g.expr for g in gs]


def test_grad_latex_input_and_dict_decl(rng):
    g = matdiff.grad(r"\frac{1}{2}\|W^T W x - x\|^2", wrt="W", decl={"W": "matrix(m,n)", "x": "vector(n)"})
    assert g.expr == matdiff.grad(AE, wrt="W", decl=AE_DECL).expr
    assert g.notes  # how the LaTeX was read


def test_grad_scalar_variable_shape():
    g = matdiff.grad("a*x'*x", wrt="a", decl="a: scalar; x: vector(n)")
    assert g.shape == () and g.expr == "x'*x"


# --- derivative, hessian ----------------------------------------------------------------------


def test_derivative_of_a_scalar_is_the_gradient(rng):
    d = matdiff.derivative(AE, wrt="W", decl=AE_DECL)
    assert d.layout == "gradient" and d.shape == ("m", "n")
    assert d._repr_latex_().startswith("$")
    W, x = rng.standard_normal((2, 3)), rng.standard_normal(3)
    assert rel_err(matdiff.evaluate(d.expr, decl=AE_DECL, W=W, x=x), ae_grad(W, x)) < 1e-12


def jacobian_fd(f, x, h=1e-6):
    """Central differences of vec(f) by vec(x) (column-major, as matdiff's vec layout)."""
    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1, order="F")
    cols = []
    for k in range(flat.size):
        e = np.zeros_like(flat)
        e[k] = h
        plus = np.asarray(f((flat + e).reshape(x.shape, order="F")), dtype=float).reshape(-1, order="F")
        minus = np.asarray(f((flat - e).reshape(x.shape, order="F")), dtype=float).reshape(-1, order="F")
        cols.append((plus - minus) / (2 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("dims", [(2, 3), (4, 5)])
def test_derivative_layouts_against_finite_differences(rng, dims):
    m, n = dims
    W, x = rng.standard_normal((m, n)), rng.standard_normal(n)
    decl = "W: matrix(m,n); x: vector(n)"
    # Jacobian of a vector by a vector: J[i, j] = d f_i / d x_j.
    j = matdiff.derivative("tanh(W*x)", wrt="x", decl=decl)
    assert j.layout == "jacobian" and j.shape == ("m", "n")
    want = jacobian_fd(lambda x_: np.tanh(W @ x_), x)
    assert rel_err(matdiff.evaluate(j.expr, decl=decl, W=W, x=x), want) < 1e-7
    # A vector by a matrix: d vec(f) / d vec(W)^T, numel(f) x numel(W).
    v = matdiff.derivative("W*x", wrt="W", decl=decl)
    assert v.layout == "vec" and "kron" in v.expr
    got = matdiff.evaluate(v.expr, decl=decl, W=W, x=x)
    assert got.shape == (m, m * n)
    assert rel_err(got, jacobian_fd(lambda W_: W_ @ x, W)) < 1e-7
    # A matrix by a scalar: entrywise.
    e = matdiff.derivative("exp(s*W)", wrt="s", decl="s: scalar; W: matrix(m,n)")
    assert e.layout == "elementwise"
    got = matdiff.evaluate(e.expr, decl="s: scalar; W: matrix(m,n)", s=0.3, W=W)
    assert rel_err(got, (np.exp(0.30001 * W) - np.exp(0.29999 * W)) / 2e-5) < 1e-7


def test_softmax_jacobian_and_logsumexp_hessian(rng):
    x = rng.standard_normal(4)
    p = np.exp(x) / np.exp(x).sum()
    j = matdiff.derivative("exp(x)/sum(exp(x))", wrt="x", decl="x: vector(n)", check=True)
    assert j.json["check"]["verdict"] == "agrees" and j.json["check"]["settings"] == 2
    assert rel_err(matdiff.evaluate(j.expr, decl="x: vector(n)", x=x), np.diag(p) - np.outer(p, p)) < 1e-12
    h = matdiff.hessian("log(sum(exp(x)))", wrt="x", decl="x: vector(n)")
    assert h.layout == "jacobian" and h.shape == ("n", "n")
    assert rel_err(matdiff.evaluate(h.expr, decl="x: vector(n)", x=x), np.diag(p) - np.outer(p, p)) < 1e-12


def test_softmax_builtin_is_stable_and_differentiable(rng):
    # softmax(z) is a function of the language: its Jacobian reads diag(p) - p*p'.
    z = rng.standard_normal(4)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    j = matdiff.derivative("softmax(z)", wrt="z", decl="z: vector(n)", check=True)
    assert j.json["check"]["verdict"] == "agrees"
    assert j.layout == "jacobian" and j.shape == ("n", "n")
    assert rel_err(matdiff.evaluate(j.expr, decl="z: vector(n)", z=z), np.diag(p) - np.outer(p, p)) < 1e-12
    # The compiled function shifts by the maximum: finite at entries near 1000.
    ce, decl = "-y'*log(softmax(W*x))", "W: matrix(m,n); x: vector(n); y: vector(m)"
    f = matdiff.compile(ce, wrt=["W"], decl=decl)
    W, x, y = np.eye(3), np.array([1000.0, 1001.0, 999.0]), np.array([0.0, 1.0, 0.0])
    value, (gW,) = f(W=W, x=x, y=y)
    q = np.exp([-1.0, 0.0, -2.0]) / np.exp([-1.0, 0.0, -2.0]).sum()
    assert np.isfinite(value) and abs(value + np.log(q[1])) < 1e-12
    assert rel_err(gW, np.outer(q - y, x)) < 1e-12
    with pytest.raises(matdiff.ShapeError):
        matdiff.grad("sum(softmax(W))", wrt="W", decl="W: matrix(m,n)")


@pytest.mark.parametrize("dims", [(3, 2), (5, 4)])
def test_hessian_and_hvp_against_finite_differences(rng, dims):
    N, d = dims
    A, x, y = rng.standard_normal((N, d)), rng.standard_normal(d), rng.standard_normal(N)
    decl = "A: matrix(N,d); x: vector(d); y: vector(N)"
    loss = "sum(softplus(A*x)) - y'*A*x"

    def grad(x_):
        return A.T @ (1 / (1 + np.exp(-(A @ x_))) - y)

    h = matdiff.hessian(loss, wrt="x", decl=decl)
    assert h.layout == "jacobian" and h.shape == ("d", "d")
    H = matdiff.evaluate(h.expr, decl=decl, A=A, x=x, y=y)
    assert rel_err(H, jacobian_fd(grad, x)) < 1e-7
    assert rel_err(H, H.T) < 1e-12
    v = rng.standard_normal(d)
    hv = matdiff.hessian(loss, wrt="x", decl=decl, direction="v")
    assert hv.shape == ("d",) and "kron" not in hv.expr
    got = matdiff.evaluate(hv.expr, decl=decl + "; v: vector(d)", A=A, x=x, y=y, v=v)
    assert rel_err(got, (grad(x + 1e-6 * v) - grad(x - 1e-6 * v)) / 2e-6) < 1e-7
    assert rel_err(got, H @ v) < 1e-12


def test_hessian_of_a_matrix_variable_and_its_check(rng):
    # The autoencoder's Hessian in W, w.r.t. vec(W): mn x mn, checked by second differences.
    h = matdiff.hessian(AE, wrt="W", decl=AE_DECL, check=True)
    assert h.layout == "vec" and h.shape == ("m*n", "m*n")
    assert h.json["check"]["verdict"] == "agrees"
    W, x = rng.standard_normal((2, 3)), rng.standard_normal(3)
    H = matdiff.evaluate(h.expr, decl=AE_DECL, W=W, x=x)
    assert rel_err(H, jacobian_fd(lambda W_: ae_grad(W_, x), W)) < 1e-6


def test_second_order_errors():
    with pytest.raises(matdiff.ShapeError):
        matdiff.hessian("A*x", wrt="x", decl="A: matrix(m,n); x: vector(n)")
    with pytest.raises(matdiff.UnknownNameError):
        matdiff.derivative("A*x", wrt="z", decl="A: matrix(m,n); x: vector(n)")


# --- compile ----------------------------------------------------------------------------------


def test_compile_value_and_gradient(rng):
    f = matdiff.compile(AE, wrt=["W"], decl=AE_DECL)
    assert isinstance(f, matdiff.Function)
    assert f.inputs == ["W", "x"] and f.wrt == ["W"] and f.expr == AE
    assert dict(f.shapes) == {"W": ["m", "n"], "x": ["n"]}
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    value, grads = f(W=W, x=x)
    assert isinstance(value, float) and isinstance(grads, tuple) and len(grads) == 1
    assert abs(value - ae_loss(W, x)) < 1e-12 * max(1, value)
    assert grads[0].shape == (3, 4) and grads[0].dtype == np.float64
    assert rel_err(grads[0], ae_grad(W, x)) < 1e-12
    assert "matdiff.Function" in repr(f) and f.plan()
    # A wrt string works too; no wrt: the value only.
    assert f(W=W, x=x)[0] == matdiff.compile(AE, wrt="W", decl=AE_DECL)(W=W, x=x)[0]
    v, g = matdiff.compile(AE, decl=AE_DECL)(W=W, x=x)
    assert g == () and abs(v - value) < 1e-12 * max(1, value)


def test_compile_reads_both_orders_and_strided_views(rng):
    f = matdiff.compile(AE, wrt="W", decl=AE_DECL)
    big = rng.standard_normal((6, 10))
    W = big[::2, 1::2]  # 3×5, neither C nor F contiguous
    x = rng.standard_normal(10)[::2]
    expect = ae_grad(np.array(W), np.array(x))
    for Wi in (W, np.ascontiguousarray(W), np.asfortranarray(W), W[::-1, :][::-1, :]):
        value, (g,) = f(W=Wi, x=x)
        assert rel_err(g, expect) < 1e-12
        assert abs(value - ae_loss(np.array(W), np.array(x))) < 1e-12 * max(1, value)
    # Inputs are read, never written.
    before = W.copy()
    f(W=W, x=x)
    assert np.array_equal(W, before)


def test_compile_converts_other_dtypes_lists_and_column_vectors(rng):
    f = matdiff.compile(AE, wrt="W", decl=AE_DECL)
    W = rng.integers(-3, 4, size=(2, 3))
    x = [1, -1, 2]
    expect = ae_grad(W.astype(float), np.array(x, dtype=float))
    for Wi, xi in [
        (W, x),
        (W.astype(np.float32), np.array(x, dtype=np.int8)),
        (W.tolist(), np.array(x, dtype=float).reshape(3, 1)),
        (W.astype(">f8"), np.array(x, dtype=np.int64)),
    ]:
        _, (g,) = f(W=Wi, x=xi)
        assert g.dtype == np.float64 and g.shape == (2, 3)
        assert rel_err(g, expect) < 1e-6
    # Scalars: Python numbers, NumPy scalars or 0-d arrays; a scalar gradient is a 0-d array.
    h = matdiff.compile("a*x'*x + a^2", wrt=["a", "x"], decl="a: scalar; x: vector(n)")
    for a in (2, 2.0, np.float64(2.0), np.array(2.0), np.int32(2)):
        v, (ga, gx) = h(a=a, x=np.array([1.0, 2.0]))
        assert v == 2 * 5 + 4 and ga.shape == () and float(ga) == 5 + 4
        assert np.allclose(gx, [4.0, 8.0])


def test_compile_shape_errors_are_clear(rng):
    f = matdiff.compile(AE, wrt="W", decl=AE_DECL)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    with pytest.raises(matdiff.ShapeError) as e:
        f(W=W, x=rng.standard_normal(5))
    assert "dimension n is 4" in str(e.value) and "`x`" in str(e.value)
    with pytest.raises(matdiff.ShapeError) as e:
        f(W=W[0], x=x)
    assert "`W` should be a m×n matrix" in str(e.value) and "(4,)" in str(e.value)
    with pytest.raises(matdiff.ShapeError):
        f(W=W, x=x.reshape(1, 4))
    with pytest.raises(matdiff.ShapeError):
        f(W=np.zeros((0, 4)), x=x)
    with pytest.raises(matdiff.InputError) as e:
        f(W=W)
    assert "missing input `x`" in str(e.value)
    with pytest.raises(matdiff.InputError) as e:
        f(W=W, x=x, y=x)
    assert "unexpected input `y`" in str(e.value)
    with pytest.raises(matdiff.InputError) as e:
        f(W=W.astype(complex), x=x)
    assert "complex" in str(e.value)
    with pytest.raises(matdiff.InputError):
        f(W=[[1, 2], [3]], x=x)
    with pytest.raises(matdiff.InputError):
        f(W="abc", x=x)
    # The same function still works after errors.
    assert f(W=W, x=x)[0] == pytest.approx(ae_loss(W, x))


def test_compile_is_thread_safe_and_releases_the_gil(rng):
    f = matdiff.compile(AE, wrt="W", decl=AE_DECL)
    cases = []
    for k in range(24):
        m, n = 2 + k % 3, 3 + k % 4  # several sizes: plans differ between calls
        cases.append((rng.standard_normal((m, n)), rng.standard_normal(n)))
    expected = [(ae_loss(W, x), ae_grad(W, x)) for W, x in cases]

    def run(i):
        W, x = cases[i % len(cases)]
        value, (g,) = f(W=W, x=x)
        return i % len(cases), value, g

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(400)))
    for i, value, g in results:
        assert abs(value - expected[i][0]) <= 1e-12 * max(1, abs(value))
        assert rel_err(g, expected[i][1]) < 1e-12


def test_compile_releases_the_gil_while_computing(rng):
    # A thread that wakes every millisecond can only run during the call if the GIL is free.
    product = matdiff.compile("A*B", decl="A: matrix(n,n); B: matrix(n,n)")
    A = rng.standard_normal((2000, 2000))
    stamps = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            time.sleep(0.001)
            stamps.append(time.perf_counter())

    t = threading.Thread(target=tick)
    t.start()
    try:
        time.sleep(0.02)
        t0 = time.perf_counter()
        value, _ = product(A=A, B=A)
        t1 = time.perf_counter()
    finally:
        stop.set()
        t.join()
    assert value.shape == (2000, 2000) and np.allclose(value[:3, :3], (A[:3] @ A[:, :3]))
    if t1 - t0 < 0.05:
        pytest.skip(f"the product took only {t1 - t0:.3f} s: too short to tell")
    inside = [s for s in stamps if t0 + 0.01 < s < t1 - 0.01]
    assert len(inside) >= 5, (len(inside), t1 - t0)


# --- evaluate ---------------------------------------------------------------------------------


def test_evaluate_scalar_vector_matrix(rng):
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    v = matdiff.evaluate(AE, decl=AE_DECL, W=W, x=x)
    assert isinstance(v, float) and v == pytest.approx(ae_loss(W, x), rel=1e-12)
    y = matdiff.evaluate("W*x", decl=AE_DECL, W=W, x=x)
    assert isinstance(y, np.ndarray) and y.shape == (3,) and np.allclose(y, W @ x)
    M = matdiff.evaluate("W'*W", decl=AE_DECL, W=W)
    assert M.shape == (4, 4) and np.allclose(M, W.T @ W)
    # `expr` is positional: a variable may be called expr.
    assert matdiff.evaluate("expr'*expr", decl="expr: vector(n)", expr=x) == pytest.approx(x @ x)
    with pytest.raises(matdiff.InputError):
        matdiff.evaluate("sum(x)", x=["a", "b"])  # not numbers


# --- check ------------------------------------------------------------------------------------


def test_check_wrong_claim_has_diagnosis_and_counterexample():
    v = matdiff.check(AE, wrt="W", claim=WRONG_CLAIM, decl=AE_DECL)
    assert isinstance(v, matdiff.Verdict)
    assert not v and v.right is False
    assert "misses the path" in v.diagnosis
    assert v.diagnoses[0]["kind"]
    cx = v.counterexample
    assert set(cx["inputs"]) == {"W", "x"} and set(cx) >= {"dims", "inputs", "gradient", "claim", "max_diff"}
    W, x = cx["inputs"]["W"], cx["inputs"]["x"]
    assert cx["W"] is W and cx["x"] is x
    assert W.shape == (cx["dims"]["m"], cx["dims"]["n"])
    # The counterexample is real: at its inputs the gradient and the claim differ.
    grad_there = ae_grad(W, x)
    assert rel_err(grad_there, cx["gradient"]) < 1e-5
    claim_there = matdiff.evaluate(v.claim_read_as, decl=AE_DECL, W=W, x=x)
    assert rel_err(claim_there, cx["claim"]) < 1e-5
    assert np.max(np.abs(claim_there - grad_there)) == pytest.approx(cx["max_diff"], rel=1e-4)
    assert v.text.startswith("wrong:") and str(v) == v.text
    assert v.json["verdict"] == "wrong" and "```" in v._repr_markdown_()


def test_check_right_claims():
    v = matdiff.check(AE, wrt="W", claim="W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'", decl=AE_DECL)
    assert v and v.right and v.counterexample is None and v.diagnosis is None
    v = matdiff.check("x'*A*x", wrt="x", claim="(A + A')*x", decl="A: matrix(n,n); x: vector(n)")
    assert v.right
    v = matdiff.check("x'*A*x", wrt="x", claim="2*A*x", decl="A: matrix(n,n); x: vector(n)")
    assert not v and v.diagnosis and "symmetric" in v.diagnosis


def test_check_claim_errors_point_into_the_claim():
    with pytest.raises(matdiff.ParseError) as e:
        matdiff.check(AE, wrt="W", claim="W*(x", decl=AE_DECL)
    assert e.value.input == "claim" and e.value.span is not None


# --- steps, graph -----------------------------------------------------------------------------


def test_steps_formats():
    s = matdiff.steps(AE, wrt="W", decl=AE_DECL)
    assert isinstance(s, matdiff.Steps)
    assert "Backward pass" in s.text and str(s) == s.text
    assert s._repr_markdown_() == s.markdown and "$" in s.markdown
    assert isinstance(s.json, dict) and json.dumps(s.json)
    assert "\\" in s.latex
    assert s.max_rel_error is not None and s.max_rel_error < 1e-6


def test_graph_svg_and_dot():
    gr = matdiff.graph(AE, decl=AE_DECL)
    svg = gr._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "digraph" in gr.dot
    with_adjoints = matdiff.graph(AE, decl=AE_DECL, wrt="W")
    assert with_adjoints.svg != svg and "W" in with_adjoints.svg


# --- audit ------------------------------------------------------------------------------------


def test_audit_seed_homework():
    problem = (ROOT / "problems" / "autoencoder.toml").read_text()
    docs = sorted(SEEDS.glob("*.txt"))
    assert len(docs) == 3
    answers = {}
    for doc in docs:
        a = matdiff.audit(doc.read_text(), problem)
        assert isinstance(a, matdiff.Audit) and a.equations > 0
        (q,) = a.questions
        assert q.id == "grad_W" and q.answer in {"right", "wrong"}
        assert a["questions"][0]["answer"] == q.answer == q["answer"]
        assert a.right == (q.answer == "right")
        answers[doc.name[:3]] = (q.answer, q.final_line, q.first_wrong_line)
        assert "final answer" in a.text
    assert answers["001"][0] == "right"
    assert answers["002"] == ("wrong", 55, 55)
    assert answers["003"][0] == "right"


def test_audit_inline_document_and_errors():
    problem = (ROOT / "problems" / "autoencoder.toml").read_text()
    doc = "We get $$\\frac{\\partial L}{\\partial W} = 2W(W^T W - I)xx^T$$\n"
    a = matdiff.audit(doc, problem)
    assert a.questions[0].answer == "wrong" and not a.right
    with pytest.raises(matdiff.MatdiffError):
        matdiff.audit(doc, "this is not toml [")


# --- emit -------------------------------------------------------------------------------------


def test_emit_numpy_runs_and_agrees(rng):
    code = matdiff.emit(AE, wrt="W", decl=AE_DECL, target="numpy")
    ns = {}
    exec(compile(code, "<emitted>", "exec"), ns)
    ns["check_gradient"]()
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    value, g = ns["f_and_grad"](W=W, x=x)
    assert value == pytest.approx(ae_loss(W, x)) and rel_err(g, ae_grad(W, x)) < 1e-12
    for target in ("jax", "torch", "rust"):
        assert "W" in matdiff.emit(AE, wrt="W", decl=AE_DECL, target=target)
    with pytest.raises(matdiff.InputError) as e:
        matdiff.emit(AE, wrt="W", decl=AE_DECL, target="fortran")
    assert "numpy" in str(e.value)


# --- errors -----------------------------------------------------------------------------------


def test_errors_have_kind_span_and_rendering():
    expr = "x'*A*y + foo(x)"
    with pytest.raises(matdiff.UnknownNameError) as e:
        matdiff.grad(expr, wrt="x")
    err = e.value
    assert isinstance(err, matdiff.MatdiffError) and isinstance(err, ValueError)
    assert err.kind == "unknown_name" and err.input == "expr"
    assert expr[err.span[0] : err.span[1]] == "foo"
    text = str(err)
    assert text.startswith("error: unknown function `foo`")
    assert expr in text and "─┬─" in text  # the source line, the span underlined
    assert err.message == "unknown function `foo`"


def test_error_kinds_map_to_subclasses():
    with pytest.raises(matdiff.ParseError) as e:
        matdiff.grad("x'*(x", wrt="x")
    assert e.value.kind == "syntax"
    with pytest.raises(matdiff.ShapeError) as e:
        matdiff.grad("x'*A*x", wrt="x", decl="A: matrix(m,n); x: vector(n)")
    assert e.value.kind == "shape" and e.value.span is not None
    with pytest.raises(matdiff.MatdiffError) as e:
        matdiff.grad("x'*x", wrt="y")
    assert "does not occur" in str(e.value)
    with pytest.raises(matdiff.ParseError) as e:
        matdiff.grad("x'*x", wrt="x", decl="x: vectr(n)")
    assert e.value.input == "decl"
    with pytest.raises(matdiff.MatdiffError):
        matdiff.grad("W*x", wrt="x")  # not scalar
    with pytest.raises(matdiff.LimitError):
        matdiff.grad("(" * 100000 + "x" + ")" * 100000, wrt="x")


def test_spans_count_characters_not_bytes():
    expr = "αβ + foo(x)"  # two 2-byte characters before the error
    with pytest.raises(matdiff.MatdiffError) as e:
        matdiff.grad(expr, wrt="x", decl="αβ: scalar")
    s = e.value.span
    if s is not None:
        assert expr[s[0] : s[1]] in {"foo", "α", "αβ"}


def test_public_api_is_documented():
    for name in matdiff.__all__:
        obj = getattr(matdiff, name)
        assert obj.__doc__ and obj.__doc__.strip(), name


def test_package_is_abi3_and_typed():
    import pathlib

    native = pathlib.Path(matdiff._native.__file__)
    assert native.name.endswith(".abi3.so") or native.suffix == ".pyd"  # one wheel for CPython >= 3.9
    assert (native.parent / "py.typed").exists() and (native.parent / "_native.pyi").exists()
    assert matdiff.__version__


def test_declared_inputs_the_expression_does_not_use_fix_sizes():
    # m is named only by eye(m) and by W's declaration; W is given but not used.
    assert matdiff.evaluate("sum(eye(m))", decl="W: matrix(m,n)", W=np.ones((3, 2))) == 3.0
    x = np.arange(3.0)
    k = matdiff.evaluate("kron(x', eye(m))", decl="W: matrix(m,n); x: vector(n)", W=np.ones((2, 3)), x=x)
    assert k.shape == (2, 6) and rel_err(k, np.kron(x[None, :], np.eye(2))) < 1e-15
    with pytest.raises(matdiff.MatdiffError):
        matdiff.evaluate("sum(eye(m))*x'*x", decl="W: matrix(m,n); x: vector(n)", W=np.ones((3, 2)), x=x)


@pytest.mark.parametrize("n", [3, 6])
def test_finite_difference_comparison_is_scale_invariant(rng, n):
    # Issue 12: with an absolute floor of 1, a loss of size 1e-10 had every gradient "agree".
    # matdiff's gradient of s*x'Ax agrees with central differences at every scale, and the
    # same gradient off by a factor 1.001 is rejected at every scale, the tiniest included.
    g = matdiff.compile("s*x'*A*x", wrt="x", decl="s: scalar; A: matrix(n,n); x: vector(n)")
    A, x0 = rng.standard_normal((n, n)), rng.standard_normal(n)
    for s in [1e-10, 1.0, 1e10]:
        for xs in [1e-6, 1.0, 1e6]:
            x = xs * x0
            _, (grad,) = g(s=s, A=A, x=x)

            def f(v, s=s):
                return s * (v @ A @ v)

            assert fd_rel_err(grad, f, x) < 1e-6, (s, xs)
            assert fd_rel_err(1.001 * grad, f, x) > 1e-4, (s, xs)
            # A gradient missing the transpose (2Ax instead of (A + A')x) is rejected too.
            assert fd_rel_err(2 * s * (A @ x), f, x) > 1e-2, (s, xs)
