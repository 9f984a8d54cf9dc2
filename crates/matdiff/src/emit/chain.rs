//! How a product chain is computed: outer products at rank-one joints, solves for inverses,
//! and the remaining runs of factors left to a run-time matrix-chain order.

use matdiff_core::Shape;
use matdiff_core::{Graph, NodeId, Op};

/// A product chain decomposed into the operations the generated code performs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Chain {
    /// One factor, used as it is.
    Factor(NodeId),
    /// A run of two or more factors: vectors only at its ends, so it is one `multi_dot`.
    Product(Vec<Chain>),
    /// A chain with rank-one joints `… x * y' …`: scalar pieces times the outer product of
    /// the column-shaped head and the row-shaped tail (either may be absent).
    Outer { scalars: Vec<Chain>, col: Option<Box<Chain>>, row: Option<Box<Chain>> },
    /// `H * H'` for a chain that reads the same backwards transposed (`inv(K)*Y*Y'*inv(K)` with
    /// K symmetric is `(K⁻¹Y)(K⁻¹Y)'`): half the chain is computed once.
    Gram(Box<Chain>),
    /// `inv(K) * rhs` (`right: false`) or `rhs * inv(K)` (`right: true`); with K' for K
    /// when `transposed`.
    Solve { k: NodeId, rhs: Box<Chain>, right: bool, transposed: bool },
}

impl Chain {
    /// The shape of the chain's value.
    pub fn shape(&self, g: &Graph) -> Shape {
        match self {
            Chain::Factor(n) => g.shape(*n),
            Chain::Product(fs) => Shape { rows: fs[0].shape(g).rows, cols: fs[fs.len() - 1].shape(g).cols },
            Chain::Outer { col, row, .. } => Shape {
                rows: col.as_ref().and_then(|c| c.shape(g).rows),
                cols: row.as_ref().and_then(|r| r.shape(g).cols),
            },
            Chain::Solve { rhs, .. } => rhs.shape(g),
            Chain::Gram(h) => {
                let s = h.shape(g);
                Shape { rows: s.rows, cols: s.rows }
            }
        }
    }
}

impl Chain {
    /// Known to equal its own transpose: a symmetric factor, or a product that reads the same
    /// backwards with every factor transposed (`X*X'`, `A*S*A'` with S symmetric).
    pub fn symmetric(&self, g: &Graph) -> bool {
        match self {
            Chain::Factor(n) => g.node(*n).symmetric,
            Chain::Gram(_) => true,
            Chain::Product(parts) => {
                let fs: Option<Vec<NodeId>> = parts
                    .iter()
                    .map(|p| match p {
                        Chain::Factor(n) => Some(*n),
                        _ => None,
                    })
                    .collect();
                fs.is_some_and(|fs| palindrome(g, &fs))
            }
            _ => false,
        }
    }
}

/// The factors read the same backwards with each transposed: `X*X'`, `A*S*A'` (S symmetric).
fn palindrome(g: &Graph, fs: &[NodeId]) -> bool {
    let k = fs.len();
    (0..k.div_ceil(2)).all(|i| {
        let (a, b) = (fs[i], fs[k - 1 - i]);
        (a == b && g.node(a).symmetric) || *g.op(a) == Op::Transpose(b) || *g.op(b) == Op::Transpose(a)
    })
}

/// A right-hand side's value as `(factor, transposed)` pairs (of its transpose when
/// `transpose`), canonical enough that one solve written from either side of a product gets
/// one key. `vectors_1d`: a vector is its own transpose (Python). None when it holds solves.
pub(crate) fn rhs_key(g: &Graph, rhs: &Chain, transpose: bool, vectors_1d: bool) -> Option<Vec<(NodeId, bool)>> {
    let mut fs: Vec<NodeId> = match rhs {
        Chain::Factor(n) => vec![*n],
        Chain::Product(parts) => parts
            .iter()
            .map(|p| match p {
                Chain::Factor(n) => Some(*n),
                _ => None,
            })
            .collect::<Option<_>>()?,
        _ => return None,
    };
    if transpose {
        fs.reverse();
    }
    Some(
        fs.into_iter()
            .map(|n| {
                let (n, t) = match g.op(n) {
                    Op::Transpose(x) => (*x, !transpose),
                    _ => (n, transpose),
                };
                let plain = g.node(n).symmetric || (vectors_1d && !g.shape(n).is_matrix());
                (n, t && !plain)
            })
            .collect(),
    )
}

