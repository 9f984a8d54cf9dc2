"""Shared helpers for the matdiff Python tests: paths, random inputs, central differences."""

import pathlib

import numpy as np
import pytest

#: The repository root (crates/matdiff-py/tests/ is three levels down).
ROOT = pathlib.Path(__file__).resolve().parents[3]
#: The seed homework (copies of ../shared/seeds kept with the audit tests).
SEEDS = ROOT / "crates" / "matdiff" / "tests" / "cases" / "audit" / "seeds"


#: Rounding error of one evaluation of a test's NumPy function, in unit roundoffs of its value.
ROUNDING_ULPS = 64.0


def _fd_step(x, i, h):
    """The step of entry i: h relative to the entry, or to the root mean square of the whole x
    for an entry near zero, so that scaling x scales its steps (no absolute floor)."""
    rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
    base = max(abs(float(x[i])), rms)
    return h * (base if 0.0 < base < np.inf else 1.0)


def central_diff(f, x, h=1e-4):
    """Central finite differences of the scalar function ``f`` at the array ``x`` (any shape),
    entry by entry (entries treated as independent), as matdiff's own check computes them
    (crates/matdiff-exec/src/numcheck.rs): steps s and s/2 combined by Richardson extrapolation.

    Returns ``(fd, err)``: the estimate, an array of ``x``'s shape, and a bound on its error
    measured from the differences themselves (how much the two steps disagree, plus the
    rounding of the evaluations). Nothing in it has an absolute scale: multiplying f or x by
    1e-10 scales fd and err alike."""
    x = np.array(x, dtype=np.float64)
    g, e = np.zeros_like(x), np.zeros_like(x)
    flat, gflat, eflat = x.reshape(-1), g.reshape(-1), e.reshape(-1)
    eps = ROUNDING_ULPS * np.finfo(np.float64).eps / 2
    for i in range(flat.size):
        old, step = flat[i], _fd_step(flat, i, h)
        d, noise = [], 0.0
        for s in (step, step / 2):
            flat[i] = old + s
            up = float(f(x))
            flat[i] = old - s
            down = float(f(x))
            flat[i] = old
            d.append((up - down) / (2 * s))
            noise = max(noise, eps * max(abs(up), abs(down)) / s)
        # D(s/2) - D(s) measures the truncation error of D(s/2) (three times that of the
        # extrapolation): kept whole, as the differences' own error, with the rounding bound.
        gflat[i] = (4 * d[1] - d[0]) / 3
        eflat[i] = abs(d[1] - d[0]) + noise
    return g, e


def fd_rel_err(claimed, f, x, h=1e-4):
    """How far ``claimed`` (a gradient of the scalar f at x) is from central differences of f,
    beyond the differences' own error, relative to the larger of the two (no absolute floor)."""
    fd, err = central_diff(f, x, h)
    claimed = np.asarray(claimed, dtype=np.float64)
    scale = max(float(np.max(np.abs(fd), initial=0.0)), float(np.max(np.abs(claimed), initial=0.0)))
    diff = np.abs(np.reshape(claimed, fd.shape) - fd)
    if not np.all(np.isfinite(diff)):
        return float("inf")
    beyond = float(np.max(np.maximum(diff - err, 0.0), initial=0.0))
    # The error bound must leave room to see a wrong gradient: a check drowned in its own
    # error judges nothing, and is reported as a failure rather than a pass (unless the claim
    # is exactly zero and so are the differences, within their error: the rule of the emitted
    # check_gradient()).
    if float(np.max(err, initial=0.0)) > 1e-2 * scale and (np.any(claimed) or beyond > 0.0):
        return float("inf")
    return beyond / scale if scale > 0 else beyond


def rel_err(a, b):
    """Largest entrywise difference relative to the larger of the two magnitudes, without an
    absolute floor (a tiny result is judged as strictly as a large one; two all-zero arrays
    agree only exactly)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    diff = float(np.max(np.abs(a - b), initial=0.0))
    return diff / scale if scale > 0 else diff


@pytest.fixture
def rng():
    return np.random.default_rng(20261202)
