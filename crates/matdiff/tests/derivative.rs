//! Derivatives in every layout, Hessians and Hessian-vector products (`tests/cases/derivative`):
//! each result's layout and shape as expected, checked by finite differences (second
//! differences for Hessians and HVPs) at two dimension settings, its printed form read back to
//! the same values; the check itself rejects tampered results.

use crate::common::{cases_dir, max_diff};
use matdiff::derivative::{check, derivative, hessian, hvp, Derivative, Layout};
use matdiff::{FdOutcome, Problem, Style};

/// One case of `tests/cases/derivative/*.txt` (also exported by `emit_derivative`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Case {
    /// `file:line` of the case.
    pub(crate) at: String,
    /// `derivative`, `hessian` or `hvp`.
    pub(crate) kind: String,
    pub(crate) expr: String,
    pub(crate) decl: String,
    pub(crate) wrt: String,
    pub(crate) layout: String,
    pub(crate) shape: Vec<String>,
    pub(crate) print: Option<String>,
}

/// Every case of tests/cases/derivative: blocks separated by blank lines, `#` comments,
/// indented lines continuing a multi-line expression.
pub(crate) fn cases() -> Vec<Case> {
    let mut out = vec![];
    let dir = cases_dir().join("derivative");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let mut cur: Option<Case> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.starts_with('#') {
                continue;
            }
            if line.is_empty() {
                out.extend(cur.take());
                continue;
            }
            let case = cur.get_or_insert_with(|| Case { at: format!("{file}:{}", i + 1), ..Case::default() });
            if raw.starts_with(' ') {
                // A continuation of a multi-line expression (definitions first).
                case.expr = format!("{}\n{line}", case.expr);
                continue;
            }
            let (key, value) = line.split_once(':').unwrap_or_else(|| panic!("{file}:{}: `key: value`", i + 1));
            let value = value.trim().to_string();
            match key {
                "kind" => case.kind = value,
                "expr" => case.expr = value,
                "decl" => case.decl = value,
                "wrt" => case.wrt = value,
                "layout" => case.layout = value,
                "shape" => {
                    case.shape = value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
                }
                "print" => case.print = Some(value),
                _ => panic!("{file}:{}: unknown key `{key}`", i + 1),
            }
        }
        out.extend(cur.take());
    }
    out
}

/// The case's problem and its derivative, Hessian or HVP (along `V`).
pub(crate) fn run(case: &Case) -> (Problem, Derivative) {
    let mut p = Problem::new(&case.expr, &case.decl).unwrap_or_else(|e| panic!("{}: {e}", case.at));
    let d = match case.kind.as_str() {
        "derivative" => derivative(&mut p, &case.wrt),
        "hessian" => hessian(&mut p, &case.wrt),
        "hvp" => hvp(&mut p, &case.wrt, "V"),
        k => panic!("{}: unknown kind {k}", case.at),
    }
    .unwrap_or_else(|e| panic!("{}: {e}", case.at));
    (p, d)
}

#[test]
fn cases_have_their_layout_and_shape_and_agree_with_finite_differences() {
    let cases = cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for case in &cases {
        let (mut p, d) = run(case);
        let printed = p.print(d.root, Style::Plain);
        let at = format!("{} ({}: {printed})", case.at, case.expr.replace('\n', "; "));
        assert_eq!(d.layout.name(), case.layout, "{at}: layout");
        assert_eq!(p.shape_names(d.root), case.shape, "{at}: shape");
        if let Some(want) = &case.print {
            assert_eq!(&printed, want, "{at}: printed form");
        }
        let r = check(&p, &d, 7, 2);
        assert_eq!(r.outcome(), FdOutcome::Agrees, "{at}: {r:?}");
        assert_eq!(r.dims.len(), 2, "{at}: two dimension settings");
        assert_ne!(r.dims[0], r.dims[1], "{at}: two different dimension settings");
        // The printed form is self-contained plain syntax with the same value.
        let back = p.claim(&printed).unwrap_or_else(|e| panic!("{at}: printed form does not re-read: {e}"));
        let diff = max_diff(&p, d.root, back, 3).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(diff < 1e-10, "{at}: printed form differs by {diff:e}");
    }
}

