//! Scale-invariant comparison of computed values, with a tolerance that follows the
//! evaluation's own rounding error.
//!
//! Every numeric verdict in matdiff (claims in `check` and `audit`, `grad --check`, the
//! derivation's check, `demo`) goes through [`rel_diff`]: the largest entrywise difference
//! beyond the rounding error of the two values, relative to the larger value. There is no
//! absolute floor (an old `max(1, |a|, |b|)` denominator made every comparison below 1 an
//! absolute one, so `1e-10·x'Ax` accepted any claim), so multiplying a loss and its claims by
//! any constant leaves every verdict as it was.
//!
//! The rounding error of an evaluation is bounded from a *magnitude* evaluation
//! ([`magnitudes`]): the same graph evaluated on absolute values, where each operation adds up
//! the sizes of what it combines (|A|·M_B + M_A·|B| for a product, Σ|cᵢ|·M_tᵢ for a sum,
//! |f(a)| + |f'(a)|·M_a for a function, |A⁻¹|·M_A·|A⁻¹| for an inverse). Products carry the
//! magnitudes to first order (the value of one factor times the magnitude of the other), not
//! as M_A·M_B: that product of bounds compounds, so a product of a thousand factors each a
//! little less exact than its value had an infinite bound (a deep `tanh` chain's gradient).
//! Floating-point error of every operation is at most a few unit roundoffs of that magnitude, so cancellation
//! (`(A+A')x − (A'+A)x`) shows up as a large magnitude next to a small value, and a difference
//! within [`ROUNDING_ULPS`] unit roundoffs of it is roundoff, not a wrong answer.

use crate::eval::{eval, Env};
use faer::Mat;
use matdiff_core::{Func, Graph, NodeId, Op};
use std::collections::HashMap;

/// Unit roundoff of `f64`.
pub const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;

/// How many unit roundoffs of an evaluation's magnitude count as its rounding error. The
/// magnitude is already a worst-case sum of absolute values; the factor covers the length of
/// the evaluation (accumulated errors of a few dozen operations) with a margin.
pub const ROUNDING_ULPS: f64 = 64.0;

/// Largest entrywise difference of `a` and `b` beyond `noise` (an absolute rounding error),
/// relative to the larger entry of either: `max(0, max|a−b| − noise) / max(|a|, |b|)`.
///
/// Scale-invariant: scaling `a`, `b` and `noise` by the same factor gives the same number. Two
/// values that differ only within `noise` give 0 (also when both are 0); a NaN anywhere, or
/// different sizes, gives infinity.
pub fn rel_diff(a: &Mat<f64>, b: &Mat<f64>, noise: f64) -> f64 {
    if a.nrows() != b.nrows() || a.ncols() != b.ncols() {
        return f64::INFINITY;
    }
    let mut diff: f64 = 0.0;
    let mut scale: f64 = 0.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let (x, y) = (a[(i, j)], b[(i, j)]);
            let d = (x - y).abs();
            if d.is_nan() {
                return f64::INFINITY;
            }
            diff = diff.max(d);
            scale = scale.max(x.abs()).max(y.abs());
        }
    }
    let noise = if noise.is_finite() { noise.max(0.0) } else { 0.0 };
    if diff <= noise {
        return 0.0;
    }
    if !scale.is_finite() {
        return f64::INFINITY;
    }
    (diff - noise) / scale
}

/// Largest absolute entry.
pub fn max_abs(m: &Mat<f64>) -> f64 {
    let mut s: f64 = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            s = s.max(m[(i, j)].abs());
        }
    }
    s
}

/// The rounding error of a value whose magnitude (see [`magnitudes`]) is `m`: an absolute
/// bound, [`ROUNDING_ULPS`] unit roundoffs of its largest entry.
pub fn rounding_error(m: &Mat<f64>) -> f64 {
    ROUNDING_ULPS * UNIT_ROUNDOFF * max_abs(m)
}

/// Evaluate `roots` with the reference evaluator, and each root's rounding error (absolute,
/// infinite when the magnitude overflows; call `check_sizes` first).
pub fn eval_with_error(g: &Graph, roots: &[NodeId], env: &Env) -> (Vec<Mat<f64>>, Vec<f64>) {
    let mags = magnitudes(g, roots, env);
    let errs = mags.iter().map(|m| if m.nrows() == 0 { 0.0 } else { rounding_error(m) }).collect();
    (eval(g, roots, env), errs)
}

/// The magnitude evaluation of `roots`: a nonnegative matrix per root, entrywise at least the
/// value's absolute value, such that the floating-point error of evaluating the root is at
/// most a small multiple of the unit roundoff times it (first order).
pub fn magnitudes(g: &Graph, roots: &[NodeId], env: &Env) -> Vec<Mat<f64>> {
    let order = g.reachable(roots);
    let vals = eval(g, &order, env);
    let val: HashMap<NodeId, &Mat<f64>> = order.iter().copied().zip(vals.iter()).collect();
    let mut mag: HashMap<NodeId, Mat<f64>> = HashMap::with_capacity(order.len());
    for &n in &order {
        let m = magnitude_of(g, n, &val, &mag);
        mag.insert(n, m);
    }
    roots.iter().map(|r| mag[r].clone()).collect()
}

