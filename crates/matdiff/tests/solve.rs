//! `solve`: every case of `tests/cases/solve/ok.toml` and `err.toml` is a test of its own.
//!
//! An ok case must be solved with the corpus's kind and form, its numeric self-check must have
//! passed at two dimension settings, and — independently of matdiff's symbolic gradient — the
//! printed solution, read back, must make central differences of the objective vanish
//! (relative to their size at a random point) at random inputs drawn the corpus's way
//! (`dim_rules`, `domain`), and must equal the corpus's reference closed form there. An err
//! case must be refused with a message naming the obstacle.

use matdiff::solve::{solve, Obstacle};
use matdiff::{eval, fd_gradient, Env, Problem};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// |finite differences at the solution| / |at a random point| must stay below this.
const FD_TOL: f64 = 1e-6;
/// The solution and the reference must agree to this (relative, Frobenius).
const REF_TOL: f64 = 1e-8;

fn load(file: &str) -> Vec<toml::Table> {
    let path = super::common::cases_dir().join("solve").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let t: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    t["case"].as_array().expect("[[case]] tables").iter().map(|c| c.as_table().unwrap().clone()).collect()
}

fn case(file: &str, name: &str) -> toml::Table {
    load(file)
        .into_iter()
        .find(|c| c["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no case `{name}` in {file}"))
}

fn text<'a>(c: &'a toml::Table, key: &str) -> &'a str {
    c.get(key).and_then(|v| v.as_str()).unwrap_or_else(|| panic!("case field `{key}`"))
}

/// `"m >= n"`, `"N >= d + 2"`: each side a sum of dimension names and numbers.
fn rule_holds(rule: &str, size: &dyn Fn(&str) -> usize) -> bool {
    let ops = [">=", "<=", "==", "!=", ">", "<"];
    let op = ops.iter().find(|o| rule.contains(*o)).unwrap_or_else(|| panic!("dim rule {rule:?}"));
    let (l, r) = rule.split_once(op).unwrap();
    let side = |s: &str| -> i64 {
        s.split('+').map(|t| t.trim()).map(|t| t.parse::<i64>().unwrap_or_else(|_| size(t) as i64)).sum()
    };
    let (a, b) = (side(l), side(r));
    match *op {
        ">=" => a >= b,
        "<=" => a <= b,
        "==" => a == b,
        "!=" => a != b,
        ">" => a > b,
        _ => a < b,
    }
}

fn normal(rng: &mut StdRng) -> f64 {
    matdiff_exec::normal(rng)
}

fn spd(n: usize, rng: &mut StdRng) -> faer::Mat<f64> {
    let b = faer::Mat::from_fn(n, n, |_, _| normal(rng));
    let a = &b * b.transpose();
    faer::Mat::from_fn(n, n, |i, j| a[(i, j)] / n as f64 + if i == j { 0.5 } else { 0.0 })
}

/// Inputs the corpus's way: scalars in [0.5, 2], vectors Gaussian, matrices Gaussian,
/// symmetric matrices positive definite; `domain` overrides per name.
fn draw(p: &Problem, dims: &[usize], domain: &HashMap<String, String>, rng: &mut StdRng) -> Env {
    let g = p.graph();
    let mut env = Env { dims: dims.to_vec(), vars: vec![] };
    for v in g.vars() {
        let (r, c) = env.size(v.shape);
        let dom = domain.get(&v.name).map(String::as_str);
        let m = match dom {
            _ if v.shape.is_scalar() => faer::Mat::from_fn(1, 1, |_, _| rng.random_range(0.5..2.0)),
            Some("positive") => faer::Mat::from_fn(r, c, |_, _| rng.random_range(0.5..2.0)),
            Some("spd") => spd(r, rng),
            Some("posdef") => {
                let p = spd(r, rng);
                let k = faer::Mat::from_fn(r, r, |_, _| normal(rng));
                faer::Mat::from_fn(r, r, |i, j| p[(i, j)] + 0.3 * (k[(i, j)] - k[(j, i)]))
            }
            Some("normal") => faer::Mat::from_fn(r, c, |_, _| normal(rng)),
            _ if v.symmetric => spd(r, rng),
            _ => faer::Mat::from_fn(r, c, |_, _| normal(rng)),
        };
        env.vars.push(m);
    }
    env
}

