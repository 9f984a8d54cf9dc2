//! Reverse-mode differentiation on the DAG: adjoints are built as new IR nodes.
//!
//! Each node's adjoint is the sum of the contributions pushed to it by its parents, processed
//! in reverse topological order (decreasing id). The trace of pushes is kept: it is the
//! backward pass a student writes by hand, and `steps` renders it.

use crate::ir::{Func, Graph, NodeId, Op};
use crate::rule::Rule;
use crate::shape::Shape;

/// One contribution along one edge: `child` receives `value` from `parent` by `rule`.
#[derive(Clone, Debug)]
pub struct Push {
    /// The user of `child` whose adjoint is propagated.
    pub parent: NodeId,
    /// The operand receiving the contribution.
    pub child: NodeId,
    /// The contribution itself, an IR node of the child's shape.
    pub value: NodeId,
    /// The local rule that produced it.
    pub rule: Rule,
}

/// The result of a backward pass from one scalar output.
#[derive(Clone, Debug)]
pub struct Backward {
    /// The scalar output the pass started from (its adjoint is 1).
    pub output: NodeId,
    /// Nodes whose value depends on a differentiated variable, in increasing id order.
    pub active: Vec<NodeId>,
    /// Adjoint of each active node (the summed contributions), indexed like `active`.
    pub adjoints: Vec<(NodeId, NodeId)>,
    /// Every contribution, in the order they were made.
    pub pushes: Vec<Push>,
}

impl Backward {
    /// The adjoint of `n`, if `n` is active.
    pub fn adjoint(&self, n: NodeId) -> Option<NodeId> {
        self.adjoints.iter().find(|(m, _)| *m == n).map(|p| p.1)
    }
}

/// Differentiate scalar `output` with respect to the variable nodes `wrt`, reverse mode.
pub fn backward(g: &mut Graph, output: NodeId, wrt: &[NodeId]) -> Backward {
    assert!(g.shape(output).is_scalar(), "backward from a non-scalar");
    let reach = g.reachable(&[output]);
    // A node is active when it depends on a differentiated variable.
    let mut active_flag = vec![false; g.len()];
    for &n in &reach {
        active_flag[n.index()] = wrt.contains(&n) || g.op(n).children().iter().any(|c| active_flag[c.index()]);
    }
    let active: Vec<NodeId> = reach.iter().copied().filter(|n| active_flag[n.index()]).collect();
    let mut contribs: Vec<Vec<NodeId>> = vec![vec![]; g.len()];
    let mut pushes = vec![];
    let mut adjoints = vec![];
    if active_flag[output.index()] {
        let one = g.constant(1.0);
        contribs[output.index()].push(one);
    }
    for &n in active.iter().rev() {
        matdiff_syntax::budget::tick();
        let parts = std::mem::take(&mut contribs[n.index()]);
        let shape = g.shape(n);
        let adj = g.sum_of(&parts, shape);
        adjoints.push((n, adj));
        if parts.is_empty() {
            continue;
        }
        for (child, value, rule) in local_pushes(g, n, adj) {
            if active_flag[child.index()] {
                contribs[child.index()].push(value);
                pushes.push(Push { parent: n, child, value, rule });
            }
        }
    }
    adjoints.reverse();
    Backward { output, active, adjoints, pushes }
}

/// The gradient of `output` w.r.t. each variable node (zero when it does not occur).
pub fn gradients(g: &mut Graph, output: NodeId, wrt: &[NodeId]) -> (Vec<NodeId>, Backward) {
    let bw = backward(g, output, wrt);
    let grads = wrt
        .iter()
        .map(|&v| match bw.adjoint(v) {
            Some(a) => a,
            None => {
                let s = g.shape(v);
                g.zero(s)
            }
        })
        .collect();
    (grads, bw)
}

