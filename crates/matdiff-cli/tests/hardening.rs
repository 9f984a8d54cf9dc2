//! Issue 12 through the built binary: no vacuous checks, scale-invariant verdicts, non-finite
//! values never silent, `grade` fails when nothing was audited.

use crate::common::{looks_like_panic, Scratch};

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

/// Run `matdiff args…` in `dir` with `stdin` as its standard input.
fn run_with_stdin(dir: &std::path::Path, args: &[&str], stdin: &[u8]) -> crate::common::Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let start = std::time::Instant::now();
    let mut child = Command::new(crate::common::BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the matdiff binary runs");
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // A writer thread: the binary may stop reading early (a refused input), closing the pipe.
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    crate::common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// Every read is bounded while reading, and says its limit: /dev/zero is refused at once, a
/// large stdin or file at its limit.
#[test]
fn reads_are_bounded_and_say_their_limit() {
    let dir = Scratch::new("bounded");
    let problem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../problems/autoencoder.toml");
    for args in [
        vec!["audit", "/dev/zero", "--problem", problem],
        vec!["audit", "doc.md", "--problem", "/dev/zero"],
        vec!["eval", "x'*x", "--at", "/dev/zero"],
        vec!["grad", "@/dev/zero", "--wrt", "x"],
        vec!["check", "x'*x", "--wrt", "x", "--claim", "@/dev/zero"],
    ] {
        dir.write("doc.md", "$$x = 1$$\n");
        let r = dir.run(&args);
        assert!(r.code == 2 && r.stderr.contains("binary data"), "{}", r.explain(&format!("{args:?}")));
        assert!(r.elapsed.as_secs_f64() < 2.0, "{args:?} took {:?}", r.elapsed);
    }
    let r = dir.run(&["grade", "--problem", problem, "/dev/zero"]);
    assert!(r.code == 2 && r.stdout.contains("not a regular file"), "{}", r.explain("grade /dev/zero"));
    // Text just over a limit, from stdin and from a file.
    let big = "x".repeat(2_000_001);
    let r = run_with_stdin(&dir.0, &["audit", "-", "--problem", problem], big.as_bytes());
    assert!(r.code == 2 && r.stderr.contains("limit of 2000000 bytes"), "{}", r.explain("audit -"));
    let r = run_with_stdin(&dir.0, &["grad", "-", "--wrt", "x"], &big.as_bytes()[..1_000_001]);
    assert!(r.code == 2 && r.stderr.contains("limit of 1000000 bytes"), "{}", r.explain("grad -"));
    dir.write("big.txt", &big);
    let r = dir.run(&["grad", "@big.txt", "--wrt", "x"]);
    assert!(r.code == 2 && r.stderr.contains("limit of 1000000 bytes"), "{}", r.explain("grad @big.txt"));
}

/// `-` and `@FILE` for the expression, `--decl` and `--claim`, in every command that takes
/// them; only one argument may be `-`.
#[test]
fn expressions_declarations_and_claims_from_stdin_or_files() {
    let dir = Scratch::new("stdin");
    dir.write("loss.txt", "0.5*norm2(W'*W*x - x)^2\n");
    dir.write("decl.txt", "W: matrix(m,n)\nx: vector(n)\n");
    dir.write("claim.txt", "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'");
    dir.write("at.json", r#"{"W": [[1, 2], [3, 4], [5, 6]], "x": [1, -1]}"#);
    let loss = "0.5*norm2(W'*W*x - x)^2";
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (&["grad", "@loss.txt", "--wrt", "W", "--decl", "@decl.txt"], "", 0, "W*t0*x' + W*x*t0'"),
        (&["grad", "-", "--wrt", "W", "--decl", "@decl.txt"], loss, 0, "W*t0*x' + W*x*t0'"),
        (&["grad", "@loss.txt", "--wrt", "W", "--decl", "-"], "W: matrix(m,n); x: vector(n)", 0, "W*t0*x'"),
        (&["eval", "-", "--at", "at.json"], loss, 0, "110.5"),
        (&["eval", "@loss.txt", "--at", "-"], r#"{"W": [[1, 2], [3, 4], [5, 6]], "x": [1, -1]}"#, 0, "110.5"),
        (&["graph", "-", "--format", "dot"], loss, 0, "digraph"),
        (&["check", "@loss.txt", "--decl", "@decl.txt", "--wrt", "W", "--claim", "-"], "2*W*x*x'", 1, "wrong"),
        (&["check", "-", "--decl", "@decl.txt", "--wrt", "W", "--claim", "@claim.txt"], loss, 0, "right"),
        (&["check", "-", "--wrt", "x", "--claim", "-"], "x'*x", 2, "only one input can be `-`"),
        (&["grad", "@missing.txt", "--wrt", "x"], "", 2, "cannot read missing.txt"),
        (&["grad", "@", "--wrt", "x"], "", 2, "must be followed by a file name"),
    ];
    for (args, stdin, code, says) in cases {
        let r = run_with_stdin(&dir.0, args, stdin.as_bytes());
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            r.code == *code && all.contains(says) && !looks_like_panic(&all),
            "{}",
            r.explain(&format!("{args:?}"))
        );
    }
}

/// `--jobs 0` is one per core; a huge `--jobs` is capped (and says so) instead of starting
/// a thread per job.
#[test]
fn jobs_zero_is_all_cores_and_huge_jobs_are_capped() {
    let dir = Scratch::new("jobs");
    dir.write("a.md", "$$\\frac{\\partial L}{\\partial W} = W$$\n");
    let problem = concat!(env!("CARGO_MANIFEST_DIR"), "/../../problems/autoencoder.toml");
    let r = dir.run(&["grade", "--problem", problem, "a.md", "--jobs", "0"]);
    assert_eq!(r.code, 0, "{}", r.explain("--jobs 0"));
    let r = dir.run(&["grade", "--problem", problem, "a.md", "--jobs", "100000"]);
    assert!(r.code == 0 && r.stderr.contains("is capped at"), "{}", r.explain("--jobs 100000"));
    assert!(r.elapsed.as_secs_f64() < 5.0, "took {:?}", r.elapsed);
}

/// Depth limits count nesting only: sums and products of 100,000 terms work (from a file, as
/// they are too long for an argument), and the result is checked numerically.
#[test]
fn sums_and_products_of_100000_terms() {
    let dir = Scratch::new("flat");
    let n = 100_000;
    dir.write("sum.txt", &vec!["x'*A*x"; n].join(" + "));
    dir.write("prod.txt", &vec!["a"; n].join("*"));
    dir.write("mixed.txt", &(0..n).map(|i| if i % 2 == 0 { "a*sum(x)" } else { "b" }).collect::<Vec<_>>().join(" - "));
    dir.write("at.json", r#"{"x": [1, 2], "A": [[1, 0], [0, 2]], "a": 1.0000001, "b": 0.5}"#);
    let r = dir.run(&["grad", "@sum.txt", "--wrt", "x", "--check"]);
    assert!(r.code == 0 && r.stdout.contains("100000*(A*x + A'*x)"), "{}", r.explain("sum"));
    let r = dir.run(&["grad", "@prod.txt", "--wrt", "a", "--check"]);
    assert!(r.code == 0 && r.stdout.contains("100000*a^99999"), "{}", r.explain("product"));
    // a·sum(x) − b − a·sum(x) − b …: 50,000 of each, alternately added and subtracted.
    let r = dir.run(&["eval", "@mixed.txt", "--at", "at.json"]);
    assert!(r.code == 0, "{}", r.explain("mixed"));
    let got: f64 = r.stdout.trim().parse().unwrap();
    // The first term is added, the other 49,999 a·sum(x) and all 50,000 b subtracted.
    let want = 1.0000001 * 3.0 * (1.0 - 49_999.0) - 0.5 * 50_000.0;
    assert!((got - want).abs() < 1e-6 * want.abs(), "got {got}, want {want}");
}
