//! `matdiff derivative` and `matdiff hessian` through the built binary: the JSON contract
//! (`derivative`/`hessian`/`hvp` one self-contained expression that `matdiff eval` reads with the
//! same `--decl`, at the size `shape` says; `layout`), `--check` (exit 0 when it agrees, 2 when
//! no point could be checked), the other formats, `--steps`, and errors with spans (exit 2).

use crate::common::{looks_like_panic, Rng, Run, Scratch};
use serde_json::{json, Map, Value as Json};

fn run(s: &Scratch, args: &[&str]) -> Run {
    let r = s.run(args);
    assert!(!looks_like_panic(&r.stderr), "{}", r.explain("panic"));
    r
}

/// Random values for declarations of fixed sizes (`A: matrix(3,2); x: vector(2); t: scalar`).
fn values(decl: &str, rng: &mut Rng) -> Map<String, Json> {
    let mut out = Map::new();
    for d in decl.split(';') {
        let (name, kind) = d.split_once(':').unwrap();
        let kind = kind.trim();
        let sizes: Vec<usize> = kind.split(['(', ')', ',']).filter_map(|s| s.trim().parse().ok()).collect();
        let v = if kind.starts_with("scalar") {
            json!(0.5 + rng.unit())
        } else if kind.starts_with("vector") {
            json!((0..sizes[0]).map(|_| rng.range(-1.0, 1.0)).collect::<Vec<_>>())
        } else {
            let (r, c) = (sizes[0], *sizes.get(1).unwrap_or(&sizes[0]));
            json!((0..r).map(|_| (0..c).map(|_| rng.range(-1.0, 1.0)).collect::<Vec<_>>()).collect::<Vec<_>>())
        };
        out.insert(name.trim().to_string(), v);
    }
    out
}

/// Rows and columns of a JSON value (a number is 1×1, a list a column).
fn size(v: &Json) -> (usize, usize) {
    match v {
        Json::Array(rows) if rows.first().is_some_and(|r| r.is_array()) => {
            (rows.len(), rows[0].as_array().unwrap().len())
        }
        Json::Array(xs) => (xs.len(), 1),
        _ => (1, 1),
    }
}

#[test]
fn json_results_evaluate_at_the_size_they_state() {
    let s = Scratch::new("derivative-json");
    let mut rng = Rng::new(5);
    // (command, expr, decl, wrt, field, layout, rows, cols, extra args)
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, usize, usize, &'a [&'a str]);
    let cases: &[Case] = &[
        ("derivative", "W*x", "W: matrix(3,2); x: vector(2)", "W", "derivative", "vec", 3, 6, &[]),
        ("derivative", "W*x", "W: matrix(3,2); x: vector(2)", "x", "derivative", "jacobian", 3, 2, &[]),
        ("derivative", "x'*A*x", "A: matrix(3,3); x: vector(3)", "x", "derivative", "gradient", 3, 1, &[]),
        ("derivative", "t*A", "A: matrix(3,2); t: scalar", "t", "derivative", "elementwise", 3, 2, &[]),
        ("derivative", "A*X*B", "A: matrix(2,3); X: matrix(3,2); B: matrix(2,4)", "X", "derivative", "vec", 8, 6, &[]),
        ("derivative", "X'", "X: matrix(2,3)", "X", "derivative", "vec", 6, 6, &[]),
        ("hessian", "x'*A*x", "A: matrix(3,3); x: vector(3)", "x", "hessian", "jacobian", 3, 3, &[]),
        ("hessian", "tr(X'*A*X)", "A: matrix(3,3); X: matrix(3,2)", "X", "hessian", "vec", 6, 6, &[]),
        ("hessian", "log(sum(exp(x)))", "x: vector(4)", "x", "hessian", "jacobian", 4, 4, &[]),
        (
            "hessian",
            "0.5*norm2(W'*W*x - x)^2",
            "W: matrix(2,3); x: vector(3)",
            "W",
            "hvp",
            "gradient",
            2,
            3,
            &["--direction", "V"],
        ),
    ];
    for (cmd, expr, decl, wrt, field, layout, rows, cols, extra) in cases {
        let mut args = vec![*cmd, expr, "--wrt", wrt, "--decl", decl, "--format", "json", "--check"];
        args.extend_from_slice(extra);
        let r = run(&s, &args);
        assert_eq!(r.code, 0, "{}", r.explain(expr));
        let o: Json = serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{}", r.explain("json")));
        assert_eq!(o["layout"], json!(layout), "{expr}");
        assert_eq!(o["check"]["verdict"], json!("agrees"), "{expr}");
        let result = o[*field].as_str().unwrap_or_else(|| panic!("{expr}: no `{field}` in {o}"));
        assert!(!result.contains(" where "), "{expr}: self-contained");
        let mut vals = values(decl, &mut rng);
        if extra.contains(&"--direction") {
            vals.insert("V".into(), json!([[0.3, -0.2, 0.5], [0.1, 0.7, -0.4]]));
        }
        s.write("at.json", &Json::Object(vals).to_string());
        let e = run(&s, &["eval", result, "--decl", decl, "--at", "at.json"]);
        assert_eq!(e.code, 0, "{}", e.explain(&format!("eval {result}")));
        let v: Json = serde_json::from_str(e.stdout.trim()).unwrap();
        assert_eq!(size(&v), (*rows, *cols), "{expr}: {result} evaluates to the stated size");
    }
}

