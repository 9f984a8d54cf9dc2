//! Forward mode on the DAG: the directional derivative (differential) of nodes as new IR nodes.
//!
//! Given a variable X and a direction node D of X's shape, `jvp` builds for each node n the
//! node dn = d/dt n(X + tD) at t = 0, through the canonicalizing constructors, so the result is
//! plain matrix notation (`-inv(A)*dA*inv(A)`, `f'(a).*da`). The elementwise derivatives are
//! the reverse mode's (`diff::derivative`): one table of rules for both directions.
//! Hessian-vector products are `jvp` of a gradient; Jacobians are the linear map of a `jvp`
//! read off as a matrix (`linear.rs`).

use crate::diff::{derivative, softmax_product};
use crate::ir::{Func, Graph, NodeId, Op};

/// The directional derivatives of `roots` when variable node `var` moves along `dir` (a node
/// of the same shape, or the scalar 1 for a scalar variable). A root that does not depend on
/// `var` gets the zero of its shape.
pub fn jvp(g: &mut Graph, roots: &[NodeId], var: NodeId, dir: NodeId) -> Vec<NodeId> {
    let order = g.reachable(roots);
    // Tangent per node by id; `None` is an exact zero (the node does not depend on `var`).
    let mut tan: Vec<Option<NodeId>> = vec![None; g.len()];
    for &n in &order {
        matdiff_syntax::budget::tick();
        tan[n.index()] = if n == var { Some(dir) } else { tangent(g, n, &tan) };
    }
    roots
        .iter()
        .map(|&r| match tan[r.index()] {
            Some(t) => t,
            None => {
                let s = g.shape(r);
                g.zero(s)
            }
        })
        .collect()
}

/// The tangent of node `n` from its children's tangents `tan` (`None` where all are zero).
fn tangent(g: &mut Graph, n: NodeId, tan: &[Option<NodeId>]) -> Option<NodeId> {
    let op = g.op(n).clone();
    let t = |c: NodeId| tan[c.index()];
    if op.children().iter().all(|&c| t(c).is_none()) {
        return None;
    }
    let shape = g.shape(n);
    let out = match op {
        Op::Var(_) | Op::Const(_) | Op::Fill(_) | Op::Identity | Op::Commutation(..) => return None,
        Op::Lin(ts) => {
            let parts: Vec<(f64, NodeId)> = ts.iter().filter_map(|&(c, x)| t(x).map(|d| (c.get(), d))).collect();
            g.lin(parts)
        }
        Op::Scale(s, x) => {
            let mut parts = vec![];
            if let Some(ds) = t(s) {
                parts.push(g.scale(ds, x));
            }
            if let Some(dx) = t(x) {
                parts.push(g.scale(s, dx));
            }
            g.sum_of(&parts, shape)
        }
        Op::MatMul(fs) => {
            let mut parts = vec![];
            for i in 0..fs.len() {
                if let Some(d) = t(fs[i]) {
                    let mut f2 = fs.clone();
                    f2[i] = d;
                    parts.push(g.matmul(f2));
                }
            }
            g.sum_of(&parts, shape)
        }
        Op::Hadamard(a, b) => {
            let mut parts = vec![];
            if let Some(da) = t(a) {
                parts.push(g.hadamard(da, b));
            }
            if let Some(db) = t(b) {
                parts.push(g.hadamard(a, db));
            }
            g.sum_of(&parts, shape)
        }
        Op::Pow(a, p) => {
            let p = p.get();
            let d = g.pow(a, p - 1.0);
            let d = g.times(p, d);
            g.hadamard(d, t(a)?)
        }
        Op::Map(f, a) => {
            let d = derivative(g, f, a, n)?;
            g.hadamard(d, t(a)?)
        }
        Op::Transpose(a) => g.transpose(t(a)?),
        Op::Sum(a) => g.sum(t(a)?),
        Op::SqNorm(a) => {
            let d = g.dot(a, t(a)?);
            g.times(2.0, d)
        }
        Op::Norm2(a) => {
            let d = g.dot(a, t(a)?);
            let inv = g.pow(n, -1.0);
            g.scale(inv, d)
        }
        Op::Norm1(a) => {
            let sg = g.map(Func::Sign, a);
            g.dot(sg, t(a)?)
        }
        Op::Dot(a, b) => {
            let mut parts = vec![];
            if let Some(da) = t(a) {
                parts.push(g.dot(da, b));
            }
            if let Some(db) = t(b) {
                parts.push(g.dot(a, db));
            }
            g.sum_of(&parts, shape)
        }
        Op::Trace(a) => g.trace(t(a)?),
        Op::Det(a) => {
            // d det(A) = det(A)·tr(inv(A)*dA)
            let inv = g.inv(a);
            let p = g.matmul(vec![inv, t(a)?]);
            let tr = g.trace(p);
            g.scale(n, tr)
        }
        Op::LogDet(a) => {
            let inv = g.inv(a);
            let p = g.matmul(vec![inv, t(a)?]);
            g.trace(p)
        }
        Op::Inv(a) => {
            let p = g.matmul(vec![n, t(a)?, n]);
            g.neg(p)
        }
        Op::Diag(v) => g.diag(t(v)?),
        Op::DiagPart(m) => g.diag_part(t(m)?),
        Op::Kron(a, b) => {
            let mut parts = vec![];
            if let Some(da) = t(a) {
                parts.push(g.kron_shaped(da, b, shape));
            }
            if let Some(db) = t(b) {
                parts.push(g.kron_shaped(a, db, shape));
            }
            g.sum_of(&parts, shape)
        }
        Op::Vectorize(a) => g.vectorize_shaped(t(a)?, shape.rows.unwrap_or(0)),
        Op::Unvec(v) => g.unvec(t(v)?, shape.rows.unwrap(), shape.cols.unwrap()),
        Op::Softmax(z) => softmax_product(g, n, t(z)?),
    };
    Some(out)
}
