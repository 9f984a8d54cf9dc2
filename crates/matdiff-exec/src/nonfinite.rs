//! Where a NaN or an infinity first appears in an evaluation, in words: the operation and the
//! entry of its argument that caused it ("log of a negative entry: x[0] = -1").

use crate::eval::{eval, Env};
use faer::Mat;
use matdiff_core::{print, Func, Graph, NodeId, Op, Style};

/// The first operation (in evaluation order) whose value is not finite although its
/// arguments are.
#[derive(Clone, Debug, PartialEq)]
pub struct NonFinite {
    /// The node that produced it.
    pub node: NodeId,
    /// What happened, e.g. `log of a negative entry: x[0] = -1`.
    pub message: String,
}

/// Find the first non-finite value on the way to `roots` (reference evaluator; call
/// `check_sizes` first). `None` when every value is finite.
pub fn first_nonfinite(g: &Graph, roots: &[NodeId], env: &Env) -> Option<NonFinite> {
    let order = g.reachable(roots);
    let vals = eval(g, &order, env);
    let at = |id: NodeId| &vals[order.binary_search(&id).expect("children are reachable")];
    for (k, &n) in order.iter().enumerate() {
        let v = &vals[k];
        if is_finite(v) || !g.op(n).children().into_iter().all(|c| is_finite(at(c))) {
            continue;
        }
        return Some(NonFinite { node: n, message: describe(g, n, v, &at) });
    }
    None
}

fn is_finite(m: &Mat<f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}

/// The first non-finite entry of `v`, in reading order (row by row).
fn first_bad(v: &Mat<f64>) -> (usize, usize) {
    (0..v.nrows())
        .flat_map(|i| (0..v.ncols()).map(move |j| (i, j)))
        .find(|&(i, j)| !v[(i, j)].is_finite())
        .unwrap_or((0, 0))
}

/// A node's text, shortened, parenthesized when it is not a plain name.
fn name(g: &Graph, n: NodeId) -> String {
    let s = print(g, n, Style::Plain);
    let s = if s.chars().count() > 60 { format!("{}…", s.chars().take(59).collect::<String>()) } else { s };
    if s.chars().all(|c| c.is_alphanumeric() || c == '_') {
        s
    } else {
        format!("({s})")
    }
}

/// `x[2] = -1`, `A[0, 1] = 0`, `a = 0`.
fn entry(g: &Graph, n: NodeId, m: &Mat<f64>, (i, j): (usize, usize)) -> String {
    let s = g.shape(n);
    let x = m[(i, j)];
    if s.is_scalar() {
        format!("{} = {x}", name(g, n))
    } else if s.cols.is_none() {
        format!("{}[{i}] = {x}", name(g, n))
    } else {
        format!("{}[{i}, {j}] = {x}", name(g, n))
    }
}

fn what(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else {
        "an infinity"
    }
}

fn describe<'a>(g: &Graph, n: NodeId, v: &Mat<f64>, at: &dyn Fn(NodeId) -> &'a Mat<f64>) -> String {
    let (i, j) = first_bad(v);
    let bad = v[(i, j)];
    match g.op(n) {
        Op::Map(f, a) => {
            let arg = at(*a);
            let x = arg[(i, j)];
            let why = match f {
                Func::Log if x < 0.0 => "log of a negative entry",
                Func::Log => "log of zero",
                Func::Sqrt => "sqrt of a negative entry",
                Func::Exp => "exp overflows",
                Func::Tan => "tan at a pole",
                _ => "",
            };
            if why.is_empty() {
                format!("{} gives {}: {}", f.name(), what(bad), entry(g, *a, arg, (i, j)))
            } else {
                format!("{why}: {}", entry(g, *a, arg, (i, j)))
            }
        }
        Op::Pow(a, p) => {
            let arg = at(*a);
            let (x, p) = (arg[(i, j)], p.get());
            let why = if x == 0.0 && p < 0.0 {
                "division by zero".to_string()
            } else if x < 0.0 && p.fract() != 0.0 {
                format!("the power {p} of a negative entry")
            } else {
                format!("the power {p} overflows")
            };
            format!("{why}: {}", entry(g, *a, arg, (i, j)))
        }
        Op::Inv(a) => format!("the inverse of a singular matrix: {}", name(g, *a)),
        Op::LogDet(a) => {
            format!("logdet of a matrix whose determinant is not positive: {}", name(g, *a))
        }
        Op::Det(a) => format!("the determinant overflows: {}", name(g, *a)),
        Op::Scale(s, x) => {
            let (sv, xv) = (at(*s), at(*x));
            format!(
                "{} from a product (overflow): {} times {}",
                what(bad),
                entry(g, *s, sv, (0, 0)),
                entry(g, *x, xv, (i, j))
            )
        }
        op => {
            let kind = match op {
                Op::Lin(_) => "a sum",
                Op::MatMul(_) => "a matrix product",
                Op::Hadamard(..) => "an entrywise product",
                Op::Sum(_) => "sum",
                Op::SqNorm(_) | Op::Norm2(_) => "norm2",
                Op::Norm1(_) => "norm1",
                Op::Dot(..) => "an inner product",
                Op::Trace(_) => "tr",
                Op::Softmax(_) => "softmax",
                _ => "an operation",
            };
            let r =
                if v.nrows() * v.ncols() > 1 { format!(" at entry {}", index(g, n, (i, j))) } else { String::new() };
            format!("{} from {kind}{r} (overflow): {}", what(bad), name(g, n))
        }
    }
}

fn index(g: &Graph, n: NodeId, (i, j): (usize, usize)) -> String {
    if g.shape(n).cols.is_none() {
        format!("[{i}]")
    } else {
        format!("[{i}, {j}]")
    }
}
