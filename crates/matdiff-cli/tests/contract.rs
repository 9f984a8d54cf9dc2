//! The command-line contract outside checks rely on (issue 2), tested through the built binary.
//!
//! The central test: for each seed model, `grad --format json` gives a `gradient` that
//! `matdiff eval` accepts with the same `--decl`, and its value at random inputs matches central
//! differences of the loss, each loss value also computed by `matdiff eval`, at two dimension
//! settings. The `--format text` output (with its `where` lines) evaluates to the same numbers.

use crate::common::{looks_like_panic, Rng, Run, Scratch};
use serde_json::{json, Map, Value as Json};

/// A seed model: the loss, its declarations, its variables' shapes (dimension names), and
/// what to differentiate. `fd_decl` replaces `decl` for finite differences when a symmetric
/// declaration would refuse a one-sided perturbation (entries are independent by contract).
struct Seed {
    name: &'static str,
    expr: &'static str,
    decl: &'static str,
    fd_decl: Option<&'static str>,
    vars: &'static [(&'static str, &'static [&'static str])],
    wrt: &'static [&'static str],
    /// Two dimension settings.
    dims: [&'static [(&'static str, usize)]; 2],
}

const SEEDS: &[Seed] = &[
    Seed {
        name: "autoencoder",
        expr: "0.5*norm2(W'*W*x - x)^2",
        decl: "W: matrix(m,n); x: vector(n)",
        fd_decl: None,
        vars: &[("W", &["m", "n"]), ("x", &["n"])],
        wrt: &["W"],
        dims: [&[("m", 2), ("n", 3)], &[("m", 3), ("n", 5)]],
    },
    Seed {
        name: "autoencoder-batched",
        expr: "0.5*norm2(W'*W*X - X)^2",
        decl: "W: matrix(m,n); X: matrix(n,N)",
        fd_decl: None,
        vars: &[("W", &["m", "n"]), ("X", &["n", "N"])],
        wrt: &["W"],
        dims: [&[("m", 2), ("n", 3), ("N", 2)], &[("m", 3), ("n", 4), ("N", 3)]],
    },
    Seed {
        name: "gplvm",
        expr: "-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
        decl: "X: matrix(N,q); Y: matrix(N,D); D: scalar; a: scalar; b: scalar",
        fd_decl: None,
        vars: &[("X", &["N", "q"]), ("Y", &["N", "D"]), ("D", &[]), ("a", &[]), ("b", &[])],
        wrt: &["X", "a"],
        dims: [&[("N", 3), ("q", 2), ("D", 2)], &[("N", 5), ("q", 3), ("D", 4)]],
    },
    Seed {
        name: "gplvm-vector",
        expr: "-D/2*log(det(a*x*x' + 1/b*eye(N))) - 0.5*tr(inv(a*x*x' + 1/b*eye(N))*y*y')",
        decl: "x: vector(N); y: vector(N); D: scalar; a: scalar; b: scalar",
        fd_decl: None,
        vars: &[("x", &["N"]), ("y", &["N"]), ("D", &[]), ("a", &[]), ("b", &[])],
        wrt: &["x", "a"],
        dims: [&[("N", 3)], &[("N", 5)]],
    },
    Seed {
        name: "ppca",
        expr: "-0.5*logdet(U*U' + s*eye(d)) - 0.5*tr(inv(U*U' + s*eye(d))*S)",
        decl: "U: matrix(d,q); s: scalar; S: symmetric(d)",
        fd_decl: Some("U: matrix(d,q); s: scalar; S: matrix(d,d)"),
        vars: &[("U", &["d", "q"]), ("s", &[]), ("S", &["d", "d"])],
        wrt: &["U", "S"],
        dims: [&[("d", 3), ("q", 2)], &[("d", 4), ("q", 3)]],
    },
    Seed {
        name: "mlp",
        expr: "0.5*norm2(W2*swish(W1*x + b1) + b2 - t)^2",
        decl: "W1: matrix(H,D); b1: vector(H); W2: matrix(C,H); b2: vector(C); x: vector(D); t: vector(C)",
        fd_decl: None,
        vars: &[("W1", &["H", "D"]), ("b1", &["H"]), ("W2", &["C", "H"]), ("b2", &["C"]), ("x", &["D"]), ("t", &["C"])],
        wrt: &["W1", "b1", "W2", "b2"],
        dims: [&[("H", 3), ("D", 2), ("C", 2)], &[("H", 4), ("D", 3), ("C", 2)]],
    },
    Seed {
        name: "residual",
        expr: "h = relu(W*x + b) + x\ny = relu(V*h + c) + h\n0.5*norm2(y - t)^2",
        decl: "W: matrix(n,n); V: matrix(n,n); x: vector(n); b: vector(n); c: vector(n); t: vector(n)",
        fd_decl: None,
        vars: &[("W", &["n", "n"]), ("V", &["n", "n"]), ("x", &["n"]), ("b", &["n"]), ("c", &["n"]), ("t", &["n"])],
        wrt: &["W", "b", "V", "c"],
        dims: [&[("n", 2)], &[("n", 4)]],
    },
];

