//! Code export of derivatives (`derivative`/`hessian --emit`): every case of
//! tests/cases/derivative (each layout, Hessians, HVPs, inverses, log-determinants, symmetric
//! variables, user definitions) is emitted; the NumPy (and, where installed, JAX) modules run
//! in one Python process, their results must equal matdiff's own evaluation (1e-8 relative)
//! and their own `check_jacobian()`/`check_hessian()`/`check_hvp()` (central differences at
//! random inputs of two size ranges) must pass, and fail once the result is tampered with.
//! Without numpy the test says SKIPPED and passes, unless MATDIFF_REQUIRE_NUMPY=1 (CI);
//! MATDIFF_REQUIRE_JAX=1 likewise for JAX. PyTorch modules are byte-compiled (and
//! snapshotted); scripts/check_emitted.py runs the Rust modules.

use crate::derivative::{run as build, Case};
use crate::emit::to_json;
use matdiff::derivative::{Derivative, Order};
use matdiff::emit::{emit_derivative, parameters, Lang, Source};
use matdiff::{check_sizes, eval, random_dims, random_env, Problem};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value as Json};
use std::path::Path;
use std::process::Command;

/// Every derivative case (the suite `derivative` reads the same files).
fn cases() -> Vec<Case> {
    let out = crate::derivative::cases();
    assert!(out.len() >= 30, "tests/cases/derivative should hold the derivative cases");
    out
}

/// What the module returns, in order: the value and the derivative (`f_value`, `jacobian`), or
/// the value, gradient and Hessian (HVP).
fn roots(p: &Problem, d: &Derivative) -> Vec<matdiff::NodeId> {
    match d.order {
        Order::First => vec![p.output, d.root],
        _ => vec![p.output, d.of, d.root],
    }
}

/// Emit `case` for `lang` into `dir`, with inputs where matdiff's results are finite and
/// matdiff's values there.
fn prepare(case: &Case, lang: Lang, dir: &Path, index: usize) -> Json {
    let (p, d) = build(case);
    let src = Source { expr: &case.expr, decls: &case.decl };
    let code = emit_derivative(&p, &d, lang, src).unwrap_or_else(|e| panic!("{}: emit failed: {e:?}", case.at));
    let path = dir.join(format!("case_{index}.py"));
    std::fs::write(&path, &code).unwrap();
    let g = p.graph();
    let rs = roots(&p, &d);
    let mut rng = StdRng::seed_from_u64(2000 + index as u64);
    let (env, vals) = (0..30)
        .find_map(|_| {
            let dims = random_dims(g, &mut rng, 2, 5);
            let env = random_env(g, p.output, dims, &mut rng);
            check_sizes(g, &rs, &env).ok()?;
            let vals = eval(g, &rs, &env);
            let finite = vals.iter().all(crate::common::finite);
            finite.then_some((env, vals))
        })
        .unwrap_or_else(|| panic!("{}: no random point where matdiff's results are finite", case.at));
    let inputs: serde_json::Map<String, Json> = parameters(&p, lang)
        .iter()
        .map(|(var, param)| {
            let v = g.var_id(var).unwrap() as usize;
            (param.clone(), to_json(&env.vars[v], g.vars()[v].shape))
        })
        .collect();
    let expected: Vec<Json> = rs.iter().zip(&vals).map(|(&r, m)| to_json(m, g.shape(r))).collect();
    json!({
        "name": case.at,
        "kind": case.kind,
        "module": path.to_string_lossy(),
        "inputs": inputs,
        "expected": expected,
    })
}

/// Runs every module in one process; prints one JSON result per case. `tamper`: also check
/// that each check fails on a result moved by 1e-3 of its size.
const DRIVER: &str = r#"
import importlib.util, json, sys, traceback
import numpy as np

def rel_err(got, want):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray([np.nan if w is None else w for w in np.ravel(np.asarray(want, dtype=object))], dtype=np.float64).reshape(np.shape(want))
    if got.shape != want.shape:
        raise AssertionError(f"shape {got.shape}, expected {want.shape}")
    # Relative to the result's own size, no absolute floor: a tiny loss's gradient is judged
    # as strictly as a large one's (an all-zero result must then match exactly).
    scale = float(np.max(np.abs(want), initial=0.0))
    diff = float(np.max(np.abs(got - want), initial=0.0))
    if not np.isfinite(diff):
        return float("inf")
    return diff / scale if scale > 0 else diff

