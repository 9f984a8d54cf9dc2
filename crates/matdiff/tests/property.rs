//! Property test: random well-typed expressions from the whole language, every gradient
//! against central differences at two different dimension settings, and the compiled
//! evaluator (the planner's rewrites: chain order, solves, Woodbury, fusion) against the
//! reference evaluator on the same points.
//!
//! The corpus is deterministic (seeded), so a failure reproduces; its expression is printed.
//! `MATDIFF_PROPTEST_CASES` sets the number of expressions, `MATDIFF_PROPTEST_SEED` the seed.

use crate::common::gen::{case, DECLS};
use crate::common::{case_count, finite, max_abs, symmetrize_for_fd, two_dim_settings};
use matdiff::{eval, fd_gradient_with_error, magnitudes, random_env, rel_diff, rounding_error};
use matdiff::{Compiled, Env, Func, Graph, NodeId, Op, Problem};
use matdiff_exec::FdComparison;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Largest accepted relative error between the symbolic and the finite-difference gradient.
const TOL: f64 = 1e-5;
/// Random points are redrawn when an argument of a kink (abs, relu, sign, norm1, norm2) is
/// this close to it: a central difference straddling a kink measures nothing.
const KINK_MARGIN: f64 = 1e-3;
/// Largest accepted relative difference between the compiled and the reference evaluator.
const COMPILED_TOL: f64 = 1e-12;
/// Values beyond this are too large for central differences in f64 to mean anything.
const HUGE: f64 = 1e8;

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    expressions: usize,
    /// Gradients checked (one per variable per dimension setting).
    checks: usize,
    /// Expressions skipped: no finite, moderate, kink-free point found at some setting.
    skipped: usize,
    /// Expressions without variables (constant losses), nothing to check.
    constant: usize,
    /// Random points redrawn because a value was not finite or too large.
    redrawn_nonfinite: usize,
    /// Random points redrawn because they were near a kink.
    redrawn_kink: usize,
    /// Checks dropped because the differences' own error (rounding, and the correction of
    /// their extrapolation from the steps h and h/2) was too large to judge the gradient.
    unconverged: usize,
    max_err: f64,
    /// Points where the compiled evaluator was compared with the reference evaluator.
    compiled_checks: usize,
    /// Largest relative difference between the two evaluators (well-conditioned points).
    compiled_max_err: f64,
    /// Roots whose difference exceeded the tolerance but was within the reference evaluator's
    /// own sensitivity to rounding-sized changes of the inputs.
    ill_conditioned: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.expressions += o.expressions;
        self.compiled_checks += o.compiled_checks;
        self.ill_conditioned += o.ill_conditioned;
        self.compiled_max_err = self.compiled_max_err.max(o.compiled_max_err);
        self.checks += o.checks;
        self.skipped += o.skipped;
        self.constant += o.constant;
        self.redrawn_nonfinite += o.redrawn_nonfinite;
        self.redrawn_kink += o.redrawn_kink;
        self.unconverged += o.unconverged;
        self.max_err = self.max_err.max(o.max_err);
    }
}

/// Nodes whose value must stay away from 0 for central differences to be valid.
fn kink_args(p: &Problem) -> Vec<NodeId> {
    let g = p.graph();
    g.reachable(&[p.output])
        .into_iter()
        .filter_map(|n| match g.op(n) {
            Op::Map(Func::Abs | Func::Relu | Func::Sign | Func::Step, a) | Op::Norm1(a) => Some(*a),
            _ => None,
        })
        .collect()
}

fn norm2_args(p: &Problem) -> Vec<NodeId> {
    let g = p.graph();
    g.reachable(&[p.output])
        .into_iter()
        .filter_map(|n| if let Op::Norm2(a) = g.op(n) { Some(*a) } else { None })
        .collect()
}

fn min_abs(m: &faer::Mat<f64>) -> f64 {
    (0..m.ncols()).flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].abs())).fold(f64::INFINITY, f64::min)
}

