//! Numeric verification: random well-conditioned inputs and central finite differences.

use crate::eval::{check_sizes, eval, Env};
use faer::Mat;
use matdiff_core::{Func, Graph, NodeId, Op};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What one variable's random values must satisfy so the expression is defined.
/// The code exporters draw their test inputs by the same rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Domain {
    /// Argument of inv/logdet/det: symmetric positive definite, well conditioned.
    pub spd: bool,
    /// Argument of log/sqrt/fractional power: positive entries.
    pub positive: bool,
}

/// The domain each variable of `g` must be drawn from for `root` to be defined.
pub fn domains(g: &Graph, root: NodeId) -> Vec<Domain> {
    let mut d = vec![Domain::default(); g.vars.len()];
    let var_of = |mut n: NodeId| loop {
        match g.op(n) {
            Op::Var(v) => return Some(*v as usize),
            Op::Transpose(a) => n = *a,
            _ => return None,
        }
    };
    for n in g.reachable(&[root]) {
        match g.op(n) {
            Op::Inv(a) | Op::LogDet(a) | Op::Det(a) => {
                if let Some(v) = var_of(*a) {
                    d[v].spd = true;
                }
            }
            Op::Map(Func::Log | Func::Sqrt, a) => {
                if let Some(v) = var_of(*a) {
                    d[v].positive = true;
                }
            }
            Op::Pow(a, p) if p.get().fract() != 0.0 || p.get() < 0.0 => {
                if let Some(v) = var_of(*a) {
                    d[v].positive = true;
                }
            }
            _ => {}
        }
    }
    d
}

/// Standard normal by Box–Muller (keeps the dependency list short).
pub fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Random sizes in `lo..=hi` for each free dimension (fixed sizes are kept).
pub fn random_dims(g: &Graph, rng: &mut StdRng, lo: usize, hi: usize) -> Vec<usize> {
    g.dims.dims.iter().map(|d| d.size.unwrap_or_else(|| rng.random_range(lo..=hi))).collect()
}

/// Random values for every variable, shaped by `dims`, respecting each one's domain.
pub fn random_env(g: &Graph, root: NodeId, dims: Vec<usize>, rng: &mut StdRng) -> Env {
    let doms = domains(g, root);
    let mut env = Env { dims, vars: vec![] };
    for (i, v) in g.vars.iter().enumerate() {
        let (r, c) = env.size(v.shape);
        let dom = doms[i];
        let m = if v.shape.is_scalar() {
            Mat::from_fn(1, 1, |_, _| rng.random_range(0.5..1.5))
        } else if dom.spd && r == c {
            let b = Mat::from_fn(r, r, |_, _| normal(rng));
            let mut a = &b * b.transpose();
            for i in 0..r {
                for j in 0..r {
                    a[(i, j)] = a[(i, j)] / r as f64 + if i == j { 1.0 } else { 0.0 };
                }
            }
            if !v.symmetric {
                // A skew-symmetric part keeps x'·A·x = x'·P·x > 0 (invertible, det > 0, well
                // conditioned) but makes A ≠ A', so a missing transpose cannot hide.
                let k = Mat::from_fn(r, r, |_, _| normal(rng));
                let s = 0.5 / (r as f64).sqrt();
                a = Mat::from_fn(r, r, |i, j| a[(i, j)] + s * (k[(i, j)] - k[(j, i)]));
            }
            a
        } else if dom.positive {
            Mat::from_fn(r, c, |_, _| rng.random_range(0.5..2.0))
        } else {
            let mut m = Mat::from_fn(r, c, |_, _| normal(rng));
            if v.symmetric {
                m = Mat::from_fn(r, c, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
            }
            m
        };
        env.vars.push(m);
    }
    env
}

fn finite(m: &Mat<f64>) -> bool {
    (0..m.nrows()).all(|i| (0..m.ncols()).all(|j| m[(i, j)].is_finite()))
}

/// Central differences of a scalar function of one matrix at `x0`: entry (i,j) is
/// (f(x0 + h·E) − f(x0 − h·E)) / 2h with h = 1e-5·max(1, |x0ᵢⱼ|). With `symmetric`, E is
/// E_ij + E_ji (the perturbation stays symmetric), so entry (i,j) measures G_ij + G_ji off the
/// diagonal ([`symmetrize_for_fd`]); the result is filled symmetrically.
///
/// The one implementation behind every finite-difference gradient (variables, intermediate
/// nodes of a derivation).
///
/// ```
/// use faer::Mat;
/// let x = Mat::from_fn(2, 1, |i, _| (i + 1) as f64);
/// let g = matdiff_exec::central_differences(&x, false, |x| x[(0, 0)] * x[(0, 0)] + 3.0 * x[(1, 0)]);
/// assert!((g[(0, 0)] - 2.0).abs() < 1e-8 && (g[(1, 0)] - 3.0).abs() < 1e-8);
/// ```
pub fn central_differences(x0: &Mat<f64>, symmetric: bool, mut f: impl FnMut(&Mat<f64>) -> f64) -> Mat<f64> {
    let (r, c) = (x0.nrows(), x0.ncols());
    let mut x = x0.clone();
    let mut out = Mat::<f64>::zeros(r, c);
    for j in 0..c {
        for i in 0..r {
            if symmetric && i < j {
                continue;
            }
            let h = 1e-5 * x0[(i, j)].abs().max(1.0);
            let mut at = |d: f64| {
                x[(i, j)] = x0[(i, j)] + d;
                if symmetric {
                    x[(j, i)] = x0[(j, i)] + d;
                }
                let v = f(&x);
                x[(i, j)] = x0[(i, j)];
                if symmetric {
                    x[(j, i)] = x0[(j, i)];
                }
                v
            };
            let (fp, fm) = (at(h), at(-h));
            out[(i, j)] = (fp - fm) / (2.0 * h);
            if symmetric {
                out[(j, i)] = out[(i, j)];
            }
        }
    }
    out
}

/// Central-difference gradient of scalar `f` w.r.t. variable `var`.
///
/// A symmetric variable is perturbed symmetrically, so entry (i,j) holds the derivative along
/// E_ij + E_ji: compare it with G_ij + G_ji (`symmetrize_for_fd`).
pub fn fd_gradient(g: &Graph, f: NodeId, var: usize, env: &Env) -> Mat<f64> {
    let mut env = env.clone();
    let x0 = env.vars[var].clone();
    central_differences(&x0, g.vars[var].symmetric, |x| {
        env.vars[var].copy_from(x);
        eval(g, &[f], &env)[0][(0, 0)]
    })
}

/// For a symmetric variable, the quantity a symmetric perturbation measures: G + G' off the diagonal.
pub fn symmetrize_for_fd(gm: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(gm.nrows(), gm.ncols(), |i, j| if i == j { gm[(i, i)] } else { gm[(i, j)] + gm[(j, i)] })
}

/// Largest entrywise difference, relative to the larger of 1 and the largest entry.
pub fn rel_err(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let mut diff: f64 = 0.0;
    let mut scale: f64 = 1.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            diff = diff.max((a[(i, j)] - b[(i, j)]).abs());
            scale = scale.max(a[(i, j)].abs()).max(b[(i, j)].abs());
        }
    }
    if diff.is_nan() {
        f64::INFINITY
    } else {
        diff / scale
    }
}

