//! `matdiff solve` through the built binary: the JSON contract (a self-contained `solution`
//! that `matdiff eval` reads with the same `--decl`, at which the gradient from `matdiff grad`
//! vanishes), exit codes (2 for every refusal, with the obstacle named), `--check`,
//! `--steps` and the other formats.

use crate::common::{looks_like_panic, Rng, Run, Scratch};
use serde_json::{json, Map, Value as Json};

fn solve(s: &Scratch, expr: &str, wrt: &str, decl: &str, extra: &[&str]) -> Run {
    let mut args = vec!["solve", expr, "--wrt", wrt, "--decl", decl];
    args.extend_from_slice(extra);
    let r = s.run(&args);
    assert!(!looks_like_panic(&r.stderr), "{}", r.explain("panic"));
    r
}

/// A random value of a declared shape; `spd` for a symmetric (positive definite) matrix.
fn value(rng: &mut Rng, rows: usize, cols: Option<usize>, spd: bool) -> Json {
    match cols {
        None if rows == 0 => json!(0.5 + rng.unit()),
        None => json!((0..rows).map(|_| rng.range(-1.5, 1.5)).collect::<Vec<_>>()),
        Some(c) if spd => {
            let b: Vec<Vec<f64>> = (0..rows).map(|_| (0..rows).map(|_| rng.range(-1.5, 1.5)).collect()).collect();
            let m: Vec<Vec<f64>> = (0..rows)
                .map(|i| {
                    (0..rows)
                        .map(|j| {
                            (0..rows).map(|k| b[i][k] * b[j][k]).sum::<f64>() / rows as f64
                                + if i == j { 1.0 } else { 0.0 }
                        })
                        .collect()
                })
                .collect();
            assert_eq!(c, rows);
            json!(m)
        }
        Some(c) => {
            json!((0..rows).map(|_| (0..c).map(|_| rng.range(-1.5, 1.5)).collect::<Vec<_>>()).collect::<Vec<_>>())
        }
    }
}

fn norm(v: &Json) -> f64 {
    match v {
        Json::Number(x) => x.as_f64().unwrap().abs(),
        Json::Array(a) => a.iter().map(|x| norm(x).powi(2)).sum::<f64>().sqrt(),
        _ => panic!("not a value: {v}"),
    }
}

/// `matdiff eval expr` at `inputs`.
fn eval(s: &Scratch, expr: &str, decl: &str, inputs: &Map<String, Json>) -> Json {
    s.write("at.json", &Json::Object(inputs.clone()).to_string());
    let r = s.run(&["eval", expr, "--decl", decl, "--at", "at.json"]);
    assert_eq!(r.code, 0, "{}", r.explain(&format!("eval {expr}")));
    serde_json::from_str(r.stdout.trim()).unwrap_or_else(|_| panic!("{}", r.explain("eval output")))
}

struct Case {
    expr: &'static str,
    wrt: &'static str,
    decl: &'static str,
    /// Inputs other than the unknown: name, rows (0 = scalar), cols, symmetric.
    inputs: &'static [(&'static str, usize, Option<usize>, bool)],
    unknown: (usize, Option<usize>, bool),
    kind: &'static str,
}

const CASES: &[Case] = &[
    Case {
        expr: "norm2(A*x - b)^2 + lam*norm2(x)^2",
        wrt: "x",
        decl: "A: matrix(m,n); x: vector(n); b: vector(m); lam: scalar",
        inputs: &[("A", 5, Some(3), false), ("b", 5, None, false), ("lam", 0, None, false)],
        unknown: (3, None, false),
        kind: "minimum",
    },
    Case {
        expr: "-N/2*logdet(S) - 1/2*tr(inv(S)*C)",
        wrt: "S",
        decl: "S: symmetric(d); C: symmetric(d); N: scalar",
        inputs: &[("C", 3, Some(3), true), ("N", 0, None, false)],
        unknown: (3, Some(3), true),
        kind: "maximum",
    },
    Case {
        expr: "-0.5/s*(tr(W'*W*Szz) - 2*tr(W'*Xc*Ez'))",
        wrt: "W",
        decl: "W: matrix(D,q); Szz: symmetric(q); Xc: matrix(D,N); Ez: matrix(q,N); s: scalar",
        inputs: &[
            ("Szz", 2, Some(2), true),
            ("Xc", 4, Some(6), false),
            ("Ez", 2, Some(6), false),
            ("s", 0, None, false),
        ],
        unknown: (4, Some(2), false),
        kind: "maximum",
    },
];

/// The JSON answer: its fields, a solution `eval` reads, and the gradient vanishing there.
#[test]
fn json_solution_evaluates_and_zeroes_the_gradient() {
    let s = Scratch::new("solve-json");
    let mut rng = Rng::new(16);
    for c in CASES {
        let r = solve(&s, c.expr, c.wrt, c.decl, &["--format", "json"]);
        assert_eq!(r.code, 0, "{}", r.explain(c.expr));
        let j: Json = serde_json::from_str(&r.stdout).unwrap();
        let sol = j["solution"].as_str().expect("solution");
        assert!(!sol.contains("where"), "{sol}");
        assert!(j["shape"].is_array() && j["conditions"].is_array(), "{j}");
        assert!(j["conditions"].as_array().unwrap().iter().all(|c| c.is_string()), "{j}");
        assert_eq!(j["kind"], c.kind, "{}", c.expr);
        let g = s.run(&["grad", c.expr, "--wrt", c.wrt, "--decl", c.decl, "--format", "json"]);
        let grad: Json = serde_json::from_str(&g.stdout).unwrap();
        let grad = grad["gradient"].as_str().unwrap().to_string();
        for _ in 0..2 {
            let mut inputs = Map::new();
            for &(name, rows, cols, spd) in c.inputs {
                inputs.insert(name.into(), value(&mut rng, rows, cols, spd));
            }
            let xs = eval(&s, sol, c.decl, &inputs);
            let (rows, cols, spd) = c.unknown;
            inputs.insert(c.wrt.into(), value(&mut rng, rows, cols, spd));
            let at_random = norm(&eval(&s, &grad, c.decl, &inputs));
            inputs.insert(c.wrt.into(), xs);
            let at_solution = norm(&eval(&s, &grad, c.decl, &inputs));
            assert!(at_solution < 1e-8 * at_random, "{}: |grad| {at_solution:e} at {sol} vs {at_random:e}", c.expr);
        }
    }
}