#[test]
fn the_check_rejects_tampered_results() {
    // A test whose check could not fail would prove nothing: scale, transpose or drop a term.
    for (kind, expr, decl, wrt) in [
        ("derivative", "A*X*B", "A: matrix(n,n); X: matrix(n,n); B: matrix(n,n)", "X"),
        ("derivative", "tanh(W*x)", "W: matrix(m,n); x: vector(n)", "x"),
        ("hessian", "x'*A*x + sum(exp(x))", "A: matrix(n,n); x: vector(n)", "x"),
        ("hessian", "tr(X'*A*X)", "A: matrix(n,n); X: matrix(n,k)", "X"),
        ("hvp", "0.5*norm2(W'*W*x - x)^2", "W: matrix(k,n); x: vector(n)", "W"),
        ("derivative", "t*A + t^2*B", "A: matrix(m,n); B: matrix(m,n); t: scalar", "t"),
    ] {
        let case = Case {
            at: expr.into(),
            kind: kind.into(),
            expr: expr.into(),
            decl: decl.into(),
            wrt: wrt.into(),
            ..Case::default()
        };
        let (mut p, d) = run(&case);
        let scaled = p.graph_mut().times(1.01, d.root);
        // Hessians are symmetric: only a first derivative can be caught transposed.
        let square = p.graph().shape(d.root).is_square() && kind == "derivative";
        let mut wrong = vec![scaled];
        if square {
            wrong.push(p.graph_mut().transpose(d.root));
        }
        for w in wrong {
            let bad = Derivative { root: w, ..d.clone() };
            let r = check(&p, &bad, 7, 2);
            assert_eq!(r.outcome(), FdOutcome::Disagrees, "{expr}: {} accepted", p.print(w, Style::Plain));
        }
    }
}

#[test]
fn hvp_is_the_hessian_applied_to_the_direction() {
    for (expr, decl, wrt) in [
        ("sum(softplus(A*x)) - y'*A*x", "A: matrix(N,d); x: vector(d); y: vector(N)", "x"),
        ("tr(X'*A*X) + sum(exp(X))", "A: matrix(n,n); X: matrix(n,k)", "X"),
    ] {
        let mut p = Problem::new(expr, decl).unwrap();
        let h = hessian(&mut p, wrt).unwrap();
        let v = hvp(&mut p, wrt, "V").unwrap();
        let vn = p.graph_mut().var_node(v.direction.unwrap() as u32);
        let hv = if h.layout == Layout::Jacobian {
            p.graph_mut().matmul(vec![h.root, vn])
        } else {
            let s = p.graph().shape(vn);
            let vv = p.graph_mut().vectorize(vn);
            let m = p.graph_mut().matmul(vec![h.root, vv]);
            p.graph_mut().unvec(m, s.rows.unwrap(), s.cols.unwrap())
        };
        let diff = max_diff(&p, hv, v.root, 11).unwrap();
        assert!(diff < 1e-10, "{expr}: H*v and the HVP differ by {diff:e}");
        assert!(!p.print(v.root, Style::Plain).contains("kron"), "{expr}: an HVP without Kronecker products");
    }
}

#[test]
fn errors_are_typed_with_spans() {
    let mut p = Problem::new("W*x", "W: matrix(m,n); x: vector(n)").unwrap();
    let e = hessian(&mut p, "x").unwrap_err();
    assert_eq!(e.kind, matdiff::ErrorKind::Shape);
    assert_eq!(e.span.map(|s| (s.start, s.end)), Some((0, 3)));
    let mut p = Problem::new("x'*A*x", "A: matrix(n,n); x: vector(n)").unwrap();
    let e = hvp(&mut p, "x", "A").unwrap_err();
    assert_eq!(e.kind, matdiff::ErrorKind::Input);
    assert!(e.message.contains("`A`"), "{}", e.message);
    let e = hvp(&mut p, "x", "1v").unwrap_err();
    assert_eq!(e.kind, matdiff::ErrorKind::Input);
    let e = derivative(&mut p, "z").unwrap_err();
    assert_eq!(e.kind, matdiff::ErrorKind::UnknownName);
}