/// The outcome of checking one gradient numerically.
#[derive(Clone, Debug)]
pub struct FdReport {
    /// Largest relative error over all trials.
    pub max_err: f64,
    /// Dimension sizes tried, one list (indexed by DimId) per trial.
    pub dims: Vec<Vec<usize>>,
    /// Trials where no finite random point was found (expression undefined almost everywhere).
    pub skipped: usize,
}

/// Check `grads[k]` = ∂f/∂`vars[k]` at random points for `settings` random dimension settings.
pub fn check_gradients(g: &Graph, f: NodeId, vars: &[usize], grads: &[NodeId], seed: u64, settings: usize) -> FdReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = FdReport { max_err: 0.0, dims: vec![], skipped: 0 };
    let mut roots = vec![f];
    roots.extend_from_slice(grads);
    // The derived value and gradients through the compiled evaluator (what users run), the
    // difference quotients through the reference one: each checks the other.
    let mut compiled = crate::exec::Compiled::new(g, &roots);
    for s in 0..settings {
        let (lo, hi) = if s == 0 { (2, 4) } else { (3, 6) };
        let mut found = None;
        for _ in 0..30 {
            let dims = random_dims(g, &mut rng, lo, hi);
            let env = random_env(g, f, dims, &mut rng);
            if check_sizes(g, &roots, &env).is_err() {
                break;
            }
            let Ok(vals) = compiled.run_env(&env).map(|v| v.iter().map(|m| m.to_owned()).collect::<Vec<_>>()) else {
                break;
            };
            if vals.iter().all(finite) {
                found = Some((env, vals));
                break;
            }
        }
        let Some((env, vals)) = found else {
            report.skipped += 1;
            continue;
        };
        for (k, &v) in vars.iter().enumerate() {
            let fd = fd_gradient(g, f, v, &env);
            let gm = if g.vars[v].symmetric { symmetrize_for_fd(&vals[k + 1]) } else { vals[k + 1].clone() };
            report.max_err = report.max_err.max(rel_err(&fd, &gm));
        }
        report.dims.push(env.dims.clone());
    }
    report
}
