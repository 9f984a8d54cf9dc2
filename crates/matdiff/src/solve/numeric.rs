//! Numeric verification of a closed-form stationary point: at random inputs (two dimension
//! settings), the gradient at the solution must vanish relative to its size at a random point,
//! and the curvature there — the Hessian assembled from exact Hessian-vector products on the
//! unknown's space — gives the kind.
//!
//! Inputs are drawn the way the conditions read: symmetric matrices positive definite,
//! scalars positive, weight vectors (under `diag` or in elementwise products) positive. A
//! draw where a matrix the solution inverts is numerically singular is outside the conditions
//! and is skipped, not failed. Square general matrices are drawn from three families (plain
//! Gaussian, positive and negative definite symmetric part): a kind that changes between
//! draws depends on the data and is reported as `stationary`.

use super::PointKind;
use faer::{Mat, Side};
use matdiff_core::{gradients, Graph, NodeId, Op};
use matdiff_exec::{domains, eval, normal, random_dims, Env};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest accepted |gradient at the solution| / |gradient at a random point|.
pub const RESIDUAL_TOL: f64 = 1e-7;
/// Valid points wanted per dimension setting and input family.
const POINTS_PER_FAMILY: usize = 2;
/// Draws tried per dimension setting and family before giving up.
const TRIES: usize = 12;
/// Smallest reciprocal condition number of an inverted matrix for a draw to count.
const MIN_RCOND: f64 = 1e-9;
/// Curvatures below this fraction of the largest one count as zero.
const CURV_TOL: f64 = 1e-8;

/// The outcome of the numeric check.
#[derive(Clone, Debug, Default)]
pub struct Verification {
    /// Random points where the solution was evaluated inside its conditions.
    pub points: usize,
    /// Largest |∇f(solution)| / |∇f(random point)| over those points (the symmetric part for
    /// a symmetric unknown).
    pub max_residual: f64,
    /// The dimension sizes of each setting that gave a point (indexed by dimension id).
    pub dims: Vec<Vec<usize>>,
    /// Draws skipped because a matrix the solution inverts was singular there.
    pub skipped: usize,
    /// Curvature at each point where the Hessian was definite or indefinite.
    pub curvatures: Vec<PointKind>,
}

impl Verification {
    /// At least one point, and the gradient vanished at every one.
    pub fn passed(&self) -> bool {
        self.points > 0 && self.max_residual <= RESIDUAL_TOL
    }
}

/// How one draw fills square general matrices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Plain,
    PosDef,
    NegDef,
}

/// Which variables are drawn positive (entries) because they weight something.
fn weights(g: &Graph, root: NodeId) -> Vec<bool> {
    let mut w = vec![false; g.vars().len()];
    let var_of = |n: NodeId| match g.op(n) {
        Op::Var(v) => Some(*v as usize),
        _ => None,
    };
    for n in g.reachable(&[root]) {
        let args: Vec<NodeId> = match g.op(n) {
            Op::Diag(a) => vec![*a],
            Op::Hadamard(a, b) => vec![*a, *b],
            _ => vec![],
        };
        for a in args {
            if let Some(v) = var_of(a) {
                if !g.vars()[v].shape.is_scalar() && !g.vars()[v].shape.is_matrix() {
                    w[v] = true;
                }
            }
        }
    }
    w
}

/// Random values for every variable, by the conventions above.
fn draw(g: &Graph, root: NodeId, dims: Vec<usize>, family: Family, rng: &mut StdRng) -> Env {
    let doms = domains(g, root);
    let w = weights(g, root);
    let mut env = Env { dims, vars: vec![] };
    for (i, v) in g.vars().iter().enumerate() {
        let (r, c) = env.size(v.shape);
        let m = if v.shape.is_scalar() {
            Mat::from_fn(1, 1, |_, _| rng.random_range(0.5..2.0))
        } else if v.symmetric {
            spd(r, rng)
        } else if doms[i].positive || w[i] {
            Mat::from_fn(r, c, |_, _| rng.random_range(0.5..2.0))
        } else if v.shape.is_matrix() && v.shape.is_square() && (family != Family::Plain || doms[i].spd) {
            let p = spd(r, rng);
            let k = Mat::from_fn(r, r, |_, _| normal(rng));
            let s = 0.5 / (r as f64).sqrt();
            let sign = if family == Family::NegDef && !doms[i].spd { -1.0 } else { 1.0 };
            Mat::from_fn(r, r, |i, j| sign * (p[(i, j)] + s * (k[(i, j)] - k[(j, i)])))
        } else {
            Mat::from_fn(r, c, |_, _| normal(rng))
        };
        env.vars.push(m);
    }
    env
}

