//! Shared helpers of the correctness tests: gradient case files, numeric comparison at two
//! dimension settings, and the random expression generator of the property corpus.
#![allow(dead_code)] // each test binary uses a different part

pub mod gen;
pub mod oracle;

use matdiff::{eval_with_error, random_dims, random_env, rel_diff, FdReport, Gradients, Graph, NodeId, Problem};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::{Path, PathBuf};

/// Say that a check was skipped, where the person running `cargo test` sees it: libtest
/// captures `eprintln!` of passing tests (and cargo shows nothing of it), so this writes to the
/// process's stderr directly. `enable` says how to run the check instead.
pub fn skipped(what: &str, enable: &str) {
    use std::io::Write;
    let msg = format!("\nSKIPPED: {what}\n  to run it: {enable}\n");
    let _ = std::io::stderr().lock().write_all(msg.as_bytes());
}

/// Whether `python3` can import numpy and, for JAX or PyTorch, `module` too. When it cannot,
/// the test says SKIPPED (naming what was not run and how to enable it), or fails when
/// `MATDIFF_REQUIRE_NUMPY=1` / `MATDIFF_REQUIRE_JAX=1` asks for that module (CI sets both).
pub fn python_with(module: &str, what: &str) -> bool {
    let importable = |m: &str| {
        std::process::Command::new("python3")
            .args(["-c", &format!("import {m}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if importable("numpy") && (module == "numpy" || importable(module)) {
        return true;
    }
    let var = format!("MATDIFF_REQUIRE_{}", module.to_uppercase());
    let modules = if module == "numpy" { "numpy".to_string() } else { format!("numpy and {module}") };
    let required = matches!(module, "numpy" | "jax") && std::env::var(&var).is_ok_and(|v| v == "1");
    assert!(!required, "python3 cannot import {modules}: {what} ({var}=1)");
    let hint = if matches!(module, "numpy" | "jax") {
        format!(" ({var}=1 makes a missing {module} a failure)")
    } else {
        String::new()
    };
    skipped(
        &format!("python3 cannot import {modules}: {what} were not run"),
        &format!("python3 -m pip install {}{hint}", modules.replace(" and ", " ")),
    );
    false
}

/// The directory of data-driven test cases.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// One gradient target of a case: the variable and, optionally, a claimed closed form.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub wrt: String,
    /// Expressions that must evaluate to the same numbers as the gradient.
    pub expect: Vec<String>,
    /// Exact plain-text rendering of the gradient, when pinned (regressions of the printer).
    pub print: Option<String>,
    /// Wrong answers that must evaluate differently (the numeric comparison can tell).
    pub differs: Vec<String>,
}

/// A gradient case from `tests/cases/grad/*.txt`.
#[derive(Clone, Debug, Default)]
pub struct GradCase {
    /// `file:line` of the case's first line.
    pub at: String,
    pub expr: String,
    pub decl: String,
    pub targets: Vec<Target>,
}

/// Parse a case file: blocks separated by blank lines, `key: value` lines, `#` comments.
///
/// Keys: `expr:`, `decl:` (optional), then per target `wrt:` followed by any number of
/// `expect:` lines, at most one `print:` line, and any number of `differs:` lines.
pub fn parse_grad_cases(path: &Path) -> Vec<GradCase> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().to_string();
    let mut cases = vec![];
    let mut cur: Option<GradCase> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if line.is_empty() {
            cases.extend(cur.take());
            continue;
        }
        let (key, value) = line.split_once(':').unwrap_or_else(|| panic!("{file}:{}: expected `key: value`", i + 1));
        let value = value.trim().to_string();
        let case = cur.get_or_insert_with(|| GradCase { at: format!("{file}:{}", i + 1), ..GradCase::default() });
        match key.trim() {
            "expr" => case.expr = value,
            "decl" => case.decl = value,
            "wrt" => case.targets.push(Target { wrt: value, ..Target::default() }),
            "expect" => case
                .targets
                .last_mut()
                .unwrap_or_else(|| panic!("{file}:{}: expect before wrt", i + 1))
                .expect
                .push(value),
            "print" => {
                case.targets.last_mut().unwrap_or_else(|| panic!("{file}:{}: print before wrt", i + 1)).print =
                    Some(value)
            }
            "differs" => case
                .targets
                .last_mut()
                .unwrap_or_else(|| panic!("{file}:{}: differs before wrt", i + 1))
                .differs
                .push(value),
            k => panic!("{file}:{}: unknown key `{k}`", i + 1),
        }
    }
    cases.extend(cur);
    for c in &cases {
        assert!(!c.expr.is_empty() && !c.targets.is_empty(), "{}: a case needs expr: and wrt:", c.at);
    }
    cases
}

