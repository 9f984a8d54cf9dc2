//! Rewrites of derivative results into the forms an engineer writes, applied after
//! differentiation (the canonical forms stay as they are for everything else):
//! common factors of sums pulled out (`A*v + A'*v` is `(A + A')*v`, `kron(I, A) + kron(I, A')`
//! is `kron(I, A + A')`), scalars moved into a diagonal (`diag(e)/s` is `diag(e/s)`) and split
//! over an outer product (`e*e'/s^2` is `(e/s)*(e/s)'`), so that a value the gradient already
//! names meets itself (`diag(p) - p*p'` for the softmax Jacobian and log-sum-exp).

use crate::derivation::subst::rebuild;
use matdiff_core::{Graph, NodeId, Op};
use std::collections::HashMap;

/// `root` rewritten bottom-up by the rules above (each rewrite is an identity, so values are
/// unchanged; the tests check every result numerically).
pub(crate) fn readable(g: &mut Graph, root: NodeId) -> NodeId {
    let mut done: HashMap<NodeId, NodeId> = HashMap::new();
    for n in g.reachable(&[root]) {
        let op = g.op(n).clone();
        let rebuilt = if op.children().iter().all(|c| done[c] == *c) { n } else { rebuild(g, &op, n, &|c| done[&c]) };
        done.insert(n, rewrite(g, rebuilt));
    }
    done[&root]
}

/// One node's rewrite (its children are already rewritten).
fn rewrite(g: &mut Graph, n: NodeId) -> NodeId {
    match g.op(n).clone() {
        Op::Scale(s, x) if !g.shape(x).is_scalar() => match g.op(x).clone() {
            // s*diag(v) = diag(s*v)
            Op::Diag(v) => {
                let sv = g.scale(s, v);
                g.diag(sv)
            }
            // b^(2k)*u*w' = (b^k*u)*(b^k*w)'
            Op::MatMul(fs) if fs.len() == 2 && g.shape(fs[0]).is_col() && g.shape(fs[1]).is_row() => match *g.op(s) {
                Op::Pow(b, p) if p.get() % 2.0 == 0.0 => {
                    let half = g.pow(b, p.get() / 2.0);
                    let u = g.scale(half, fs[0]);
                    let wt = g.transpose(fs[1]);
                    let w = g.scale(half, wt);
                    let w = g.transpose(w);
                    g.matmul(vec![u, w])
                }
                _ => n,
            },
            _ => n,
        },
        Op::Lin(ts) if ts.len() > 1 => {
            let ts: Vec<(f64, NodeId)> = ts.iter().map(|(c, t)| (c.get(), *t)).collect();
            // diag(a) + diag(b) = diag(a + b)
            let (diags, others): (Vec<_>, Vec<_>) = ts.iter().partition(|(_, t)| matches!(g.op(*t), Op::Diag(_)));
            if diags.len() >= 2 {
                let args = diags.iter().map(|&(c, t)| (c, g.op(t).children()[0])).collect();
                let sum = g.lin(args);
                let mut terms = others;
                terms.push((1.0, g.diag(sum)));
                let merged = g.lin(terms);
                return rewrite(g, merged);
            }
            factor_sum(g, n, &ts)
        }
        Op::MatMul(fs) => {
            // diag(a)*diag(b) = diag(a.*b)
            if let Some(i) =
                (1..fs.len()).find(|&i| matches!(g.op(fs[i - 1]), Op::Diag(_)) && matches!(g.op(fs[i]), Op::Diag(_)))
            {
                let (a, b) = (g.op(fs[i - 1]).children()[0], g.op(fs[i]).children()[0]);
                let h = g.hadamard(a, b);
                let d = g.diag(h);
                let mut f2 = fs[..i - 1].to_vec();
                f2.push(d);
                f2.extend_from_slice(&fs[i + 1..]);
                let m = g.matmul(f2);
                return rewrite(g, m);
            }
            distribute_krons(g, n, &fs)
        }
        _ => n,
    }
}

