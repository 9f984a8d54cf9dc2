//! How a product chain is computed: outer products at rank-one joints, solves for inverses,
//! and the remaining runs of factors left to a run-time matrix-chain order.

use crate::ir::{Graph, NodeId, Op};
use crate::shape::Shape;

/// A product chain decomposed into the operations the generated code performs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Chain {
    /// One factor, used as it is.
    Factor(NodeId),
    /// A run of two or more factors: vectors only at its ends, so it is one `multi_dot`.
    Product(Vec<Chain>),
    /// A chain with rank-one joints `… x * y' …`: scalar pieces times the outer product of
    /// the column-shaped head and the row-shaped tail (either may be absent).
    Outer {
        scalars: Vec<Chain>,
        col: Option<Box<Chain>>,
        row: Option<Box<Chain>>,
    },
    /// `inv(K) * rhs` (`right: false`) or `rhs * inv(K)` (`right: true`).
    Solve {
        k: NodeId,
        rhs: Box<Chain>,
        right: bool,
    },
}

impl Chain {
    /// The shape of the chain's value.
    pub fn shape(&self, g: &Graph) -> Shape {
        match self {
            Chain::Factor(n) => g.shape(*n),
            Chain::Product(fs) => Shape {
                rows: fs[0].shape(g).rows,
                cols: fs[fs.len() - 1].shape(g).cols,
            },
            Chain::Outer { col, row, .. } => Shape {
                rows: col.as_ref().and_then(|c| c.shape(g).rows),
                cols: row.as_ref().and_then(|r| r.shape(g).cols),
            },
            Chain::Solve { rhs, .. } => rhs.shape(g),
        }
    }
}

impl Chain {
    /// Known to equal its own transpose: a symmetric factor, or a product that reads the same
    /// backwards with every factor transposed (`X*X'`, `A*S*A'` with S symmetric).
    pub fn symmetric(&self, g: &Graph) -> bool {
        match self {
            Chain::Factor(n) => g.node(*n).symmetric,
            Chain::Product(parts) => {
                let k = parts.len();
                (0..k.div_ceil(2)).all(|i| match (&parts[i], &parts[k - 1 - i]) {
                    (Chain::Factor(a), Chain::Factor(b)) => {
                        (a == b && g.node(*a).symmetric)
                            || *g.op(*a) == Op::Transpose(*b)
                            || *g.op(*b) == Op::Transpose(*a)
                    }
                    _ => false,
                })
            }
            _ => false,
        }
    }
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

/// A run of factors with no rank-one joint: inverses become solves, the rest one product.
fn run(g: &Graph, fs: &[NodeId]) -> Chain {
    if fs.len() == 1 {
        return Chain::Factor(fs[0]);
    }
    let inverse = |n: NodeId| match g.op(n) {
        Op::Inv(k) => Some(*k),
        _ => None,
    };
    let k = fs.len();
    if let Some(kk) = inverse(fs[0]) {
        return Chain::Solve {
            k: kk,
            rhs: Box::new(run(g, &fs[1..])),
            right: false,
        };
    }
    if let Some(kk) = inverse(fs[k - 1]) {
        return Chain::Solve {
            k: kk,
            rhs: Box::new(run(g, &fs[..k - 1])),
            right: true,
        };
    }
    match fs.iter().position(|&f| inverse(f).is_some()) {
        Some(i) => {
            let kk = inverse(fs[i]).unwrap();
            let mut parts: Vec<Chain> = fs[..i].iter().map(|&f| Chain::Factor(f)).collect();
            parts.push(Chain::Solve {
                k: kk,
                rhs: Box::new(run(g, &fs[i + 1..])),
                right: false,
            });
            Chain::Product(parts)
        }
        None => Chain::Product(fs.iter().map(|&f| Chain::Factor(f)).collect()),
    }
}