fn fro(m: &faer::Mat<f64>) -> f64 {
    (0..m.ncols()).flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)])).map(|x| x * x).sum::<f64>().sqrt()
}

fn diff(a: &faer::Mat<f64>, b: &faer::Mat<f64>) -> f64 {
    fro(&(a - b)) / fro(b).max(1e-300)
}

/// Functions the reference may use that the language may not have yet.
fn lowerable(p: &mut Problem, src: &str) -> Option<matdiff::NodeId> {
    p.claim(src).ok()
}

fn run_ok(name: &str) {
    check_ok(name, &case("ok.toml", name));
}

/// Solved with the given kind and form, self-checked at two settings, and the printed
/// solution (equal to `solution` when the case has one) zeroes central differences.
fn check_ok(name: &str, c: &toml::Table) {
    let c = c.clone();
    let (expr, wrt, decl) = (text(&c, "expr"), text(&c, "wrt"), text(&c, "decl"));
    let mut p = Problem::new(expr, decl).unwrap_or_else(|e| panic!("{name}: {}", e.message));
    let s = solve(&mut p, wrt).unwrap_or_else(|r| panic!("{name}: refused ({:?}): {}", r.obstacle, r.error.message));
    let printed = p.print(s.node, matdiff::Style::Plain);
    assert_eq!(s.kind.name(), text(&c, "kind"), "{name}: kind of {wrt} = {printed}");
    assert_eq!(s.form.name(), text(&c, "form"), "{name}: form of {wrt} = {printed}");
    assert!(s.check.passed(), "{name}: self-check failed: {:?}", s.check);
    assert_eq!(s.check.dims.len(), 2, "{name}: self-check covered {} dimension settings", s.check.dims.len());
    assert!(!printed.contains("where"), "{name}: not self-contained: {printed}");
    let var = s.var;
    assert_eq!(p.graph().shape(s.node), p.graph().vars()[var].shape, "{name}: shape of {printed}");

    // The printed form, read back, is what is checked.
    let sol = p.claim(&printed).unwrap_or_else(|e| panic!("{name}: {printed} does not read back: {}", e.message));
    let reference = c.get("solution").and_then(|r| r.as_str()).and_then(|r| lowerable(&mut p, r));
    let rules: Vec<String> = c
        .get("dim_rules")
        .and_then(|r| r.as_array())
        .map_or(vec![], |a| a.iter().map(|r| r.as_str().unwrap().to_string()).collect());
    let domain: HashMap<String, String> = c
        .get("domain")
        .and_then(|d| d.as_table())
        .map_or(HashMap::new(), |t| t.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect());
    let sym = p.graph().vars()[var].symmetric;
    let mut rng = StdRng::seed_from_u64(16);
    let mut settings: Vec<Vec<usize>> = vec![];
    let mut points = 0;
    for attempt in 0..400 {
        if settings.len() == 2 {
            break;
        }
        let dims = matdiff::random_dims(p.graph(), &mut rng, 2, 5);
        let ok = rules.iter().all(|r| rule_holds(r, &|n: &str| dims[p.graph().dims().by_name(n).unwrap() as usize]));
        if !ok || settings.contains(&dims) && attempt < 300 {
            continue;
        }
        for _ in 0..2 {
            let mut env = draw(&p, &dims, &domain, &mut rng);
            let x0 = env.vars[var].clone();
            let mut roots = vec![sol];
            roots.extend(reference);
            let vals = eval(p.graph(), &roots, &env);
            let xs = &vals[0];
            assert!(super::common::finite(xs), "{name}: {printed} not finite at {dims:?}");
            if let Some(r) = vals.get(1) {
                let d = diff(xs, r);
                assert!(d < REF_TOL, "{name}: {printed} differs from the reference by {d:.1e} at {dims:?}");
            }
            if sym {
                let asym = diff(&xs.transpose().to_owned(), xs);
                assert!(asym < 1e-10, "{name}: the solution for a symmetric {wrt} is not symmetric ({asym:.1e})");
            }
            env.vars[var] = xs.clone();
            let at_sol = fd_gradient(p.graph(), p.output, var, &env);
            env.vars[var] = x0;
            let at_rand = fd_gradient(p.graph(), p.output, var, &env);
            let ratio = fro(&at_sol) / fro(&at_rand);
            assert!(
                ratio < FD_TOL,
                "{name}: central differences at {printed} are {ratio:.1e} of their size at a random point ({dims:?})"
            );
            points += 1;
        }
        settings.push(dims);
    }
    assert_eq!(settings.len(), 2, "{name}: found {} dimension settings", settings.len());
    assert!(points >= 4, "{name}: checked {points} points");
}

