//! Verdicts do not depend on scale (issue 12): a loss and its claims multiplied by any factor
//! from 1e-12 to 1e12 get the verdicts they get at factor 1, and no wrong claim is accepted at
//! any scale. Claims are compared numerically (the symbolic shortcut is off), so this tests the
//! comparison itself: relative, with a tolerance from the evaluation's own rounding error.

use crate::common::case_count;
use crate::common::gen::{case, DECLS};
use matdiff::check::{CheckOptions, Checker};
use matdiff::{eval, random_dims, random_env, rel_diff, Problem, Style};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Whether `claim` differs from the gradient `grad` by more than 1e-6 relative at every one of
/// a few independent random points at scale 1 (reference evaluator, no rounding allowance):
/// `Some(true)` wrong everywhere, `Some(false)` equal to 1e-12 everywhere, `None` in between
/// (`G + 1e-6·G.*G` is wrong only where G is not small) or not evaluable (not counted).
fn truly_wrong(p: &mut Problem, grad: matdiff::NodeId, claim: &str) -> Option<bool> {
    let c = p.claim(claim).ok()?;
    let mut rng = StdRng::seed_from_u64(99);
    let (mut worst, mut least) = (0.0f64, f64::INFINITY);
    let mut seen = 0;
    for _ in 0..20 {
        let dims = random_dims(p.graph(), &mut rng, 2, 5);
        let env = random_env(p.graph(), p.output, dims, &mut rng);
        matdiff::check_sizes(p.graph(), &[grad, c], &env).ok()?;
        let v = eval(p.graph(), &[grad, c], &env);
        let d = rel_diff(&v[0], &v[1], 0.0);
        if v.iter().all(|m| (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))) {
            worst = worst.max(d);
            least = least.min(d);
            seen += 1;
        }
        if seen == 4 {
            break;
        }
    }
    if seen == 0 {
        None
    } else if least > 1e-6 * 0.5 {
        Some(true)
    } else if worst < 1e-12 {
        Some(false)
    } else {
        None
    }
}

const FACTORS: [f64; 7] = [1e-12, 1e-8, 1e-3, 1.0, 1e3, 1e8, 1e12];

/// The loss `src` (definitions, then the loss) with its last statement multiplied by `c`.
fn scaled(src: &str, c: f64) -> String {
    let cut = src.rfind([';', '\n']).map_or(0, |i| i + 1);
    format!("{}{c:e}*({})", &src[..cut], src[cut..].trim())
}

/// Claims about the gradient `g` (plain syntax): whether each is meant to be right, and its
/// text at scale 1. Whether a "wrong" one really is wrong is measured (`truly_wrong`): the
/// transpose of a symmetric gradient, or `G + 1e-6·G.*G` for a tiny G, is not.
fn claims(g: &str, square: bool, ones: &str) -> Vec<(bool, String)> {
    let mut out = vec![
        (true, format!("({g})")),
        (false, format!("2*({g})")),
        (false, format!("0*({g})")),
        // Wrong by a relative 1e-6: far above rounding, far below O(1).
        (false, format!("1.000001*({g})")),
        (false, format!("({g}) + 0.000001*({g}).*({g})")),
        (false, format!("({g}) + 0.001*{ones}")),
    ];
    if square {
        out.push((false, format!("({g})'")));
    }
    out
}

#[test]
fn verdicts_are_the_same_at_every_scale_and_no_wrong_claim_passes() {
    let count = case_count("MATDIFF_SCALE_CASES", 120);
    let opts = CheckOptions { symbolic: false, ..CheckOptions::default() };
    let (mut compared, mut false_accepts, mut false_rejects, mut skipped) = (0usize, 0usize, 0usize, 0usize);
    let mut failures = vec![];
    for i in 0..count {
        let src = case(0x5CA1E, i);
        let Ok(mut p) = Problem::new(&src, DECLS) else { continue };
        // Differentiate w.r.t. the first variable that is not declared symmetric (the
        // transposed claim is only wrong for those).
        let Some(var) = p.graph().vars().iter().find(|v| !v.symmetric).map(|v| v.name.clone()) else { continue };
        let Ok(grads) = p.gradients(&[&var]) else { continue };
        let g = p.print(grads.nodes[0], Style::Plain);
        if g.len() > 1500 || p.graph().is_constant(grads.nodes[0]) {
            continue;
        }
        let shape = p.graph().shape(grads.nodes[0]);
        let ones = match (shape.rows, shape.cols) {
            (None, None) => "1".to_string(),
            (Some(_), None) => "vector(1)".to_string(),
            _ => "matrix(1)".to_string(),
        };
        let square = shape.is_matrix() && shape.is_square();
        let mut claims = claims(&g, square, &ones);
        // Keep the right claim and the wrong ones that really are wrong.
        let grad = grads.nodes[0];
        claims.retain(|(right, c)| *right || truly_wrong(&mut p, grad, c) == Some(true));
        // Verdicts per factor; a factor where no verdict can be had (values overflow) is skipped.
        let mut at_one: Option<Vec<bool>> = None;
        let mut rows: Vec<(f64, Vec<bool>)> = vec![];
        for c in FACTORS {
            let problem = match Problem::new(&scaled(&src, c), DECLS) {
                Ok(p) => p,
                Err(e) => panic!("{src} scaled by {c:e} does not parse: {e}"),
            };
            let Ok(mut checker) = Checker::new(problem, &var, opts) else {
                skipped += 1;
                continue;
            };
            let mut verdicts = vec![];
            for (_, claim) in &claims {
                match checker.check(&format!("{c:e}*({claim})")) {
                    Ok(v) => verdicts.push(v.right),
                    Err(e) => panic!("claim {claim} on {src}: {e}"),
                }
            }
            if c == 1.0 {
                at_one = Some(verdicts.clone());
            }
            rows.push((c, verdicts));
        }
        let Some(at_one) = at_one else { continue };
        for (c, verdicts) in &rows {
            for ((right, claim), &got) in claims.iter().zip(verdicts) {
                compared += 1;
                if got && !right {
                    false_accepts += 1;
                    failures.push(format!(
                        "case {i}: {src}\n  d/d{var}: wrong claim {} accepted at factor {c:e}",
                        &claim[claim.len().saturating_sub(60)..]
                    ));
                } else if !got && *right {
                    false_rejects += 1;
                    failures.push(format!("case {i}: {src}\n  d/d{var}: right claim {claim} rejected at factor {c:e}"));
                }
            }
            if verdicts != &at_one {
                failures.push(format!(
                    "case {i}: {src}\n  verdicts at {c:e} {verdicts:?} differ from those at 1 {at_one:?}"
                ));
            }
        }
    }
    eprintln!(
        "scale: {compared} verdicts over {count} losses and {} factors; {false_accepts} false accepts, {false_rejects} false rejects, {skipped} (loss, factor) pairs without a finite point",
        FACTORS.len()
    );
    assert!(compared > 1000, "too few verdicts compared: {compared}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