/// Random inputs for a seed: positive scalars, entries in [-1, 1], symmetric ones positive
/// definite; a scalar named like a dimension takes that dimension's size.
fn random_inputs(seed: &Seed, dims: &[(&str, usize)], rng: &mut Rng) -> Map<String, Json> {
    let size =
        |d: &str| dims.iter().find(|(n, _)| *n == d).unwrap_or_else(|| panic!("{}: no size for {d}", seed.name)).1;
    let mut out = Map::new();
    for &(name, shape) in seed.vars {
        let value = match shape {
            [] => match dims.iter().find(|(n, _)| *n == name) {
                Some(&(_, k)) => json!(k as f64),
                None => json!(rng.range(0.5, 1.5)),
            },
            [n] => json!((0..size(n)).map(|_| rng.range(-1.0, 1.0)).collect::<Vec<_>>()),
            [m, n] if m == n && seed.decl.contains(&format!("{name}: symmetric")) => {
                let k = size(m);
                let b: Vec<Vec<f64>> = (0..k).map(|_| (0..k).map(|_| rng.range(-1.0, 1.0)).collect()).collect();
                let s: Vec<Vec<f64>> = (0..k)
                    .map(|i| {
                        (0..k)
                            .map(|j| {
                                (0..k).map(|l| b[i][l] * b[j][l]).sum::<f64>() / k as f64
                                    + if i == j { 1.0 } else { 0.0 }
                            })
                            .collect()
                    })
                    .collect();
                json!(s)
            }
            [m, n] => json!((0..size(m))
                .map(|_| (0..size(n)).map(|_| rng.range(-1.0, 1.0)).collect::<Vec<_>>())
                .collect::<Vec<_>>()),
            _ => unreachable!(),
        };
        out.insert(name.to_string(), value);
    }
    out
}

/// A value printed by `eval` (or held in the inputs) as (rows, cols, row-major entries).
fn flatten(v: &Json) -> (usize, usize, Vec<f64>) {
    match v {
        Json::Number(x) => (1, 1, vec![x.as_f64().unwrap()]),
        Json::Array(items) if items.first().is_some_and(Json::is_array) => {
            let rows: Vec<Vec<f64>> =
                items.iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect();
            (rows.len(), rows[0].len(), rows.concat())
        }
        Json::Array(items) => (items.len(), 1, items.iter().map(|x| x.as_f64().unwrap()).collect()),
        other => panic!("not a number, list or list of rows: {other}"),
    }
}

/// The entry `k` (row-major) of an input value, as a mutable number.
fn entry(v: &mut Json, k: usize) -> &mut Json {
    if v.is_number() {
        return v;
    }
    let items = v.as_array_mut().expect("a number or a list");
    if items[0].is_array() {
        let c = items[0].as_array().unwrap().len();
        &mut items[k / c][k % c]
    } else {
        &mut items[k]
    }
}

fn ok(run: Run, what: &str) -> String {
    assert!(run.code == 0 && !looks_like_panic(&run.stderr), "{}", run.explain(what));
    run.stdout
}

/// `matdiff eval expr --decl decl` at `inputs`.
fn eval_at(dir: &Scratch, expr: &str, decl: &str, inputs: &Map<String, Json>) -> Json {
    dir.write("inputs.json", &Json::Object(inputs.clone()).to_string());
    let out = ok(dir.run(&["eval", "--decl", decl, "--at", "inputs.json", "--", expr]), &format!("eval {expr}"));
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("eval printed no JSON ({e}): {out}"))
}