/// How far root `k` of the reference evaluator moves when every input is nudged by a relative
/// 1e-13: a measure of the conditioning at this point (rounding errors are amplified alike).
fn reference_sensitivity(g: &Graph, roots: &[NodeId], env: &Env, k: usize, rng: &mut StdRng) -> f64 {
    use rand::Rng;
    let mut nudged = env.clone();
    for m in nudged.vars.iter_mut() {
        for j in 0..m.ncols() {
            for i in 0..m.nrows() {
                m[(i, j)] *= 1.0 + 1e-13 * rng.random_range(-1.0..1.0);
            }
        }
    }
    let base = eval(g, &roots[k..=k], env);
    let moved = eval(g, &roots[k..=k], &nudged);
    rel_diff(&base[0], &moved[0], 0.0)
}

/// The largest condition number (σmax/σmin) of a matrix that is inverted or factorized.
fn worst_condition(g: &Graph, roots: &[NodeId], env: &Env) -> f64 {
    let args: Vec<NodeId> = g
        .reachable(roots)
        .into_iter()
        .filter_map(|n| match g.op(n) {
            Op::Inv(a) | Op::Det(a) | Op::LogDet(a) => Some(*a),
            _ => None,
        })
        .collect();
    eval(g, &args, env)
        .iter()
        .map(|m| match m.singular_values() {
            Ok(s) if !s.is_empty() => s[0] / s[s.len() - 1],
            _ => f64::INFINITY,
        })
        .fold(0.0, f64::max)
}

