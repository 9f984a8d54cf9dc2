//! Copying a graph into another through the constructors (re-canonicalizing as it goes).

use super::{Graph, NodeId, Op};
use crate::shape::DimId;

impl Graph {
    /// Copy every node of `other` into `self` through the canonicalizing constructors,
    /// mapping dimensions; returns the new id of each old node.
    pub fn import(&mut self, other: &Graph, dim: impl Fn(DimId) -> DimId) -> Vec<NodeId> {
        let all: Vec<NodeId> = (0..other.len()).map(|i| NodeId(i as u32)).collect();
        self.import_nodes(other, &all, dim)
    }

    /// Copy `roots` of a scratch copy of this graph (a clone that grew: more nodes, perhaps
    /// more product dimensions and variables) back into it; returns their new ids. Only nodes
    /// reachable from `roots` are copied, so a variable the scratch copy added stays behind as
    /// long as the roots do not use it. The dimension table becomes the copy's (a superset).
    pub fn import_roots(&mut self, scratch: &Graph, roots: &[NodeId]) -> Vec<NodeId> {
        debug_assert!(scratch.dims.dims.starts_with(&self.dims.dims));
        self.dims = scratch.dims.clone();
        let nodes = scratch.reachable(roots);
        let ids = self.import_nodes(scratch, &nodes, |d| d);
        roots.iter().map(|r| ids[nodes.binary_search(r).unwrap()]).collect()
    }

    /// Copy `nodes` (ids of `other` in increasing order, closed under children) into `self`;
    /// returns the new id of each, in the same order.
    fn import_nodes(&mut self, other: &Graph, nodes: &[NodeId], dim: impl Fn(DimId) -> DimId) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = Vec::with_capacity(nodes.len());
        for &old in nodes {
            let node = other.node(old);
            let shape = node.shape.map(&dim);
            let m = |c: &NodeId| ids[nodes.binary_search(c).expect("children are imported first")];
            let new = match &node.op {
                Op::Var(v) => self.var_node(*v),
                Op::Const(c) => self.constant(c.get()),
                Op::Fill(c) => self.fill(c.get(), shape),
                Op::Identity => self.identity(shape.rows.unwrap()),
                Op::Lin(ts) => {
                    let ts = ts.iter().map(|(c, t)| (c.get(), m(t))).collect();
                    self.lin(ts)
                }
                Op::Scale(s, x) => self.scale(m(s), m(x)),
                Op::MatMul(fs) => {
                    let fs = fs.iter().map(m).collect();
                    self.matmul(fs)
                }
                Op::Hadamard(a, b) => self.hadamard(m(a), m(b)),
                Op::Pow(a, p) => self.pow(m(a), p.get()),
                Op::Map(f, a) => self.map(*f, m(a)),
                Op::Transpose(a) => self.transpose(m(a)),
                Op::Sum(a) => self.sum(m(a)),
                Op::SqNorm(a) => self.sqnorm(m(a)),
                Op::Norm1(a) => self.norm1(m(a)),
                Op::Norm2(a) => self.norm2(m(a)),
                Op::Dot(a, b) => self.dot(m(a), m(b)),
                Op::Trace(a) => self.trace(m(a)),
                Op::Det(a) => self.det(m(a)),
                Op::LogDet(a) => self.logdet(m(a)),
                Op::Inv(a) => self.inv(m(a)),
                Op::Diag(a) => self.diag(m(a)),
                Op::DiagPart(a) => self.diag_part(m(a)),
                Op::Kron(a, b) => self.kron_shaped(m(a), m(b), shape),
                Op::Vectorize(a) => self.vectorize_shaped(m(a), shape.rows.unwrap()),
                Op::Unvec(a) => self.unvec(m(a), shape.rows.unwrap(), shape.cols.unwrap()),
                Op::Softmax(a) => self.softmax(m(a)),
                Op::Commutation(r, c) => self.commutation_shaped(dim(*r), dim(*c), shape.rows.unwrap()),
            };
            ids.push(new);
        }
        ids
    }
}
