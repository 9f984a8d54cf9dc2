//! `matdiff check` and `matdiff audit` through the built binary: exit codes (0 right, 1 wrong,
//! 2 user error), the JSON contract, and counterexamples that `matdiff eval` reproduces.

use serde_json::Value as Json;
use std::path::PathBuf;
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn matdiff(args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_matdiff")).args(args).output().unwrap();
    let out = Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    };
    assert!(!out.stderr.contains("panicked"), "{args:?} panicked:\n{}", out.stderr);
    out
}

const AE: &str = "0.5*norm2(W'*W*x - x)^2";
const AE_DECL: &str = "W: matrix(m,n); x: vector(n)";

fn check_json(expr: &str, decl: &str, wrt: &str, claim: &str) -> (i32, Json) {
    let o = matdiff(&["check", expr, "--decl", decl, "--wrt", wrt, "--claim", claim, "--format", "json"]);
    assert!(o.code == 0 || o.code == 1, "exit {}: {}", o.code, o.stderr);
    (o.code, serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", o.stdout)))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn right_claim_exits_0() {
    let o =
        matdiff(&["check", AE, "--decl", AE_DECL, "--wrt", "W", "--claim", "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o.stdout.starts_with("right:"), "{}", o.stdout);
    let (code, j) = check_json(AE, AE_DECL, "W", "W(W^T W - I)xx^T + Wxx^T(W^T W - I)");
    assert_eq!(code, 0);
    assert_eq!(j["verdict"], "right");
    assert_eq!(j["method"], "numeric");
    assert!(
        j["confidence"]["points"].as_u64().unwrap() >= 6 && j["confidence"]["settings"].as_u64().unwrap() >= 3,
        "{j}"
    );
    assert!(j["confidence"]["tolerance"].as_f64().unwrap() <= 1e-6);
    assert!(j["counterexample"].is_null());
    let (_, j) = check_json(AE, AE_DECL, "W", "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'");
    assert_eq!(j["method"], "symbolic");
    assert_eq!(j["confidence"]["exact"], true);
}

/// The counterexample's inputs, fed to `matdiff eval`, give the gradient and the claim values
/// printed, and they differ by the reported amount.
#[test]
fn wrong_claim_has_a_reproducible_counterexample() {
    let claim = "2*W*(W'*W - eye(n))*x*x'";
    let (code, j) = check_json(AE, AE_DECL, "W", claim);
    assert_eq!(code, 1);
    assert_eq!(j["verdict"], "wrong");
    let diag = &j["diagnosis"][0];
    assert_eq!(diag["kind"], "missing_path", "{j}");
    assert_eq!(diag["factor"], 2.0);
    assert!(diag["missing"][0].as_str().unwrap().contains("W'"), "{diag}");
    let cx = &j["counterexample"];
    for (_, k) in cx["dims"].as_object().unwrap() {
        assert!((2..=3).contains(&k.as_u64().unwrap()), "{cx}");
    }
    let dir = std::env::temp_dir().join(format!("matdiff-check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let at = dir.join("at.json");
    std::fs::write(&at, cx["inputs"].to_string()).unwrap();
    let eval = |e: &str| -> Json {
        let o = matdiff(&["eval", e, "--decl", AE_DECL, "--at", at.to_str().unwrap()]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        serde_json::from_str(o.stdout.trim()).unwrap()
    };
    let g = eval(j["gradient"].as_str().unwrap());
    let c = eval(claim);
    let flat = |v: &Json| -> Vec<f64> {
        v.as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap())).collect()
    };
    let (g, c) = (flat(&g), flat(&c));
    let diff = g.iter().zip(&c).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let reported = cx["max_diff"].as_f64().unwrap();
    assert!((diff - reported).abs() <= 1e-4 * reported.max(1.0), "eval gives {diff}, check reported {reported}");
    assert!(g.iter().zip(flat(&cx["gradient"]).iter()).all(|(a, b)| (a - b).abs() <= 1e-4 * a.abs().max(1.0)));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn diagnoses_in_json() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (AE, AE_DECL, "W", "(W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)')'", "shape"),
        (AE, AE_DECL, "W", "-(W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)')", "factor"),
        (AE, AE_DECL, "W", "W*(W'*W*x - x)*x'", "missing_path"),
        ("x'*A*x", "A: matrix(n,n); x: vector(n)", "x", "2*A*x", "symmetric_only"),
        ("tr(A*X)", "A: matrix(n,n); X: matrix(n,n)", "X", "A", "transposed"),
    ];
    for (expr, decl, wrt, claim, kind) in cases {
        let (code, j) = check_json(expr, decl, wrt, claim);
        assert_eq!(code, 1, "{claim}");
        let kinds: Vec<&str> = j["diagnosis"].as_array().unwrap().iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert!(kinds.contains(kind), "{claim}: {kinds:?}");
        assert!(j["claim_read_as"].is_string() && j["gradient"].is_string());
    }
    // A shape mismatch is a wrong answer (exit 1), with both shapes named.
    let (_, j) = check_json(AE, AE_DECL, "W", "x*x'");
    assert_eq!(j["diagnosis"][0]["claim_shape"], "matrix(n,n)");
    assert_eq!(j["diagnosis"][0]["gradient_shape"], "matrix(m,n)");
}

#[test]
fn user_errors_exit_2_pointing_into_the_claim() {
    let o = matdiff(&["check", AE, "--decl", AE_DECL, "--wrt", "W", "--claim", "W*(W'*W*x - x*x'"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("claim:1:"), "{}", o.stderr);
    assert!(o.stderr.contains("W*(W'*W*x - x*x'"), "{}", o.stderr);
    let o = matdiff(&["check", AE, "--decl", AE_DECL, "--wrt", "W", "--claim", "W*z"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("`z`"), "{}", o.stderr);
    let o = matdiff(&["check", AE, "--decl", AE_DECL, "--wrt", "V", "--claim", "W"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    let o = matdiff(&["check", AE, "--decl", AE_DECL, "--wrt", "W", "--claim", "\\frac{"]);
    assert_eq!(o.code, 2);
}

#[test]
fn audit_seed_002_reports_the_first_wrong_step() {
    let seed = repo().join("crates/matdiff/tests/cases/audit/seeds/002_58fb6e848f0de203.txt");
    let problem = repo().join("problems/autoencoder.toml");
    let o = matdiff(&["audit", seed.to_str().unwrap(), "--problem", problem.to_str().unwrap()]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("<- first wrong step"), "{}", o.stdout);
    assert!(o.stdout.contains("final answer (line 55): wrong"), "{}", o.stdout);
    assert!(o.stdout.contains("counterexample (m = "), "{}", o.stdout);
    let o = matdiff(&["audit", seed.to_str().unwrap(), "--problem", problem.to_str().unwrap(), "--format", "json"]);
    let j: Json = serde_json::from_str(&o.stdout).unwrap();
    let q = &j["questions"][0];
    assert_eq!(q["answer"], "wrong");
    assert_eq!(q["first_wrong_line"], 55);
    let steps = q["steps"].as_array().unwrap();
    let fw = &steps[q["first_wrong_step"].as_u64().unwrap() as usize];
    assert_eq!(fw["text"], "2W(W^T W - I)xx^T");
    assert_eq!(fw["vs_previous"], "not_equal");
    assert!(fw["counterexample"].is_object());
    assert!(steps.iter().any(|s| s["status"] == "unreadable" && s["reason"].is_string()));
    assert!(q["definitions"].as_array().unwrap().iter().any(|d| d["name"] == "v"));
}

#[test]
fn audit_exit_codes() {
    let seeds = repo().join("crates/matdiff/tests/cases/audit/seeds");
    let problem = repo().join("problems/autoencoder.toml");
    let o = matdiff(&[
        "audit",
        seeds.join("003_181d3ce07ed555e5.txt").to_str().unwrap(),
        "--problem",
        problem.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    // A problem file that does not parse, or a loss that does not, is a user error.
    let dir = std::env::temp_dir().join(format!("matdiff-audit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[question]]\nid = \"q\"\nloss = \"W'*\"\nwrt = \"W\"\n").unwrap();
    let o = matdiff(&[
        "audit",
        seeds.join("003_181d3ce07ed555e5.txt").to_str().unwrap(),
        "--problem",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("question `q`"), "{}", o.stderr);
    std::fs::write(&bad, "not toml [").unwrap();
    let o = matdiff(&[
        "audit",
        seeds.join("003_181d3ce07ed555e5.txt").to_str().unwrap(),
        "--problem",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    let o = matdiff(&["audit", dir.join("missing.md").to_str().unwrap(), "--problem", problem.to_str().unwrap()]);
    assert_eq!(o.code, 2);
    let _ = std::fs::remove_dir_all(dir);
}
