//! Code export: every emitted NumPy module runs against matdiff's own evaluation.
//!
//! The corpus is the seed examples, the cases in tests/cases/emit (and the gradient cases in
//! tests/cases/grad, when present), and a seeded generator of random well-typed expressions.
//! Each case's module is fed the inputs matdiff evaluates at; value and gradients must agree
//! to 1e-8 relative, and the module's own `check_gradient()` (central differences at random
//! inputs of two size ranges) must pass. All modules run in one Python process.
//!
//! NumPy missing: the test says so and passes, unless MATDIFF_REQUIRE_NUMPY=1 (CI). JAX and
//! PyTorch modules run the same way when those packages import (CI installs JAX and sets
//! MATDIFF_REQUIRE_JAX=1); otherwise their text is covered by the snapshots (and
//! scripts/check_emitted.py runs them where the package is installed).

use crate::common::max_abs;
use faer::Mat;
use matdiff::emit::{emit, parameters, Lang, Source};
use matdiff::{check_sizes, eval, eval_with_error, random_dims, random_env, Problem, Shape, EXAMPLES};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One module to generate: an expression, its declarations and the variables to differentiate.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    expr: String,
    decls: String,
    wrt: Vec<String>,
}

fn cases_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(sub)
}

/// `expr:`/`decl:`/`wrt:` blocks; indented lines continue the field above (multi-line
/// programs), other keys are ignored. All `wrt:` lines of a case go into one module.
fn read_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    let mut out: Vec<Case> = vec![];
    let mut last_key = "";
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) && !line.trim().is_empty() && last_key == "expr" {
            let c = out.last_mut().unwrap();
            c.expr.push('\n');
            c.expr.push_str(line.trim());
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            last_key = "";
            continue;
        };
        let value = value.trim().to_string();
        last_key = match key.trim() {
            "expr" => {
                let name = format!("{stem}_{}", out.len() + 1);
                out.push(Case { name, expr: value, decls: String::new(), wrt: vec![] });
                "expr"
            }
            "decl" if !out.is_empty() => {
                out.last_mut().unwrap().decls = value;
                "decl"
            }
            "wrt" if !out.is_empty() => {
                let c = out.last_mut().unwrap();
                if !c.wrt.contains(&value) {
                    c.wrt.push(value);
                }
                "wrt"
            }
            _ => "",
        };
    }
    out.retain(|c| !c.wrt.is_empty());
    out
}

/// Random well-typed expressions, typed by construction over fixed declarations.
mod gen {
    use super::*;

    pub const DECLS: &str = "A: matrix(n,n); B: matrix(n,m); C: matrix(m,n); G: matrix(m,m); S: symmetric(n); x: vector(n); y: vector(m); a: scalar; b: scalar";

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum T {
        S,
        Vn,
        Vm,
        Mnn,
        Mnm,
        Mmn,
        Mmm,
    }

    struct Gen {
        rng: StdRng,
    }