#[test]
fn claims_about_derivatives_are_judged_with_diagnoses() {
    use matdiff::check::{CheckOptions, Checker, Diagnosis};
    // (kind, expr, decl, wrt, claim, right, expected diagnosis kind)
    let cases = [
        ("hessian", "x'*A*x", "A: matrix(n,n); x: vector(n)", "x", "A + A'", true, None),
        ("hessian", "x'*A*x", "A: matrix(n,n); x: vector(n)", "x", "2*A", false, Some("symmetric_only")),
        ("hessian", "x'*A*x", "A: matrix(n,n); x: vector(n)", "x", "3*(A + A')", false, Some("factor")),
        ("derivative", "W*x", "W: matrix(m,n); x: vector(n)", "x", "W'", false, Some("layout")),
        ("derivative", "W*x", "W: matrix(m,n); x: vector(n)", "W", "kron(x', eye(m))", true, None),
        ("derivative", "A*X*B", "A: matrix(n,n); X: matrix(n,n); B: matrix(n,n)", "X", "kron(B', A)", true, None),
        ("derivative", "A*X*B", "A: matrix(n,n); X: matrix(n,n); B: matrix(n,n)", "X", "kron(A, B')", false, None),
        ("derivative", "B*x", "B: matrix(n,n); x: vector(n)", "x", "B'", false, Some("layout")),
        ("hessian", "tr(X'*A*X)", "A: matrix(n,n); X: matrix(n,k)", "X", "kron(eye(k), A + A')", true, None),
        (
            "hessian",
            "log(sum(exp(x)))",
            "x: vector(n)",
            "x",
            "diag(exp(x)/sum(exp(x))) - exp(x)*exp(x)'/sum(exp(x))^2",
            true,
            None,
        ),
        ("hvp", "x'*A*x", "A: matrix(n,n); x: vector(n)", "x", "(A + A')*V", true, None),
        ("hvp", "x'*A*x", "A: matrix(n,n); x: vector(n)", "x", "2*A*V", false, Some("symmetric_only")),
    ];
    for (kind, expr, decl, wrt, claim, right, diag) in cases {
        let case = Case {
            at: expr.into(),
            kind: kind.into(),
            expr: expr.into(),
            decl: decl.into(),
            wrt: wrt.into(),
            ..Case::default()
        };
        let (p, d) = run(&case);
        let jacobian = matches!(d.layout, Layout::Jacobian | Layout::Vec);
        let mut c = Checker::for_target(p, wrt, d.root, jacobian, CheckOptions::default()).unwrap();
        let v = c.check(claim).unwrap_or_else(|e| panic!("{expr}: {claim}: {e}"));
        assert_eq!(v.right, right, "{kind} {expr}: {claim}: {v:?}");
        if let Some(k) = diag {
            assert!(v.diagnoses.iter().any(|d| d.kind() == k), "{expr}: {claim}: expected {k}, got {:?}", v.diagnoses);
        }
        if !right {
            assert!(v.counterexample.is_some(), "{expr}: {claim}: a counterexample");
            assert!(!v.diagnoses.contains(&Diagnosis::Undefined));
        }
    }
}

/// Whether a graph has a kink (abs, relu, sign, step, norm1): second differences straddling
/// one measure nothing, so the second-order property leaves such expressions out.
fn has_kink(p: &Problem) -> bool {
    use matdiff::{Func, Op};
    p.graph().reachable(&[p.output]).iter().any(|&n| {
        matches!(p.graph().op(n), Op::Map(Func::Abs | Func::Relu | Func::Sign | Func::Step, _) | Op::Norm1(_))
    })
}

