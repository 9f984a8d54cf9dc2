"""Shared helpers for the matdiff Python tests: paths, random inputs, central differences."""

import pathlib

import numpy as np
import pytest

#: The repository root (crates/matdiff-py/tests/ is three levels down).
ROOT = pathlib.Path(__file__).resolve().parents[3]
#: The seed homework (copies of ../shared/seeds kept with the audit tests).
SEEDS = ROOT / "crates" / "matdiff" / "tests" / "cases" / "audit" / "seeds"


def central_diff(f, x, h=1e-6):
    """Central finite differences of the scalar function ``f`` at the array ``x`` (any shape):
    an array of ``x``'s shape, entry by entry (entries treated as independent)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        step = h * max(1.0, abs(old))
        flat[i] = old + step
        up = f(x)
        flat[i] = old - step
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * step)
    return g


def rel_err(a, b):
    """Largest entrywise difference relative to the larger of the two magnitudes (at least 1)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


@pytest.fixture
def rng():
    return np.random.default_rng(20261202)