    impl Gen {
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.rng.random_range(0..xs.len())]
        }
        fn leaf(&mut self, t: T) -> String {
            match t {
                T::S => self.pick(&["a", "b", "0.5", "2"]),
                T::Vn => "x",
                T::Vm => "y",
                T::Mnn => self.pick(&["A", "S"]),
                T::Mnm => "B",
                T::Mmn => "C",
                T::Mmm => "G",
            }
            .to_string()
        }
        /// A positive definite n×n matrix.
        fn spd(&mut self, d: u32) -> String {
            match self.rng.random_range(0..4) {
                0 => "S".into(),
                1 => "A".into(),
                2 => {
                    let m = self.gen(T::Mnm, d);
                    format!("({m})*({m})' + eye(n)")
                }
                _ => {
                    let m = self.gen(T::Mnn, d);
                    format!("({m})*({m})' + a*eye(n)")
                }
            }
        }
        fn gen(&mut self, t: T, d: u32) -> String {
            if d == 0 || self.rng.random_range(0..5) == 0 {
                return self.leaf(t);
            }
            let d = d - 1;
            let r = self.rng.random_range(0..8);
            let f = self.pick(&["tanh", "sigmoid", "softplus", "swish", "sin", "relu"]);
            let mut g = |t: T| self.gen(t, d);
            match (t, r) {
                (T::S, 0) => format!("x'*({})", g(T::Vn)),
                (T::S, 1) => format!("({})'*({})*({})", g(T::Vm), g(T::Mmn), g(T::Vn)),
                (T::S, 2) => format!("sum({})", g(T::Mnm)),
                (T::S, 3) => format!("norm2({})^2", g(T::Vn)),
                (T::S, 4) => format!("tr({})", g(T::Mnn)),
                (T::S, 5) => format!("({})*({})", g(T::S), g(T::S)),
                (T::S, 6) => format!("tanh({}) + ({})", g(T::S), g(T::S)),
                (T::S, _) => format!("sum({})", g(T::Vm)),
                (T::Vn, 0) => format!("({})*({})", g(T::Mnn), g(T::Vn)),
                (T::Vn, 1) => format!("({})*({})", g(T::Mnm), g(T::Vm)),
                (T::Vn, 2) => format!("({}) - ({})", g(T::Vn), g(T::Vn)),
                (T::Vn, 3) => format!("({})*({})", g(T::S), g(T::Vn)),
                (T::Vn, 4) => format!("({}).*({})", g(T::Vn), g(T::Vn)),
                (T::Vn, 5) => format!("{f}({})", g(T::Vn)),
                (T::Vn, 6) => format!("diag({})", g(T::Mnn)),
                (T::Vn, _) => format!("({})'*({})", g(T::Mmn), g(T::Vm)),
                (T::Vm, 0) => format!("({})*({})", g(T::Mmn), g(T::Vn)),
                (T::Vm, 1) => format!("({})*({})", g(T::Mmm), g(T::Vm)),
                (T::Vm, 2) => format!("({})'*({})", g(T::Mnm), g(T::Vn)),
                (T::Vm, 3) => format!("{f}({})", g(T::Vm)),
                (T::Vm, _) => format!("({}) + ({})", g(T::Vm), g(T::Vm)),
                (T::Mnn, 0) => format!("({})*({})", g(T::Mnm), g(T::Mmn)),
                (T::Mnn, 1) => format!("({})*({})", g(T::Mnn), g(T::Mnn)),
                (T::Mnn, 2) => format!("({})'", g(T::Mnn)),
                (T::Mnn, 3) => format!("({})*({})'", g(T::Vn), g(T::Vn)),
                (T::Mnn, 4) => format!("diag({})", g(T::Vn)),
                (T::Mnn, 5) => format!("({}) + ({})", g(T::Mnn), g(T::Mnn)),
                (T::Mnn, 6) => format!("{f}({})", g(T::Mnn)),
                (T::Mnn, _) => format!("({}).*({})", g(T::Mnn), g(T::Mnn)),
                (T::Mnm, 0) => format!("({})*({})", g(T::Mnn), g(T::Mnm)),
                (T::Mnm, 1) => format!("({})*({})", g(T::Mnm), g(T::Mmm)),
                (T::Mnm, 2) => format!("({})*({})'", g(T::Vn), g(T::Vm)),
                (T::Mnm, 3) => format!("({})'", g(T::Mmn)),
                (T::Mnm, 4) => format!("{f}({})", g(T::Mnm)),
                (T::Mnm, _) => format!("({})*({})", g(T::S), g(T::Mnm)),
                (T::Mmn, 0) => format!("({})'", g(T::Mnm)),
                (T::Mmn, 1) => format!("({})*({})", g(T::Mmm), g(T::Mmn)),
                (T::Mmn, 2) => format!("({})*({})", g(T::Mmn), g(T::Mnn)),
                (T::Mmn, 3) => format!("({})*({})'", g(T::Vm), g(T::Vn)),
                (T::Mmn, _) => format!("({}) - ({})", g(T::Mmn), g(T::Mmn)),
                (T::Mmm, 0) => format!("({})*({})", g(T::Mmn), g(T::Mnm)),
                (T::Mmm, 1) => format!("({})'", g(T::Mmm)),
                (T::Mmm, _) => format!("{f}({})", g(T::Mmm)),
            }
        }
        /// A scalar loss mixing the generated parts with the matrix functions.
        fn loss(&mut self) -> String {
            let mut terms = vec![self.gen(T::S, 3)];
            match self.rng.random_range(0..6) {
                0 => {
                    let k = self.spd(1);
                    terms.push(format!("logdet({k})"));
                }
                1 => {
                    let (k, v) = (self.spd(1), self.gen(T::Vn, 2));
                    terms.push(format!("({v})'*inv({k})*({v})"));
                }
                2 => {
                    let (k, m) = (self.spd(1), self.gen(T::Mnm, 2));
                    terms.push(format!("tr(inv({k})*({m})*({m})')"));
                }
                3 => {
                    let v = self.gen(T::Vm, 2);
                    terms.push(format!("0.5*norm2({v} - y)^2"));
                }
                _ => {}
            }
            terms.join(" + ")
        }
    }

    /// `count` cases; each differentiates up to three of the variables it uses.
    pub fn corpus(seed: u64, count: usize) -> Vec<Case> {
        let mut gen = Gen { rng: StdRng::seed_from_u64(seed) };
        let mut out = vec![];
        while out.len() < count {
            let expr = gen.loss();
            let p =
                Problem::new(&expr, DECLS).unwrap_or_else(|e| panic!("generated `{expr}` does not type-check: {e:?}"));
            let mut vars: Vec<String> = p.graph().vars().iter().map(|v| v.name.clone()).collect();
            if vars.is_empty() {
                continue;
            }
            let k = gen.rng.random_range(1..=vars.len().min(3));
            let mut wrt = vec![];
            for _ in 0..k {
                wrt.push(vars.remove(gen.rng.random_range(0..vars.len())));
            }
            out.push(Case { name: format!("random_{}", out.len() + 1), expr, decls: DECLS.into(), wrt });
        }
        out
    }
}

