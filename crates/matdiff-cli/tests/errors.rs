//! Bad input gets a clear message and exit code 2, never a panic; good input is not refused.
//!
//! Each file in `cases/cli/err/` (expected exit 2) and `cases/cli/ok/` (expected exit 0) is one
//! command line, written as `key: value` lines:
//!
//! ```text
//! # what this case is about
//! cmd: grad | eval
//! expr: sum(W + x)          (`\n` stands for a line break)
//! decl: W: matrix(m,n); x: vector(n)
//! wrt: x
//! at: {"W": [[1, 2]]}       (written to inputs.json; `<missing>` passes a file that does not exist)
//! args: --format json       (extra arguments, split on spaces)
//! span: none                (the error points at no source text, e.g. it is about the inputs)
//! ```
//!
//! Errors snapshot the whole stderr, accepted cases their stdout; every accepted `grad` runs
//! with `--check`, so its gradient is also compared with central differences.

use crate::common::{looks_like_panic, Run, Scratch};
use std::path::Path;
use std::time::Duration;

/// Any single command on these small inputs should answer well within this.
const QUICK: Duration = Duration::from_secs(2);

#[derive(Default, Debug)]
struct Case {
    cmd: String,
    expr: String,
    decl: Option<String>,
    wrt: Option<String>,
    at: Option<String>,
    args: Vec<String>,
    spanned: bool,
}

fn parse_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let mut case = Case { spanned: true, ..Case::default() };
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (key, value) =
            line.split_once(':').unwrap_or_else(|| panic!("{}: `{line}` is not `key: value`", path.display()));
        let value = value.strip_prefix(' ').unwrap_or(value).to_string();
        match key {
            "cmd" => case.cmd = value,
            "expr" => case.expr = value.replace("\\n", "\n"),
            "decl" => case.decl = Some(value),
            "wrt" => case.wrt = Some(value),
            "at" => case.at = Some(value),
            "args" => case.args = value.split_whitespace().map(String::from).collect(),
            "span" => case.spanned = value != "none",
            other => panic!("{}: unknown key `{other}`", path.display()),
        }
    }
    assert!(case.cmd == "grad" || case.cmd == "eval", "{}: cmd must be grad or eval", path.display());
    case
}

/// Run one case in its own scratch folder; the command line, for the snapshot's description.
fn run_command(name: &str, case: &Case, check: bool) -> (Run, String) {
    let dir = Scratch::new(name);
    let mut args: Vec<String> = vec![case.cmd.clone(), "--".into(), case.expr.clone()];
    let mut opts: Vec<String> = vec![];
    if let Some(d) = &case.decl {
        opts.extend(["--decl".into(), d.clone()]);
    }
    if let Some(w) = &case.wrt {
        opts.push(format!("--wrt={w}"));
    }
    match case.at.as_deref() {
        Some("<missing>") => opts.extend(["--at".into(), "missing.json".into()]),
        Some(json) => {
            dir.write("inputs.json", json);
            opts.extend(["--at".into(), "inputs.json".into()]);
        }
        None => {}
    }
    opts.extend(case.args.iter().cloned());
    if check {
        opts.push("--check".into());
    }
    // Options first, then `--` and the expression, so an expression starting with `-` is not an option.
    args.splice(1..1, opts);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let shown: Vec<String> = args
        .iter()
        .map(|a| if a.contains([' ', '\n', '"', '\'']) || a.is_empty() { format!("{a:?}") } else { a.clone() })
        .collect();
    (dir.run(&argv), format!("matdiff {}", shown.join(" ")))
}

