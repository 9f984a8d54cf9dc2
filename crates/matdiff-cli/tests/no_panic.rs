//! Garbled input never panics the core: thousands of random byte strings, token soups and
//! damaged seed expressions go through `Problem::new`, `gradients` and the printers; every
//! error either has no span or a span inside the text it points into. The `--at` JSON binder
//! gets the same treatment, and the inputs the fuzz targets (`crates/matdiff/fuzz`) found are
//! kept here as regressions. (The LaTeX and document readers have their own bounded no-panic
//! properties: `crates/matdiff/tests/latex_cases.rs` and `audit.rs`.)

use crate::common::Rng;
use matdiff::{Error, Input, Problem, Style};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

const SEEDS: &[(&str, &str)] = &[
    ("0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)"),
    (
        "-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
        "X: matrix(N,q); Y: matrix(N,D); D: scalar; a: scalar; b: scalar",
    ),
    (
        "-D/2*log(det(a*x*x' + 1/b*eye(N))) - 0.5*tr(inv(a*x*x' + 1/b*eye(N))*y*y')",
        "x: vector(N); y: vector(N); D: scalar; a: scalar; b: scalar",
    ),
    (
        "0.5*norm2(W2*swish(W1*x + b1) + b2 - t)^2",
        "W1: matrix(H,D); b1: vector(H); W2: matrix(C,H); b2: vector(C); x: vector(D); t: vector(C)",
    ),
    (
        "h = relu(W*x + b) + x\ny = relu(V*h + c) + h\n0.5*norm2(y - t)^2",
        "W: matrix(n,n); V: matrix(n,n); x: vector(n); b: vector(n); c: vector(n); t: vector(n)",
    ),
    ("-0.5*logdet(U*U' + s*eye(d)) - 0.5*tr(inv(U*U' + s*eye(d))*S)", "U: matrix(d,q); s: scalar; S: symmetric(d)"),
    ("sum(exp(A.^2 ./ (1 + B))) + tr(A^3*inv(B)) + x'*diag(y)*x + sqrt(abs(a))*norm1(x)", ""),
];

const TOKENS: &[&str] = &[
    "x", "y", "W", "A", "S", "X", "a", "b", "h", "t0", "W1", "(", ")", "(", ")", "+", "-", "*", "/", ".*", "./", ".^",
    "^", "'", "2", "0.5", "1e9", "1e-3", "0", "-1", "16", "17", "sum", "norm2", "norm1", "tr", "inv", "logdet", "det",
    "log", "exp", "sigmoid", "swish", "relu", "eye", "I", "vector", "matrix", "diag", "sqrt", ",", "=", "\n", " ", ";",
    "\\frac", "{", "}", "$", "é",
];

const DECLS: &[&str] = &[
    "",
    "x: vector(n)",
    "W: matrix(m,n); x: vector(n)",
    "A: symmetric(n); x: vector(n); a: scalar",
    "A: matrix(2,2); x: vector(3)",
    "x: vector(n); x: vector(m)",
    "W: matrix(m",
    "a: blob",
    "I: matrix(n,n)",
    "sum: scalar; eye: vector(n)",
    "x: vector(1000001)",
];

/// The text an error's span points into.
fn source<'a>(e: &Error, expr: &'a str, decl: &'a str) -> Option<&'a str> {
    match e.input {
        Input::Expr => Some(expr),
        Input::Decl => Some(decl),
        _ => None,
    }
}

/// Problems with one error: a span outside its text, off a character boundary, or an empty message.
fn check_error(e: &Error, expr: &str, decl: &str) -> Option<String> {
    if e.message.trim().is_empty() {
        return Some("empty message".into());
    }
    let span = e.span?;
    let Some(text) = source(e, expr, decl) else {
        return Some(format!("a span ({span:?}) into {:?}, which has no text", e.input));
    };
    let inside = span.start <= span.end
        && span.end <= text.len()
        && text.is_char_boundary(span.start)
        && text.is_char_boundary(span.end);
    (!inside).then(|| format!("span {span:?} is not inside the {} bytes of {:?}", text.len(), e.input))
}

/// Everything the front ends do with an input that is not evaluation at user data; the
/// problems found, and whether the input was well-typed.
fn exercise(expr: &str, decl: &str, check_numerically: bool) -> (Vec<String>, bool) {
    let mut problems = vec![];
    let mut p = match Problem::new(expr, decl) {
        Ok(p) => p,
        Err(e) => return (check_error(&e, expr, decl).into_iter().collect(), false),
    };
    let names: Vec<String> =
        p.graph().vars().iter().map(|v| v.name.clone()).chain(["nonexistent".to_string()]).collect();
    for name in &names {
        match p.gradients(&[name.as_str()]) {
            Ok(g) => {
                for &node in &g.nodes {
                    let _ = p.print(node, Style::Plain);
                    let _ = p.print(node, Style::Latex);
                    let _ = p.shape_names(node);
                }
                let _ = p.print_shared(&g.nodes, Style::Plain);
                if check_numerically {
                    let _ = p.fd_check(&g, 1, 1);
                }
            }
            Err(e) => problems.extend(check_error(&e, expr, decl)),
        }
    }
    (problems, true)
}

