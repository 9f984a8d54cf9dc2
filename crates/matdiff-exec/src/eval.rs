//! Numeric evaluation of IR nodes with faer (Cholesky for symmetric, LU otherwise).

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, MatMut, MatRef, Side};
use matdiff_core::Shape;
use matdiff_core::{Graph, NodeId, Op};
use matdiff_syntax::{Error, Input, Result};
use std::collections::HashMap;

/// Refuse any intermediate with more entries than this (about 800 MB of f64).
pub const MAX_ENTRIES: usize = 100_000_000;

/// A user-level value, as read from inputs or printed as output.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// A column vector's entries.
    Vector(Vec<f64>),
    /// Row-major list of rows.
    Matrix(Vec<Vec<f64>>),
}

/// Dimension sizes and variable values for one evaluation.
#[derive(Clone, Debug)]
pub struct Env {
    /// Size of each dimension, indexed by `DimId`.
    pub dims: Vec<usize>,
    /// Value of each variable, indexed like `Graph::vars`.
    pub vars: Vec<Mat<f64>>,
}

impl Env {
    /// The concrete `(rows, cols)` of a symbolic shape.
    pub fn size(&self, s: Shape) -> (usize, usize) {
        (s.rows.map_or(1, |d| self.dims[d as usize]), s.cols.map_or(1, |d| self.dims[d as usize]))
    }
}

/// Bind named inputs to the graph's variables, reading dimensions off them.
pub fn bind(g: &Graph, inputs: &HashMap<String, Value>) -> Result<Env> {
    let mut dims: Vec<Option<(usize, String)>> =
        g.dims().dims().iter().map(|d| d.size.map(|k| (k, format!("its declared size {k}")))).collect();
    let mut vars = vec![];
    for v in g.vars() {
        let Some(value) = inputs.get(&v.name) else {
            return Err(Error::unspanned(Input::Values, format!("no value given for `{}`", v.name)).with_note(
                format!(
                    "`{}` is {}; add it to the inputs, e.g. \"{}\": {}",
                    v.name,
                    g.dims().describe(v.shape),
                    v.name,
                    example_value(v.shape)
                ),
            ));
        };
        let m =
            to_mat(value).map_err(|msg| Error::unspanned(Input::Values, format!("the value of `{}` {msg}", v.name)))?;
        let kind_ok = match (v.shape.rows, v.shape.cols) {
            (None, None) => m.nrows() == 1 && m.ncols() == 1,
            (Some(_), None) => m.ncols() == 1 && matches!(value, Value::Vector(_) | Value::Matrix(_)),
            _ => matches!(value, Value::Matrix(_)) || m.ncols() == 1,
        };
        if !kind_ok {
            return Err(Error::unspanned(
                Input::Values,
                format!(
                    "`{}` should be {}, but its value is {}",
                    v.name,
                    g.dims().describe(v.shape),
                    describe_value(value)
                ),
            )
            .with_note(format!("write {} as {}", g.dims().describe(v.shape), example_value(v.shape))));
        }
        let along_rows = if v.shape.cols.is_none() { "length" } else { "rows" };
        for (d, k, which) in [(v.shape.rows, m.nrows(), along_rows), (v.shape.cols, m.ncols(), "columns")] {
            let Some(d) = d else { continue };
            let from = format!("the {which} of `{}`", v.name);
            match &dims[d as usize] {
                Some((k0, from0)) if *k0 != k => {
                    let name = g.dims().name(d);
                    let uses: Vec<String> = g
                        .vars()
                        .iter()
                        .filter(|w| [w.shape.rows, w.shape.cols].contains(&Some(d)))
                        .map(|w| format!("`{}` is {}", w.name, g.dims().describe(w.shape)))
                        .collect();
                    if g.dims().dims()[d as usize].size.is_some() {
                        return Err(Error::unspanned(
                            Input::Values,
                            format!("{from} is {k}, but it is declared as {k0}"),
                        )
                        .with_note(format!("`{}` is {}", v.name, g.dims().describe(v.shape))));
                    }
                    return Err(Error::unspanned(
                        Input::Values,
                        format!("dimension {name} is {k0} from {from0} but {k} from {from}"),
                    )
                    .with_note(format!("{}: all sizes named {name} must agree", uses.join(", "))));
                }
                Some(_) => {}
                None => dims[d as usize] = Some((k, from)),
            }
        }
        if v.symmetric {
            let asym = (0..m.nrows())
                .flat_map(|i| (0..i).map(move |j| (i, j)))
                .any(|(i, j)| (m[(i, j)] - m[(j, i)]).abs() > 1e-9 * (1.0 + m[(i, j)].abs()));
            if asym {
                return Err(Error::unspanned(
                    Input::Values,
                    format!("`{}` is declared symmetric but its value is not", v.name),
                ));
            }
        }
        vars.push(m);
    }
    let mut sizes: Vec<usize> = dims.into_iter().map(|d| d.map_or(usize::MAX, |(k, _)| k)).collect();
    if let Some((d, given, product)) = g.dims().fill_products(&mut sizes) {
        let name = g.dims().name(d);
        let uses: Vec<String> = g
            .vars()
            .iter()
            .filter(|w| [w.shape.rows, w.shape.cols].contains(&Some(d)))
            .map(|w| format!("`{}` is {}", w.name, g.dims().describe(w.shape)))
            .collect();
        return Err(Error::unspanned(
            Input::Values,
            format!("dimension {name} is {given} from the inputs, but the product of its factors is {product}"),
        )
        .with_note(uses.join(", ")));
    }
    Ok(Env { dims: sizes, vars })
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::Scalar(_) => "a number".into(),
        Value::Vector(x) => format!("a list of {} numbers", x.len()),
        Value::Matrix(r) => format!("a list of {} rows of {} numbers", r.len(), r.first().map_or(0, |x| x.len())),
    }
}

