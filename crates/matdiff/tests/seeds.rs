//! Gradients of the seed models and of the cases in `tests/cases/grad/*.txt`: every one
//! against central differences at two dimension settings, and against hand-derived closed
//! forms (`expect:` lines) by evaluation at random inputs.

use crate::common::{case_files, fd_two_settings, max_diff, parse_grad_cases, GradCase};
use matdiff::{Problem, Style, EXAMPLES};

/// Central differences vs the symbolic gradient (relative to the larger of 1 and the entries).
const FD_TOL: f64 = 1e-6;
/// A claimed closed form vs the gradient, both evaluated exactly: only rounding differs.
const EVAL_TOL: f64 = 1e-9;

#[test]
fn seed_gradients_match_central_differences_at_two_dimension_settings() {
    for (k, ex) in EXAMPLES.iter().enumerate() {
        let mut p = Problem::new(ex.expr, ex.decls).unwrap_or_else(|e| panic!("{}: {e}", ex.name));
        let grads = p.gradients(ex.wrt).unwrap();
        let report = fd_two_settings(&p, &grads, 100 + k as u64);
        assert_eq!(report.dims.len(), 2, "{}", ex.name);
        assert_ne!(report.dims[0], report.dims[1], "{}", ex.name);
        assert!(report.max_err < FD_TOL, "{}: max error {:e} at dims {:?}", ex.name, report.max_err, report.dims);
    }
}

/// Check one case; returns the failures (empty when it passes).
fn run_case(case: &GradCase, seed: u64) -> Vec<String> {
    let mut fails = vec![];
    let mut p = match Problem::new(&case.expr, &case.decl) {
        Ok(p) => p,
        Err(e) => return vec![format!("{}: expression does not lower: {e}", case.at)],
    };
    let wrt: Vec<&str> = case.targets.iter().map(|t| t.wrt.as_str()).collect();
    let grads = match p.gradients(&wrt) {
        Ok(g) => g,
        Err(e) => return vec![format!("{}: no gradients: {e}", case.at)],
    };
    let report = fd_two_settings(&p, &grads, seed);
    if report.max_err.is_nan() || report.max_err >= FD_TOL {
        fails.push(format!("{}: `{}`: FD error {:e} at dims {:?}", case.at, case.expr, report.max_err, report.dims));
    }
    for (t, &g) in case.targets.iter().zip(&grads.nodes) {
        let shown = p.print(g, Style::Plain);
        if let Some(want) = &t.print {
            if &shown != want {
                fails.push(format!("{}: d/d{} prints as\n    {shown}\n  not\n    {want}", case.at, t.wrt));
            }
        }
        for (i, e) in t.expect.iter().enumerate() {
            let c = match p.claim(e) {
                Ok(c) => c,
                Err(err) => {
                    fails.push(format!("{}: d/d{}: expected form `{e}` does not lower: {err}", case.at, t.wrt));
                    continue;
                }
            };
            match max_diff(&p, g, c, seed + 1 + i as u64) {
                Ok(d) if d < EVAL_TOL => {}
                Ok(d) => fails.push(format!("{}: d/d{} = {shown}\n  differs from `{e}` by {d:e}", case.at, t.wrt)),
                Err(msg) => fails.push(format!("{}: d/d{} vs `{e}`: {msg}", case.at, t.wrt)),
            }
        }
        // A wrong answer must be told apart: the random points are general enough.
        for (i, e) in t.differs.iter().enumerate() {
            let verdict =
                p.claim(e).map_err(|err| err.to_string()).and_then(|c| max_diff(&p, g, c, seed + 50 + i as u64));
            match verdict {
                Ok(d) if d > 1e-3 => {}
                Ok(d) => fails
                    .push(format!("{}: d/d{}: the wrong form `{e}` is within {d:e} of the gradient", case.at, t.wrt)),
                Err(msg) => fails.push(format!("{}: d/d{} vs wrong form `{e}`: {msg}", case.at, t.wrt)),
            }
        }
    }
    fails
}

#[test]
fn gradient_cases_match_their_closed_forms() {
    let mut fails = vec![];
    let mut count = 0;
    for file in case_files("grad") {
        for (i, case) in parse_grad_cases(&file).iter().enumerate() {
            count += 1;
            fails.extend(run_case(case, 1000 + 10 * i as u64));
        }
    }
    assert!(count >= 40, "only {count} gradient cases found");
    assert!(fails.is_empty(), "{} failures:\n{}", fails.len(), fails.join("\n"));
}

/// Every seed model and every variable it asks about has a hand-derived closed form in the cases.
#[test]
fn every_seed_gradient_has_an_expected_form() {
    let cases: Vec<GradCase> = case_files("grad").iter().flat_map(|f| parse_grad_cases(f)).collect();
    for ex in EXAMPLES {
        let expr = ex.expr.replace('\n', "; ");
        for w in ex.wrt {
            let covered =
                cases.iter().any(|c| c.expr == expr && c.targets.iter().any(|t| t.wrt == *w && !t.expect.is_empty()));
            assert!(covered, "{} w.r.t. {w}: no case with an expect: line for `{expr}`", ex.name);
        }
    }
}