/// All `*.txt` files under `tests/cases/<sub>`, sorted.
pub fn case_files(sub: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

/// Two different dimension settings: small sizes, then larger ones that differ somewhere.
pub fn two_dim_settings(g: &Graph, rng: &mut StdRng) -> [Vec<usize>; 2] {
    let first = random_dims(g, rng, 2, 4);
    let mut second = random_dims(g, rng, 3, 6);
    for _ in 0..50 {
        if second != first {
            break;
        }
        second = random_dims(g, rng, 3, 6);
    }
    [first, second]
}

/// Largest relative difference between nodes `a` and `b` over random inputs at two different
/// dimension settings; an error when a value is not finite or the settings coincide.
pub fn max_diff(p: &Problem, a: NodeId, b: NodeId, seed: u64) -> Result<f64, String> {
    let g = p.graph();
    if p.shape_names(a) != p.shape_names(b) {
        return Err(format!("shapes differ: {:?} vs {:?}", p.shape_names(a), p.shape_names(b)));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let settings = two_dim_settings(g, &mut rng);
    if settings[0] == settings[1] && !settings[0].is_empty() {
        return Err(format!("could not find two different dimension settings: {settings:?}"));
    }
    let mut worst: f64 = 0.0;
    for dims in settings {
        let env = random_env(g, p.output, dims, &mut rng);
        matdiff::check_sizes(g, &[a, b], &env).map_err(|e| e.message)?;
        let (v, errs) = eval_with_error(g, &[a, b], &env);
        if !(finite(&v[0]) && finite(&v[1])) {
            return Err(format!("non-finite values at dims {:?}", env.dims));
        }
        worst = worst.max(rel_diff(&v[0], &v[1], errs[0] + errs[1]));
    }
    Ok(worst)
}

pub fn finite(m: &faer::Mat<f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}

/// Largest absolute entry.
pub fn max_abs(m: &faer::Mat<f64>) -> f64 {
    (0..m.ncols()).flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].abs())).fold(0.0, f64::max)
}

/// Gradients checked by central differences at two different dimension settings: the first
/// seed from `seed` whose settings differ is used (asserted to exist), and its report returned.
pub fn fd_two_settings(p: &Problem, grads: &Gradients, seed: u64) -> FdReport {
    for s in seed..seed + 20 {
        let r = p.fd_check(grads, s, 2);
        assert_eq!(
            r.dims.len(),
            2,
            "FD check ran {} dimension settings, not 2 (skipped {}, unresolved {})",
            r.dims.len(),
            r.skipped,
            r.unresolved
        );
        // Scalars only: there is no dimension to vary.
        if r.dims[0] != r.dims[1] || r.dims[0].is_empty() {
            return r;
        }
    }
    panic!("no seed gave two different dimension settings");
}

pub use matdiff::symmetrize_for_fd;

/// Number of cases from an environment variable, else `default`.
pub fn case_count(var: &str, default: usize) -> usize {
    match std::env::var(var) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{var}={v} is not a number")),
        Err(_) => default,
    }
}

/// Fixture files under `tests/cases/{suite}/` now (the generated tests must cover them all).
pub fn fixture_files(suite: &str) -> usize {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(suite);
    std::fs::read_dir(&root)
        .expect("the suite folder")
        .flatten()
        .filter(|d| d.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).expect("a fixture folder").flatten())
        .filter(|f| f.path().extension().is_some_and(|e| e == "txt"))
        .count()
}