/// Inputs: random bytes, token soup, and every prefix, suffix and one-character damage of the seeds.
fn inputs() -> Vec<(String, String)> {
    let mut rng = Rng::new(7);
    let mut out = vec![];
    for _ in 0..600 {
        let n = rng.below(40);
        let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
        out.push((String::from_utf8_lossy(&bytes).into_owned(), rng.pick(DECLS).to_string()));
    }
    for _ in 0..600 {
        let n = 1 + rng.below(12);
        let bytes: Vec<u8> = (0..n).map(|_| *rng.pick(b"xyWAab()+-*/.^'12,;: \n=")).collect();
        out.push((String::from_utf8(bytes).unwrap(), rng.pick(DECLS).to_string()));
    }
    for _ in 0..2000 {
        let n = 1 + rng.below(25);
        let soup: String = (0..n).map(|_| *rng.pick(TOKENS)).collect();
        out.push((soup, rng.pick(DECLS).to_string()));
    }
    for &(expr, decl) in SEEDS {
        let cuts: Vec<usize> = (0..=expr.len()).filter(|&i| expr.is_char_boundary(i)).collect();
        for &i in &cuts {
            out.push((expr[..i].to_string(), decl.to_string()));
            out.push((expr[i..].to_string(), decl.to_string()));
            // The declarations damaged too, now and then.
            if i % 5 == 0 {
                out.push((expr.to_string(), decl[..i.min(decl.len())].to_string()));
            }
        }
        for _ in 0..150 {
            let i = rng.below(expr.len());
            let mut damaged = expr.to_string();
            let token = *rng.pick(TOKENS);
            match rng.below(3) {
                0 => {
                    damaged.remove(i);
                }
                1 => damaged.insert_str(i, token),
                _ => damaged.replace_range(i..i + 1, token),
            }
            out.push((damaged, decl.to_string()));
        }
    }
    out
}

/// Run `f` on a thread with the CLI's main-thread stack (8 MiB), failing on any panic.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(8 << 20).spawn(f).unwrap().join().unwrap();
}

#[test]
fn garbled_input_never_panics() {
    on_big_stack(|| {
        // Keep panic messages (if any) for the report instead of printing thousands of them.
        let last_panic = Arc::new(Mutex::new(String::new()));
        let sink = last_panic.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| *sink.lock().unwrap() = info.to_string()));
        let cases = inputs();
        let (mut failures, mut typed) = (vec![], 0);
        for (k, (expr, decl)) in cases.iter().enumerate() {
            match catch_unwind(AssertUnwindSafe(|| exercise(expr, decl, k % 10 == 0))) {
                Ok((problems, ok)) => {
                    typed += usize::from(ok);
                    failures.extend(problems.into_iter().map(|p| format!("{expr:?} with {decl:?}: {p}")));
                }
                Err(_) => failures.push(format!("{expr:?} with {decl:?}: panicked: {}", last_panic.lock().unwrap())),
            }
        }
        std::panic::set_hook(previous);
        assert!(cases.len() > 3000, "only {} inputs", cases.len());
        // Enough of them must get past the type checker for gradients and printing to be exercised.
        assert!(typed > 300, "only {typed} of {} inputs were well-typed", cases.len());
        eprintln!("{} inputs, {typed} well-typed", cases.len());
        assert!(
            failures.is_empty(),
            "{} of {} inputs failed:\n{}",
            failures.len(),
            cases.len(),
            failures[..failures.len().min(30)].join("\n")
        );
    });
}

/// Depth far past the parser's limit is refused in-process too (no argument-length limit here).
#[test]
fn deep_nesting_returns_an_error() {
    on_big_stack(|| {
        let n = 100_000;
        for expr in [
            format!("{}x{}", "(".repeat(n), ")".repeat(n)),
            format!("{}x{}", "sum(".repeat(n), ")".repeat(n)),
            format!("{}x", "-".repeat(n)),
            format!("x{}", "'".repeat(n)),
            // (A chain `x*x*…*x` is not nesting: it reads, with x a scalar.)
            vec!["x"; n].join("^"),
        ] {
            let start = std::time::Instant::now();
            let err = Problem::new(&expr, "").expect_err("refused");
            assert!(start.elapsed().as_secs_f64() < 2.0, "took {:?}", start.elapsed());
            assert_eq!(check_error(&err, &expr, ""), None);
            assert!(err.span.is_some(), "the error points at where the limit is exceeded");
        }
    });
}

