//! `softmax(z)`: values, gradients and Hessians stay finite and right where the naive
//! `exp(z)/sum(exp(z))` overflows (entries near 1000) or underflows (near -1000), in both
//! evaluators, each result compared with the closed form and with central differences taken
//! at that very point; bad arguments are spanned errors.

use faer::Mat;
use matdiff::derivative::hessian;
use matdiff::{bind, eval, Compiled, ErrorKind, NodeId, Problem, Value};
use std::collections::HashMap;

/// `softmax(z)` computed in the test, shifted by the maximum (an independent few lines).
fn reference_softmax(z: &[f64]) -> Vec<f64> {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|x| (x - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// The values of `roots` at `inputs`, by the reference and by the compiled evaluator (which
/// must agree to 1e-12 relative, entry by entry, and be finite).
fn both(p: &Problem, roots: &[NodeId], inputs: &[(&str, Vec<f64>)]) -> Vec<Mat<f64>> {
    let values: HashMap<String, Value> =
        inputs.iter().map(|(n, v)| (n.to_string(), Value::Vector(v.clone()))).collect();
    let env = bind(p.graph(), &values).unwrap();
    let reference = eval(p.graph(), roots, &env);
    let args: Vec<_> = env.vars.iter().map(|m| m.as_ref()).collect();
    let compiled = Compiled::new(p.graph(), roots).run_owned(&args).unwrap();
    for (r, c) in reference.iter().zip(&compiled) {
        for j in 0..r.ncols() {
            for i in 0..r.nrows() {
                let (x, y) = (r[(i, j)], c[(i, j)]);
                assert!(x.is_finite() && y.is_finite(), "not finite: {x} (reference), {y} (compiled)");
                assert!((x - y).abs() <= 1e-12 * x.abs().max(y.abs()), "evaluators differ: {x} vs {y}");
            }
        }
    }
    reference
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: {got} vs {want}");
}

/// d loss / d z_i by central differences of the evaluated loss, at `z` itself (divided by the
/// step actually taken: near 1e6 a step of 1e-5 is not exact in floating point).
fn central(p: &Problem, z: &[f64], y: &[f64], i: usize) -> f64 {
    let h = 1e-5;
    let at = |zi: f64| {
        let mut z = z.to_vec();
        z[i] = zi;
        both(p, &[p.output], &[("z", z), ("y", y.to_vec())])[0][(0, 0)]
    };
    let (up, down) = (z[i] + h, z[i] - h);
    (at(up) - at(down)) / (up - down)
}

#[test]
fn extreme_entries_give_finite_right_values_gradients_and_hessians() {
    let y = vec![0.2, 1.0, 0.5];
    let points = [
        vec![1000.0, 1001.0, 999.0],
        vec![-1000.0, -1001.0, -999.0],
        vec![-1e6 + 1.0, -1e6 - 2.0, -1e6],
        vec![700.0, -30.0, 0.0],
        // An entry of softmax underflows to 0 here: its log is -inf (as after any softmax),
        // so only softmax itself and y'*softmax(z) are checked at this point.
        vec![-1e6, 0.0, 3.0],
    ];
    for z in &points {
        let p_want = reference_softmax(z);
        let sum_y: f64 = y.iter().sum();

        // softmax itself.
        let sm = Problem::new("softmax(z)", "z: vector(n)").unwrap();
        let v = both(&sm, &[sm.output], &[("z", z.clone())]);
        for i in 0..3 {
            close(v[0][(i, 0)], p_want[i], 1e-14, "softmax");
        }

        // y'*softmax(z): its gradient p.*y - (p'*y)*p, also by central differences at z.
        let mut lin = Problem::new("y'*softmax(z)", "z: vector(n); y: vector(n)").unwrap();
        let g = lin.gradients(&["z"]).unwrap().nodes[0];
        let vals = both(&lin, &[g], &[("z", z.clone()), ("y", y.clone())]);
        let py: f64 = (0..3).map(|i| p_want[i] * y[i]).sum();
        for i in 0..3 {
            let want = p_want[i] * y[i] - py * p_want[i];
            close(vals[0][(i, 0)], want, 1e-12, "gradient of y'*softmax(z)");
            close(central(&lin, z, &y, i), want, 1e-7, "central differences of y'*softmax(z)");
        }

        // Cross-entropy: its gradient sum(y)*p - y, its Hessian sum(y)*(diag(p) - p*p').
        if p_want.contains(&0.0) {
            continue;
        }
        let mut ce = Problem::new("-y'*log(softmax(z))", "z: vector(n); y: vector(n)").unwrap();
        let g = ce.gradients(&["z"]).unwrap().nodes[0];
        let h = hessian(&mut ce, "z").unwrap().root;
        let vals = both(&ce, &[ce.output, g, h], &[("z", z.clone()), ("y", y.clone())]);
        let loss: f64 = -(0..3).map(|i| y[i] * p_want[i].ln()).sum::<f64>();
        close(vals[0][(0, 0)], loss, 1e-12, "cross-entropy");
        for i in 0..3 {
            close(vals[1][(i, 0)], sum_y * p_want[i] - y[i], 1e-12, "cross-entropy gradient");
            for j in 0..3 {
                let d = if i == j { p_want[i] } else { 0.0 };
                close(vals[2][(i, j)], sum_y * (d - p_want[i] * p_want[j]), 1e-12, "cross-entropy Hessian");
            }
        }
    }
}

#[test]
fn bad_arguments_are_spanned_errors() {
    let cases = [
        ("softmax()", "", ErrorKind::Syntax),
        ("sum(softmax(x, y))", "x: vector(n); y: vector(n)", ErrorKind::Syntax),
        ("softmax(a)", "a: scalar", ErrorKind::Shape),
        ("sum(softmax(2))", "", ErrorKind::Shape),
        ("sum(softmax(W))", "W: matrix(m,n)", ErrorKind::Shape),
        ("sum(softmax(x'))", "x: vector(n)", ErrorKind::Shape),
    ];
    for (expr, decl, kind) in cases {
        let e = match Problem::new(expr, decl) {
            Ok(_) => panic!("`{expr}` is accepted"),
            Err(e) => e,
        };
        assert_eq!(e.kind, kind, "`{expr}`: {e}");
        let span = e.span.unwrap_or_else(|| panic!("`{expr}`: no span: {e}"));
        assert!(span.end <= expr.len() && span.start < span.end, "`{expr}`: span {span:?} outside the input");
        if kind == ErrorKind::Shape {
            assert!(e.message.starts_with("softmax takes a "), "`{expr}`: {}", e.message);
        }
    }
}