/// Whether another suite's case is one this suite can run: it type-checks, its gradients
/// exist, it exports (no dimension only `eye(k)` knows), and matdiff's value is finite
/// somewhere. Their files may hold error cases on purpose.
fn exportable(c: &Case) -> bool {
    let Ok(mut p) = Problem::new(&c.expr, &c.decls) else {
        return false;
    };
    let wrt: Vec<&str> = c.wrt.iter().map(|s| s.as_str()).collect();
    let Ok(grads) = p.gradients(&wrt) else {
        return false;
    };
    emit(&p, &grads, Lang::Numpy, Source { expr: &c.expr, decls: &c.decls }).is_ok()
        && finite_point(&p, &grads.nodes, 0).is_some()
}

/// Random inputs (sizes 2..5) where matdiff's value and gradients are finite and each is either
/// exactly zero or larger than its own rounding error, and those values. The modules are
/// compared relatively with no absolute floor, which means something only above rounding: a
/// gradient through a saturated `tanh` (1 - tanh(t)^2 at t ≈ 50) is rounding noise of 1e-15,
/// and two correct programs give different noise.
fn finite_point(p: &Problem, grads: &[matdiff::NodeId], seed: u64) -> Option<(matdiff::Env, Vec<Mat<f64>>)> {
    let g = p.graph();
    let mut roots = vec![p.output];
    roots.extend(grads);
    let mut rng = StdRng::seed_from_u64(seed);
    (0..30).find_map(|_| {
        let dims = random_dims(g, &mut rng, 2, 5);
        let env = random_env(g, p.output, dims, &mut rng);
        check_sizes(g, &roots, &env).ok()?;
        let (vals, errs) = eval_with_error(g, &roots, &env);
        let finite = vals.iter().all(|m| (0..m.nrows()).all(|i| (0..m.ncols()).all(|j| m[(i, j)].is_finite())));
        let above_rounding = vals.iter().zip(&errs).all(|(m, &e)| {
            let size = max_abs(m);
            size == 0.0 || size > 100.0 * e
        });
        (finite && above_rounding).then_some((env, vals))
    })
}

fn all_cases() -> Vec<Case> {
    let mut cases: Vec<Case> = EXAMPLES
        .iter()
        .map(|e| Case {
            name: e.name.into(),
            expr: e.expr.into(),
            decls: e.decls.into(),
            wrt: e.wrt.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    let own = read_cases(&cases_dir("emit").join("cases.txt"));
    assert!(own.len() >= 20, "tests/cases/emit/cases.txt should hold the export cases");
    cases.extend(own);
    // The gradient cases are another suite's data: used when present, as extra corpus.
    if let Ok(dir) = std::fs::read_dir(cases_dir("grad")) {
        let mut files: Vec<PathBuf> =
            dir.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "txt")).collect();
        files.sort();
        for f in files {
            cases.extend(read_cases(&f).into_iter().filter(exportable));
        }
    }
    cases.extend(gen::corpus(7, 60));
    cases
}

