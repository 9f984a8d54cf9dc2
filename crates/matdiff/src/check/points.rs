//! Sample points for numeric comparison: random dimension settings and domain-aware inputs,
//! rounded to two decimals so a counterexample can be printed exactly and re-run by hand.

use super::CheckOptions;
use faer::Mat;
use matdiff_core::{Graph, NodeId};
use matdiff_exec::{check_sizes, eval_with_error, Env};
use matdiff_exec::{normal, random_dims, random_env_attempt, POINT_ATTEMPTS};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// One evaluation point with the values every comparison needs, computed once.
#[derive(Clone, Debug)]
pub(crate) struct Point {
    /// Which dimension setting this point belongs to (0 = the small one).
    pub setting: usize,
    pub env: Env,
    /// The gradient's value here.
    pub grad: Mat<f64>,
    /// Each path term's value here (they sum to `grad`).
    pub terms: Vec<Mat<f64>>,
    /// Rounding error (absolute) of `grad` and of each term: differences within it are noise.
    pub grad_err: f64,
    pub term_errs: Vec<f64>,
}

/// Dimension sizes for setting `s`: 2–3 first (small counterexamples), then pairwise
/// distinct sizes (so a claim cannot pass because m happened to equal n), then 3–5.
fn dims_for(g: &Graph, s: usize, rng: &mut StdRng) -> Vec<usize> {
    match s {
        0 => random_dims(g, rng, 2, 3),
        1 => {
            let atomic = |d: &&matdiff_core::Dim| d.factors.is_empty();
            let free = g.dims().dims().iter().filter(atomic).filter(|d| d.size.is_none()).count();
            let mut sizes: Vec<usize> = (2..2 + free).collect();
            sizes.shuffle(rng);
            let mut it = sizes.into_iter();
            let mut sizes: Vec<usize> = g
                .dims()
                .dims()
                .iter()
                .map(|d| match d.size {
                    _ if !d.factors.is_empty() => usize::MAX,
                    Some(k) => k,
                    None => it.next().unwrap_or(2),
                })
                .collect();
            g.dims().fill_products(&mut sizes);
            sizes
        }
        _ => random_dims(g, rng, 3, 5),
    }
}

/// Round to two decimals; declared-symmetric matrices stay exactly so. A square matrix drawn
/// symmetric positive definite for `inv`/`logdet` but not declared symmetric gets an
/// antisymmetric part (its symmetric part stays positive definite, so it stays invertible
/// with a positive determinant): otherwise `inv(X)` and `inv(X)'` could not be told apart.
fn round_env(g: &Graph, env: &mut Env, rng: &mut StdRng) {
    for (v, m) in g.vars().iter().zip(env.vars.iter_mut()) {
        let square = m.nrows() == m.ncols() && m.nrows() > 1;
        let near_sym = square
            && (0..m.nrows()).all(|i| (0..i).all(|j| (m[(i, j)] - m[(j, i)]).abs() <= 1e-9 * (1.0 + m[(i, j)].abs())));
        let r = |x: f64| (x * 100.0).round() / 100.0;
        if v.symmetric {
            *m = Mat::from_fn(m.nrows(), m.ncols(), |i, j| r(0.5 * (m[(i, j)] + m[(j, i)])));
        } else if near_sym {
            let k = Mat::from_fn(m.nrows(), m.ncols(), |_, _| normal(rng));
            *m = Mat::from_fn(m.nrows(), m.ncols(), |i, j| {
                r(0.5 * (m[(i, j)] + m[(j, i)]) + 0.3 * (k[(i, j)] - k[(j, i)]))
            });
        } else {
            *m = Mat::from_fn(m.nrows(), m.ncols(), |i, j| r(m[(i, j)]));
        }
    }
}

pub(crate) fn finite(m: &Mat<f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}

/// `opts.settings × opts.trials` points where the loss, gradient and terms are all finite.
pub(crate) fn sample_points(
    g: &Graph,
    loss: NodeId,
    grad: NodeId,
    terms: &[NodeId],
    opts: &CheckOptions,
) -> Vec<Point> {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut roots = vec![loss, grad];
    roots.extend_from_slice(terms);
    let mut points = vec![];
    for s in 0..opts.settings {
        for _ in 0..opts.trials {
            for attempt in 0..POINT_ATTEMPTS {
                let dims = dims_for(g, s, &mut rng);
                let mut env = random_env_attempt(g, loss, dims, &mut rng, attempt);
                round_env(g, &mut env, &mut rng);
                if check_sizes(g, &roots, &env).is_err() {
                    return points;
                }
                let (vals, errs) = eval_with_error(g, &roots, &env);
                if vals.iter().all(finite) && errs.iter().all(|e| e.is_finite()) {
                    let mut it = vals.into_iter().skip(1);
                    let grad = it.next().unwrap();
                    let (grad_err, term_errs) = (errs[1], errs[2..].to_vec());
                    points.push(Point { setting: s, env, grad, terms: it.collect(), grad_err, term_errs });
                    break;
                }
            }
        }
    }
    points
}

/// The same inputs with the variables `which` (square matrices) replaced by their symmetric
/// parts (for "correct only for symmetric matrices").
pub(crate) fn symmetrize_square(g: &Graph, env: &Env, which: &[usize]) -> Env {
    let mut out = env.clone();
    for (i, (v, m)) in g.vars().iter().zip(out.vars.iter_mut()).enumerate() {
        if which.contains(&i) && is_square_matrix(g, v) {
            *m = Mat::from_fn(m.nrows(), m.ncols(), |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
        }
    }
    out
}

/// A square matrix variable whose values are not already symmetric by declaration.
pub(crate) fn is_square_matrix(_g: &Graph, v: &matdiff_core::Var) -> bool {
    v.shape.is_matrix() && v.shape.is_square() && !v.symmetric
}
