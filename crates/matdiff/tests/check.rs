//! Claim checking as data: tests/cases/claims/*.txt each name a problem and a list of claims,
//! right ones (other forms of the gradient) and wrong ones with the diagnosis they must get.
//!
//! Format: `expr:`, `decl:`, `wrt:` lines, then `right: CLAIM` or `wrong KINDS: CLAIM`, where
//! KINDS are `shape`, `transposed`, `factor C`, `missing_path TEXT` (TEXT is part of a missing
//! path's label), `symmetric_only [NAME]`, `none` (just wrong), or `error` (a user error in the
//! claim). Every verdict is also snapshotted.

use matdiff::check::{CheckOptions, Checker, Diagnosis};
use matdiff::{Input, Problem};
use std::fmt::Write;
use std::path::Path;

struct Case {
    expr: String,
    decl: String,
    wrt: String,
    claims: Vec<(String, String)>,
}

fn parse_case(text: &str) -> Case {
    let mut case = Case { expr: String::new(), decl: String::new(), wrt: String::new(), claims: vec![] };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, rest) = line.split_once(": ").unwrap_or_else(|| panic!("no `: ` in {line:?}"));
        match head {
            "expr" => case.expr = rest.to_string(),
            "decl" => case.decl = rest.to_string(),
            "wrt" => case.wrt = rest.to_string(),
            _ => case.claims.push((head.to_string(), rest.to_string())),
        }
    }
    case
}

/// Check one expectation against a diagnosis list; `Err` says what is missing.
fn expect(kinds: &str, diags: &[Diagnosis]) -> Result<(), String> {
    let words: Vec<&str> = kinds.split_whitespace().collect();
    let mut i = 1; // after "wrong"
    while i < words.len() {
        let w = words[i];
        i += 1;
        let ok = match w {
            "none" => true,
            "shape" => diags.iter().any(|d| matches!(d, Diagnosis::Shape { .. })),
            "transposed" => diags.contains(&Diagnosis::Transposed),
            "factor" => {
                let c: f64 = words[i].parse().unwrap();
                i += 1;
                diags.iter().any(|d| matches!(d, Diagnosis::Factor { factor } if (factor - c).abs() < 1e-12))
            }
            "missing_path" => {
                let want = words[i..].join(" ");
                i = words.len();
                diags.iter().any(|d| matches!(d, Diagnosis::MissingPaths { factor, missing, .. } if missing.iter().any(|m| m.contains(&want)) && (*factor == 1.0 || kinds.contains("2W"))) || matches!(d, Diagnosis::MissingPaths { missing, .. } if missing.iter().any(|m| m.contains(&want))))
            }
            "symmetric_only" => {
                let name = words
                    .get(i)
                    .filter(|n| !["shape", "transposed", "factor", "missing_path", "none"].contains(n))
                    .copied();
                if name.is_some() {
                    i += 1;
                }
                diags.iter().any(|d| matches!(d, Diagnosis::SymmetricOnly { matrices } if name.is_none_or(|n| matrices.iter().any(|m| m == n))))
            }
            other => return Err(format!("unknown kind `{other}` in the case file")),
        };
        if !ok {
            return Err(format!("expected a `{w}` diagnosis"));
        }
    }
    Ok(())
}