/// A sample of the same inputs through the binary: the renderer must cope with every span too.
#[test]
fn garbled_input_through_the_binary() {
    let dir = crate::common::Scratch::new("garbled");
    let cases = inputs();
    let sample: Vec<&(String, String)> =
        cases.iter().step_by(25).filter(|(e, d)| !e.contains('\0') && !d.contains('\0')).collect();
    assert!(sample.len() > 150);
    for (expr, decl) in sample {
        for format in ["text", "json"] {
            let run = dir.run(&["grad", "--wrt", "x", "--format", format, "--decl", decl, "--", expr]);
            let what = format!("grad {expr:?} --decl {decl:?} --format {format}");
            assert!(run.code == 0 || run.code == 2, "{}", run.explain(&what));
            assert!(!crate::common::looks_like_panic(&run.stderr), "{}", run.explain(&what));
            if run.code == 2 {
                assert!(
                    run.stderr.lines().any(|l| l.starts_with("error: ")) && run.stdout.is_empty(),
                    "{}",
                    run.explain(&what)
                );
            }
        }
    }
}

/// Inputs the fuzz targets found to crash (docs/fuzzing.md), each with its declarations: now
/// each is an error or a gradient that central differences confirm.
const FUZZ_FINDINGS: &[(&str, &str)] = &[
    // plain target: `n = n*p` from `x'*kron(A, B)` pinned n to a product containing itself,
    // and working out its factors recursed until the stack overflowed.
    ("x'*kron(A, B)*y", "W: matrix(m,n); x: vector(n); y: vector(m); A: matrix(n,n); S: symmetric(n); a: scalar"),
    ("x'*kron(A, B)*y", "x: vector(n); A: matrix(n,n)"),
    ("x'*kron(A, B)*x", "x: vector(n)"),
];

#[test]
fn fuzz_findings_are_answered() {
    on_big_stack(|| {
        for &(expr, decl) in FUZZ_FINDINGS {
            let (problems, typed) = exercise(expr, decl, false);
            assert!(problems.is_empty(), "{expr:?} with {decl:?}: {problems:?}");
            if typed {
                let mut p = Problem::new(expr, decl).unwrap();
                let names: Vec<String> = p.graph().vars().iter().map(|v| v.name.clone()).collect();
                let wrt: Vec<&str> = names.iter().map(String::as_str).collect();
                let grads = p.gradients(&wrt).unwrap();
                let report = p.fd_check(&grads, 3, 2);
                assert_eq!(report.outcome(), matdiff::FdOutcome::Agrees, "{expr:?} with {decl:?}: {report:?}");
            }
        }
    });
}

/// The `eval --at` reader and binder: JSON token soups and damaged valid inputs are read by
/// `inputs_from_json` (the CLI's reader), bound, size-checked and evaluated without a panic.
#[test]
fn at_json_never_panics() {
    const EXPR: &str = "0.5*norm2(W'*W*x - x)^2 + a*sum(log(vector(1) + exp(-y.*(W*x)))) + tr(inv(S)*A) + logdet(S)";
    const DECL: &str = "W: matrix(m,n); x: vector(n); y: vector(m); a: scalar; A: matrix(n,n); S: symmetric(n)";
    const VALID: &str =
        r#"{"W": [[1,2],[3,4],[5,6]], "x": [1, -1], "y": [1,0,1], "a": 0.5, "A": [[1,0],[0,1]], "S": [[2,1],[1,2]]}"#;
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"W\"",
        "\"x\"",
        "\"y\"",
        "\"a\"",
        "\"A\"",
        "\"S\"",
        "\"q\"",
        "1",
        "-0",
        "1e308",
        "-1e308",
        "1e-320",
        "0.5",
        "null",
        "true",
        "\"NaN\"",
        "[]",
        "[[]]",
        "[[1,2],[3]]",
        "{}",
        " ",
        "\"",
        "[[1e999]]",
    ];
    on_big_stack(|| {
        let p = Problem::new(EXPR, DECL).unwrap();
        let mut rng = Rng::new(11);
        let mut texts = vec![VALID.to_string()];
        for _ in 0..1500 {
            let n = 1 + rng.below(30);
            texts.push((0..n).map(|_| *rng.pick(PIECES)).collect());
        }
        for _ in 0..1500 {
            let mut t = VALID.to_string();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(t.len());
                let piece: &str = rng.pick::<&str>(PIECES);
                match rng.below(3) {
                    0 => {
                        t.remove(i);
                    }
                    1 => t.insert_str(i, piece),
                    _ => t.replace_range(i..i + 1, piece),
                }
            }
            texts.push(t);
        }
        let (mut bound, mut evaluated) = (0, 0);
        for text in &texts {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let Ok(inputs) = matdiff::report::inputs_from_json(text, "at.json") else { return (false, false) };
                let Ok(env) = p.bind(&inputs) else { return (false, false) };
                if matdiff::check_sizes(p.graph(), &[p.output], &env).is_err() {
                    return (true, false);
                }
                let _ = matdiff::eval(p.graph(), &[p.output], &env);
                let _ = matdiff::Compiled::new(p.graph(), &[p.output]).run_env(&env);
                (true, true)
            }));
            let Ok((b, e)) = outcome else { panic!("--at {text:?} panicked") };
            bound += usize::from(b);
            evaluated += usize::from(e);
        }
        // The valid input and enough of its damaged copies got as far as evaluation.
        assert!(evaluated > 50, "only {evaluated} of {} inputs evaluated ({bound} bound)", texts.len());
    });
}