/// Check every gradient of `src`; `Err` describes a mismatch.
fn check(src: &str, seed: u64, tally: &mut Tally) -> Result<(), String> {
    let mut p = Problem::new(src, DECLS).map_err(|e| format!("generated expression does not lower: {e}"))?;
    tally.expressions += 1;
    let names: Vec<String> = p.graph().vars().iter().map(|v| v.name.clone()).collect();
    if names.is_empty() {
        tally.constant += 1;
        return Ok(());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let grads = p.gradients(&refs).map_err(|e| format!("gradients failed: {e}"))?;
    let g = p.graph();
    let mut roots = vec![p.output];
    roots.extend_from_slice(&grads.nodes);
    let (kinks, norms) = (kink_args(&p), norm2_args(&p));
    let mut rng = StdRng::seed_from_u64(seed);
    let settings = two_dim_settings(g, &mut rng);
    // An expression over scalars only has no dimension to vary.
    if settings[0] == settings[1] && !settings[0].is_empty() {
        return Err(format!("no two different dimension settings: {settings:?}"));
    }
    let mut pending = vec![];
    for dims in settings {
        let mut found = None;
        for _ in 0..20 {
            let env = random_env(g, p.output, dims.clone(), &mut rng);
            let vals = eval(g, &roots, &env);
            if !vals.iter().all(|v| finite(v) && max_abs(v) < HUGE) {
                tally.redrawn_nonfinite += 1;
                continue;
            }
            let near_kink = eval(g, &kinks, &env).iter().any(|v| min_abs(v) < KINK_MARGIN)
                || eval(g, &norms, &env).iter().any(|v| max_abs(v) < KINK_MARGIN);
            if near_kink {
                tally.redrawn_kink += 1;
                continue;
            }
            found = Some((env, vals));
            break;
        }
        match found {
            Some(f) => pending.push(f),
            None => {
                tally.skipped += 1;
                return Ok(());
            }
        }
    }
    let mut compiled = Compiled::new(g, &roots);
    for (env, vals) in pending {
        // The compiled evaluator must reproduce the reference values (1e-12 relative), value
        // and gradients alike, at every point where the reference is finite and moderate.
        let inputs: Vec<_> = env.vars.iter().map(|m| m.as_ref()).collect();
        let got = compiled.run_owned(&inputs).map_err(|e| format!("compiled evaluator refused: {e}"))?;
        // Both evaluators round; differences within that (identically zero values computed
        // with cancellation) are not disagreements.
        let root_errors: Vec<f64> = magnitudes(g, &roots, &env).iter().map(rounding_error).collect();
        for (k, (want, got)) in vals.iter().zip(&got).enumerate() {
            let err = rel_diff(want, got, 2.0 * root_errors[k]);
            let close = err < COMPILED_TOL; // false for NaN too
            if !close
                && (err < 10.0 * reference_sensitivity(g, &roots, &env, k, &mut rng)
                    || err < 1e-14 * worst_condition(g, &roots, &env))
            {
                // Ill-conditioned here: the reference itself moves more under a 1e-13 nudge of
                // the inputs than the two disagree (cancellation), or a matrix that is inverted
                // or factorized has a condition number κ with κ·1e-14 above the difference.
                tally.ill_conditioned += 1;
                continue;
            }
            tally.compiled_max_err = tally.compiled_max_err.max(err);
            if !close {
                return Err(format!(
                    "compiled evaluator differs from the reference by {err:.3e} on root {k} at dims {:?}\nplan:\n{}",
                    env.dims,
                    compiled.describe()
                ));
            }
        }
        tally.compiled_checks += 1;
        let g_errors: Vec<f64> = magnitudes(g, &grads.nodes, &env).iter().map(rounding_error).collect();
        for (k, &v) in grads.vars.iter().enumerate() {
            let (fd, fd_error) = fd_gradient_with_error(g, p.output, v, &env);
            let sym = g.vars()[v].symmetric;
            let gm = if sym { symmetrize_for_fd(&vals[k + 1]) } else { vals[k + 1].clone() };
            // Rounding in f(x ± h) and in the gradient, as the library's checks estimate it.
            let noise = fd_error + if sym { 2.0 } else { 1.0 } * g_errors[k];
            let tol = TOL;
            // The differences are Richardson-extrapolated from the steps h and h/2, and their
            // error (the extrapolation's correction: truncation and the rounding they really
            // had) is part of `fd_error`, so steep functions (sin(x.^6)) are judged against
            // their own error.
            let cmp = FdComparison::new(&fd, fd_error, &gm, noise - fd_error);
            let err = cmp.err;
            if (err.is_nan() || err >= tol) && !cmp.resolved(&gm) && !err.is_nan() {
                // The difference quotients have not converged: the point is too steep to
                // check numerically, whatever the gradient. Counted and bounded.
                tally.unconverged += 1;
                continue;
            }
            tally.checks += 1;
            tally.max_err = tally.max_err.max(err);
            if err.is_nan() || err >= tol {
                return Err(format!(
                    "gradient w.r.t. {} is off by {err:.3e} at dims {:?} (f = {:e})\n  gradient: {}",
                    names[v],
                    env.dims,
                    vals[0][(0, 0)],
                    p.print(grads.nodes[k], matdiff::Style::Plain)
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn random_expressions_match_central_differences() {
    let count = case_count("MATDIFF_PROPTEST_CASES", 20000);
    let seed = case_count("MATDIFF_PROPTEST_SEED", 20240601) as u64;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let results: Vec<(Tally, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let mut failures = vec![];
                    for i in (t..count).step_by(threads) {
                        let src = case(seed, i);
                        if let Err(msg) = check(&src, seed.wrapping_add(i as u64), &mut tally) {
                            failures.push(format!("case {i}: {src}\n  {msg}"));
                        }
                    }
                    (tally, failures)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut total = Tally::default();
    let mut failures = vec![];
    for (t, f) in results {
        total.add(&t);
        failures.extend(f);
    }
    eprintln!("property: {total:?}");
    assert!(failures.is_empty(), "{} of {count} expressions failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(total.expressions, count);
    // Skips are allowed only for a small share of cases, and most cases must check something.
    assert!(total.skipped * 50 < count, "{} of {count} expressions skipped (over 2%)", total.skipped);
    assert!(
        total.unconverged * 200 < total.checks,
        "{} checks had unconverged difference quotients",
        total.unconverged
    );
    assert!(total.constant * 20 < count, "{} of {count} expressions are constant", total.constant);
    assert!(total.checks >= 2 * (count - total.skipped - total.constant), "{total:?}");
    assert!(total.compiled_checks >= 2 * (count - total.skipped - total.constant), "{total:?}");
    assert!(total.ill_conditioned * 500 < total.compiled_checks, "{total:?}");
}