fn judge_case(path: &Path) -> String {
    let case = parse_case(&std::fs::read_to_string(path).unwrap());
    let name = path.file_stem().unwrap().to_string_lossy();
    let problem = Problem::new(&case.expr, &case.decl).unwrap_or_else(|e| panic!("{name}: {e}"));
    // The gradient every claim is compared with must itself pass finite differences.
    let mut fd = problem.clone();
    let grads = fd.gradients(&[case.wrt.as_str()]).unwrap();
    let report = fd.fd_check(&grads, 7, 2);
    assert!(
        report.max_err < 1e-5 && report.dims.len() == 2,
        "{name}: the gradient fails finite differences: {report:?}"
    );
    let mut checker = Checker::new(problem, &case.wrt, CheckOptions::default()).unwrap();
    let mut snap = format!("{} w.r.t. {}\ngradient: {}\n", case.expr, case.wrt, {
        let g = checker.gradient();
        checker.problem().print(g, matdiff::Style::Plain)
    });
    let mut failures = vec![];
    for (kind, claim) in &case.claims {
        let result = checker.check(claim);
        let _ = writeln!(snap, "\n{kind}: {claim}");
        match (kind.as_str(), result) {
            ("wrong error", Err(e)) => {
                assert_eq!(e.input, Input::Claim, "{name}: `{claim}`: the error should point into the claim");
                let _ = writeln!(snap, "  error: {}", e.message);
            }
            (_, Err(e)) => failures.push(format!("`{claim}`: unexpected error {e}")),
            ("wrong error", Ok(_)) => failures.push(format!("`{claim}`: expected a user error")),
            (k, Ok(v)) => {
                let _ = writeln!(
                    snap,
                    "  {} ({}), read as {}",
                    if v.right { "right" } else { "wrong" },
                    v.method.name(),
                    v.claim_read_as
                );
                for d in &v.diagnoses {
                    let _ = writeln!(snap, "  diagnosis: {}", d.message());
                }
                if k == "right" {
                    if !v.right {
                        failures.push(format!("`{claim}`: a right claim was rejected: {:?}", v.diagnoses));
                    }
                } else if v.right {
                    failures.push(format!("`{claim}`: FALSE ACCEPT of a wrong claim"));
                } else {
                    if v.counterexample.is_none() {
                        failures.push(format!("`{claim}`: wrong without a counterexample"));
                    }
                    if let Err(why) = expect(k, &v.diagnoses) {
                        failures.push(format!(
                            "`{claim}`: {why}; got {:?}",
                            v.diagnoses.iter().map(|d| d.message()).collect::<Vec<_>>()
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{name}:\n  {}", failures.join("\n  "));
    snap
}

/// One file of the claim table (`tests/cases/claims/ok/`): every claim judged, verdicts and
/// diagnoses snapshotted.
fn run_case(path: &Path) {
    let snap = judge_case(path);
    insta::assert_snapshot!(format!("claims__{}", path.file_stem().unwrap().to_string_lossy()), snap);
}

// One `#[test]` per claim file, generated by build.rs.
include!(concat!(env!("OUT_DIR"), "/fixtures_claims.rs"));

#[test]
fn the_claim_table_is_there() {
    let n = crate::common::fixture_files("claims");
    assert!(n >= 8, "the claim table lives in tests/cases/claims/ok");
    assert_eq!(FIXTURE_COUNT, n, "a test per fixture (rebuild if fixtures were added)");
}

/// The per-path terms add up to the gradient (numerically, at two dimension settings).
#[test]
fn path_terms_sum_to_the_gradient() {
    for (expr, decl, wrt) in [
        ("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)", "W"),
        ("x'*A*x", "A: matrix(n,n); x: vector(n)", "x"),
        ("tr(W*W*A)", "W: matrix(n,n); A: matrix(n,n)", "W"),
    ] {
        let p = Problem::new(expr, decl).unwrap();
        let mut c = Checker::new(p, wrt, CheckOptions::default()).unwrap();
        assert!(c.terms().len() >= 2, "{expr}");
        let sum: Vec<String> =
            c.terms().iter().map(|t| format!("({})", c.problem().print(t.value, matdiff::Style::Plain))).collect();
        let v = c.check(&sum.join(" + ")).unwrap();
        assert!(v.right, "{expr}: terms {sum:?} do not sum to the gradient");
        assert!(c.terms().iter().all(|t| t.label.starts_with("the path through ")), "{expr}");
    }
}

/// `W*W`: two occurrences in one product are told apart by position.
#[test]
fn repeated_factor_paths_are_numbered() {
    let p = Problem::new("tr(W*W*A)", "W: matrix(n,n); A: matrix(n,n)").unwrap();
    let c = Checker::new(p, "W", CheckOptions::default()).unwrap();
    let labels: Vec<&str> = c.terms().iter().map(|t| t.label.as_str()).collect();
    assert!(labels.iter().any(|l| l.contains("1st")) && labels.iter().any(|l| l.contains("2nd")), "{labels:?}");
}

/// A counterexample uses small sizes and prints the inputs it was computed at.
#[test]
fn counterexample_is_small_and_reproducible() {
    let p = Problem::new("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)").unwrap();
    let mut c = Checker::new(p, "W", CheckOptions::default()).unwrap();
    let v = c.check("2*W*(W'*W - eye(n))*x*x'").unwrap();
    let cx = v.counterexample.unwrap();
    assert!(cx.dims.iter().all(|(_, k)| (2..=3).contains(k)), "{:?}", cx.dims);
    // Re-evaluate the gradient at the printed inputs: the same value comes out.
    let inputs: std::collections::HashMap<String, matdiff::Value> = cx.inputs.iter().cloned().collect();
    let mut q = Problem::new("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)").unwrap();
    let g = q.gradients(&["W"]).unwrap().nodes[0];
    let env = matdiff::bind(q.graph(), &inputs).unwrap();
    let got = matdiff::to_value(&matdiff::eval(q.graph(), &[g], &env)[0], q.graph().shape(g));
    assert_eq!(got, cx.gradient);
    assert!(cx.max_diff.unwrap() > 0.1);
}

/// The same claim checked twice gets the same verdict (fixed seed, deterministic points).
#[test]
fn verdicts_are_deterministic() {
    let mk = || {
        let p = Problem::new("x'*A*x", "A: matrix(n,n); x: vector(n)").unwrap();
        Checker::new(p, "x", CheckOptions::default()).unwrap().check("2*A*x").unwrap()
    };
    assert_eq!(mk(), mk());
}

/// `grad --convention`: the gradient w.r.t. a symmetric matrix as printed in each convention
/// (sym(G) by default, the Cookbook's 2·sym(G) − diag(diag(G))) is judged right under that
/// convention by evaluation at random points (symbolic comparison off), and the two forms
/// differ where G is not symmetric.
#[test]
fn gradients_printed_in_each_convention_are_right_numerically() {
    use matdiff::check::{apply_convention, Convention};
    use matdiff::Style;
    let cases = [
        ("tr(A*S)", "S: symmetric(n); A: matrix(n,n)", true),
        ("x'*S*y", "S: symmetric(n); x: vector(n); y: vector(n)", true),
        ("logdet(S) + tr(B*S)", "S: symmetric(n); B: matrix(n,n)", true),
        ("logdet(S)", "S: symmetric(n)", false),
    ];
    for (expr, decl, asymmetric) in cases {
        let mut printed = vec![];
        for convention in [Convention::Symmetric, Convention::Cookbook] {
            let mut p = Problem::new(expr, decl).unwrap();
            let mut g = p.gradients(&["S"]).unwrap();
            apply_convention(&mut p, &mut g, convention);
            let text = p.print(g.nodes[0], Style::Plain);
            let opts = CheckOptions { convention, symbolic: false, ..CheckOptions::default() };
            let mut c = Checker::new(Problem::new(expr, decl).unwrap(), "S", opts).unwrap();
            let v = c.check(&text).unwrap();
            assert!(v.right, "{expr}: `{text}` is not right under {}", convention.name());
            printed.push(text);
        }
        if asymmetric {
            // Each form is wrong under the other convention (the check tells them apart).
            let opts = CheckOptions { symbolic: false, ..CheckOptions::default() };
            let mut c = Checker::new(Problem::new(expr, decl).unwrap(), "S", opts).unwrap();
            assert!(
                !c.check(&printed[1]).unwrap().right,
                "{expr}: the Cookbook form `{}` passes as sym(G)",
                printed[1]
            );
        }
    }
}
