//! The structural order of nodes: the one order in which the operands of commutative
//! operations (terms of a sum, factors of a scalar or elementwise product, the sides of an
//! inner product) are stored and printed.
//!
//! Node ids follow creation order, which differs between a gradient built by the
//! differentiator and the same expression read back from its printed text; an order by id
//! made printing depend on how a node was built. The key below depends only on the
//! expression: it is computed once per node when the node is interned, from its operation
//! and its operands' keys, so comparing two nodes is O(1) however deep they are.

use super::{Graph, NodeId, Num, Op};
use crate::shape::Shape;
use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};

/// A node's place in the structural order (see [`Graph::cmp_nodes`]). Fields compare in
/// declaration order: denominators after everything else (`a*b/c`, `x.*y./z`), then variables
/// and their powers in declaration order (`a^2*b`), then simpler expressions first (lower,
/// then smaller: `a*sum(x)`, `a*c' + W*c*x'`), expressions of earlier variables first (`1/(a^2 + 1)/(b^2 + 1)`), then by
/// kind, by the leaf's own content (constants by value, exponents), and last by a 128-bit
/// structural hash that separates distinct expressions alike in all of that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Key {
    /// 1 for a negative power (a denominator), else 0.
    denominator: u8,
    /// 0 for a variable, its transpose or a power of it, else 1.
    group: u8,
    /// The variable's index in group 0, else 0.
    lead: u32,
    /// Height of the expression tree (a leaf is 1).
    height: u32,
    /// Nodes in the expression written out as a tree (saturating): `a*c'` before `W*c*x'`.
    size: u32,
    /// The smallest index of a variable in the expression (`u32::MAX` for none).
    first_var: u32,
    /// The kind of operation (`Rank`).
    rank: u8,
    /// A leaf's content: the variable's index, a constant's value as an ordered integer.
    leaf: u64,
    /// Structural hash of the whole expression (operation, payload, shape, operands' hashes).
    hash: u128,
}

/// Kinds in the order their nodes come among operands of the same height.
fn rank(op: &Op) -> u8 {
    match op {
        Op::Const(_) => 0,
        Op::Var(_) => 1,
        Op::Fill(_) => 2,
        Op::Identity => 3,
        Op::Commutation(..) => 4,
        Op::Transpose(_) => 5,
        Op::Map(..) => 6,
        Op::Pow(..) => 7,
        Op::Sum(_) => 8,
        Op::SqNorm(_) => 9,
        Op::Norm1(_) => 10,
        Op::Norm2(_) => 11,
        Op::Dot(..) => 12,
        Op::Trace(_) => 13,
        Op::Det(_) => 14,
        Op::LogDet(_) => 15,
        Op::Inv(_) => 16,
        Op::Diag(_) => 17,
        Op::DiagPart(_) => 18,
        Op::Vectorize(_) => 19,
        Op::Unvec(_) => 20,
        Op::Kron(..) => 21,
        Op::MatMul(_) => 22,
        Op::Hadamard(..) => 23,
        Op::Scale(..) => 24,
        Op::Lin(_) => 25,
        Op::Softmax(_) => 26,
    }
}

/// An `f64` as an integer in the same order (negative values below positive ones).
fn ordered_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