/// One fixture: `cases/cli/err/*.txt` must fail with exit 2 and a clear message, `cases/cli/ok/*.txt`
/// must succeed (a `grad` with its numeric check); either way the output is snapshotted.
fn run_case(path: &Path) {
    let in_err = path.parent().and_then(|d| d.file_name()).is_some_and(|d| d == "err");
    let (expect_code, dir) = if in_err { (2, "errors") } else { (0, "accepted") };
    {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case = parse_case(path);
        let check = expect_code == 0 && case.cmd == "grad";
        let (run, cmdline) = run_command(&name, &case, check);
        let mut problems = vec![];
        if run.code != expect_code {
            problems.push(format!("exit code {} (expected {expect_code})", run.code));
        }
        if looks_like_panic(&run.stderr) || looks_like_panic(&run.stdout) {
            problems.push("a panic or stack trace instead of a message".into());
        }
        if run.elapsed > QUICK {
            problems.push(format!("took {:?}", run.elapsed));
        }
        if expect_code == 2 {
            if !run.stderr.lines().any(|l| l.starts_with("error: ")) {
                problems.push("no line of stderr starts with `error: `".into());
            }
            let excerpt = run.stderr.contains("╭─[") && (run.stderr.contains('┬') || run.stderr.contains('─'));
            if excerpt != case.spanned {
                problems.push(
                    if case.spanned {
                        "no source excerpt with an underlined span"
                    } else {
                        "an unexpected source excerpt"
                    }
                    .into(),
                );
            }
            if !run.stdout.is_empty() {
                problems.push("output on stdout although it failed".into());
            }
        }
        if check && !run.stderr.contains("numeric check: max relative error") {
            problems.push("no numeric check reported".into());
        }
        let snapshot = if expect_code == 2 { &run.stderr } else { &run.stdout };
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(format!("snapshots/{dir}"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(cmdline.clone());
        settings.set_omit_expression(true);
        let snap = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name.clone(), snapshot))
        }));
        if snap.is_err() {
            problems.push("snapshot differs".into());
        }
        assert!(problems.is_empty(), "{}", run.explain(&format!("{name}: {}\n{cmdline}", problems.join("; "))));
    }
}

mod fixtures {
    use super::run_case;
    include!(concat!(env!("OUT_DIR"), "/fixtures_cli.rs"));

    #[test]
    fn the_fixtures_are_there() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/cli");
        let count = |d: &str| {
            std::fs::read_dir(root.join(d))
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "txt"))
                .count()
        };
        let (ok, err) = (count("ok"), count("err"));
        assert!(ok >= 10 && err >= 50, "fixtures missing: {ok} ok, {err} err");
        assert_eq!(FIXTURE_COUNT, ok + err, "a test per fixture (rebuild if fixtures were added)");
    }
}

/// Nesting far past the parser's limit is refused at once, with a short message.
#[test]
fn deep_nesting_is_refused_quickly() {
    // A single argument may hold at most 128 KiB on Linux, so the balanced form stays under it.
    let cases = [
        ("open_parens", format!("{}x", "(".repeat(100_000))),
        ("balanced_parens", format!("{}x{}", "(".repeat(60_000), ")".repeat(60_000))),
        ("unary_minus", format!("{}x", "-".repeat(100_000))),
        ("transposes", format!("x{}", "'".repeat(100_000))),
        // (A sum of 50,000 terms is not deep: only nesting counts; see hardening.rs.)
        ("long_power_tower", vec!["x"; 50_000].join("^")),
        ("nested_calls", format!("{}x{}", "exp(".repeat(20_000), ")".repeat(20_000))),
    ];
    let dir = Scratch::new("deep");
    for (name, expr) in cases {
        let run = dir.run(&["grad", "--wrt", "x", "--", &expr]);
        assert_eq!(run.code, 2, "{}", run.explain(name));
        assert!(!looks_like_panic(&run.stderr), "{}", run.explain(name));
        assert!(run.elapsed < QUICK, "{name} took {:?}", run.elapsed);
        assert!(
            run.stderr.len() < 2000,
            "{name}: the message should show a window of the line, not all of it:\n{}",
            run.stderr
        );
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots/errors");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(format!("deep_{name}"), run.stderr));
    }
}

/// A result too large to hold is refused by the size check before anything is allocated.
#[test]
fn absurd_sizes_are_refused_quickly() {
    let dir = Scratch::new("absurd");
    let xs = vec!["1"; 20_000].join(",");
    dir.write("inputs.json", &format!("{{\"x\": [{xs}]}}"));
    let run = dir.run(&["eval", "sum(x*x')", "--at", "inputs.json"]);
    assert_eq!(run.code, 2, "{}", run.explain("outer product of a 20000-vector"));
    assert!(run.elapsed < QUICK, "took {:?}", run.elapsed);
    assert_eq!(run.stderr, "error: an intermediate result would be 20000×20000, more than 100000000 entries\n  = note: that is too large to evaluate; use smaller inputs or dimensions\n");
    // The same expression at a reasonable size is fine, and sum(x*x') = (sum x)^2.
    dir.write("inputs.json", "{\"x\": [1, 2, 3]}");
    let run = dir.run(&["eval", "sum(x*x')", "--at", "inputs.json"]);
    assert_eq!((run.code, run.stdout.trim()), (0, "36.0"), "{}", run.explain("small outer product"));
}
