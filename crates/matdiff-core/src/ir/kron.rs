//! Constructors for the Kronecker product, `vec`, `unvec` and the commutation matrix.
//!
//! Their shapes involve product dimensions (`m*n`). Each has a `_shaped` form taking the result
//! shape from the caller, used while lowering (when dimensions are still unifier classes, not
//! entries of the graph's table) and by `import`; the plain forms compute the shape from the
//! graph's `DimTable`. Rules: scalars and coefficients float out, `kron` of a column and a row is
//! their outer product, transposes move onto the factors (`kron(A,B)' = kron(A',B')`),
//! `vec(unvec(v)) = v`, `unvec(vec(A)) = A`, `vec(x*y') = kron(y, x)` and back.

use super::{Graph, NodeId, Op};
use crate::shape::{DimId, Shape};

impl Graph {
    /// The shape of `kron(a, b)` from the dimension table.
    pub fn kron_shape(&mut self, a: NodeId, b: NodeId) -> Shape {
        let (sa, sb) = (self.shape(a), self.shape(b));
        Shape { rows: self.dims.product(sa.rows, sb.rows), cols: self.dims.product(sa.cols, sb.cols) }
    }

    /// Kronecker product.
    pub fn kron(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let shape = self.kron_shape(a, b);
        self.kron_shaped(a, b, shape)
    }

    /// Kronecker product whose shape the caller computed.
    pub fn kron_shaped(&mut self, a: NodeId, b: NodeId, shape: Shape) -> NodeId {
        let (sa, sb) = (self.shape(a), self.shape(b));
        if sa.is_scalar() || sb.is_scalar() {
            return self.mul(a, b);
        }
        // kron(x, y') = kron(y', x) = x*y'.
        if sa.is_col() && sb.is_row() {
            return self.matmul(vec![a, b]);
        }
        if sa.is_row() && sb.is_col() {
            return self.matmul(vec![b, a]);
        }
        if self.is_zero(a) || self.is_zero(b) {
            return self.zero(shape);
        }
        let (ca, a1) = self.split_coef(a);
        let (cb, b1) = self.split_coef(b);
        if ca != 1.0 || cb != 1.0 {
            let inner = self.kron_shaped(a1, b1, shape);
            return self.times(ca * cb, inner);
        }
        for (x, y, left) in [(a, b, true), (b, a, false)] {
            if let Op::Scale(s, x1) = *self.op(x) {
                let inner = if left { self.kron_shaped(x1, y, shape) } else { self.kron_shaped(y, x1, shape) };
                return self.scale(s, inner);
            }
        }
        match (self.op(a).clone(), self.op(b).clone()) {
            (Op::Identity, Op::Identity) => return self.identity(shape.rows.unwrap()),
            (Op::Fill(x), Op::Fill(y)) => return self.fill(x.get() * y.get(), shape),
            _ => {}
        }
        let sym = self.node(a).symmetric && self.node(b).symmetric;
        self.intern(Op::Kron(a, b), shape, sym)
    }

    /// `vec(a)`: a matrix's columns stacked (a column is itself, a row its transpose).
    pub fn vectorize(&mut self, a: NodeId) -> NodeId {
        let s = self.shape(a);
        match (s.rows, s.cols) {
            (Some(m), Some(n)) => {
                let len = self.dims.product_of(&[m, n]);
                self.vectorize_shaped(a, len)
            }
            _ => self.vectorize_shaped(a, 0),
        }
    }

    /// `vec(a)` of length `len` (computed by the caller; unused for scalars and vectors).
    pub fn vectorize_shaped(&mut self, a: NodeId, len: DimId) -> NodeId {
        let s = self.shape(a);
        if s.is_scalar() || s.is_col() {
            return a;
        }
        if s.is_row() {
            return self.transpose(a);
        }
        let shape = Shape::col(len);
        match self.op(a).clone() {
            Op::Unvec(v) => v,
            Op::Fill(c) => self.fill(c.get(), shape),
            // vec(unvec(v) + B) = v + vec(B): the reshapes cancel where they meet.
            Op::Lin(ts) if ts.iter().any(|&(_, t)| matches!(self.op(t), Op::Unvec(_))) => {
                let terms = ts.iter().map(|&(c, t)| (c.get(), self.vectorize_shaped(t, len))).collect();
                self.lin(terms)
            }
            Op::Lin(ts) if ts.len() == 1 => {
                let inner = self.vectorize_shaped(ts[0].1, len);
                self.times(ts[0].0.get(), inner)
            }
            Op::Scale(k, x) => {
                let inner = self.vectorize_shaped(x, len);
                self.scale(k, inner)
            }
            // vec(x*y') = kron(y, x).
            Op::MatMul(fs) if fs.len() == 2 && self.shape(fs[0]).is_col() && self.shape(fs[1]).is_row() => {
                let y = self.transpose(fs[1]);
                self.kron_shaped(y, fs[0], shape)
            }
            _ => self.intern(Op::Vectorize(a), shape, false),
        }
    }