fn run_err(name: &str) {
    let c = case("err.toml", name);
    let (expr, wrt, decl) = (text(&c, "expr"), text(&c, "wrt"), text(&c, "decl"));
    let outcome: Result<(), _> =
        Problem::new(expr, decl).map_err(|e| (Obstacle::Input, e)).and_then(|mut p| match solve(&mut p, wrt) {
            Ok(s) => panic!("{name}: solved as {wrt} = {}, want a refusal", p.print(s.node, matdiff::Style::Plain)),
            Err(r) => Err((r.obstacle, r.error)),
        });
    let Err((obstacle, error)) = outcome else { unreachable!() };
    let mut msg = error.message.clone();
    for n in &error.notes {
        msg.push('\n');
        msg.push_str(n);
    }
    let mut phrases = vec![text(&c, "obstacle").to_string()];
    if let Some(a) = c.get("also_accept").and_then(|a| a.as_array()) {
        phrases.extend(a.iter().map(|x| x.as_str().unwrap().to_string()));
    }
    let lower = msg.to_lowercase();
    assert!(
        phrases.iter().any(|ph| lower.contains(&ph.to_lowercase())),
        "{name}: message names none of {phrases:?}:\n{msg}"
    );
    // A refusal from the solver (not the reader) for expressions `grad` accepts.
    match text(&c, "grad") {
        "ok" => assert!(!matches!(obstacle, Obstacle::Input | Obstacle::CheckFailed), "{name}: obstacle {obstacle:?}"),
        _ => assert_eq!(obstacle, Obstacle::Input, "{name}"),
    }
}