/// How a value of this shape is written in the inputs.
fn example_value(s: Shape) -> &'static str {
    match (s.rows, s.cols) {
        (None, None) => "1.5",
        (Some(_), None) => "[1, 2, 3] (a list of numbers)",
        _ => "[[1, 2], [3, 4]] (a list of rows)",
    }
}

fn to_mat(v: &Value) -> std::result::Result<Mat<f64>, String> {
    match v {
        Value::Scalar(x) => Ok(Mat::from_fn(1, 1, |_, _| *x)),
        Value::Vector(x) => {
            if x.is_empty() {
                return Err("is an empty list".into());
            }
            Ok(Mat::from_fn(x.len(), 1, |i, _| x[i]))
        }
        Value::Matrix(rows) => {
            let c = rows.first().map_or(0, |r| r.len());
            if rows.is_empty() || c == 0 {
                return Err("is empty".into());
            }
            if let Some(i) = rows.iter().position(|r| r.len() != c) {
                return Err(format!("has rows of different lengths (row 0 has {c}, row {i} has {})", rows[i].len()));
            }
            Ok(Mat::from_fn(rows.len(), c, |i, j| rows[i][j]))
        }
    }
}

/// Convert a result to a user-level value (scalar, vector, or rows).
pub fn to_value(m: &Mat<f64>, shape: Shape) -> Value {
    if shape.is_scalar() {
        Value::Scalar(m[(0, 0)])
    } else if shape.is_col() {
        Value::Vector((0..m.nrows()).map(|i| m[(i, 0)]).collect())
    } else {
        Value::Matrix((0..m.nrows()).map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect()).collect())
    }
}

/// Check every dimension the roots need is known and no intermediate is absurdly large.
pub fn check_sizes(g: &Graph, roots: &[NodeId], env: &Env) -> Result<()> {
    for n in g.reachable(roots) {
        let s = g.shape(n);
        let inner = match g.op(n) {
            matdiff_core::Op::Commutation(a, b) => vec![*a, *b],
            _ => vec![],
        };
        for d in [s.rows, s.cols].into_iter().flatten().chain(inner) {
            if env.dims[d as usize] == usize::MAX {
                return Err(Error::unspanned(Input::Values, format!("cannot tell the size of dimension {} from the inputs", g.dims().name(d)))
                    .with_note("it appears only in eye(..), vector(..) or matrix(..); give it a size with eye(3) or through a variable"));
            }
        }
        let (r, c) = env.size(s);
        if r.saturating_mul(c) > MAX_ENTRIES {
            return Err(Error::unspanned(
                Input::Values,
                format!("an intermediate result would be {r}×{c}, more than {MAX_ENTRIES} entries"),
            )
            .with_note("that is too large to evaluate; use smaller inputs or dimensions"));
        }
    }
    Ok(())
}