#[test]
fn random_expressions_second_order() {
    // The property corpus to second order: for every variable, the HVP against second
    // differences of the expression (along the direction and each entry) at two dimension
    // settings, and the Hessian (where small) symmetric at a random point.
    use crate::common::case_count;
    use crate::common::gen::{case, DECLS};
    use matdiff::{eval_with_error, random_dims, random_env, rel_diff};
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    let count = case_count("MATDIFF_PROPTEST_CASES", 60);
    let seed = case_count("MATDIFF_PROPTEST_SEED", 2) as u64;
    let (mut hvps, mut hessians, mut kinked, mut unchecked) = (0, 0, 0, 0);
    for i in 0..count {
        let src = case(seed, i);
        let Ok(p0) = Problem::new(&src, DECLS) else { continue };
        if has_kink(&p0) {
            kinked += 1;
            continue;
        }
        let names: Vec<String> = p0.graph().vars().iter().map(|v| v.name.clone()).collect();
        for wrt in &names {
            let mut p = p0.clone();
            let d = hvp(&mut p, wrt, "Vdir").unwrap_or_else(|e| panic!("{src} by {wrt}: {e}"));
            let hv = p.print(d.root, Style::Plain);
            assert!(!hv.contains("kron"), "{src} by {wrt}: an HVP with a Kronecker product: {hv}");
            let r = check(&p, &d, 17 + i as u64, 2);
            match r.outcome() {
                FdOutcome::Agrees => hvps += 1,
                FdOutcome::Unchecked(_) => unchecked += 1,
                FdOutcome::Disagrees => panic!("{src} by {wrt}: HVP {hv} disagrees with second differences: {r:?}"),
            }
            let mut p = p0.clone();
            let h = hessian(&mut p, wrt).unwrap_or_else(|e| panic!("{src} by {wrt}: hessian: {e}"));
            let mut rng = StdRng::seed_from_u64(i as u64);
            let dims = random_dims(p.graph(), &mut rng, 2, 3);
            let env = random_env(p.graph(), p.output, dims, &mut rng);
            if matdiff::check_sizes(p.graph(), &[h.root], &env).is_err() {
                continue;
            }
            let ht = p.graph_mut().transpose(h.root);
            let (vals, errs) = eval_with_error(p.graph(), &[h.root, ht], &env);
            if !vals.iter().all(crate::common::finite) {
                continue;
            }
            // W.r.t. a symmetric variable only symmetric directions mean anything (the
            // gradient was simplified with S' = S): compare the Hessian on those, M*H*M with
            // M = (I + K)/2 the projection onto them.
            let (hm, hmt) = if p.graph().vars()[h.var].symmetric {
                let n = (vals[0].nrows() as f64).sqrt().round() as usize;
                let tr = |k: usize| (k % n) * n + k / n;
                let proj = |m: &faer::Mat<f64>| {
                    faer::Mat::from_fn(m.nrows(), m.ncols(), |k, l| {
                        (m[(k, l)] + m[(tr(k), l)] + m[(k, tr(l))] + m[(tr(k), tr(l))]) / 4.0
                    })
                };
                (proj(&vals[0]), proj(&vals[1]))
            } else {
                (vals[0].clone(), vals[1].clone())
            };
            let d = rel_diff(&hm, &hmt, errs[0] + errs[1]);
            assert!(d < 1e-8, "{src} by {wrt}: Hessian {} not symmetric ({d:e})", p.print(h.root, Style::Plain));
            hessians += 1;
        }
    }
    eprintln!("second order: {hvps} HVPs checked, {hessians} Hessians symmetric, {kinked} kinked expressions left out, {unchecked} unchecked");
    assert!(hvps >= count / 2, "too few HVPs checked: {hvps} of {count} expressions");
}