/// A product with a sum of Kronecker products next to a Kronecker factor, multiplied out so
/// the Kronecker products meet (`kron(A,B)*kron(C,D) = kron(A*C, B*D)`):
/// `kron(x, W)*(kron(x', W') + …)` becomes `kron(x*x', W*W') + …`.
fn distribute_krons(g: &mut Graph, n: NodeId, fs: &[NodeId]) -> NodeId {
    let kron_at = |g: &Graph, t: NodeId, first: bool| match g.op(t) {
        Op::Kron(..) => true,
        Op::MatMul(ts) => matches!(g.op(if first { ts[0] } else { ts[ts.len() - 1] }), Op::Kron(..)),
        _ => false,
    };
    for j in 0..fs.len() {
        let Op::Lin(ts) = g.op(fs[j]).clone() else { continue };
        let left = j > 0 && matches!(g.op(fs[j - 1]), Op::Kron(..)) && ts.iter().all(|(_, t)| kron_at(g, *t, true));
        let right = j + 1 < fs.len()
            && matches!(g.op(fs[j + 1]), Op::Kron(..))
            && ts.iter().all(|(_, t)| kron_at(g, *t, false));
        if !(left || right) {
            continue;
        }
        let terms: Vec<(f64, NodeId)> = ts
            .iter()
            .map(|&(c, t)| {
                let mut f2 = fs[..j].to_vec();
                f2.push(t);
                f2.extend_from_slice(&fs[j + 1..]);
                let m = g.matmul(f2);
                (c.get(), rewrite(g, m))
            })
            .collect();
        let sum = g.lin(terms);
        return if sum == n { n } else { rewrite(g, sum) };
    }
    n
}

/// How a term splits around a factor it may share with other terms.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `kron(L, R)` grouped by L (the rest is R).
    KronLeft,
    /// `kron(L, R)` grouped by R.
    KronRight,
    /// A product grouped by its last factor.
    Last,
    /// A product grouped by its first factor.
    First,
}

/// `(shared factor, rest)` of a term for one side, when it has that form.
fn split(g: &mut Graph, t: NodeId, side: Side) -> Option<(NodeId, NodeId)> {
    match (g.op(t).clone(), side) {
        (Op::Kron(l, r), Side::KronLeft) => Some((l, r)),
        (Op::Kron(l, r), Side::KronRight) => Some((r, l)),
        (Op::MatMul(fs), Side::Last) => {
            let rest = g.matmul(fs[..fs.len() - 1].to_vec());
            Some((fs[fs.len() - 1], rest))
        }
        (Op::MatMul(fs), Side::First) => {
            let rest = g.matmul(fs[1..].to_vec());
            Some((fs[0], rest))
        }
        _ => None,
    }
}

/// A sum with terms that share a factor rewritten as that factor times the sum of the rest;
/// the first side (in the order of `Side`) that groups two terms or more wins.
fn factor_sum(g: &mut Graph, n: NodeId, ts: &[(f64, NodeId)]) -> NodeId {
    for side in [Side::KronLeft, Side::KronRight, Side::Last, Side::First] {
        let parts: Vec<Option<(NodeId, NodeId)>> = ts.iter().map(|&(_, t)| split(g, t, side)).collect();
        // The most frequent shared factor.
        let mut best: Option<(NodeId, usize)> = None;
        for (f, _) in parts.iter().flatten() {
            let k = parts.iter().flatten().filter(|(h, _)| h == f).count();
            if k >= 2 && best.is_none_or(|(_, bk)| k > bk) {
                best = Some((*f, k));
            }
        }
        let Some((f, _)) = best else { continue };
        let mut grouped = vec![];
        let mut others = vec![];
        for (&(c, t), part) in ts.iter().zip(&parts) {
            match part {
                Some((h, rest)) if *h == f => grouped.push((c, *rest)),
                _ => others.push((c, t)),
            }
        }
        let inner = g.lin(grouped);
        let inner = rewrite(g, inner);
        let shape = g.shape(n);
        let product = match side {
            Side::KronLeft => g.kron_shaped(f, inner, shape),
            Side::KronRight => g.kron_shaped(inner, f, shape),
            Side::Last => g.matmul(vec![inner, f]),
            Side::First => g.matmul(vec![f, inner]),
        };
        if others.is_empty() {
            return product;
        }
        others.push((1.0, product));
        let sum = g.lin(others);
        return if sum == n { n } else { rewrite(g, sum) };
    }
    n
}