/// Contributions from node `n` (with adjoint `adj`) to each of its children.
pub fn local_pushes(g: &mut Graph, n: NodeId, adj: NodeId) -> Vec<(NodeId, NodeId, Rule)> {
    let op = g.op(n).clone();
    let mut out = vec![];
    match op {
        Op::Var(_) | Op::Const(_) | Op::Fill(_) | Op::Identity => {}
        Op::Lin(ts) => {
            for (c, t) in ts {
                let v = g.times(c.get(), adj);
                out.push((t, v, Rule::Sum));
            }
        }
        Op::Scale(s, x) => {
            let vx = g.scale(s, adj);
            out.push((x, vx, Rule::ScaleArg));
            let vs = g.dot(adj, x);
            out.push((s, vs, if g.shape(x).is_scalar() { Rule::ScaleArg } else { Rule::ScaleFactor }));
        }
        Op::MatMul(fs) => {
            let k = fs.len();
            for i in 0..k {
                let mut parts = vec![];
                if i > 0 {
                    let left = g.matmul(fs[..i].to_vec());
                    parts.push(g.transpose(left));
                }
                parts.push(adj);
                if i + 1 < k {
                    let right = g.matmul(fs[i + 1..].to_vec());
                    parts.push(g.transpose(right));
                }
                let v = g.matmul(parts);
                let rule = match i {
                    0 => Rule::ProductLeft,
                    _ if i + 1 == k => Rule::ProductRight,
                    _ => Rule::ProductMiddle,
                };
                out.push((fs[i], v, rule));
            }
        }
        Op::Hadamard(a, b) => {
            let va = g.hadamard(adj, b);
            out.push((a, va, Rule::Hadamard));
            let vb = g.hadamard(adj, a);
            out.push((b, vb, Rule::Hadamard));
        }
        Op::Pow(a, p) => {
            let p = p.get();
            let d = g.pow(a, p - 1.0);
            let d = g.times(p, d);
            let v = g.hadamard(adj, d);
            out.push((a, v, Rule::Power));
        }
        Op::Map(f, a) => {
            if let Some(d) = derivative(g, f, a, n) {
                let v = g.hadamard(adj, d);
                out.push((a, v, Rule::Elementwise(f)));
            }
        }
        Op::Transpose(a) => {
            let v = g.transpose(adj);
            out.push((a, v, Rule::Transpose));
        }
        Op::Sum(a) => {
            let ones = g.fill(1.0, g.shape(a));
            let v = g.scale(adj, ones);
            out.push((a, v, Rule::SumEntries));
        }
        Op::SqNorm(a) => {
            let v = g.scale(adj, a);
            let v = g.times(2.0, v);
            out.push((a, v, Rule::SqNorm));
        }
        Op::Norm2(a) => {
            let inv = g.pow(n, -1.0);
            let s = g.scale(adj, inv);
            let v = g.scale(s, a);
            out.push((a, v, Rule::Norm2));
        }
        Op::Norm1(a) => {
            let sg = g.map(Func::Sign, a);
            let v = g.scale(adj, sg);
            out.push((a, v, Rule::Norm1));
        }
        Op::Dot(a, b) => {
            let va = g.scale(adj, b);
            out.push((a, va, Rule::Dot));
            let vb = g.scale(adj, a);
            out.push((b, vb, Rule::Dot));
        }
        Op::Trace(a) => {
            let i = g.identity(g.shape(a).rows.unwrap());
            let v = g.scale(adj, i);
            out.push((a, v, Rule::Trace));
        }
        Op::Det(a) => {
            let inv = g.inv(a);
            let it = g.transpose(inv);
            let s = g.scale(adj, n);
            let v = g.scale(s, it);
            out.push((a, v, Rule::Det));
        }
        Op::LogDet(a) => {
            let inv = g.inv(a);
            let it = g.transpose(inv);
            let v = g.scale(adj, it);
            out.push((a, v, Rule::LogDet));
        }
        Op::Inv(a) => {
            let nt = g.transpose(n);
            let p = g.matmul(vec![nt, adj, nt]);
            let v = g.neg(p);
            out.push((a, v, Rule::Inverse));
        }
        Op::Diag(v) => {
            let d = g.diag_part(adj);
            out.push((v, d, Rule::Diag));
        }
        Op::DiagPart(m) => {
            let d = g.diag(adj);
            out.push((m, d, Rule::DiagPart));
        }
        Op::Kron(a, b) => {
            let va = kron_adjoint(g, adj, a, b, true);
            out.push((a, va, Rule::Kron));
            let vb = kron_adjoint(g, adj, b, a, false);
            out.push((b, vb, Rule::Kron));
        }
        Op::Vectorize(a) => {
            let s = g.shape(a);
            let v = g.unvec(adj, s.rows.unwrap(), s.cols.unwrap());
            out.push((a, v, Rule::Vectorize));
        }
        Op::Unvec(v) => {
            let d = g.vectorize(adj);
            out.push((v, d, Rule::Unvec));
        }
        Op::Softmax(z) => {
            let v = softmax_product(g, n, adj);
            out.push((z, v, Rule::Softmax));
        }
        Op::Commutation(..) => {}
    }
    out
}