fn abs(m: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)].abs())
}

fn one(x: f64) -> Mat<f64> {
    Mat::from_fn(1, 1, |_, _| x)
}

fn total(m: &Mat<f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            s += m[(i, j)];
        }
    }
    s
}

/// The relative size of a bound's second-order term: magnitudes count rounding error in units
/// of [`ROUNDING_ULPS`] unit roundoffs, so the product of two errors is that much smaller.
const BOUND_ROUNDOFF: f64 = ROUNDING_ULPS * UNIT_ROUNDOFF;

/// The magnitude of a product `a·b` from the factors' values and magnitudes: first order
/// (|a|·m_b + m_a·|b|) plus the product of the errors, which is second order.
fn times(a: f64, ma: f64, b: f64, mb: f64) -> f64 {
    a.abs() * mb + ma * b.abs() + BOUND_ROUNDOFF * ma * mb
}

/// `slope · m`, where an exact input (`m` = 0) stays exact even under an infinite slope.
fn carry(slope: f64, m: f64) -> f64 {
    if m == 0.0 {
        0.0
    } else {
        slope * m
    }
}

/// |f'(x)|: how much an error in the argument is magnified.
fn slope(f: Func, x: f64) -> f64 {
    let s = |x: f64| Func::Sigmoid.apply(x);
    match f {
        Func::Exp => x.exp(),
        Func::Log => 1.0 / x.abs(),
        Func::Sin => x.cos().abs(),
        Func::Cos => x.sin().abs(),
        Func::Tan => 1.0 + x.tan().powi(2),
        Func::Tanh => 1.0 - x.tanh().powi(2),
        Func::Sqrt => 0.5 / x.abs().sqrt(),
        Func::Abs | Func::Relu => 1.0,
        Func::Sign | Func::Step => 0.0,
        Func::Sigmoid | Func::Softplus => s(x),
        Func::Swish => (s(x) * (1.0 + x * (1.0 - s(x)))).abs(),
    }
}