#[test]
fn random_vector_and_matrix_expressions_match_central_differences() {
    // Random well-typed vector- and matrix-valued expressions (the property generator), every
    // variable: the derivative in its layout against central differences at two dimension
    // settings.
    use crate::common::case_count;
    use crate::common::gen::{Gen, Sh, D, DECLS};
    use rand::Rng;
    let count = case_count("MATDIFF_PROPTEST_CASES", 60);
    let (mut checked, mut unchecked, mut kinked) = (0, 0, 0);
    let mut layouts = std::collections::BTreeSet::new();
    for i in 0..count {
        let mut gen = Gen::new(0xD1FF ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let shapes =
            [Sh(Some(D::N), None), Sh(Some(D::M), None), Sh(Some(D::N), Some(D::M)), Sh(Some(D::N), Some(D::N))];
        let sh = shapes[gen.rng.random_range(0..shapes.len())];
        let depth = gen.rng.random_range(2..=4);
        let src = gen.expr(sh, depth).text().to_string();
        let Ok(p0) = Problem::new(&src, DECLS) else { continue };
        if has_kink(&p0) {
            kinked += 1;
            continue;
        }
        for v in 0..p0.graph().vars().len() {
            let mut p = p0.clone();
            let wrt = p.graph().vars()[v].name.clone();
            let d = derivative(&mut p, &wrt).unwrap_or_else(|e| panic!("{src} by {wrt}: {e}"));
            layouts.insert(d.layout.name());
            let r = check(&p, &d, 23 + i as u64, 2);
            match r.outcome() {
                FdOutcome::Agrees => checked += 1,
                FdOutcome::Unchecked(_) => unchecked += 1,
                FdOutcome::Disagrees => {
                    panic!("{src} by {wrt}: {} disagrees: {r:?}", p.print(d.root, Style::Plain))
                }
            }
        }
    }
    eprintln!(
        "first order: {checked} derivatives checked ({layouts:?}), {unchecked} unchecked, {kinked} kinked left out"
    );
    assert!(checked >= count, "too few derivatives checked: {checked}");
    assert_eq!(layouts.len(), 3, "elementwise, jacobian and vec layouts all drawn: {layouts:?}");
}

#[test]
fn readable_forms_table() {
    // `input => expected`: the text `matdiff derivative`/`hessian` prints (named weights and
    // shared subterms in `where` lines), each result checked by finite differences (second
    // differences for Hessians) at two dimension settings, and the printed form with its
    // `where` lines read back as definitions to the same values.
    use matdiff::derivative::text_lines;
    #[rustfmt::skip]
    let table: &[(&str, &str, &str, &str, &str)] = &[
        ("hessian", "log(sum(exp(x)))", "x: vector(n)", "x",
            "diag(p) - p*p'\nwhere p = exp(x)/sum(exp(x))"),
        ("derivative", "exp(x)/sum(exp(x))", "x: vector(n)", "x",
            "diag(p) - p*p'\nwhere p = exp(x)/sum(exp(x))"),
        ("derivative", "softmax(z)", "z: vector(n)", "z", "diag(p) - p*p'\nwhere p = softmax(z)"),
        ("hessian", "-y'*log(softmax(W*x))", "W: matrix(m,n); x: vector(n); y: vector(m)", "x",
            "sum(y)*W'*(diag(p) - p*p')*W\nwhere p = softmax(W*x)"),
        ("hessian", "sum(softplus(A*x)) - y'*A*x", "A: matrix(N,d); x: vector(d); y: vector(N)", "x",
            "A'*diag(w)*A\nwhere w = sigmoid(A*x).*(1 - sigmoid(A*x))"),
        ("hessian", "sum(softplus(-y.*(A*x)))", "A: matrix(N,d); x: vector(d); y: vector(N)", "x",
            "A'*diag(w)*A\nwhere w = y.^2.*sigmoid(-y.*(A*x)).*(1 - sigmoid(-y.*(A*x)))"),
        ("hessian", "x'*A*x", "A: matrix(n,n); x: vector(n)", "x", "A + A'"),
        ("hessian", "tr(X'*A*X)", "A: matrix(n,n); X: matrix(n,k)", "X", "kron(eye(k), A + A')"),
        ("hessian", "0.5*norm2(W'*W*x - x)^2", "W: matrix(m,n); x: vector(n)", "W",
            "(kron(x*x'*W', W) + kron(W', W*x*x'))*commutation(m, n) + kron(eye(n), W*x*x'*W') \
             + kron(x*x', W*W') + kron(t0*x' + x*t0', eye(m))\nwhere t0 = W'*W*x - x"),
    ];
    for &(kind, expr, decl, wrt, want) in table {
        let case = Case {
            at: expr.into(),
            kind: kind.into(),
            expr: expr.into(),
            decl: decl.into(),
            wrt: wrt.into(),
            ..Case::default()
        };
        let (mut p, d) = run(&case);
        let lines = text_lines(&p, d.root);
        assert_eq!(lines.join("\n"), want, "{kind} of {expr} by {wrt}");
        let r = check(&p, &d, 7, 2);
        assert_eq!(r.outcome(), FdOutcome::Agrees, "{expr}: {r:?}");
        assert_eq!(r.dims.len(), 2, "{expr}: two dimension settings");
        assert_ne!(r.dims[0], r.dims[1], "{expr}: two different dimension settings");
        let defs: Vec<&str> = lines[1..].iter().map(|l| l.strip_prefix("where ").expect("a where line")).collect();
        let src = defs.iter().copied().chain([lines[0].as_str()]).collect::<Vec<_>>().join("\n");
        let back = p.claim(&src).unwrap_or_else(|e| panic!("{expr}: {src} does not re-read: {e}"));
        let diff = max_diff(&p, d.root, back, 3).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert!(diff < 1e-10, "{expr}: {src} differs by {diff:e}");
    }
}
