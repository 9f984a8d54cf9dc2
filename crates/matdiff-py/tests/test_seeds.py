"""Every seed model: matdiff's value against a NumPy implementation of the loss, its compiled
gradients against NumPy central differences of that loss, and the printed gradient
(``grad(...).expr``, re-parsed and evaluated) against the compiled one, at random inputs and two
dimension settings each."""

import numpy as np
import pytest

import matdiff
from conftest import fd_rel_err, rel_err


def swish(z):
    return z / (1.0 + np.exp(-z))


def relu(z):
    return np.maximum(z, 0.0)


def spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


# name: (expr, decl, wrt, numpy loss(**inputs), input maker(rng, sizes), two size settings)
SEEDS = {
    "autoencoder": (
        "0.5*norm2(W'*W*x - x)^2",
        "W: matrix(m,n); x: vector(n)",
        ["W"],
        lambda W, x: 0.5 * np.sum((W.T @ W @ x - x) ** 2),
        lambda r, s: dict(W=r.standard_normal((s["m"], s["n"])), x=r.standard_normal(s["n"])),
        [dict(m=3, n=4), dict(m=5, n=2)],
    ),
    "autoencoder-batched": (
        "0.5*norm2(W'*W*X - X)^2",
        "W: matrix(m,n); X: matrix(n,N)",
        ["W"],
        lambda W, X: 0.5 * np.sum((W.T @ W @ X - X) ** 2),
        lambda r, s: dict(W=r.standard_normal((s["m"], s["n"])), X=r.standard_normal((s["n"], s["N"]))),
        [dict(m=2, n=3, N=4), dict(m=4, n=3, N=2)],
    ),
    "gplvm": (
        "-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
        "X: matrix(N,q); Y: matrix(N,D); D: scalar; a: scalar; b: scalar",
        ["X", "a"],
        lambda X, Y, D, a, b: (
            -D / 2 * np.linalg.slogdet(a * X @ X.T + np.eye(len(X)) / b)[1]
            - 0.5 * np.trace(np.linalg.solve(a * X @ X.T + np.eye(len(X)) / b, Y @ Y.T))
        ),
        lambda r, s: dict(
            X=r.standard_normal((s["N"], s["q"])),
            Y=r.standard_normal((s["N"], s["D"])),
            D=float(s["D"]),
            a=0.5 + r.random(),
            b=0.5 + r.random(),
        ),
        [dict(N=4, q=2, D=3), dict(N=3, q=3, D=2)],
    ),
    "gplvm-vector": (
        "-D/2*log(det(a*x*x' + 1/b*eye(N))) - 0.5*tr(inv(a*x*x' + 1/b*eye(N))*y*y')",
        "x: vector(N); y: vector(N); D: scalar; a: scalar; b: scalar",
        ["x"],
        lambda x, y, D, a, b: (
            -D / 2 * np.log(np.linalg.det(a * np.outer(x, x) + np.eye(len(x)) / b))
            - 0.5 * np.trace(np.linalg.solve(a * np.outer(x, x) + np.eye(len(x)) / b, np.outer(y, y)))
        ),
        lambda r, s: dict(
            x=r.standard_normal(s["N"]), y=r.standard_normal(s["N"]), D=2.0, a=0.5 + r.random(), b=0.5 + r.random()
        ),
        [dict(N=3), dict(N=5)],
    ),
    "mlp": (
        "0.5*norm2(W2*swish(W1*x + b1) + b2 - t)^2",
        "W1: matrix(H,D); b1: vector(H); W2: matrix(C,H); b2: vector(C); x: vector(D); t: vector(C)",
        ["W1", "b1", "W2", "b2"],
        lambda W1, b1, W2, b2, x, t: 0.5 * np.sum((W2 @ swish(W1 @ x + b1) + b2 - t) ** 2),
        lambda r, s: dict(
            W1=r.standard_normal((s["H"], s["D"])),
            b1=r.standard_normal(s["H"]),
            W2=r.standard_normal((s["C"], s["H"])),
            b2=r.standard_normal(s["C"]),
            x=r.standard_normal(s["D"]),
            t=r.standard_normal(s["C"]),
        ),
        [dict(H=4, D=3, C=2), dict(H=2, D=5, C=3)],
    ),
    "residual": (
        "h = relu(W*x + b) + x\ny = relu(V*h + c) + h\n0.5*norm2(y - t)^2",
        "W: matrix(n,n); V: matrix(n,n); x: vector(n); b: vector(n); c: vector(n); t: vector(n)",
        ["W", "b", "V", "c"],
        lambda W, V, x, b, c, t: 0.5
        * np.sum((relu(V @ (relu(W @ x + b) + x) + c) + (relu(W @ x + b) + x) - t) ** 2),
        lambda r, s: {k: r.standard_normal((s["n"], s["n"])) for k in "WV"}
        | {k: r.standard_normal(s["n"]) for k in "xbct"},
        [dict(n=3), dict(n=5)],
    ),
    "ppca": (
        "-0.5*logdet(U*U' + s*eye(d)) - 0.5*tr(inv(U*U' + s*eye(d))*S)",
        "U: matrix(d,q); s: scalar; S: symmetric(d)",
        ["U", "S"],
        lambda U, s, S: (
            -0.5 * np.linalg.slogdet(U @ U.T + s * np.eye(len(U)))[1]
            - 0.5 * np.trace(np.linalg.solve(U @ U.T + s * np.eye(len(U)), S))
        ),
        lambda r, s: dict(U=r.standard_normal((s["d"], s["q"])), s=0.5 + r.random(), S=spd(r, s["d"])),
        [dict(d=4, q=2), dict(d=3, q=1)],
    ),
}