fn magnitude_of(g: &Graph, n: NodeId, val: &HashMap<NodeId, &Mat<f64>>, mag: &HashMap<NodeId, Mat<f64>>) -> Mat<f64> {
    let v = val[&n];
    let (r, c) = (v.nrows(), v.ncols());
    let m = |id: &NodeId| &mag[id];
    match g.op(n) {
        Op::Var(_) | Op::Const(_) | Op::Fill(_) | Op::Identity | Op::Commutation(..) => abs(v),
        Op::Lin(ts) => {
            let mut acc = Mat::<f64>::zeros(r, c);
            for (k, t) in ts {
                let (k, x) = (k.get().abs(), m(t));
                acc = Mat::from_fn(r, c, |i, j| acc[(i, j)] + k * x[(i, j)]);
            }
            acc
        }
        Op::Scale(s, x) => {
            let (vs, ms, vx, mx) = (val[s][(0, 0)], m(s)[(0, 0)], val[x], m(x));
            Mat::from_fn(r, c, |i, j| times(vs, ms, vx[(i, j)], mx[(i, j)]))
        }
        Op::MatMul(fs) => {
            // Left to right: the product so far (|value|, magnitude) times the next factor.
            let (mut p, mut mp) = (abs(val[&fs[0]]), m(&fs[0]).clone());
            for f in &fs[1..] {
                let (vf, mf) = (abs(val[f]), m(f));
                let first = &p * mf + &mp * &vf;
                let second = &mp * mf;
                mp = Mat::from_fn(first.nrows(), first.ncols(), |i, j| first[(i, j)] + BOUND_ROUNDOFF * second[(i, j)]);
                p = &p * &vf;
            }
            mp
        }
        Op::Hadamard(a, b) => {
            let (va, ma, vb, mb) = (val[a], m(a), val[b], m(b));
            Mat::from_fn(r, c, |i, j| times(va[(i, j)], ma[(i, j)], vb[(i, j)], mb[(i, j)]))
        }
        Op::Pow(a, p) => {
            let (x, ma, p) = (val[a], m(a), p.get());
            Mat::from_fn(r, c, |i, j| {
                let s = (p * x[(i, j)].powf(p - 1.0)).abs();
                v[(i, j)].abs() + carry(s, ma[(i, j)])
            })
        }
        Op::Map(f, a) => {
            let (x, ma) = (val[a], m(a));
            Mat::from_fn(r, c, |i, j| v[(i, j)].abs() + carry(slope(*f, x[(i, j)]), ma[(i, j)]))
        }
        Op::Transpose(a) => m(a).transpose().to_owned(),
        Op::Sum(a) | Op::Norm1(a) => one(total(m(a))),
        Op::SqNorm(a) => one(v[(0, 0)].abs() + 2.0 * norm2(val[a]) * norm2(m(a))),
        Op::Norm2(a) => one(v[(0, 0)].abs() + norm2(m(a))),
        Op::Dot(a, b) => {
            let (va, ma, vb, mb) = (val[a], m(a), val[b], m(b));
            one(total(&Mat::from_fn(ma.nrows(), ma.ncols(), |i, j| {
                times(va[(i, j)], ma[(i, j)], vb[(i, j)], mb[(i, j)])
            })))
        }
        Op::Trace(a) => {
            let a = m(a);
            one((0..a.nrows()).map(|i| a[(i, i)]).sum())
        }
        Op::Inv(a) => {
            // δ(A⁻¹) = −A⁻¹·δA·A⁻¹; the solver's backward error is of the same form.
            let inv = abs(v);
            let spread = &inv * m(a) * &inv;
            Mat::from_fn(r, c, |i, j| inv[(i, j)] + spread[(i, j)])
        }
        Op::LogDet(a) | Op::Det(a) => {
            // δ log det A = tr(A⁻¹·δA), so the error is at most Σ |A⁻ᵀ|∘|δA|.
            let inv = abs(&crate::eval::inverse_of(val[a], g.node(*a).symmetric));
            let ma = m(a);
            let spread: f64 = (0..ma.nrows())
                .flat_map(|i| (0..ma.ncols()).map(move |j| (i, j)))
                .map(|(i, j)| inv[(j, i)] * ma[(i, j)])
                .sum();
            let x = v[(0, 0)].abs();
            one(if matches!(g.op(n), Op::Det(_)) { x * (1.0 + spread) } else { x + spread })
        }
        Op::Diag(a) => {
            let a = m(a);
            Mat::from_fn(r, c, |i, j| if i == j { a[(i, 0)] } else { 0.0 })
        }
        Op::DiagPart(a) => {
            let a = m(a);
            Mat::from_fn(r, 1, |i, _| a[(i, i)])
        }
        Op::Kron(a, b) => {
            // Every entry is one product a_ij·b_kl: the bound is the Kronecker product of bounds.
            let (va, ma, vb, mb) = (val[a], m(a), val[b], m(b));
            let (p, q) = (mb.nrows(), mb.ncols());
            Mat::from_fn(r, c, |i, j| {
                let (k, l) = ((i / p, j / q), (i % p, j % q));
                times(va[k], ma[k], vb[l], mb[l])
            })
        }
        // Reshapes move entries without arithmetic: the bounds move with them (column-major).
        Op::Vectorize(a) => {
            let a = m(a);
            let rows = a.nrows();
            Mat::from_fn(r, 1, |i, _| a[(i % rows, i / rows)])
        }
        Op::Unvec(a) => {
            let a = m(a);
            Mat::from_fn(r, c, |i, j| a[(i + j * r, 0)])
        }
        Op::Softmax(a) => {
            // δp = (diag(p) - p*p')·δz, so |δp| ≤ (diag(p) + p*p')·m(z), on top of p's own
            // rounding (the shift by the maximum keeps that relative to p).
            let ma = m(a);
            let spread: f64 = (0..r).map(|i| v[(i, 0)].abs() * ma[(i, 0)]).sum();
            Mat::from_fn(r, 1, |i, _| {
                let p = v[(i, 0)].abs();
                p + carry(p, ma[(i, 0)]) + p * spread
            })
        }
    }
}

/// Euclidean (Frobenius) norm.
pub fn norm2(m: &Mat<f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            s += m[(i, j)] * m[(i, j)];
        }
    }
    s.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(xs: &[f64]) -> Mat<f64> {
        Mat::from_fn(xs.len(), 1, |i, _| xs[i])
    }

    #[test]
    fn rel_diff_has_no_absolute_floor() {
        // The 1e-10·x'Ax case of issue 12: a missing transpose at scale 1e-10.
        let g = col(&[1e-10, 3e-10]);
        let claim = col(&[2e-10, 2e-10]);
        assert!(rel_diff(&g, &claim, 0.0) > 0.3);
        for k in [1e-12, 1e-6, 1.0, 1e6, 1e12] {
            let (a, b) = (col(&[k * 1.0, k * 3.0]), col(&[k * 2.0, k * 2.0]));
            assert!((rel_diff(&a, &b, 0.0) - 1.0 / 3.0).abs() < 1e-12, "{k}");
        }
    }

    #[test]
    fn rel_diff_within_noise_is_zero_and_nan_is_infinite() {
        let z = col(&[0.0, 0.0]);
        assert_eq!(rel_diff(&z, &z, 0.0), 0.0);
        assert_eq!(rel_diff(&col(&[1e-17, 0.0]), &z, 1e-16), 0.0);
        assert!(rel_diff(&col(&[1e-15, 0.0]), &z, 1e-16) > 0.5);
        assert_eq!(rel_diff(&col(&[f64::NAN]), &col(&[1.0]), 1.0), f64::INFINITY);
        assert_eq!(rel_diff(&col(&[1.0]), &col(&[1.0, 2.0]), 0.0), f64::INFINITY);
    }
}