/// Evaluate `roots` (call `check_sizes` first).
pub fn eval(g: &Graph, roots: &[NodeId], env: &Env) -> Vec<Mat<f64>> {
    let order = g.reachable(roots);
    let mut vals: HashMap<NodeId, Mat<f64>> = HashMap::with_capacity(order.len());
    for n in order {
        matdiff_syntax::budget::tick();
        let v = eval_node(g, n, env, &vals);
        vals.insert(n, v);
    }
    roots.iter().map(|r| vals[r].clone()).collect()
}

fn scalar(m: &Mat<f64>) -> f64 {
    m[(0, 0)]
}

fn sc(x: f64) -> Mat<f64> {
    Mat::from_fn(1, 1, |_, _| x)
}

fn eval_node(g: &Graph, n: NodeId, env: &Env, vals: &HashMap<NodeId, Mat<f64>>) -> Mat<f64> {
    let node = g.node(n);
    let (r, c) = env.size(node.shape);
    let v = |id: &NodeId| &vals[id];
    match &node.op {
        Op::Var(i) => env.vars[*i as usize].clone(),
        Op::Const(x) => sc(x.get()),
        Op::Fill(x) => Mat::from_fn(r, c, |_, _| x.get()),
        Op::Identity => Mat::from_fn(r, c, |i, j| if i == j { 1.0 } else { 0.0 }),
        Op::Lin(ts) => {
            let mut acc = Mat::<f64>::zeros(r, c);
            for (k, t) in ts {
                let k = k.get();
                let x = v(t);
                for j in 0..c {
                    for i in 0..r {
                        acc[(i, j)] += k * x[(i, j)];
                    }
                }
            }
            acc
        }
        Op::Scale(s, x) => {
            let s = scalar(v(s));
            let x = v(x);
            Mat::from_fn(r, c, |i, j| s * x[(i, j)])
        }
        Op::MatMul(fs) => chain(fs.iter().map(v).collect()),
        Op::Hadamard(a, b) => {
            let (a, b) = (v(a), v(b));
            Mat::from_fn(r, c, |i, j| a[(i, j)] * b[(i, j)])
        }
        Op::Pow(a, p) => {
            let (a, p) = (v(a), p.get());
            let ip = p as i32;
            if p.fract() == 0.0 && p.abs() < 64.0 {
                Mat::from_fn(r, c, |i, j| a[(i, j)].powi(ip))
            } else {
                Mat::from_fn(r, c, |i, j| a[(i, j)].powf(p))
            }
        }
        Op::Map(f, a) => {
            let a = v(a);
            Mat::from_fn(r, c, |i, j| f.apply(a[(i, j)]))
        }
        Op::Transpose(a) => v(a).transpose().to_owned(),
        Op::Sum(a) => sc(entries(v(a)).sum()),
        Op::SqNorm(a) => sc(entries(v(a)).map(|x| x * x).sum()),
        Op::Norm1(a) => sc(entries(v(a)).map(f64::abs).sum()),
        Op::Norm2(a) => sc(entries(v(a)).map(|x| x * x).sum::<f64>().sqrt()),
        Op::Dot(a, b) => {
            let (a, b) = (v(a), v(b));
            sc(entries(a).zip(entries(b)).map(|(x, y)| x * y).sum())
        }
        Op::Trace(a) => {
            let a = v(a);
            sc((0..a.nrows()).map(|i| a[(i, i)]).sum())
        }
        Op::Det(a) => sc(v(a).determinant()),
        Op::LogDet(a) => sc(logdet(v(a), g.node(*a).symmetric)),
        Op::Inv(a) => inverse_of(v(a), g.node(*a).symmetric),
        Op::Diag(a) => {
            let a = v(a);
            Mat::from_fn(r, c, |i, j| if i == j { a[(i, 0)] } else { 0.0 })
        }
        Op::DiagPart(a) => {
            let a = v(a);
            Mat::from_fn(r, 1, |i, _| a[(i, i)])
        }
        Op::Kron(a, b) => {
            let (a, b) = (v(a), v(b));
            let (p, q) = (b.nrows(), b.ncols());
            Mat::from_fn(r, c, |i, j| a[(i / p, j / q)] * b[(i % p, j % q)])
        }
        Op::Vectorize(a) => {
            let a = v(a);
            let m = a.nrows();
            Mat::from_fn(r, 1, |i, _| a[(i % m, i / m)])
        }
        Op::Unvec(a) => {
            let a = v(a);
            Mat::from_fn(r, c, |i, j| a[(i + j * r, 0)])
        }
        Op::Commutation(m, n) => {
            let (m, n) = (env.dims[*m as usize], env.dims[*n as usize]);
            Mat::from_fn(r, c, |i, j| if i == (j / m) + n * (j % m) { 1.0 } else { 0.0 })
        }
        Op::Softmax(a) => {
            let mut out = Mat::<f64>::zeros(r, 1);
            softmax_into(v(a).as_ref(), out.as_mut());
            out
        }
    }
}