/// Decompose the product of `fs` (two or more non-scalar factors).
pub(crate) fn decompose(g: &Graph, fs: &[NodeId]) -> Chain {
    // Split where a column vector meets a row vector: the product there is rank one, and
    // computing it as an outer product of the two sides is the cheapest order.
    let mut segments: Vec<&[NodeId]> = vec![];
    let mut start = 0;
    for i in 1..fs.len() {
        if g.shape(fs[i - 1]).is_col() && g.shape(fs[i]).is_row() {
            segments.push(&fs[start..i]);
            start = i;
        }
    }
    segments.push(&fs[start..]);
    if segments.len() == 1 {
        return run(g, fs);
    }
    let mut scalars = vec![];
    let (mut col, mut row) = (None, None);
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        let c = run(g, seg);
        let s = c.shape(g);
        if s.is_scalar() {
            scalars.push(c);
        } else if i == 0 {
            col = Some(Box::new(c));
        } else {
            debug_assert!(i == last && s.is_row());
            row = Some(Box::new(c));
        }
    }
    Chain::Outer { scalars, col, row }
}

/// Whether `tr(f1*…*fk)` is better written `sum(P .* fk')` with P = f1*…*f(k-1): not when
/// that would form an inverse (`fk` one, or P a lone one).
pub(crate) fn trace_as_inner_product(g: &Graph, fs: &[NodeId]) -> bool {
    let is_inv = |n: NodeId| inverse_of(g, n).is_some();
    !(is_inv(fs[fs.len() - 1]) || (fs.len() == 2 && is_inv(fs[0])))
}

/// `(K, false)` for a factor `inv(K)`, `(K, true)` for `inv(K)'`.
pub(crate) fn inverse_of(g: &Graph, n: NodeId) -> Option<(NodeId, bool)> {
    match g.op(n) {
        Op::Inv(k) => Some((*k, false)),
        Op::Transpose(x) => match g.op(*x) {
            Op::Inv(k) => Some((*k, true)),
            _ => None,
        },
        _ => None,
    }
}

/// A run of factors with no rank-one joint: inverses become solves, the rest one product.
fn run(g: &Graph, fs: &[NodeId]) -> Chain {
    if fs.len() == 1 {
        return Chain::Factor(fs[0]);
    }
    let k = fs.len();
    if k.is_multiple_of(2) && k >= 4 && palindrome(g, fs) {
        return Chain::Gram(Box::new(run(g, &fs[..k / 2])));
    }
    let inverse = |n: NodeId| inverse_of(g, n);
    let solve = |(kk, transposed): (NodeId, bool), rhs: &[NodeId], right: bool| Chain::Solve {
        k: kk,
        rhs: Box::new(run(g, rhs)),
        right,
        transposed,
    };
    if let Some(inv) = inverse(fs[0]) {
        return solve(inv, &fs[1..], false);
    }
    if let Some(inv) = inverse(fs[k - 1]) {
        return solve(inv, &fs[..k - 1], true);
    }
    match fs.iter().position(|&f| inverse(f).is_some()) {
        Some(i) => {
            let mut parts: Vec<Chain> = fs[..i].iter().map(|&f| Chain::Factor(f)).collect();
            parts.push(solve(inverse(fs[i]).unwrap(), &fs[i + 1..], false));
            Chain::Product(parts)
        }
        None => Chain::Product(fs.iter().map(|&f| Chain::Factor(f)).collect()),
    }
}
