//! Numeric verification: random well-conditioned inputs and central finite differences.

use crate::compare::{magnitudes, max_abs, rel_diff, rounding_error};
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
    let mut d = vec![Domain::default(); g.vars().len()];
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
/// Product dimensions (`m*n`) are their factors' product.
pub fn random_dims(g: &Graph, rng: &mut StdRng, lo: usize, hi: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = g
        .dims()
        .dims()
        .iter()
        .map(|d| if d.factors.is_empty() { d.size.unwrap_or_else(|| rng.random_range(lo..=hi)) } else { usize::MAX })
        .collect();
    g.dims().fill_products(&mut sizes);
    sizes
}

/// Random values for every variable, shaped by `dims`, respecting each one's domain.
pub fn random_env(g: &Graph, root: NodeId, dims: Vec<usize>, rng: &mut StdRng) -> Env {
    random_env_attempt(g, root, dims, rng, 0)
}

/// How many random points a search tries before it gives up (see [`random_env_attempt`]).
pub const POINT_ATTEMPTS: usize = 30;

/// [`random_env`] for the `attempt`-th try of a search for a point where the expression is
/// defined. The domain rules only see a variable directly under `log`, `sqrt`, `inv`…; for
/// `log(x - 5)` the first tries (standard normal entries) fail, so later tries draw the
/// unconstrained variables positive, from 0.5–2 and then from 5–20.
pub fn random_env_attempt(g: &Graph, root: NodeId, dims: Vec<usize>, rng: &mut StdRng, attempt: usize) -> Env {
    let doms = domains(g, root);
    let band = attempt * 3 / POINT_ATTEMPTS;
    let mut env = Env { dims, vars: vec![] };
    for (i, v) in g.vars().iter().enumerate() {
        let (r, c) = env.size(v.shape);
        let dom = doms[i];
        let m = if v.shape.is_scalar() {
            let k = if band == 2 { 10.0 } else { 1.0 };
            Mat::from_fn(1, 1, |_, _| k * rng.random_range(0.5..1.5))
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
        } else if dom.positive || band > 0 {
            let k = if band == 2 { 10.0 } else { 1.0 };
            let mut m = Mat::from_fn(r, c, |_, _| k * rng.random_range(0.5..2.0));
            if v.symmetric {
                m = Mat::from_fn(r, c, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
            }
            m
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

/// Relative step of central differences.
pub const FD_STEP: f64 = 1e-5;

/// Largest relative error (beyond rounding, see [`rel_diff`]) between a gradient and its
/// central differences that still counts as agreement: the differences' truncation error is
/// about `FD_STEP²` times the curvature, so this leaves room for curved functions.
pub const FD_TOLERANCE: f64 = 1e-5;

/// A comparison is judged only where the differences' error (rounding and truncation) is
/// below this fraction of the gradient's scale; otherwise a wrong gradient could hide in the
/// noise (at 1e-2 a gradient off by a factor 1.01 could; 1e-3 leaves a factor 1.001 at the
/// edge, and the rounding bound is a worst case, usually far above the error seen).
pub const FD_RESOLUTION: f64 = 1e-3;

/// Central-difference step for entry (i,j) of `x0`: `FD_STEP` relative to the entry, or to the
/// root mean square of the whole value for an entry near zero (so scaling an input scales its
/// steps), and `FD_STEP` for an all-zero value.
pub fn fd_step(x0: &Mat<f64>, i: usize, j: usize) -> f64 {
    let n = (x0.nrows() * x0.ncols()).max(1) as f64;
    let rms = (crate::compare::norm2(x0).powi(2) / n).sqrt();
    let base = x0[(i, j)].abs().max(rms);
    FD_STEP * if base > 0.0 && base.is_finite() { base } else { 1.0 }
}

/// Richardson extrapolation of a difference quotient whose error is of order h², from its
/// values at the steps h (`coarse`) and h/2 (`fine`): the extrapolated value (the h² term
/// cancelled) and the size of the correction, `|fine − coarse| / 3`, which stands for the
/// error left. The correction is measured, not assumed: it grows with the function's curvature
/// at this point and with the rounding noise the two quotients actually carry, so a deep or
/// strongly curved function is judged against its own error instead of a fixed tolerance.
/// The one extrapolation behind every finite-difference check (first differences here, second
/// differences of Hessians in `matdiff::derivative`).
///
/// ```
/// // f(x) = x³ at 1: central quotients 3 + h² (h = 0.1) and 3 + h²/4.
/// let (d, e) = matdiff_exec::richardson(3.01, 3.0025);
/// assert!((d - 3.0).abs() < 1e-12 && (e - 0.0025).abs() < 1e-12);
/// ```
pub fn richardson(coarse: f64, fine: f64) -> (f64, f64) {
    (fine + (fine - coarse) / 3.0, (fine - coarse).abs() / 3.0)
}

/// Central differences of a scalar function of one value, entry by entry, with their error:
/// `f_at` evaluates the function with the value replaced, `f_error` is the function's own
/// rounding error (absolute, a bound from [`magnitudes`]). A symmetric value is perturbed
/// symmetrically, so entry (i,j) holds the derivative along E_ij + E_ji (compare with
/// [`symmetrize_for_fd`]).
///
/// Each entry is the [`richardson`] extrapolation of the quotients at the steps h and h/2.
/// The error returned is the largest correction of the extrapolation (truncation, and the
/// rounding noise the evaluations really had) plus the rounding bound of the extrapolated
/// quotient: values off by `f_error`, (8 + 1)/3 · `f_error` / h for the smallest h. The one
/// implementation behind every finite-difference gradient (variables, intermediate nodes of a
/// derivation, first derivatives in `matdiff::derivative`).
///
/// ```
/// use faer::Mat;
/// let x = Mat::from_fn(2, 1, |i, _| (i + 1) as f64);
/// let (g, noise) = matdiff_exec::central_differences(&x, false, 0.0, |x| x[(0, 0)] * x[(0, 0)] + 3.0 * x[(1, 0)]);
/// assert!((g[(0, 0)] - 2.0).abs() < 1e-8 && (g[(1, 0)] - 3.0).abs() < 1e-8 && noise < 1e-8);
/// ```
pub fn central_differences(
    x0: &Mat<f64>,
    symmetric: bool,
    f_error: f64,
    mut f_at: impl FnMut(&Mat<f64>) -> f64,
) -> (Mat<f64>, f64) {
    let (r, c) = (x0.nrows(), x0.ncols());
    let mut out = Mat::<f64>::zeros(r, c);
    let mut x = x0.clone();
    let mut h_min = f64::INFINITY;
    let mut correction: f64 = 0.0;
    for j in 0..c {
        for i in 0..r {
            if symmetric && i < j {
                continue;
            }
            // Four evaluations per entry: a clock reading each is cheap in comparison.
            matdiff_syntax::budget::check();
            let h = fd_step(x0, i, j);
            h_min = h_min.min(h);
            let mut at = |d: f64| {
                x[(i, j)] = x0[(i, j)] + d;
                if symmetric && i != j {
                    x[(j, i)] = x0[(j, i)] + d;
                }
                let v = f_at(&x);
                x[(i, j)] = x0[(i, j)];
                if symmetric {
                    x[(j, i)] = x0[(j, i)];
                }
                v
            };
            let coarse = (at(h) - at(-h)) / (2.0 * h);
            let fine = (at(h / 2.0) - at(-h / 2.0)) / h;
            let (d, e) = richardson(coarse, fine);
            out[(i, j)] = d;
            correction = correction.max(e);
            if symmetric {
                out[(j, i)] = out[(i, j)];
            }
        }
    }
    let rounding = if h_min.is_finite() { 3.0 * f_error / h_min } else { 0.0 };
    // A NaN correction (an evaluation was not finite) is no estimate: the comparison sees the
    // NaN in the differences themselves.
    (out, rounding + if correction.is_nan() { 0.0 } else { correction })
}

/// Central-difference gradient of scalar `f` w.r.t. variable `var` (see
/// [`central_differences`]), with its rounding error.
pub fn fd_gradient_with_error(g: &Graph, f: NodeId, var: usize, env: &Env) -> (Mat<f64>, f64) {
    let sym = g.vars()[var].symmetric;
    let f_error = rounding_error(&magnitudes(g, &[f], env)[0]);
    let mut env = env.clone();
    let x0 = env.vars[var].clone();
    central_differences(&x0, sym, f_error, |x| {
        env.vars[var].copy_from(x);
        eval(g, &[f], &env)[0][(0, 0)]
    })
}

/// Central-difference gradient of scalar `f` w.r.t. variable `var`.
///
/// A symmetric variable is perturbed symmetrically, so entry (i,j) holds the derivative along
/// E_ij + E_ji: compare it with G_ij + G_ji (`symmetrize_for_fd`).
pub fn fd_gradient(g: &Graph, f: NodeId, var: usize, env: &Env) -> Mat<f64> {
    fd_gradient_with_error(g, f, var, env).0
}

/// For a symmetric variable, the quantity a symmetric perturbation measures: G + G' off the diagonal.
pub fn symmetrize_for_fd(gm: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(gm.nrows(), gm.ncols(), |i, j| if i == j { gm[(i, i)] } else { gm[(i, j)] + gm[(j, i)] })
}

/// One comparison of a gradient with its central differences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FdComparison {
    /// Relative error beyond rounding ([`rel_diff`]).
    pub err: f64,
    /// Rounding error of the comparison relative to its scale: how small an error it can see.
    pub resolution: f64,
}

impl FdComparison {
    /// Compare a gradient value `gm` (rounding error `g_error`) with differences `fd` (rounding
    /// error `fd_error`).
    pub fn new(fd: &Mat<f64>, fd_error: f64, gm: &Mat<f64>, g_error: f64) -> FdComparison {
        let noise = fd_error + g_error;
        if !noise.is_finite() {
            // No bound on the error (a magnitude overflowed): nothing can be judged here,
            // neither agreement nor disagreement (`rel_diff` would read it as no noise at all).
            return FdComparison { err: 0.0, resolution: f64::INFINITY };
        }
        let scale = max_abs(fd).max(max_abs(gm));
        let resolution = if scale > 0.0 {
            noise / scale
        } else if noise > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        FdComparison { err: rel_diff(fd, gm, noise), resolution }
    }

    /// Whether rounding leaves room to judge: the noise is below [`FD_RESOLUTION`] of the
    /// scale, or the gradient is exactly zero there and the differences vanish within the
    /// noise (nothing depends on the variable at this point, to rounding).
    pub fn resolved(&self, gm: &Mat<f64>) -> bool {
        self.resolution <= FD_RESOLUTION || (max_abs(gm) == 0.0 && self.err == 0.0)
    }
}

/// The outcome of checking one gradient numerically.
#[derive(Clone, Debug)]
pub struct FdReport {
    /// Largest relative error over all compared settings (0 when none was compared).
    pub max_err: f64,
    /// Dimension sizes compared, one list (indexed by DimId) per setting.
    pub dims: Vec<Vec<usize>>,
    /// Settings where no finite random point was found (expression undefined almost everywhere).
    pub skipped: usize,
    /// Settings where rounding error swamped the differences, so nothing could be judged.
    pub unresolved: usize,
}

/// What a numeric gradient check established.
#[derive(Clone, Debug, PartialEq)]
pub enum FdOutcome {
    /// Compared at one setting or more; every comparison within [`FD_TOLERANCE`].
    Agrees,
    /// Some comparison beyond [`FD_TOLERANCE`] (or NaN).
    Disagrees,
    /// Nothing was compared; the reason, in words. Never a pass.
    Unchecked(String),
}

impl FdReport {
    /// An empty report (no setting tried yet).
    pub fn new() -> FdReport {
        FdReport { max_err: 0.0, dims: vec![], skipped: 0, unresolved: 0 }
    }

    /// The verdict: a check that compared nothing is `Unchecked`, not a pass.
    pub fn outcome(&self) -> FdOutcome {
        if self.max_err.is_nan() || self.max_err > FD_TOLERANCE {
            return FdOutcome::Disagrees;
        }
        if !self.dims.is_empty() {
            return FdOutcome::Agrees;
        }
        let mut why = vec![];
        if self.skipped > 0 {
            why.push(format!(
                "no random input where the expression and its gradient are finite was found ({} dimension setting{} tried, {POINT_ATTEMPTS} points each)",
                self.skipped,
                if self.skipped == 1 { "" } else { "s" }
            ));
        }
        if self.unresolved > 0 {
            why.push(format!(
                "at {} dimension setting{} rounding error swamped the finite differences (the loss is much larger than its changes)",
                self.unresolved,
                if self.unresolved == 1 { "" } else { "s" }
            ));
        }
        if why.is_empty() {
            why.push("no dimension setting was tried".into());
        }
        FdOutcome::Unchecked(format!("nothing was checked: {}", why.join("; ")))
    }
}

impl Default for FdReport {
    fn default() -> Self {
        FdReport::new()
    }
}

/// Search for a random point (dimension sizes in `lo..=hi`) where `roots` are all finite,
/// evaluated by `run`; `None` when sizes are refused or none is found in [`POINT_ATTEMPTS`].
pub fn find_point<T>(
    g: &Graph,
    root: NodeId,
    roots: &[NodeId],
    rng: &mut StdRng,
    (lo, hi): (usize, usize),
    mut run: impl FnMut(&Env) -> Option<T>,
) -> Option<(Env, T)> {
    for attempt in 0..POINT_ATTEMPTS {
        let dims = random_dims(g, rng, lo, hi);
        let env = random_env_attempt(g, root, dims, rng, attempt);
        check_sizes(g, roots, &env).ok()?;
        if let Some(v) = run(&env) {
            return Some((env, v));
        }
    }
    None
}

/// How many points a setting of [`check_gradients`] tries where rounding swamps the
/// differences before it gives up on that setting (reported as unresolved). Swamping is
/// usually a property of the function (a deep `tanh` chain is flat almost everywhere), so more
/// points seldom help, and each costs a full set of differences: searching all
/// [`POINT_ATTEMPTS`] made `--check` on an 8,000-deep chain take 10 s instead of 1.
pub const SWAMPED_POINTS: usize = 3;

/// Check `grads[k]` = ∂f/∂`vars[k]` at random points for `settings` random dimension settings.
pub fn check_gradients(g: &Graph, f: NodeId, vars: &[usize], grads: &[NodeId], seed: u64, settings: usize) -> FdReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = FdReport::new();
    let mut roots = vec![f];
    roots.extend_from_slice(grads);
    // The derived value and gradients through the compiled evaluator (what users run), the
    // difference quotients through the reference one: each checks the other.
    let mut compiled = crate::exec::Compiled::new(g, &roots);
    for s in 0..settings {
        let range = if s == 0 { (2, 4) } else { (3, 6) };
        // A point where the values are finite but rounding swamps the differences (tanh
        // saturated: f ≈ 1, gradient 1e-12) says nothing; the search goes on to another.
        let mut swamped = 0usize;
        let found = find_point(g, f, &roots, &mut rng, range, |env| {
            if swamped >= SWAMPED_POINTS {
                return None;
            }
            let vals: Vec<Mat<f64>> = compiled.run_env(env).ok()?.iter().map(|m| m.to_owned()).collect();
            if !vals.iter().all(finite) {
                return None;
            }
            let g_errors: Vec<f64> = magnitudes(g, grads, env).iter().map(rounding_error).collect();
            let mut resolved = true;
            let mut worst: f64 = 0.0;
            for (k, &v) in vars.iter().enumerate() {
                let (fd, fd_error) = fd_gradient_with_error(g, f, v, env);
                let (gm, g_error) = if g.vars()[v].symmetric {
                    (symmetrize_for_fd(&vals[k + 1]), 2.0 * g_errors[k])
                } else {
                    (vals[k + 1].clone(), g_errors[k])
                };
                let cmp = FdComparison::new(&fd, fd_error, &gm, g_error);
                resolved &= cmp.resolved(&gm);
                worst = worst.max(cmp.err);
            }
            // A disagreement counts even where the noise is large; an agreement only where
            // the noise leaves room to see a disagreement.
            if worst > FD_TOLERANCE || resolved {
                Some(worst)
            } else {
                swamped += 1;
                None
            }
        });
        match found {
            Some((env, worst)) => {
                report.max_err = report.max_err.max(worst);
                report.dims.push(env.dims.clone());
            }
            None if swamped > 0 => report.unresolved += 1,
            None => report.skipped += 1,
        }
    }
    report
}