    /// `unvec(v, m, n)`: the m×n matrix whose `vec` is `v` (of length m*n).
    pub fn unvec(&mut self, v: NodeId, m: DimId, n: DimId) -> NodeId {
        let shape = Shape::mat(m, n);
        if self.shape(v).is_scalar() {
            return v;
        }
        match self.op(v).clone() {
            Op::Vectorize(a) if self.shape(a) == shape => a,
            Op::Fill(c) => self.fill(c.get(), shape),
            Op::Lin(ts)
                if ts.iter().any(|&(_, t)| matches!(self.op(t), Op::Vectorize(a) if self.shape(*a) == shape)) =>
            {
                let terms = ts.iter().map(|&(c, t)| (c.get(), self.unvec(t, m, n))).collect();
                self.lin(terms)
            }
            Op::Lin(ts) if ts.len() == 1 => {
                let inner = self.unvec(ts[0].1, m, n);
                self.times(ts[0].0.get(), inner)
            }
            Op::Scale(k, x) => {
                let inner = self.unvec(x, m, n);
                self.scale(k, inner)
            }
            // unvec(kron(y, x)) = x*y' when x has m entries and y has n.
            Op::Kron(y, x) if self.shape(x) == Shape::col(m) && self.shape(y) == Shape::col(n) => {
                let yt = self.transpose(y);
                self.matmul(vec![x, yt])
            }
            _ => self.intern(Op::Unvec(v), shape, false),
        }
    }

    /// The commutation matrix K(m,n) (mn×mn, K*vec(A) = vec(A') for A m×n).
    pub fn commutation(&mut self, m: DimId, n: DimId) -> NodeId {
        let p = self.dims.product_of(&[m, n]);
        self.commutation_shaped(m, n, p)
    }

    /// K(m,n) whose size `p` = m*n the caller computed.
    pub fn commutation_shaped(&mut self, m: DimId, n: DimId, p: DimId) -> NodeId {
        let one = |g: &Graph, d: DimId| g.dims.dims.get(d as usize).is_some_and(|x| x.size == Some(1));
        if one(self, m) || one(self, n) {
            return self.identity(p);
        }
        self.intern(Op::Commutation(m, n), Shape::mat(p, p), m == n)
    }

    /// Pairs of adjacent product factors that simplify: K(n,m)*K(m,n) = I,
    /// K(m,n)*vec(A) = vec(A'), kron(A,B)*kron(C,D) = kron(A*C, B*D),
    /// kron(A,B)*vec(X) = vec(B*X*A'), vec(A)'*vec(B) = ⟨A, B⟩. `None` when nothing applies.
    pub(super) fn simplify_pair(&mut self, x: NodeId, y: NodeId) -> Option<Vec<NodeId>> {
        if !matches!(self.op(x), Op::Commutation(..) | Op::Kron(..) | Op::Transpose(_))
            || !matches!(self.op(y), Op::Commutation(..) | Op::Kron(..) | Op::Vectorize(_))
        {
            return None;
        }
        match (self.op(x).clone(), self.op(y).clone()) {
            (Op::Commutation(a, b), Op::Commutation(c, d)) if a == d && b == c => Some(vec![]),
            (Op::Commutation(m, n), Op::Vectorize(a)) if self.shape(a) == Shape::mat(m, n) => {
                let at = self.transpose(a);
                Some(vec![self.vectorize_shaped(at, self.shape(y).rows.unwrap())])
            }
            (Op::Kron(a, b), Op::Kron(c, d))
                // Columns meet rows: both a dimension, or both the literal 1 (a column times a
                // row, `kron(x, W)*kron(y', V)` = `kron(x*y', W*V)`).
                if self.shape(a).cols == self.shape(c).rows
                    && self.shape(b).cols == self.shape(d).rows =>
            {
                let ac = self.matmul(vec![a, c]);
                let bd = self.matmul(vec![b, d]);
                let shape = Shape { rows: self.shape(x).rows, cols: self.shape(y).cols };
                Some(vec![self.kron_shaped(ac, bd, shape)])
            }
            (Op::Kron(a, b), Op::Vectorize(v))
                if self.shape(v).rows == self.shape(b).cols && self.shape(v).cols == self.shape(a).cols =>
            {
                let at = self.transpose(a);
                let bva = self.matmul(vec![b, v, at]);
                Some(vec![self.vectorize_shaped(bva, self.shape(x).rows.unwrap())])
            }
            (Op::Transpose(t), Op::Vectorize(b)) => match *self.op(t) {
                // As `sum(A.*B)` reads back (a Dot node prints the same but is another node).
                Op::Vectorize(a) if self.shape(a) == self.shape(b) => {
                    let h = self.hadamard(a, b);
                    Some(vec![self.sum(h)])
                }
                _ => None,
            },
            _ => None,
        }
    }
}