/// Refusals exit 2 and name the obstacle; nothing goes to stdout.
#[test]
fn refusals_exit_2_naming_the_obstacle() {
    let s = Scratch::new("solve-err");
    for (expr, wrt, decl, phrase) in [
        ("A*x - b", "x", "A: matrix(m,n); x: vector(n); b: vector(m)", "scalar expression"),
        ("b'*x", "x", "x: vector(n); b: vector(n)", "does not depend on x"),
        ("logdet(S)", "S", "S: symmetric(d)", "never vanishes"),
        (
            "sum(log(vector(1,m) + exp(A*x))) - y'*A*x",
            "x",
            "A: matrix(m,n); x: vector(n); y: vector(m)",
            "not affine in x",
        ),
        ("norm2(X*u - y)^2", "X", "X: matrix(m,n); u: vector(n); y: vector(m)", "singular"),
        ("norm2(A*x - b)^2", "x", "A: matrix(2,3); x: vector(3); b: vector(2)", "singular"),
        ("norm2(A*x - b)^2", "z", "A: matrix(m,n); x: vector(n); b: vector(m)", "does not occur"),
    ] {
        let r = solve(&s, expr, wrt, decl, &[]);
        assert_eq!(r.code, 2, "{}", r.explain(expr));
        assert!(r.stdout.is_empty(), "{}", r.explain(expr));
        assert!(r.stderr.to_lowercase().contains(phrase), "{}", r.explain(&format!("{expr}: want {phrase:?}")));
    }
}

/// `--check` reports the numeric check on stderr (exit 0) and in the JSON.
#[test]
fn check_reports_points() {
    let s = Scratch::new("solve-check");
    let c = &CASES[0];
    let r = solve(&s, c.expr, c.wrt, c.decl, &["--check"]);
    assert_eq!(r.code, 0, "{}", r.explain("--check"));
    assert!(r.stderr.contains("numeric check"), "{}", r.explain("--check"));
    let r = solve(&s, c.expr, c.wrt, c.decl, &["--check", "--format", "json"]);
    let j: Json = serde_json::from_str(&r.stdout).unwrap();
    assert!(j["check"]["points"].as_u64().unwrap() >= 2, "{j}");
    assert_eq!(j["check"]["settings"], 2, "{j}");
    assert_eq!(j["check"]["passed"], true, "{j}");
}

/// `--steps`: the gradient, the equation set to zero, each step, in every format.
#[test]
fn steps_in_every_format() {
    let s = Scratch::new("solve-steps");
    let (expr, wrt, decl) = ("-N/2*logdet(S) - 1/2*tr(inv(S)*C)", "S", "S: symmetric(d); C: symmetric(d); N: scalar");
    let r = solve(&s, expr, wrt, decl, &["--steps"]);
    assert_eq!(r.code, 0, "{}", r.explain("steps"));
    for want in ["the gradient with respect to S", "set it to zero", "multiply on the left by S", "S = C/N"] {
        assert!(r.stdout.contains(want), "{}", r.explain(want));
    }
    let r = solve(&s, expr, wrt, decl, &["--steps", "--format", "json"]);
    let j: Json = serde_json::from_str(&r.stdout).unwrap();
    let steps = j["steps"].as_array().unwrap();
    assert_eq!(steps[0]["action"], "gradient");
    assert_eq!(steps[1]["action"], "set_to_zero");
    assert_eq!(steps.last().unwrap()["equation"], "S = C/N");
    for (f, want) in [("latex", "\\begin{aligned}"), ("markdown", "$$S = ")] {
        let r = solve(&s, expr, wrt, decl, &["--steps", "--format", f]);
        assert_eq!(r.code, 0, "{}", r.explain(f));
        assert!(r.stdout.contains(want) && r.stdout.contains("S^{-1}"), "{}", r.explain(f));
    }
}

/// `--emit LANG` writes the update as a function next to `f_and_grad`, with its checker.
#[test]
fn emit_writes_the_update() {
    let s = Scratch::new("solve-emit");
    let c = &CASES[2];
    for (lang, want) in [
        ("numpy", "def update_W(Szz, Xc, Ez, s):"),
        ("jax", "def update_W("),
        ("torch", "def update_W("),
        ("rust", "pub fn update_W("),
    ] {
        let r = solve(&s, c.expr, c.wrt, c.decl, &["--emit", lang]);
        assert_eq!(r.code, 0, "{}", r.explain(lang));
        for w in [want, "check_update", "f_and_grad"] {
            assert!(r.stdout.contains(w), "{}", r.explain(&format!("{lang}: want {w}")));
        }
    }
    let r = solve(&s, "logdet(S)", "S", "S: symmetric(d)", &["--emit", "numpy"]);
    assert_eq!(r.code, 2, "{}", r.explain("emit of a refusal"));
}