def moved(r):
    r = np.asarray(r, dtype=np.float64)
    return r + 1e-3 * (1.0 + float(np.max(np.abs(r), initial=0.0)))

cases = json.load(open(sys.argv[1]))
tamper = sys.argv[3] == "1"
results = []
for i, case in enumerate(cases):
    r = {"name": case["name"]}
    try:
        spec = importlib.util.spec_from_file_location(f"emitted_{i}", case["module"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        inputs = {k: np.array(v, dtype=np.float64) for k, v in case["inputs"].items()}
        kind = case["kind"]
        if kind == "derivative":
            got = [mod.f_value(**inputs), mod.jacobian(**inputs)]
            fn, check = "jacobian", mod.check_jacobian
        else:
            fn = "f_grad_hess" if kind == "hessian" else "f_grad_hvp"
            got = list(getattr(mod, fn)(**inputs))
            check = mod.check_hessian if kind == "hessian" else mod.check_hvp
        if len(got) != len(case["expected"]):
            raise AssertionError(f"{len(got)} results, expected {len(case['expected'])}")
        r["errs"] = [rel_err(g, w) for g, w in zip(got, case["expected"])]
        r["check"] = float(check(verbose=False))
        if tamper:
            orig = getattr(mod, fn)
            if kind == "derivative":
                setattr(mod, fn, lambda *a, **k: moved(orig(*a, **k)))
            else:
                setattr(mod, fn, lambda *a, **k: (lambda t: (t[0], t[1], moved(t[2])))(orig(*a, **k)))
            try:
                check(verbose=False)
                r["tamper"] = "a tampered result passed the check"
            except AssertionError:
                pass
    except Exception:
        r["error"] = traceback.format_exc(limit=4)
    results.append(r)
json.dump(results, open(sys.argv[2], "w"))
"#;

/// Run every case as a `lang` module; the failures, one line each.
fn run_python(lang: Lang, cases: &[Case], tamper: bool) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("matdiff-emit-derivative-{}-{}", lang.name(), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let specs: Vec<Json> = cases.iter().enumerate().map(|(i, c)| prepare(c, lang, &dir, i)).collect();
    let (spec_path, result_path, driver) = (dir.join("cases.json"), dir.join("results.json"), dir.join("driver.py"));
    std::fs::write(&spec_path, serde_json::to_string(&specs).unwrap()).unwrap();
    std::fs::write(&driver, DRIVER).unwrap();
    let out = Command::new("python3")
        .arg(&driver)
        .arg(&spec_path)
        .arg(&result_path)
        .arg(if tamper { "1" } else { "0" })
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "the driver failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Json> = serde_json::from_str(&std::fs::read_to_string(&result_path).unwrap()).unwrap();
    assert_eq!(results.len(), cases.len());
    let mut failures = vec![];
    for (r, c) in results.iter().zip(cases) {
        let where_ = format!("{} [{} {}] `{}` wrt {}", c.at, lang.name(), c.kind, c.expr.replace('\n', "; "), c.wrt);
        if let Some(e) = r.get("error") {
            failures.push(format!("{where_}: {}", e.as_str().unwrap_or_default()));
            continue;
        }
        let err = r["errs"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap_or(f64::INFINITY)).fold(0.0, f64::max);
        let check = r["check"].as_f64().unwrap_or(f64::INFINITY);
        // NaN errors fail too: they make every comparison false.
        if !(err < 1e-8 && check <= 1e-5) {
            failures.push(format!("{where_}: results differ from matdiff's by {err:.1e}, check {check:.1e}"));
        }
        if let Some(t) = r.get("tamper") {
            failures.push(format!("{where_}: {}", t.as_str().unwrap_or_default()));
        }
    }
    if !failures.is_empty() {
        failures.push(format!("(modules kept in {})", dir.display()));
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    failures
}

#[test]
fn numpy_derivative_modules_agree_with_matdiff_and_pass_their_checks() {
    if !crate::common::python_with("numpy", "the emitted NumPy derivative modules") {
        return;
    }
    let cases = cases();
    let failures = run_python(Lang::Numpy, &cases, true);
    assert!(failures.is_empty(), "NumPy derivative modules failed:\n{}", failures.join("\n"));
    eprintln!("{} NumPy derivative modules agree with matdiff, pass their checks and fail tampered", cases.len());
}

#[test]
fn jax_derivative_modules_agree_with_matdiff_where_installed_and_torch_ones_compile() {
    let cases = cases();
    if crate::common::python_with("jax", "the emitted JAX derivative modules (snapshots only)") {
        let failures = run_python(Lang::Jax, &cases, false);
        assert!(failures.is_empty(), "JAX derivative modules failed:\n{}", failures.join("\n"));
    }
    // PyTorch is not installed in CI: its modules are at least valid Python.
    if Command::new("python3").arg("--version").output().is_err() {
        crate::common::skipped("python3 is not available: the PyTorch modules were not compiled", "install python3");
        return;
    }
    let dir = std::env::temp_dir().join(format!("matdiff-emit-derivative-torch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (p, d) = build(c);
            let code = emit_derivative(&p, &d, Lang::Torch, Source { expr: &c.expr, decls: &c.decl }).unwrap();
            let path = dir.join(format!("torch_{i}.py"));
            std::fs::write(&path, code).unwrap();
            path.to_string_lossy().to_string()
        })
        .collect();
    let out = Command::new("python3").args(["-m", "py_compile"]).args(&files).output().unwrap();
    assert!(out.status.success(), "PyTorch modules do not compile:\n{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hvp_modules_never_form_a_kronecker_product_or_the_hessian() {
    for c in cases().iter().filter(|c| c.kind == "hvp") {
        let (p, d) = build(c);
        for lang in Lang::ALL {
            let code = emit_derivative(&p, &d, lang, Source { expr: &c.expr, decls: &c.decl }).unwrap();
            let body = code.split("check_hvp").next().unwrap();
            for banned in ["kron", "commutation", "hess"] {
                assert!(!body.contains(banned), "{} [{}]: `{banned}` in\n{body}", c.at, lang.name());
            }
        }
    }
}

#[test]
fn derivative_modules_are_snapshotted() {
    let pick = [
        ("softmax_jacobian", "derivative", "exp(x)/sum(exp(x))", "x: vector(n)", "x"),
        ("axb_by_x", "derivative", "A*X*B", "A: matrix(m,n); X: matrix(n,k); B: matrix(k,l)", "X"),
        (
            "logistic_hessian",
            "hessian",
            "sum(softplus(A*x)) - y'*A*x",
            "A: matrix(N,d); x: vector(d); y: vector(N)",
            "x",
        ),
        ("trace_hessian", "hessian", "tr(X'*A*X)", "A: matrix(n,n); X: matrix(n,k)", "X"),
        ("autoencoder_hvp", "hvp", "0.5*norm2(W'*W*x - x)^2", "W: matrix(k,n); x: vector(n)", "W"),
    ];
    for (name, kind, expr, decl, wrt) in pick {
        let c = Case {
            at: name.into(),
            kind: kind.into(),
            expr: expr.into(),
            decl: decl.into(),
            wrt: wrt.into(),
            ..Case::default()
        };
        let (p, d) = build(&c);
        for lang in Lang::ALL {
            let code = emit_derivative(&p, &d, lang, Source { expr, decls: decl }).unwrap();
            insta::assert_snapshot!(format!("{name}_{}", lang.name()), code);
        }
    }
}

#[test]
fn a_dimension_no_input_fixes_is_an_error_not_a_panic() {
    for kind in ["derivative", "hessian", "hvp"] {
        let c = Case {
            at: kind.into(),
            kind: kind.into(),
            expr: "a^3*tr(eye(k))".into(),
            decl: "a: scalar".into(),
            wrt: "a".into(),
            ..Case::default()
        };
        let (p, d) = build(&c);
        for lang in Lang::ALL {
            let err = emit_derivative(&p, &d, lang, Source { expr: &c.expr, decls: &c.decl }).unwrap_err();
            assert!(err.message.contains("dimension k"), "{kind} {}: {}", lang.name(), err.message);
        }
    }
}