/// A value as the Python modules take it: scalars as numbers, vectors as flat lists.
pub(crate) fn to_json(m: &Mat<f64>, shape: Shape) -> Json {
    let num = |x: f64| if x.is_finite() { json!(x) } else { Json::Null };
    if shape.is_scalar() {
        num(m[(0, 0)])
    } else if shape.is_col() || shape.is_row() {
        let (r, c) = (m.nrows(), m.ncols());
        Json::Array((0..r * c).map(|i| num(if c == 1 { m[(i, 0)] } else { m[(0, i)] })).collect())
    } else {
        Json::Array((0..m.nrows()).map(|i| Json::Array((0..m.ncols()).map(|j| num(m[(i, j)])).collect())).collect())
    }
}

/// Emit `case` for `lang` into `dir`, with the inputs and matdiff's value and gradients there.
fn prepare(case: &Case, lang: Lang, dir: &Path, index: usize) -> Json {
    let mut p = Problem::new(&case.expr, &case.decls).unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
    let wrt: Vec<&str> = case.wrt.iter().map(|s| s.as_str()).collect();
    let grads = p.gradients(&wrt).unwrap_or_else(|e| panic!("{}: {e:?}", case.name));
    let src = Source { expr: &case.expr, decls: &case.decls };
    let code = emit(&p, &grads, lang, src).unwrap_or_else(|e| panic!("{}: emit failed: {e:?}", case.name));
    let path = dir.join(format!("case_{index}.py"));
    std::fs::write(&path, &code).unwrap();

    let g = p.graph();
    let mut roots = vec![p.output];
    roots.extend(&grads.nodes);
    let (env, vals) = finite_point(&p, &grads.nodes, 1000 + index as u64)
        .unwrap_or_else(|| panic!("{}: no random point where matdiff's value is finite", case.name));
    let params = parameters(&p, lang);
    let inputs: serde_json::Map<String, Json> = params
        .iter()
        .map(|(var, param)| {
            let v = g.var_id(var).unwrap() as usize;
            (param.clone(), to_json(&env.vars[v], g.vars()[v].shape))
        })
        .collect();
    let expected: Vec<Json> = roots.iter().zip(&vals).map(|(&r, m)| to_json(m, g.shape(r))).collect();
    json!({
        "name": case.name,
        "expr": case.expr,
        "module": path.to_string_lossy(),
        "inputs": inputs,
        "value": expected[0],
        "grads": expected[1..],
    })
}

/// Runs every module in one process; prints one JSON result per case.
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

cases = json.load(open(sys.argv[1]))
results = []
for i, case in enumerate(cases):
    r = {"name": case["name"]}
    try:
        spec = importlib.util.spec_from_file_location(f"emitted_{i}", case["module"])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        inputs = {k: np.array(v, dtype=np.float64) for k, v in case["inputs"].items()}
        value, grad = mod.f_and_grad(**inputs)
        grads = grad if len(case["grads"]) > 1 else (grad,)
        if len(grads) != len(case["grads"]):
            raise AssertionError(f"{len(grads)} gradients, expected {len(case['grads'])}")
        r["value_err"] = rel_err(value, case["value"])
        r["grad_errs"] = [rel_err(np.asarray(g), w) for g, w in zip(grads, case["grads"])]
        r["check"] = float(mod.check_gradient(verbose=False))
    except Exception:
        r["error"] = traceback.format_exc(limit=4)
    results.append(r)
json.dump(results, open(sys.argv[2], "w"))
"#;