/// `out = exp(z - max(z))/sum(exp(z - max(z)))` for a column `z`: the softmax of both
/// evaluators (the compiled one calls it on its buffers; it allocates nothing). Shifting by
/// the maximum makes every exponent at most 0, so nothing overflows and the sum is at least 1
/// (the maximal entry contributes exp(0)): softmax([1000, 1001, 999]) and softmax([-1000, ..])
/// are finite. A NaN or infinite entry gives NaNs, as `exp(z)/sum(exp(z))` would.
pub(crate) fn softmax_into(z: MatRef<'_, f64>, mut out: MatMut<'_, f64>) {
    let n = z.nrows();
    let mut max = f64::NEG_INFINITY;
    for i in 0..n {
        // `max` skips NaN; a NaN entry still spreads through its own exponential below.
        max = max.max(z[(i, 0)]);
    }
    let mut sum = 0.0;
    for i in 0..n {
        let e = (z[(i, 0)] - max).exp();
        out[(i, 0)] = e;
        sum += e;
    }
    for i in 0..n {
        out[(i, 0)] /= sum;
    }
}

fn entries(m: &Mat<f64>) -> impl Iterator<Item = f64> + '_ {
    (0..m.ncols()).flat_map(move |j| (0..m.nrows()).map(move |i| m[(i, j)]))
}

/// Product of a chain in the cheapest association order for the actual sizes.
pub fn chain(fs: Vec<&Mat<f64>>) -> Mat<f64> {
    let k = fs.len();
    let dims: Vec<f64> = std::iter::once(fs[0].nrows()).chain(fs.iter().map(|m| m.ncols())).map(|d| d as f64).collect();
    let split = matdiff_core::chain_order(&dims, |_, _| false).split;
    fn go(fs: &[&Mat<f64>], split: &[Vec<usize>], i: usize, j: usize) -> Mat<f64> {
        if i == j {
            return fs[i].clone();
        }
        let s = split[i][j];
        let a = go(fs, split, i, s);
        let b = go(fs, split, s + 1, j);
        &a * &b
    }
    go(&fs, &split, 0, k - 1)
}

/// log det by Cholesky when symmetric positive definite, else by LU (NaN when det ≤ 0).
fn logdet(a: &Mat<f64>, symmetric: bool) -> f64 {
    if symmetric {
        if let Ok(llt) = a.llt(Side::Lower) {
            let l = llt.L();
            return 2.0 * (0..l.nrows()).map(|i| l[(i, i)].ln()).sum::<f64>();
        }
    }
    let d = a.determinant();
    if d > 0.0 {
        let lu = a.partial_piv_lu();
        let u = lu.U();
        (0..u.nrows()).map(|i| u[(i, i)].abs().ln()).sum()
    } else {
        f64::NAN
    }
}

/// The inverse (Cholesky when declared or structurally symmetric and positive definite, else LU).
pub(crate) fn inverse_of(a: &Mat<f64>, symmetric: bool) -> Mat<f64> {
    if symmetric {
        if let Ok(llt) = a.llt(Side::Lower) {
            return llt.inverse();
        }
    }
    a.partial_piv_lu().inverse()
}