/// `p .* (v - p'*v)` for `p = softmax(z)` (the node `p`): the softmax Jacobian
/// `diag(p) - p*p'` (symmetric) applied to `v`. Reverse mode applies it to the adjoint,
/// forward mode to the tangent: one formula for both directions.
pub(crate) fn softmax_product(g: &mut Graph, p: NodeId, v: NodeId) -> NodeId {
    let pv = g.hadamard(p, v);
    let inner = g.dot(p, v);
    let shift = g.scale(inner, p);
    g.sub(pv, shift)
}

/// The adjoint of one factor of C = kron(A, B) (of A when `left`, else of B) with `other` the
/// other factor: Ā = Sᵣᵀ·(C̄ .* kron(1, B))·S꜀ with Sᵣ = kron(I, 1) summing each block's rows,
/// and B̄ = Rᵣᵀ·(C̄ .* kron(A, 1))·R꜀ with Rᵣ = kron(1, I) summing across blocks.
fn kron_adjoint(g: &mut Graph, adj: NodeId, this: NodeId, other: NodeId, left: bool) -> NodeId {
    let (st, so) = (g.shape(this), g.shape(other));
    let eye = |g: &mut Graph, d: Option<crate::shape::DimId>| match d {
        Some(d) => g.identity(d),
        None => g.constant(1.0),
    };
    let ones_col = |g: &mut Graph, d: Option<crate::shape::DimId>| g.fill(1.0, Shape { rows: d, cols: None });
    let (ir, ic) = (eye(g, st.rows), eye(g, st.cols));
    let (or, oc) = (ones_col(g, so.rows), ones_col(g, so.cols));
    let block = g.fill(1.0, st);
    let (sr, sc, tiled) = if left {
        (g.kron(ir, or), g.kron(ic, oc), g.kron(block, other))
    } else {
        (g.kron(or, ir), g.kron(oc, ic), g.kron(other, block))
    };
    let masked = g.hadamard(adj, tiled);
    let srt = g.transpose(sr);
    let left_part = g.mul(srt, masked);
    g.mul(left_part, sc)
}

/// f'(a) as a node, given the node `fa` = f(a); `None` where it is zero almost everywhere. Shared
/// with forward mode (`forward.rs`): one table of elementwise derivatives.
pub(crate) fn derivative(g: &mut Graph, f: Func, a: NodeId, fa: NodeId) -> Option<NodeId> {
    let shape: Shape = g.shape(a);
    let one_minus = |g: &mut Graph, x: NodeId| {
        let ones = g.fill(1.0, shape);
        g.sub(ones, x)
    };
    Some(match f {
        Func::Exp => fa,
        Func::Log => g.pow(a, -1.0),
        Func::Sin => g.map(Func::Cos, a),
        Func::Cos => {
            let s = g.map(Func::Sin, a);
            g.neg(s)
        }
        Func::Tan => {
            let c = g.map(Func::Cos, a);
            g.pow(c, -2.0)
        }
        Func::Tanh => {
            let sq = g.pow(fa, 2.0);
            one_minus(g, sq)
        }
        Func::Sqrt => {
            let r = g.pow(fa, -1.0);
            g.times(0.5, r)
        }
        Func::Abs => g.map(Func::Sign, a),
        Func::Sign | Func::Step => return None,
        Func::Relu => g.map(Func::Step, a),
        Func::Sigmoid => {
            let om = one_minus(g, fa);
            g.hadamard(fa, om)
        }
        Func::Softplus => g.map(Func::Sigmoid, a),
        Func::Swish => {
            // swish' = σ + swish.*(1 − σ)
            let sig = g.map(Func::Sigmoid, a);
            let om = one_minus(g, sig);
            let t = g.hadamard(fa, om);
            g.add(sig, t)
        }
    })
}