def test_the_table_covers_every_seed_model():
    # The names of matdiff's built-in examples (crates/matdiff/src/examples.rs), as `demo` runs them.
    assert set(SEEDS) == {"autoencoder", "autoencoder-batched", "gplvm", "gplvm-vector", "mlp", "residual", "ppca"}


@pytest.mark.parametrize("name", sorted(SEEDS))
@pytest.mark.parametrize("setting", [0, 1])
def test_seed_gradients_against_numpy_central_differences(name, setting, rng):
    expr, decl, wrt, loss, make, settings = SEEDS[name]
    inputs = make(rng, settings[setting])
    f = matdiff.compile(expr, wrt=wrt, decl=decl)
    value, grads = f(**inputs)
    assert isinstance(value, float)
    assert abs(value - loss(**inputs)) <= 1e-9 * max(1.0, abs(value))
    printed = matdiff.grad(expr, wrt=wrt, decl=decl)
    assert len(grads) == len(wrt) == len(printed)
    for name_, g, p in zip(wrt, grads, printed):
        assert p.wrt == name_
        assert isinstance(g, np.ndarray) and g.shape == np.shape(inputs[name_])

        def at(v, name_=name_):
            return loss(**dict(inputs, **{name_: v if np.ndim(v) else float(v)}))

        assert fd_rel_err(g, at, inputs[name_]) < 1e-6, (name_, g)
        # The printed gradient re-parses and evaluates to the same values.
        again = matdiff.evaluate(p.expr, decl=decl, **{k: v for k, v in inputs.items() if k in f.inputs})
        assert rel_err(np.reshape(again, np.shape(g)), g) < 1e-9


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_gradients_same_in_c_and_fortran_order(name, rng):
    expr, decl, wrt, _, make, settings = SEEDS[name]
    inputs = make(rng, settings[0])
    f = matdiff.compile(expr, wrt=wrt, decl=decl)
    v_c, g_c = f(**{k: np.ascontiguousarray(v) if np.ndim(v) else v for k, v in inputs.items()})
    v_f, g_f = f(**{k: np.asfortranarray(v) if np.ndim(v) else v for k, v in inputs.items()})
    assert abs(v_c - v_f) <= 1e-12 * max(1.0, abs(v_c))
    for a, b in zip(g_c, g_f):
        assert rel_err(a, b) < 1e-12