/// Largest entrywise difference relative to the larger of 1 and the largest entry.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let scale = a.iter().chain(b).map(|x| x.abs()).fold(1.0, f64::max);
    if diff.is_nan() {
        f64::INFINITY
    } else {
        diff / scale
    }
}

/// Turn `grad --format text` output (an expression, then `where t = …` lines) into a program
/// `matdiff eval` reads: the definitions first, then the expression.
fn text_to_program(text: &str) -> String {
    let mut lines = text.lines();
    let head = lines.next().expect("text output has a first line");
    let mut defs: Vec<String> = lines
        .map(|l| l.strip_prefix("where ").unwrap_or_else(|| panic!("unexpected line in text output: {l}")).to_string())
        .collect();
    defs.push(head.to_string());
    defs.join("\n")
}

#[test]
fn seed_gradients_evaluate_to_finite_differences() {
    let dir = Scratch::new("contract");
    let mut rng = Rng::new(2024);
    for seed in SEEDS {
        for wrt in seed.wrt {
            // JSON output: the fields, and a self-contained gradient.
            let out = ok(
                dir.run(&["grad", "--decl", seed.decl, "--wrt", wrt, "--format", "json", "--", seed.expr]),
                seed.name,
            );
            let obj: Json = serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("{}: grad --format json is not JSON ({e}):\n{out}", seed.name));
            for key in ["gradient", "latex", "shape", "where"] {
                assert!(obj.get(key).is_some(), "{} w.r.t. {wrt}: no `{key}` in {obj}", seed.name);
            }
            let gradient = obj["gradient"].as_str().expect("gradient is a string").to_string();
            assert!(!gradient.contains("where") && !gradient.contains('\n'), "gradient is one expression: {gradient}");
            assert!(obj["latex"].as_str().is_some_and(|s| !s.is_empty()), "{}: latex is a non-empty string", seed.name);
            assert!(obj["where"].is_object(), "{}: where is an object of definitions", seed.name);
            let shape = seed.vars.iter().find(|v| v.0 == *wrt).unwrap().1;
            assert_eq!(obj["shape"], json!(shape), "{} w.r.t. {wrt}: the gradient has the variable's shape", seed.name);
            // Text output: re-parses (definitions first) to the same numbers.
            let text = ok(dir.run(&["grad", "--decl", seed.decl, "--wrt", wrt, "--", seed.expr]), seed.name);
            let program = text_to_program(&text);

            let fd_decl = seed.fd_decl.unwrap_or(seed.decl);
            for dims in seed.dims {
                let inputs = random_inputs(seed, dims, &mut rng);
                let (r, c, g) = flatten(&eval_at(&dir, &gradient, seed.decl, &inputs));
                let (vr, vc, x0) = flatten(&inputs[*wrt]);
                assert_eq!((r, c), (vr, vc), "{} w.r.t. {wrt}: gradient is {r}×{c}, the variable {vr}×{vc}", seed.name);
                let (_, _, g_text) = flatten(&eval_at(&dir, &program, seed.decl, &inputs));
                assert!(
                    rel_err(&g, &g_text) < 1e-12,
                    "{} w.r.t. {wrt}: text and JSON forms differ\n{program}\nvs {gradient}",
                    seed.name
                );
                let mut fd = vec![];
                for (k, &x) in x0.iter().enumerate() {
                    let h = 1e-5 * x.abs().max(1.0);
                    let at = |d: f64| {
                        let mut moved = inputs.clone();
                        *entry(moved.get_mut(*wrt).unwrap(), k) = json!(x + d);
                        flatten(&eval_at(&dir, seed.expr, fd_decl, &moved)).2[0]
                    };
                    fd.push((at(h) - at(-h)) / (2.0 * h));
                }
                let err = rel_err(&g, &fd);
                assert!(
                    err < 1e-6,
                    "{} w.r.t. {wrt} at {dims:?}: relative error {err:.1e}\ngradient {gradient}\n= {g:?}\nfd {fd:?}",
                    seed.name
                );
            }
        }
    }
}

