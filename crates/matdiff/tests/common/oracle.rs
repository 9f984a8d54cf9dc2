//! A deliberately naive evaluator of syntax trees, independent of the IR: it applies each
//! operator as written (no canonicalization, no shared subterms), so it is the reference a
//! simplification is checked against. Scalars are 1×1, vectors n×1.

use faer::linalg::solvers::DenseSolveCore;
use faer::Mat;
use matdiff::syntax::{BinOp, Expr, ExprKind};
use matdiff::{Env, Graph};

/// The value of `e` with the graph's variables bound to `env` (dimension names resolved
/// through the graph, for `eye(n)`).
pub fn eval_tree(e: &Expr, g: &Graph, env: &Env) -> Result<Mat<f64>, String> {
    let rec = |x: &Expr| eval_tree(x, g, env);
    let scalar = |m: &Mat<f64>| m.nrows() == 1 && m.ncols() == 1;
    Ok(match &e.kind {
        ExprKind::Num(v) => Mat::from_fn(1, 1, |_, _| *v),
        ExprKind::Name(n) => {
            let k = g.vars().iter().position(|v| &v.name == n).ok_or(format!("oracle: unknown name {n}"))?;
            env.vars[k].clone()
        }
        ExprKind::Neg(a) => map(&rec(a)?, |x| -x),
        ExprKind::Transpose(a) => rec(a)?.transpose().to_owned(),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (rec(a)?, rec(b)?);
            match op {
                BinOp::Add => zip(&a, &b, |x, y| x + y)?,
                BinOp::Sub => zip(&a, &b, |x, y| x - y)?,
                BinOp::EMul => zip(&a, &b, |x, y| x * y)?,
                BinOp::EDiv => zip(&a, &b, |x, y| x / y)?,
                BinOp::Mul if scalar(&a) => map(&b, |y| a[(0, 0)] * y),
                BinOp::Mul if scalar(&b) => map(&a, |x| x * b[(0, 0)]),
                BinOp::Mul if a.ncols() == b.nrows() => &a * &b,
                BinOp::Div if scalar(&b) => map(&a, |x| x / b[(0, 0)]),
                BinOp::EPow if scalar(&b) => map(&a, |x| x.powf(b[(0, 0)])),
                BinOp::Pow if scalar(&a) && scalar(&b) => map(&a, |x| x.powf(b[(0, 0)])),
                BinOp::Pow if scalar(&b) && b[(0, 0)].fract() == 0.0 && b[(0, 0)] >= 0.0 => {
                    let mut p = Mat::<f64>::identity(a.nrows(), a.ncols());
                    for _ in 0..b[(0, 0)] as usize {
                        p = &p * &a;
                    }
                    p
                }
                _ => {
                    return Err(format!(
                        "oracle: cannot apply {op:?} to {}×{} and {}×{}",
                        a.nrows(),
                        a.ncols(),
                        b.nrows(),
                        b.ncols()
                    ))
                }
            }
        }
        ExprKind::Call { func, args, .. } => call(func, args, g, env)?,
    })
}