macro_rules! cases {
    ($module:ident, $runner:ident, $list:ident: $($name:ident),* $(,)?) => {
        #[allow(non_snake_case)] // case names keep the corpus's spelling (ppca_m_step_W)
        mod $module {
            $(#[test] fn $name() { super::$runner(stringify!($name)); })*
        }
        const $list: &[&str] = &[$(stringify!($name)),*];
    };
}

cases!(ok, run_ok, OK_CASES:
    ls_norm2, ls_half_norm2, ls_sum_squares, ls_inner_product, ls_offset, ls_intercept_scalar, weighted_ls,
    ridge, ridge_half_inner, generalized_ridge, tikhonov_operator, map_gaussian_prior, blr_posterior_mean,
    ls_matrix_left, ls_matrix_right, multi_output_regression, multi_output_regression_trace, multi_output_ridge,
    multi_output_gls, two_sided, two_sided_norm2, matrix_normal_kron_mean, two_sided_ridge, sylvester_trace,
    sylvester_least_squares, left_right_regression, symmetric_least_squares,
    quadratic_form_spd, quadratic_form_nonsymmetric, concave_quadratic, two_sided_trace_square_saddle,
    trace_square_saddle, symmetric_trace_square, trace_quadratic_left, trace_quadratic_right_nonsymmetric,
    trace_quadratic_two_sided, gaussian_mean, gaussian_mean_loglik, gmm_mean_m_step, gaussian_cov_mle,
    gaussian_cov_mle_log_det, gaussian_cov_mle_data, gaussian_precision_mle, gmm_cov_m_step,
    matrix_normal_mean_two_samples, matrix_normal_row_cov, matrix_normal_col_cov, ppca_m_step_stats,
    ppca_m_step_W, ppca_noise_variance, fa_m_step_loadings, fa_m_step_uniquenesses, lds_m_step_transition,
    lgr_m_step_observation, blr_em_alpha, blr_em_beta,
);

cases!(err, run_err, ERR_CASES:
    non_scalar_vector, non_scalar_matrix, wrt_absent, linear_vector, linear_trace, exp_never_vanishes,
    logdet_never_vanishes, logistic_regression, logistic_regression_softplus, nonlinear_least_squares,
    l1_regression, rank_one_singular, rank_one_matrix_singular,
);

/// Every case in the files has its test (and every test its case).
#[test]
fn every_case_has_a_test() {
    for (file, lists) in [("ok.toml", OK_CASES.to_vec()), ("err.toml", ERR_CASES.to_vec())] {
        let mut names: Vec<String> = load(file).iter().map(|c| text(c, "name").to_string()).collect();
        let mut listed: Vec<String> = lists.iter().map(|s| s.to_string()).collect();
        names.sort();
        listed.sort();
        assert_eq!(names, listed, "{file}: cases and tests differ");
    }
}

/// Obstacles are typed: the refusals above come from these, not from the reader.
#[test]
fn obstacles_are_typed() {
    let cases = [
        ("b'*x", "x", "x: vector(n); b: vector(n)", Obstacle::ConstantGradient),
        ("logdet(S)", "S", "S: symmetric(d)", Obstacle::NeverVanishes),
        ("sum(exp(x))", "x", "x: vector(n)", Obstacle::NotAffine),
        ("(v'*x - c)^2", "x", "x: vector(n); v: vector(n); c: scalar", Obstacle::Singular),
        ("sum(x.^4) - b'*x", "x", "x: vector(n); b: vector(n)", Obstacle::NotAffine),
        ("A*x - b", "x", "A: matrix(m,n); x: vector(n); b: vector(m)", Obstacle::Input),
    ];
    for (expr, wrt, decl, want) in cases {
        let mut p = Problem::new(expr, decl).unwrap();
        let r = solve(&mut p, wrt).err().unwrap_or_else(|| panic!("{expr}: solved"));
        assert_eq!(r.obstacle, want, "{expr}: {}", r.error.message);
    }
}

/// The built-in examples `demo` shows are solved and pass their check.
#[test]
fn solve_examples_pass() {
    for ex in matdiff::SOLVE_EXAMPLES {
        let mut p = Problem::new(ex.expr, ex.decls).unwrap();
        let s = solve(&mut p, ex.wrt[0]).unwrap_or_else(|r| panic!("{}: {}", ex.name, r.error.message));
        assert!(s.check.passed() && s.check.points >= 4, "{}: {:?}", ex.name, s.check);
    }
}

/// Random losses over the whole language, solved for each of their variables: `solve` never
/// panics and never fails its own check (`CheckFailed` is a bug), and every solution it gives
/// makes central differences of the loss vanish at independent random inputs.
#[test]
fn random_losses_solved_or_refused() {
    use super::common::gen::{case, DECLS};
    let count = super::common::case_count("MATDIFF_SOLVE_CASES", 300);
    let (mut solved, mut refused, mut checked) = (0, 0, 0);
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..count {
        let src = case(16, i);
        let Ok(p0) = Problem::new(&src, DECLS) else { continue };
        let names: Vec<String> = p0.graph().vars().iter().map(|v| v.name.clone()).collect();
        for wrt in names {
            let mut p = p0.clone();
            let s = match solve(&mut p, &wrt) {
                Ok(s) => s,
                Err(r) => {
                    assert_ne!(r.obstacle, Obstacle::CheckFailed, "{src} for {wrt}: {}", r.error.message);
                    refused += 1;
                    continue;
                }
            };
            solved += 1;
            let printed = p.print(s.node, matdiff::Style::Plain);
            let sol =
                p.claim(&printed).unwrap_or_else(|e| panic!("{src}: {printed} does not read back: {}", e.message));
            // Points where a matrix the solution inverts is (nearly) singular are outside its
            // conditions.
            let inverted: Vec<matdiff::NodeId> = p
                .graph()
                .reachable(&[sol])
                .into_iter()
                .filter_map(|n| if let matdiff::Op::Inv(a) = p.graph().op(n) { Some(*a) } else { None })
                .collect();
            for _ in 0..3 {
                let dims = matdiff::random_dims(p.graph(), &mut rng, 2, 5);
                let mut env = matdiff::random_env(p.graph(), p.output, dims, &mut rng);
                let xs = eval(p.graph(), &[sol], &env).remove(0);
                if !super::common::finite(&xs) || super::common::max_abs(&xs) > 1e6 {
                    continue;
                }
                let singular = eval(p.graph(), &inverted, &env).iter().any(|m| match m.singular_values() {
                    Ok(sv) => sv[sv.len() - 1] < 1e-8 * sv[0],
                    Err(_) => true,
                });
                if singular {
                    continue;
                }
                let x0 = env.vars[s.var].clone();
                env.vars[s.var] = xs;
                let at_sol = fd_gradient(p.graph(), p.output, s.var, &env);
                env.vars[s.var] = x0;
                let at_rand = fd_gradient(p.graph(), p.output, s.var, &env);
                if !(super::common::finite(&at_sol) && fro(&at_rand) > 1e-6) {
                    continue;
                }
                let ratio = fro(&at_sol) / fro(&at_rand);
                assert!(ratio < 1e-5, "{src}: {wrt} = {printed}: central differences {ratio:.1e} of their size");
                checked += 1;
            }
        }
    }
    eprintln!("random losses: {solved} solved ({checked} points checked), {refused} refused");
    assert!(solved > 0 && checked > 0, "{solved} solved, {checked} checked");
}

/// Runs each module's `check_update()`; a module whose update was tampered with must fail it.
const UPDATE_DRIVER: &str = r#"
import importlib.util, json, sys
out = []
for path, must_fail in json.load(open(sys.argv[1])):
    spec = importlib.util.spec_from_file_location("m", path)
    m = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(m)
        worst = m.check_update(verbose=False)
        out.append({"path": path, "passed": True, "worst": worst, "must_fail": must_fail})
    except Exception as e:
        out.append({"path": path, "passed": False, "error": repr(e)[:300], "must_fail": must_fail})
json.dump(out, open(sys.argv[2], "w"))
"#;

/// `solve --emit`: every corpus case's NumPy (and, where installed, JAX: every 8th) module passes its
/// `check_update()`, and the same module with its update scaled by 1.01 fails it (the check
/// can fail).
#[test]
fn emitted_updates_pass_their_check() {
    use matdiff::emit::{emit_update, Lang, Source, Update};
    for (lang, module) in [(Lang::Numpy, "numpy"), (Lang::Jax, "jax")] {
        if !crate::common::python_with(module, &format!("the solve --emit {} modules", lang.name())) {
            continue;
        }
        let dir = std::env::temp_dir().join(format!("matdiff-solve-emit-{}-{}", lang.name(), std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut specs = vec![];
        for (i, c) in load("ok.toml").into_iter().enumerate() {
            // JAX compiles every function it runs: a sample of the corpus keeps this quick.
            if lang == Lang::Jax && i % 8 != 0 {
                continue;
            }
            let (name, expr, wrt, decl) = (text(&c, "name"), text(&c, "expr"), text(&c, "wrt"), text(&c, "decl"));
            if !OK_CASES.contains(&name) {
                continue;
            }
            let mut p = Problem::new(expr, decl).unwrap();
            let s = solve(&mut p, wrt).unwrap_or_else(|r| panic!("{name}: {}", r.error.message));
            let grads = p.gradients(&[wrt]).unwrap();
            let update = Update { var: s.var, node: s.node, summary: p.print(s.node, matdiff::Style::Plain) };
            let code = emit_update(&p, &grads, &update, lang, Source { expr, decls: decl })
                .unwrap_or_else(|e| panic!("{name}: {}", e.message));
            let path = dir.join(format!("{name}.py"));
            std::fs::write(&path, &code).unwrap();
            specs.push((path.display().to_string(), false));
            // The same module with a wrong update.
            let ret = format!("    return {wrt}_star\n");
            assert!(code.contains(&ret), "{name}: no `{}` in the module", ret.trim());
            let bad = code.replace(&ret, &format!("    return {wrt}_star * 1.01\n"));
            let bad_path = dir.join(format!("{name}_tampered.py"));
            std::fs::write(&bad_path, bad).unwrap();
            specs.push((bad_path.display().to_string(), true));
        }
        let (spec_path, result_path, driver) =
            (dir.join("cases.json"), dir.join("results.json"), dir.join("driver.py"));
        std::fs::write(&spec_path, serde_json::to_string(&specs).unwrap()).unwrap();
        std::fs::write(&driver, UPDATE_DRIVER).unwrap();
        let out =
            std::process::Command::new("python3").arg(&driver).arg(&spec_path).arg(&result_path).output().unwrap();
        assert!(out.status.success(), "driver: {}", String::from_utf8_lossy(&out.stderr));
        let results: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&result_path).unwrap()).unwrap();
        assert_eq!(results.len(), specs.len());
        let wrong: Vec<String> = results
            .iter()
            .filter(|r| r["passed"].as_bool() == r["must_fail"].as_bool())
            .map(|r| r.to_string())
            .collect();
        assert!(
            wrong.is_empty(),
            "{} of {} {} modules misjudged:\n{}",
            wrong.len(),
            specs.len(),
            lang.name(),
            wrong.join("\n")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Forms beyond the corpus: X and X' together (the vec form with a commutation matrix),
/// elementwise equations of a matrix unknown, and both kinds of term at once.
#[test]
fn beyond_the_corpus() {
    let cases = [
        (
            "transposed_mixed",
            "norm2(X + X' - C)^2 + norm2(X)^2",
            "X",
            "X: matrix(n,n); C: matrix(n,n)",
            "minimum",
            "vec",
        ),
        (
            "transposed_two_sided",
            "norm2(A*X + X'*B - C)^2",
            "X",
            "A: matrix(n,n); X: matrix(n,n); B: matrix(n,n); C: matrix(n,n)",
            "minimum",
            "vec",
        ),
        (
            "elementwise_weights",
            "sum((W.*X - C).^2)",
            "X",
            "W: matrix(m,n); X: matrix(m,n); C: matrix(m,n)",
            "minimum",
            "direct",
        ),
        (
            "elementwise_and_product",
            "sum((W.*X - C).^2) + lam*norm2(A*X)^2",
            "X",
            "W: matrix(m,n); X: matrix(m,n); C: matrix(m,n); A: matrix(k,m); lam: scalar",
            "minimum",
            "vec",
        ),
        ("scalar_quadratic", "(x - 3)^2", "x", "x: scalar", "minimum", "direct"),
        ("scalar_concave", "-(x - 3)^2 + x", "x", "x: scalar", "maximum", "direct"),
    ];
    for (name, expr, wrt, decl, kind, form) in cases {
        let mut t = toml::Table::new();
        for (k, v) in [("name", name), ("expr", expr), ("wrt", wrt), ("decl", decl), ("kind", kind), ("form", form)] {
            t.insert(k.into(), toml::Value::String(v.into()));
        }
        check_ok(name, &t);
    }
}
