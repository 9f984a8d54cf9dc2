//! Substitution in the IR: replace nodes by other nodes and re-simplify on the way up.

use matdiff_core::{Graph, NodeId, Op};
use std::collections::HashMap;

/// `root` with every node found in `map` replaced by its image, rebuilt through the
/// canonicalizing constructors. A rebuilt node that lands on a key of `map` is replaced too,
/// so substituting a definition's pieces can fold back into its name.
pub fn subst(g: &mut Graph, root: NodeId, map: &HashMap<NodeId, NodeId>) -> NodeId {
    subst_memo(g, root, map, &mut HashMap::new())
}

/// [`subst`] with the images found so far kept in `done`, to be passed again with the same
/// `map`: a later call visits only the nodes no earlier call reached, so substituting into a
/// sequence of growing expressions (each adjoint contains the previous one) is linear overall.
pub fn subst_memo(
    g: &mut Graph,
    root: NodeId,
    map: &HashMap<NodeId, NodeId>,
    done: &mut HashMap<NodeId, NodeId>,
) -> NodeId {
    if map.is_empty() {
        return root;
    }
    // The nodes below `root` not yet substituted; children have smaller ids than their parents,
    // so ascending order visits children first.
    let mut todo = vec![];
    let mut stack = vec![root];
    let mut seen = std::collections::HashSet::new();
    while let Some(n) = stack.pop() {
        if done.contains_key(&n) || !seen.insert(n) {
            continue;
        }
        matdiff_syntax::budget::tick();
        todo.push(n);
        if !map.contains_key(&n) {
            stack.extend(g.op(n).children());
        }
    }
    todo.sort_unstable();
    for n in todo {
        let new = match map.get(&n) {
            Some(&m) => m,
            None => {
                let op = g.op(n).clone();
                if op.children().iter().all(|c| done[c] == *c) {
                    n
                } else {
                    let rebuilt = rebuild(g, &op, n, &|c| done[&c]);
                    map.get(&rebuilt).copied().unwrap_or(rebuilt)
                }
            }
        };
        done.insert(n, new);
    }
    done[&root]
}

/// The node `op` (originally node `n`) with each child mapped by `m`, through the constructors.
pub fn rebuild(g: &mut Graph, op: &Op, n: NodeId, m: &dyn Fn(NodeId) -> NodeId) -> NodeId {
    match op {
        Op::Var(_) | Op::Const(_) | Op::Fill(_) | Op::Identity | Op::Commutation(..) => n,
        Op::Lin(ts) => {
            let ts = ts.iter().map(|(c, t)| (c.get(), m(*t))).collect();
            g.lin(ts)
        }
        Op::Scale(s, x) => g.scale(m(*s), m(*x)),
        Op::MatMul(fs) => {
            let fs = fs.iter().map(|f| m(*f)).collect();
            g.matmul(fs)
        }
        Op::Hadamard(a, b) => g.hadamard(m(*a), m(*b)),
        Op::Pow(a, p) => g.pow(m(*a), p.get()),
        Op::Map(f, a) => g.map(*f, m(*a)),
        Op::Transpose(a) => g.transpose(m(*a)),
        Op::Sum(a) => g.sum(m(*a)),
        Op::SqNorm(a) => g.sqnorm(m(*a)),
        Op::Norm1(a) => g.norm1(m(*a)),
        Op::Norm2(a) => g.norm2(m(*a)),
        Op::Dot(a, b) => g.dot(m(*a), m(*b)),
        Op::Trace(a) => g.trace(m(*a)),
        Op::Det(a) => g.det(m(*a)),
        Op::LogDet(a) => g.logdet(m(*a)),
        Op::Inv(a) => g.inv(m(*a)),
        Op::Diag(a) => g.diag(m(*a)),
        Op::DiagPart(a) => g.diag_part(m(*a)),
        Op::Kron(a, b) => {
            let shape = g.shape(n);
            g.kron_shaped(m(*a), m(*b), shape)
        }
        Op::Vectorize(a) => {
            let len = g.shape(n).rows.unwrap();
            g.vectorize_shaped(m(*a), len)
        }
        Op::Unvec(a) => {
            let s = g.shape(n);
            g.unvec(m(*a), s.rows.unwrap(), s.cols.unwrap())
        }
        Op::Softmax(a) => g.softmax(m(*a)),
    }
}
