//! Issue 12 through the built binary: no vacuous checks, scale-invariant verdicts, non-finite
//! values never silent, `grade` fails when nothing was audited.

mod common;

use common::{looks_like_panic, Scratch};

/// One invocation: arguments, the exit code it must give, and texts its stdout+stderr must hold.
struct Case {
    args: &'static [&'static str],
    code: i32,
    says: &'static [&'static str],
}

const CASES: &[Case] = &[
    // A check that evaluated no point is exit 2 with the reason, in every form.
    Case {
        args: &["grad", "sum(log(x - 1e6*vector(1)))", "--wrt", "x", "--check"],
        code: 2,
        says: &["nothing was checked", "no random input"],
    },
    Case {
        args: &["grad", "sum(log(x - 1e6*vector(1)))", "--wrt", "x", "--check", "--format", "json"],
        code: 2,
        says: &["\"verdict\": \"unchecked\"", "\"settings\": 0"],
    },
    Case {
        args: &["grad", "sum(log(x - 1e6*vector(1)))", "--wrt", "x", "--steps"],
        code: 2,
        says: &["numeric check: NOT DONE", "nothing was checked"],
    },
    Case {
        args: &["grad", "sum(log(x - 1e6*vector(1)))", "--wrt", "x", "--steps", "--format", "json"],
        code: 2,
        says: &["\"verdict\": \"unchecked\""],
    },
    // Rounding swamps the differences of a loss far larger than its changes: not a pass either.
    Case {
        args: &["grad", "1e9 + 1e-3*sum(x.*x)", "--wrt", "x", "--check"],
        code: 2,
        says: &["rounding error swamped"],
    },
    // The domain search reaches log(x - 5) (positive draws after normal ones fail).
    Case {
        args: &["grad", "sum(log(x - 5*vector(1)))", "--wrt", "x", "--check"],
        code: 0,
        says: &["2 dimension settings"],
    },
    // Scale: the examples of the issue, and their scale-1 twins.
    Case {
        args: &["check", "1e-10*x'*A*x", "--wrt", "x", "--claim", "2e-10*A*x"],
        code: 1,
        says: &["wrong", "correct only for symmetric matrices"],
    },
    Case { args: &["check", "x'*A*x", "--wrt", "x", "--claim", "2*A*x"], code: 1, says: &["wrong"] },
    Case {
        args: &["check", "1e-9*sum(exp(x))", "--wrt", "x", "--claim", "0*x"],
        code: 1,
        says: &["wrong", "the claim is zero"],
    },
    Case { args: &["check", "1e-10*x'*A*x", "--wrt", "x", "--claim", "1e-10*(A + A')*x"], code: 0, says: &["right"] },
    Case { args: &["check", "1e12*x'*A*x", "--wrt", "x", "--claim", "1e12*(A' + A)*x"], code: 0, says: &["right"] },
    Case {
        args: &["check", "1e12*x'*A*x", "--wrt", "x", "--claim", "1.000001e12*(A' + A)*x"],
        code: 1,
        says: &["wrong"],
    },
    Case { args: &["grad", "1e-12*x'*A*x", "--wrt", "x", "--check"], code: 0, says: &["max relative error"] },
    Case { args: &["grad", "1e12*sum(exp(x))", "--wrt", "x", "--check"], code: 0, says: &["max relative error"] },
];

#[test]
fn numeric_checks_are_never_vacuous_and_do_not_depend_on_scale() {
    let dir = Scratch::new("hardening");
    let mut failures = vec![];
    for case in CASES {
        let r = dir.run(case.args);
        let all = format!("{}{}", r.stdout, r.stderr);
        if looks_like_panic(&all) || r.code != case.code || !case.says.iter().all(|s| all.contains(s)) {
            failures.push(r.explain(&format!("matdiff {:?}: want exit {} and {:?}", case.args, case.code, case.says)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `eval` at a point where the value is NaN or infinite: exit 1 naming the operation and the
/// entry, or the JSON strings with `--allow-nonfinite`.
#[test]
fn nonfinite_values_are_never_silent() {
    let dir = Scratch::new("nonfinite");
    dir.write("in.json", r#"{"x": [-1, 2], "A": [[1, 2], [2, 4]], "a": 800}"#);
    let cases: &[(&str, &[&str], i32, &str)] = &[
        ("sum(log(x))", &[], 1, "log of a negative entry: x[0] = -1"),
        ("sum(sqrt(x))", &[], 1, "sqrt of a negative entry: x[0] = -1"),
        ("x'*inv(A)*x", &[], 1, "the inverse of a singular matrix: A"),
        ("logdet(A)", &[], 1, "logdet of a matrix whose determinant is not positive: A"),
        ("exp(a)", &[], 1, "exp overflows: a = 800"),
        ("sum(log(x))", &["--allow-nonfinite"], 0, "\"NaN\""),
        ("x*log(a - 800)", &["--allow-nonfinite"], 0, "[\"Infinity\",\"-Infinity\"]"),
        ("sum(x)", &[], 0, "1.0"),
    ];
    for (expr, extra, code, says) in cases {
        let mut args = vec!["eval", expr, "--at", "in.json"];
        args.extend_from_slice(extra);
        let r = dir.run(&args);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(r.code == *code && all.contains(says) && !all.contains("null"), "{}", r.explain(expr));
    }
}

/// `grade` over paths that are all missing or unreadable prints a row for each and exits 2.
#[test]
fn grade_with_nothing_audited_fails() {
    let dir = Scratch::new("grade-none");
    dir.write("empty.md", "");
    let problem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../problems/autoencoder.toml");
    let r = dir.run(&["grade", "--problem", problem, "missing-1.md", "missing-2.md", "empty.md"]);
    assert_eq!(r.code, 2, "{}", r.explain("grade"));
    for f in ["missing-1.md", "missing-2.md", "empty.md"] {
        assert!(r.stdout.contains(f), "{}", r.explain("a row per file"));
    }
    assert!(r.stderr.contains("could be audited"), "{}", r.explain("the reason"));
}