#[test]
fn text_latex_markdown_and_steps() {
    let s = Scratch::new("derivative-text");
    let decl = "A: matrix(N,d); x: vector(d); y: vector(N)";
    let expr = "sum(softplus(A*x)) - y'*A*x";
    let r = run(&s, &["hessian", expr, "--wrt", "x", "--decl", decl]);
    assert_eq!(r.code, 0, "{}", r.explain("text"));
    assert!(r.stdout.contains("A'*diag(w)*A\nwhere w = sigmoid(A*x).*("), "{}", r.stdout);
    assert!(r.stdout.contains("layout jacobian"), "{}", r.stdout);
    for f in ["latex", "markdown"] {
        let r = run(&s, &["hessian", expr, "--wrt", "x", "--decl", decl, "--format", f]);
        assert_eq!(r.code, 0, "{}", r.explain(f));
        assert!(r.stdout.contains("\\operatorname{diag}"), "{f}: {}", r.stdout);
    }
    let r = run(
        &s,
        &["derivative", "h = tanh(W*x)\nV*h", "--wrt", "x", "--decl", "W: matrix(m,n); V: matrix(k,m)", "--steps"],
    );
    assert_eq!(r.code, 0, "{}", r.explain("steps"));
    assert!(r.stdout.contains("h = tanh(a)") && r.stdout.contains("∂h/∂x"), "{}", r.stdout);
    let r = run(&s, &["derivative", "tanh(W*x)", "--wrt", "x", "--steps", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.explain("json steps"));
    let o: Json =
        serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{}", r.explain("steps keep the JSON whole")));
    assert_eq!(o["steps"]["steps"][1]["derivative"], json!("diag(1 - f.^2)*W"), "{o}");
    let r = run(&s, &["hessian", expr, "--wrt", "x", "--decl", decl, "--direction", "v", "--steps"]);
    assert_eq!(r.code, 0, "{}", r.explain("hvp steps"));
    assert!(r.stdout.contains("dg = "), "{}", r.stdout);
}

#[test]
fn errors_exit_2_with_a_span_and_unchecked_is_not_a_pass() {
    let s = Scratch::new("derivative-errors");
    let r = run(&s, &["hessian", "W*x", "--wrt", "x", "--decl", "W: matrix(m,n)"]);
    assert_eq!(r.code, 2, "{}", r.explain("non-scalar hessian"));
    assert!(r.stderr.contains("needs a scalar expression") && r.stderr.contains("W*x"), "{}", r.stderr);
    let r = run(&s, &["hessian", "x'*A*x", "--wrt", "x", "--direction", "A"]);
    assert_eq!(r.code, 2, "{}", r.explain("direction clash"));
    assert!(r.stderr.contains("clash"), "{}", r.stderr);
    let r = run(&s, &["derivative", "W*x", "--wrt", "z"]);
    assert_eq!(r.code, 2, "{}", r.explain("unknown variable"));
    // Undefined everywhere: nothing can be compared, which is exit 2, not a pass.
    let r = run(&s, &["hessian", "sum(log(-exp(x)))", "--wrt", "x", "--check"]);
    assert_eq!(r.code, 2, "{}", r.explain("unchecked"));
    assert!(r.stderr.contains("nothing was checked"), "{}", r.stderr);
}

#[test]
fn check_judges_derivative_and_hessian_claims() {
    let s = Scratch::new("derivative-check");
    let cases: &[(&[&str], i32, &str)] = &[
        (&["x'*A*x", "--wrt", "x", "--claim", "A + A'", "--hessian"], 0, "right"),
        (&["x'*A*x", "--wrt", "x", "--claim", "2*A", "--hessian"], 1, "symmetric"),
        (&["x'*A*x", "--wrt", "x", "--claim", "3*(A + A')", "--hessian"], 1, "3 times the Hessian"),
        (&["W*x", "--decl", "W: matrix(m,n)", "--wrt", "x", "--claim", "W'", "--derivative"], 1, "layout"),
        (&["W*x", "--decl", "W: matrix(m,n)", "--wrt", "W", "--claim", "kron(x', eye(m))", "--derivative"], 0, "right"),
        (&["x'*A*x", "--wrt", "x", "--claim", "(A + A')*V", "--hessian", "--direction", "V"], 0, "Hessian-vector"),
        (&["x'*A*x", "--wrt", "x", "--claim", "A*V", "--hessian", "--direction", "V"], 1, "wrong"),
        (&["W*x", "--wrt", "x", "--claim", "W", "--hessian"], 2, "scalar"),
    ];
    for (args, code, needle) in cases {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        let r = run(&s, &all);
        assert_eq!(r.code, *code, "{}", r.explain(&args.join(" ")));
        assert!(r.stdout.contains(needle) || r.stderr.contains(needle), "{}", r.explain(needle));
    }
}

#[test]
fn emit_writes_the_derivative_modules_and_refuses_what_it_cannot() {
    let s = Scratch::new("derivative-emit");
    let cases: [(&[&str], &str); 3] = [
        (&["derivative", "exp(x)/sum(exp(x))", "--wrt", "x", "--decl", "x: vector(n)"], "def jacobian(x):"),
        (&["hessian", "x'*A*x", "--wrt", "x", "--decl", "A: matrix(n,n); x: vector(n)"], "def f_grad_hess(A, x):"),
        (
            &["hessian", "x'*A*x", "--wrt", "x", "--direction", "v", "--decl", "A: matrix(n,n); x: vector(n)"],
            "def f_grad_hvp(A, x, v):",
        ),
    ];
    for (args, want) in cases {
        for lang in ["numpy", "jax", "torch", "rust"] {
            let mut a = args.to_vec();
            a.extend(["--emit", lang]);
            let r = run(&s, &a);
            assert_eq!(r.code, 0, "{}", r.explain(lang));
            let want = if lang == "rust" {
                want.replace("def ", "pub fn ").replace("(A, x, v):", "(A: &Mat<f64>, x: &Mat<f64>, v: &Mat<f64>)")
            } else {
                want.to_string()
            };
            let head = want.split(['(', ':']).next().unwrap().to_string();
            assert!(r.stdout.contains(&head), "{}", r.explain(&format!("{lang}: no `{head}`")));
        }
    }
    // --emit with --check or --steps is a usage error; a size no input fixes is an error too.
    for extra in ["--check", "--steps"] {
        let r = run(&s, &["derivative", "W*x", "--wrt", "x", "--emit", "numpy", extra]);
        assert_eq!(r.code, 2, "{}", r.explain(extra));
    }
    let r = run(&s, &["hessian", "a^3*tr(eye(k))", "--wrt", "a", "--decl", "a: scalar", "--emit", "rust"]);
    assert_eq!(r.code, 2, "{}", r.explain("eye(k)"));
    assert!(r.stderr.contains("dimension k"), "{}", r.explain("eye(k)"));
}