/// Run `cases` as `lang` modules; the failures, one line each.
fn run_python(lang: Lang, cases: &[Case]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("matdiff-emit-{}-{}", lang.name(), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let specs: Vec<Json> = cases.iter().enumerate().map(|(i, c)| prepare(c, lang, &dir, i)).collect();
    let (spec_path, result_path, driver) = (dir.join("cases.json"), dir.join("results.json"), dir.join("driver.py"));
    std::fs::write(&spec_path, serde_json::to_string(&specs).unwrap()).unwrap();
    std::fs::write(&driver, DRIVER).unwrap();
    let out = Command::new("python3").arg(&driver).arg(&spec_path).arg(&result_path).output().expect("python3 runs");
    assert!(out.status.success(), "the driver failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<Json> = serde_json::from_str(&std::fs::read_to_string(&result_path).unwrap()).unwrap();
    assert_eq!(results.len(), cases.len());
    let mut failures = vec![];
    for (r, c) in results.iter().zip(cases) {
        let where_ = format!("{} [{}] `{}` wrt {}", c.name, lang.name(), c.expr.replace('\n', "; "), c.wrt.join(","));
        if let Some(e) = r.get("error") {
            failures.push(format!("{where_}: {}", e.as_str().unwrap_or_default()));
            continue;
        }
        let value_err = r["value_err"].as_f64().unwrap_or(f64::INFINITY);
        let grad_err =
            r["grad_errs"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap_or(f64::INFINITY)).fold(0.0, f64::max);
        let check = r["check"].as_f64().unwrap_or(f64::INFINITY);
        // NaN errors fail too: they make every comparison false.
        let pass = value_err < 1e-8 && grad_err < 1e-8 && check <= 1e-5;
        if !pass {
            failures.push(format!(
                "{where_}: value err {value_err:.1e}, gradient err {grad_err:.1e}, check_gradient {check:.1e}"
            ));
        }
    }
    // Keep the modules of a failed run (or with MATDIFF_EMIT_KEEP=1) for inspection.
    if !failures.is_empty() {
        failures.push(format!("(modules kept in {})", dir.display()));
    } else if std::env::var("MATDIFF_EMIT_KEEP").is_ok() {
        // The corpus as a case file too, for scripts/check_emitted.py (the other languages).
        let text: String = cases
            .iter()
            .map(|c| {
                format!(
                    "expr: {}\ndecl: {}\n{}\n",
                    c.expr.replace('\n', "\n      "),
                    c.decls,
                    c.wrt.iter().map(|w| format!("wrt: {w}\n")).collect::<String>()
                )
            })
            .collect();
        std::fs::write(dir.join("corpus.txt"), text).unwrap();
        eprintln!("modules and corpus.txt kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    failures
}

#[test]
fn numpy_modules_agree_with_matdiff() {
    if !crate::common::python_with("numpy", "the emitted NumPy modules") {
        return;
    }
    let cases = all_cases();
    let failures = run_python(Lang::Numpy, &cases);
    assert!(
        failures.is_empty(),
        "{} of {} NumPy modules failed:\n{}",
        failures.len() - 1,
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} NumPy modules agree with matdiff and pass check_gradient()", cases.len());
}

#[test]
fn jax_and_torch_modules_agree_with_matdiff_where_installed() {
    for (lang, module) in [(Lang::Jax, "jax"), (Lang::Torch, "torch")] {
        if !crate::common::python_with(module, &format!("the emitted {module} modules (snapshots only)")) {
            continue;
        }
        let cases = all_cases();
        let failures = run_python(lang, &cases);
        assert!(failures.is_empty(), "{} {module} modules failed:\n{}", failures.len() - 1, failures.join("\n"));
    }
}

#[test]
fn emitted_modules_are_snapshotted() {
    for ex in EXAMPLES {
        let mut p = Problem::new(ex.expr, ex.decls).unwrap();
        let grads = p.gradients(ex.wrt).unwrap();
        for lang in Lang::ALL {
            let code = emit(&p, &grads, lang, Source { expr: ex.expr, decls: ex.decls }).unwrap();
            insta::assert_snapshot!(format!("{}_{}", ex.name, lang.name()), code);
        }
    }
}

#[test]
fn seeds_file_matches_the_examples() {
    // scripts/check_emitted.py reads the seeds from this file.
    let seeds = read_cases(&cases_dir("emit").join("seeds.txt"));
    assert_eq!(seeds.len(), EXAMPLES.len(), "tests/cases/emit/seeds.txt should list every example");
    for (s, e) in seeds.iter().zip(EXAMPLES) {
        assert_eq!((s.expr.as_str(), s.decls.as_str()), (e.expr, e.decls), "{}", e.name);
        assert_eq!(s.wrt, e.wrt.iter().map(|w| w.to_string()).collect::<Vec<_>>(), "{}", e.name);
    }
}

#[test]
fn parameters_follow_declaration_order_then_appearance() {
    let p = Problem::new("sum(z) + y'*W*x + lambda", "x: vector(n); W: matrix(m,n); y: vector(m)").unwrap();
    let names: Vec<(String, String)> = parameters(&p, Lang::Numpy);
    let want = [("x", "x"), ("W", "W"), ("y", "y"), ("z", "z"), ("lambda", "lambda_")];
    assert_eq!(names, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn a_dimension_no_input_fixes_is_an_error_not_a_panic() {
    let mut p = Problem::new("a*tr(eye(k))", "a: scalar").unwrap();
    let grads = p.gradients(&["a"]).unwrap();
    for lang in Lang::ALL {
        let err = emit(&p, &grads, lang, Source { expr: "a*tr(eye(k))", decls: "a: scalar" }).unwrap_err();
        assert!(err.message.contains("dimension k"), "{}: {}", lang.name(), err.message);
    }
}

/// The emitted softmax is the stable one: at entries near ±1000 (where exp overflows or
/// underflows) every Python flavor that imports gives matdiff's finite value and gradient.
#[test]
fn emitted_softmax_is_finite_at_extreme_entries() {
    let (expr, decls) = ("-y'*log(softmax(z))", "z: vector(n); y: vector(n)");
    let mut p = Problem::new(expr, decls).unwrap();
    let grads = p.gradients(&["z"]).unwrap();
    let y = vec![0.2, 1.0, 0.5];
    for z in [vec![1000.0, 1001.0, 999.0], vec![-1000.0, -1001.0, -999.0]] {
        let values = [("z", z.clone()), ("y", y.clone())]
            .into_iter()
            .map(|(n, v)| (n.to_string(), matdiff::Value::Vector(v)))
            .collect();
        let env = matdiff::bind(p.graph(), &values).unwrap();
        let want = eval(p.graph(), &[p.output, grads.nodes[0]], &env);
        for lang in [Lang::Numpy, Lang::Jax, Lang::Torch] {
            if !crate::common::python_with(lang.name(), &format!("the emitted {} softmax module", lang.name())) {
                continue;
            }
            let code = emit(&p, &grads, lang, Source { expr, decls }).unwrap();
            assert!(
                code.contains(match lang {
                    Lang::Numpy => "np.max(z)",
                    Lang::Jax => "jax.nn.softmax(z)",
                    _ => "torch.softmax(z, 0)",
                }),
                "{}: not the stable softmax:\n{code}",
                lang.name()
            );
            let dir = std::env::temp_dir().join(format!("matdiff-softmax-{}-{}", lang.name(), std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("m.py"), &code).unwrap();
            let conv = match lang {
                Lang::Torch => "torch.tensor(v, dtype=torch.float64)",
                Lang::Jax => "jnp.array(v, dtype=jnp.float64)",
                _ => "np.array(v, dtype=np.float64)",
            };
            let script = format!(
                "import sys, json, numpy as np\nsys.path.insert(0, {dir:?})\nimport m\n\
                 from m import *\nz, y = [{conv} for v in ({z:?}, {y:?})]\nv, g = m.f_and_grad(z=z, y=y)\n\
                 print(json.dumps([float(v)] + [float(t) for t in np.asarray(g).ravel()]))\n",
                dir = dir.to_string_lossy(),
            );
            let out = Command::new("python3").args(["-c", &script]).output().unwrap();
            assert!(out.status.success(), "{}: {}", lang.name(), String::from_utf8_lossy(&out.stderr));
            let got: Vec<f64> = serde_json::from_slice(&out.stdout).unwrap();
            let expected: Vec<f64> = std::iter::once(want[0][(0, 0)]).chain((0..3).map(|i| want[1][(i, 0)])).collect();
            for (g, w) in got.iter().zip(&expected) {
                assert!(
                    g.is_finite() && (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{} at z = {z:?}: {got:?} vs {expected:?}",
                    lang.name()
                );
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