impl Graph {
    /// The structural key of `op` at `shape`, from its operands' keys (already computed: an
    /// operand is interned before its parent).
    pub(super) fn make_key(&self, op: &Op, shape: Shape) -> Key {
        let children = op.children();
        let rank = rank(op);
        if let Op::Lin(ts) = op {
            return self.sum_key(ts, shape, rank);
        }
        let height = 1 + children.iter().map(|c| self.keys[c.index()].height).max().unwrap_or(0);
        let size = children.iter().fold(1u32, |n, c| n.saturating_add(self.keys[c.index()].size));
        let first_var = match op {
            Op::Var(v) => *v,
            _ => children.iter().map(|c| self.keys[c.index()].first_var).min().unwrap_or(u32::MAX),
        };
        let monomial = match op {
            Op::Var(v) => Some(*v),
            Op::Transpose(a) | Op::Pow(a, _) => match self.op(*a) {
                Op::Var(v) => Some(*v),
                _ => None,
            },
            _ => None,
        };
        let (group, lead) = match monomial {
            Some(v) => (0, v),
            None => (1, 0),
        };
        let leaf = match op {
            Op::Var(v) => u64::from(*v),
            Op::Const(c) | Op::Fill(c) => ordered_bits(c.get()),
            Op::Pow(_, p) => ordered_bits(p.get()),
            _ => 0,
        };
        let denominator = u8::from(matches!(op, Op::Pow(_, p) if p.get() < 0.0));
        // Two independently seeded 64-bit hashes: distinct expressions collide with
        // probability about 2^-128 per pair.
        let half = |seed: u8| {
            let mut h = DefaultHasher::new();
            seed.hash(&mut h);
            std::mem::discriminant(op).hash(&mut h);
            match op {
                Op::Var(v) => v.hash(&mut h),
                Op::Const(c) | Op::Fill(c) | Op::Pow(_, c) => c.hash(&mut h),
                Op::Lin(ts) => ts.iter().for_each(|t| t.0.hash(&mut h)),
                Op::Map(f, _) => f.hash(&mut h),
                Op::Commutation(m, n) => (m, n).hash(&mut h),
                _ => {}
            }
            shape.hash(&mut h);
            for c in &children {
                self.keys[c.index()].hash.hash(&mut h);
            }
            h.finish()
        };
        let hash = (u128::from(half(0)) << 64) | u128::from(half(1));
        Key { denominator, group, lead, height, size, first_var, rank, leaf, hash }
    }

    /// The key of a sum is that of its terms with any sum added whole (coefficient 1) opened
    /// up: `a + b + c` reads back as (a + b) + c, which prints the same as the flat sum and
    /// must sort the same. Linear: the hash of a sum is the (commutative) wrapping sum of its
    /// terms' hashes, so a nested sum contributes its own hash, and its height less one.
    fn sum_key(&self, ts: &[(Num, NodeId)], shape: Shape, rank: u8) -> Key {
        let (mut height, mut hash, mut first_var, mut size) = (0u32, 0u128, u32::MAX, 1u32);
        for &(c, t) in ts {
            let k = self.keys[t.index()];
            first_var = first_var.min(k.first_var);
            if c.get() == 1.0 && matches!(self.op(t), Op::Lin(inner) if inner.len() > 1) {
                height = height.max(k.height - 1);
                size = size.saturating_add(k.size - 1);
                hash = hash.wrapping_add(k.hash);
                continue;
            }
            let half = |seed: u8| {
                let mut h = DefaultHasher::new();
                (seed, c, shape, k.hash).hash(&mut h);
                h.finish()
            };
            height = height.max(k.height);
            size = size.saturating_add(k.size);
            hash = hash.wrapping_add((u128::from(half(0)) << 64) | u128::from(half(1)));
        }
        Key { denominator: 0, group: 1, lead: 0, height: height + 1, size, first_var, rank, leaf: 0, hash }
    }

    /// The structural key of node `id`.
    fn key(&self, id: NodeId) -> Key {
        self.keys[id.index()]
    }

    /// The structural order of two nodes: by their structural keys, which depend on the
    /// expressions only. Distinct nodes have distinct keys unless their 128-bit hashes
    /// collide; only then does the id decide, so that the order stays total.
    pub fn cmp_nodes(&self, a: NodeId, b: NodeId) -> Ordering {
        self.key(a).cmp(&self.key(b)).then(a.cmp(&b))
    }

    /// The order in which the terms of a sum are written: matrix products first (`W*x + b`,
    /// `W2*swish(W1*x + b1) + b2`), terms without variables last (`A'*A + eye(n)`,
    /// `U*U' + s*eye(d)`), otherwise as [`Graph::cmp_nodes`] (`b + exp(b)`, `y + diag(G)`,
    /// `A + 2*t*B`).
    pub fn cmp_terms(&self, a: NodeId, b: NodeId) -> Ordering {
        let class = |t: NodeId| {
            let array = match self.op(t) {
                Op::Scale(_, x) => *x,
                _ => t,
            };
            (self.key(array).first_var == u32::MAX, !matches!(self.op(array), Op::MatMul(_)))
        };
        class(a).cmp(&class(b)).then(self.cmp_nodes(a, b))
    }
}