#[test]
fn eval_prints_a_number_a_list_or_rows() {
    let dir = Scratch::new("eval-forms");
    let decl = "W: matrix(m,n); x: vector(n); a: scalar";
    let mut inputs = Map::new();
    inputs.insert("W".into(), json!([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]));
    inputs.insert("x".into(), json!([1.0, 0.5, -1.0]));
    inputs.insert("a".into(), json!(2.0));
    assert_eq!(eval_at(&dir, "a*x'*x", decl, &inputs), json!(4.5));
    assert_eq!(eval_at(&dir, "W*x", decl, &inputs), json!([-1.0, 0.5]));
    assert_eq!(eval_at(&dir, "a*W", decl, &inputs), json!([[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]]));
    // A 1×1 matrix is still a list of rows, a vector of length 1 still a list.
    inputs.insert("W".into(), json!([[3.0]]));
    inputs.insert("x".into(), json!([2.0]));
    assert_eq!(eval_at(&dir, "W", decl, &inputs), json!([[3.0]]));
    assert_eq!(eval_at(&dir, "x", decl, &inputs), json!([2.0]));
}

#[test]
fn exit_codes() {
    let dir = Scratch::new("exit-codes");
    let run = dir.run(&["grad", "x'*x", "--wrt", "x"]);
    assert_eq!((run.code, run.stdout.trim()), (0, "2*x"), "{}", run.explain("success"));
    for (args, what) in [
        (&["grad", "x'*x"][..], "missing --wrt"),
        (&["grad", "x'*", "--wrt", "x"][..], "syntax error"),
        (&["frobnicate"][..], "unknown command"),
        (&["eval", "x'*x", "--at", "no-such-file.json"][..], "missing inputs file"),
        (&[][..], "no command"),
    ] {
        let run = dir.run(args);
        assert_eq!(run.code, 2, "{}", run.explain(what));
        assert!(!looks_like_panic(&run.stderr) && !run.stderr.is_empty(), "{}", run.explain(what));
    }
}

#[test]
fn help_works() {
    let dir = Scratch::new("help");
    let top = ok(dir.run(&["--help"]), "--help");
    for cmd in ["grad", "eval", "demo"] {
        assert!(top.contains(cmd), "--help lists `{cmd}`:\n{top}");
    }
    let grad = ok(dir.run(&["grad", "--help"]), "grad --help");
    for opt in ["--wrt", "--decl", "--format"] {
        assert!(grad.contains(opt), "grad --help lists `{opt}`:\n{grad}");
    }
    assert!(ok(dir.run(&["eval", "--help"]), "eval --help").contains("--at"));
}

#[test]
fn demo_prints_each_gradient_with_a_numeric_check() {
    let dir = Scratch::new("demo");
    let out = ok(dir.run(&["demo"]), "demo");
    for ex in matdiff::EXAMPLES {
        let start =
            out.find(&format!("== {} ==", ex.title)).unwrap_or_else(|| panic!("demo shows `{}`:\n{out}", ex.title));
        let block = &out[start..];
        let block = &block[..block[3..].find("\n== ").map_or(block.len(), |e| e + 3)];
        for wrt in ex.wrt {
            assert!(
                block.contains(&format!("d/d{wrt} = ")),
                "demo shows the gradient w.r.t. {wrt} for {}:\n{block}",
                ex.title
            );
        }
        let err: f64 = block
            .split("max relative error ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("demo prints a numeric check for {}:\n{block}", ex.title));
        assert!(err < 1e-6, "{}: demo's check reports {err:.1e}", ex.title);
    }
    // Second order: the autoencoder's Hessian in W, the GPLVM's and the MLP's HVPs, each with
    // its check against second differences.
    let start = out.find("== Second order").unwrap_or_else(|| panic!("demo shows second-order results:\n{out}"));
    let block = &out[start..];
    let block = &block[..block[3..].find("\n== ").map_or(block.len(), |e| e + 3)];
    for what in
        ["Hessian in W (w.r.t. vec(W)", "Hessian-vector product in X along V", "Hessian-vector product in W1 along V"]
    {
        assert!(block.contains(what), "demo shows the {what}:\n{block}");
    }
    let errs: Vec<f64> = block
        .split("max relative error ")
        .skip(1)
        .filter_map(|s| s.split_whitespace().next().and_then(|e| e.parse().ok()))
        .collect();
    assert_eq!(errs.len(), 3, "three second-order checks:\n{block}");
    assert!(errs.iter().all(|&e| e < 1e-4), "second-order checks: {errs:?}\n{block}");
    // The HVPs (after the Hessian in W) are plain matrix notation.
    let hvps = &block[block.find("Hessian-vector product in").unwrap()..];
    assert!(!hvps.contains("kron"), "HVPs never use kron:\n{hvps}");
}