fn call(func: &str, args: &[Expr], g: &Graph, env: &Env) -> Result<Mat<f64>, String> {
    let one = |v: f64| Mat::from_fn(1, 1, |_, _| v);
    // A dimension written as a name, a number or a product of those.
    fn dim(e: &Expr, g: &Graph, env: &Env) -> Result<usize, String> {
        match &e.kind {
            ExprKind::Name(n) => (0..g.dims().dims().len())
                .find(|&d| g.dims().name(d as u32) == n)
                .map(|d| env.dims[d])
                .ok_or(format!("oracle: no dimension {n}")),
            ExprKind::Num(k) => Ok(*k as usize),
            ExprKind::Binary(BinOp::Mul, a, b) => Ok(dim(a, g, env)? * dim(b, g, env)?),
            _ => Err("oracle: not a dimension".into()),
        }
    }
    match (func, args) {
        ("eye", [n]) => {
            let n = dim(n, g, env)?;
            return Ok(Mat::identity(n, n));
        }
        ("kron", [a, b]) => {
            let (a, b) = (eval_tree(a, g, env)?, eval_tree(b, g, env)?);
            let (p, q) = (b.nrows(), b.ncols());
            return Ok(Mat::from_fn(a.nrows() * p, a.ncols() * q, |i, j| a[(i / p, j / q)] * b[(i % p, j % q)]));
        }
        ("unvec", [v, m, n]) => {
            let (v, m, n) = (eval_tree(v, g, env)?, dim(m, g, env)?, dim(n, g, env)?);
            return Ok(Mat::from_fn(m, n, |i, j| v[(i + m * j, 0)]));
        }
        ("commutation", [m, n]) => {
            // Row j + n*i of K picks entry i + m*j of vec(A): K*vec(A) = vec(A').
            let (m, n) = (dim(m, g, env)?, dim(n, g, env)?);
            return Ok(Mat::from_fn(m * n, m * n, |r, c| if r == c / m + n * (c % m) { 1.0 } else { 0.0 }));
        }
        _ => {}
    }
    let a = match args {
        [a] => eval_tree(a, g, env)?,
        _ => return Err(format!("oracle: {func} with {} arguments", args.len())),
    };
    let entries = || (0..a.ncols()).flat_map(|j| (0..a.nrows()).map(move |i| (i, j)));
    Ok(match func {
        "exp" => map(&a, f64::exp),
        "log" => map(&a, f64::ln),
        "sqrt" => map(&a, f64::sqrt),
        "tanh" => map(&a, f64::tanh),
        "sin" => map(&a, f64::sin),
        "cos" => map(&a, f64::cos),
        "abs" => map(&a, f64::abs),
        "sigmoid" => map(&a, |x| 1.0 / (1.0 + (-x).exp())),
        "softplus" => map(&a, |x| x.exp().ln_1p()),
        "sum" => one(entries().map(|(i, j)| a[(i, j)]).sum()),
        "norm2" => one(entries().map(|(i, j)| a[(i, j)] * a[(i, j)]).sum::<f64>().sqrt()),
        "norm1" => one(entries().map(|(i, j)| a[(i, j)].abs()).sum()),
        "tr" | "trace" => one((0..a.nrows()).map(|i| a[(i, i)]).sum()),
        "det" => one(a.determinant()),
        "logdet" => one(a.determinant().ln()),
        "inv" => a.partial_piv_lu().inverse(),
        "diag" if a.ncols() == 1 => Mat::from_fn(a.nrows(), a.nrows(), |i, j| if i == j { a[(i, 0)] } else { 0.0 }),
        "diag" => Mat::from_fn(a.nrows(), 1, |i, _| a[(i, i)]),
        "transpose" => a.transpose().to_owned(),
        "softmax" => {
            // Written out as exp(z)/sum(exp(z)), unshifted: an independent formula.
            let e = map(&a, f64::exp);
            let s: f64 = (0..e.nrows()).map(|i| e[(i, 0)]).sum();
            map(&e, |x| x / s)
        }
        "vec" => Mat::from_fn(a.nrows() * a.ncols(), 1, |k, _| a[(k % a.nrows(), k / a.nrows())]),
        _ => return Err(format!("oracle: no function {func}")),
    })
}

fn map(a: &Mat<f64>, f: impl Fn(f64) -> f64) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| f(a[(i, j)]))
}

fn zip(a: &Mat<f64>, b: &Mat<f64>, f: impl Fn(f64, f64) -> f64) -> Result<Mat<f64>, String> {
    if (a.nrows(), a.ncols()) != (b.nrows(), b.ncols()) {
        return Err(format!("oracle: {}×{} and {}×{} differ", a.nrows(), a.ncols(), b.nrows(), b.ncols()));
    }
    Ok(Mat::from_fn(a.nrows(), a.ncols(), |i, j| f(a[(i, j)], b[(i, j)])))
}