/// A symmetric positive definite matrix with eigenvalues in about [0.5, 3].
fn spd(r: usize, rng: &mut StdRng) -> Mat<f64> {
    let b = Mat::from_fn(r, r, |_, _| normal(rng));
    let a = &b * b.transpose();
    Mat::from_fn(r, r, |i, j| a[(i, j)] / r as f64 + if i == j { 0.5 } else { 0.0 })
}

fn finite(m: &Mat<f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}

fn fro(m: &Mat<f64>) -> f64 {
    (0..m.ncols())
        .flat_map(|j| (0..m.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| m[(i, j)] * m[(i, j)])
        .sum::<f64>()
        .sqrt()
}

/// `(G + G')/2` for a symmetric unknown (the gradient on the symmetric matrices), else G.
fn project(m: &Mat<f64>, sym: bool) -> Mat<f64> {
    if sym {
        Mat::from_fn(m.nrows(), m.ncols(), |i, j| 0.5 * (m[(i, j)] + m[(j, i)]))
    } else {
        m.clone()
    }
}

/// Reciprocal condition number by singular values (0 when singular or not finite).
fn rcond(m: &Mat<f64>) -> f64 {
    if !finite(m) || m.nrows() == 0 {
        return 0.0;
    }
    match m.singular_values() {
        Ok(s) if s[0] > 0.0 => s[s.len() - 1] / s[0],
        _ => 0.0,
    }
}

/// The basis of the unknown's space: unit matrices, symmetric pairs for a symmetric unknown.
fn basis(r: usize, c: usize, sym: bool) -> Vec<Mat<f64>> {
    let mut out = vec![];
    for j in 0..c {
        for i in 0..r {
            if sym && i < j {
                continue;
            }
            out.push(Mat::from_fn(r, c, |a, b| if (a, b) == (i, j) || (sym && (a, b) == (j, i)) { 1.0 } else { 0.0 }));
        }
    }
    out
}

fn inner(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    (0..a.ncols()).flat_map(|j| (0..a.nrows()).map(move |i| (i, j))).map(|(i, j)| a[(i, j)] * b[(i, j)]).sum()
}

/// The sign pattern of the Hessian's eigenvalues (`None`: singular, no conclusion).
fn classify(h: &Mat<f64>) -> Option<PointKind> {
    let n = h.nrows();
    let s = Mat::from_fn(n, n, |i, j| 0.5 * (h[(i, j)] + h[(j, i)]));
    if !finite(&s) {
        return None;
    }
    let eig = s.self_adjoint_eigenvalues(Side::Lower).ok()?;
    let top = eig.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if top == 0.0 {
        return None;
    }
    let pos = eig.iter().filter(|&&x| x > CURV_TOL * top).count();
    let neg = eig.iter().filter(|&&x| x < -CURV_TOL * top).count();
    match (pos, neg) {
        (p, 0) if p == n => Some(PointKind::Minimum),
        (0, q) if q == n => Some(PointKind::Maximum),
        (p, q) if p > 0 && q > 0 => Some(PointKind::Saddle),
        _ => None,
    }
}

/// Check `solution` (a node free of the unknown) against the gradient of `objective` with
/// respect to variable `var`, and classify the curvature there.
pub fn verify(g: &Graph, objective: NodeId, var: usize, gradient: NodeId, solution: NodeId, seed: u64) -> Verification {
    let sym = g.vars()[var].symmetric;
    let x = g.find(&Op::Var(var as u32), g.vars()[var].shape).expect("the unknown occurs in its gradient");
    // The Hessian-vector product, exact: the gradient of <∇f, D> with respect to X.
    let mut h = g.clone();
    let (dvar, d) = h.add_symbol("\u{1}direction", x, true);
    let dvar = dvar as usize;
    let dir = h.dot(gradient, d);
    let (hv, _) = gradients(&mut h, dir, &[x]);
    let hv = hv[0];
    // Matrices whose inverses the solution or the gradient at the solution use.
    let inverted: Vec<NodeId> = g
        .reachable(&[solution, gradient, objective])
        .into_iter()
        .filter_map(|n| if let Op::Inv(a) = g.op(n) { Some(*a) } else { None })
        .collect();
    let families: &[Family] = if g
        .vars()
        .iter()
        .enumerate()
        .any(|(i, v)| i != var && v.shape.is_matrix() && v.shape.is_square() && !v.symmetric)
    {
        &[Family::Plain, Family::PosDef, Family::NegDef]
    } else {
        &[Family::Plain]
    };

    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = Verification::default();
    for setting in 0..2 {
        let (lo, hi) = if setting == 0 { (2, 4) } else { (3, 6) };
        let mut used_dims = None;
        for &family in families {
            let mut found = 0;
            for _ in 0..TRIES {
                if found == POINTS_PER_FAMILY {
                    break;
                }
                let dims = random_dims(g, &mut rng, lo, hi);
                let mut env = draw(g, objective, dims.clone(), family, &mut rng);
                let x0 = env.vars[var].clone();
                let vals = eval(g, &[solution], &env);
                let xs = vals[0].clone();
                if !finite(&xs) || (xs.nrows(), xs.ncols()) != (x0.nrows(), x0.ncols()) {
                    report.skipped += 1;
                    continue;
                }
                let xs = if sym { project(&xs, true) } else { xs };
                env.vars[var] = xs.clone();
                let at_sol = eval(g, &[gradient, objective], &env);
                let inv_args = eval(g, &inverted, &env);
                if inv_args.iter().any(|m| rcond(m) < MIN_RCOND)
                    || !finite(&at_sol[0])
                    || !at_sol[1][(0, 0)].is_finite()
                {
                    report.skipped += 1;
                    continue;
                }
                env.vars[var] = x0;
                let at_rand = eval(g, &[gradient], &env);
                let scale = fro(&project(&at_rand[0], sym));
                if !(scale.is_finite() && scale > 0.0) {
                    report.skipped += 1;
                    continue;
                }
                let residual = fro(&project(&at_sol[0], sym)) / scale;
                report.max_residual = report.max_residual.max(if residual.is_nan() { f64::INFINITY } else { residual });
                report.points += 1;
                found += 1;
                used_dims.get_or_insert(dims);
                // The Hessian on the unknown's space, one exact HVP per basis direction.
                env.vars[var] = xs;
                let (r, c) = (env.vars[var].nrows(), env.vars[var].ncols());
                let es = basis(r, c, sym);
                let mut hm = Mat::<f64>::zeros(es.len(), es.len());
                env.vars.push(Mat::zeros(r, c));
                for (b, eb) in es.iter().enumerate() {
                    env.vars[dvar] = eb.clone();
                    let col = eval(&h, &[hv], &env).remove(0);
                    for (a, ea) in es.iter().enumerate() {
                        hm[(a, b)] = inner(ea, &col);
                    }
                }
                if let Some(k) = classify(&hm) {
                    report.curvatures.push(k);
                }
            }
        }
        report.dims.extend(used_dims);
    }
    report
}

/// The kind the curvatures agree on; `stationary` when they differ or none was conclusive.
pub fn kind(curvatures: &[PointKind]) -> PointKind {
    match curvatures.first() {
        Some(&k) if curvatures.iter().all(|&c| c == k) => k,
        _ => PointKind::Stationary,
    }
}
