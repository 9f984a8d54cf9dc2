//! The IR: a hash-consed DAG of matrix operations; every node knows its shape.
//!
//! Nodes are only created through the canonicalizing constructors in `build`, so two
//! structurally equal expressions are the same `NodeId`, and children always have smaller ids
//! than their parents (ids are a topological order).

mod build;
mod checked;
mod func;
mod import;
mod kron;
mod order;

pub use checked::Build;
pub use func::Func;
pub use order::Key;

use crate::shape::{DimId, DimTable, Shape};
use std::collections::HashMap;

/// A node of a [`Graph`], by index (a node's operands have smaller ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index into the graph's node table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An `f64` that can be hashed (bit pattern, with -0 folded into 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Num(u64);

impl Num {
    /// The constant `x` (stored by bits, so that it can be hashed; `-0.0` is `0.0`).
    pub fn new(x: f64) -> Num {
        Num(if x == 0.0 { 0.0f64.to_bits() } else { x.to_bits() })
    }
    /// The constant's value.
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

/// An operation of the IR. Operands are [`NodeId`]s; shapes live on the [`Node`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Input variable, index into `Graph::vars`.
    Var(u32),
    /// Scalar constant.
    Const(Num),
    /// Non-scalar array with every entry equal to the constant.
    Fill(Num),
    /// Identity matrix (square shape).
    Identity,
    /// Linear combination `Σ cᵢ·tᵢ` of same-shaped terms in structural order
    /// ([`Graph::cmp_terms`]), no zero coefficients.
    Lin(Vec<(Num, NodeId)>),
    /// Scalar `s` (first) times anything. A product of scalars is a left-deep chain, its
    /// factors in structural order.
    Scale(NodeId, NodeId),
    /// Matrix product chain of two or more non-scalar factors.
    MatMul(Vec<NodeId>),
    /// Elementwise product of same-shaped non-scalars: a chain is left-deep, its factors in
    /// structural order ([`Graph::cmp_nodes`]).
    Hadamard(NodeId, NodeId),
    /// Elementwise power by a constant.
    Pow(NodeId, Num),
    /// Elementwise function.
    Map(Func, NodeId),
    /// Transpose of a non-scalar, non-symmetric operand.
    Transpose(NodeId),
    /// Sum of all entries.
    Sum(NodeId),
    /// Squared Euclidean/Frobenius norm, `norm2(x)^2`.
    SqNorm(NodeId),
    /// Sum of absolute values of the entries.
    Norm1(NodeId),
    /// Euclidean (Frobenius) norm.
    Norm2(NodeId),
    /// Frobenius inner product `sum(A.*B)` of same-shaped matrices, in structural order.
    Dot(NodeId, NodeId),
    /// Trace of a square matrix.
    Trace(NodeId),
    /// Determinant of a square matrix.
    Det(NodeId),
    /// Log-determinant of a square matrix.
    LogDet(NodeId),
    /// Inverse of a square matrix.
    Inv(NodeId),
    /// Vector to diagonal matrix.
    Diag(NodeId),
    /// Matrix diagonal as a vector.
    DiagPart(NodeId),
    /// Kronecker product `kron(A, B)` of two non-scalars (not a column by a row: that is `x*y'`).
    Kron(NodeId, NodeId),
    /// `vec(A)`: the columns of a matrix stacked into one column (vectors are their own vec).
    Vectorize(NodeId),
    /// `unvec(v, m, n)`: a vector of length m*n reshaped column-major to the node's m×n shape.
    Unvec(NodeId),
    /// `commutation(m, n)`: the mn×mn permutation K with K*vec(A) = vec(A') for A m×n.
    Commutation(DimId, DimId),
    /// `softmax(z)` of a column vector: `exp(z - max(z))/sum(exp(z - max(z)))`. One node, not
    /// an expansion into `exp` and `sum`, so that both evaluators can shift by the maximum
    /// (finite for any finite z) and the rule table can name its derivative.
    Softmax(NodeId),
}

impl Op {
    /// Child nodes in order.
    pub fn children(&self) -> Vec<NodeId> {
        use Op::*;
        match self {
            Var(_) | Const(_) | Fill(_) | Identity | Commutation(..) => vec![],
            Lin(ts) => ts.iter().map(|t| t.1).collect(),
            MatMul(fs) => fs.clone(),
            Scale(a, b) | Hadamard(a, b) | Dot(a, b) | Kron(a, b) => vec![*a, *b],
            Pow(a, _)
            | Map(_, a)
            | Transpose(a)
            | Sum(a)
            | SqNorm(a)
            | Norm1(a)
            | Norm2(a)
            | Trace(a)
            | Det(a)
            | LogDet(a)
            | Inv(a)
            | Diag(a)
            | DiagPart(a)
            | Vectorize(a)
            | Unvec(a)
            | Softmax(a) => vec![*a],
        }
    }
}

/// A node: its operation and its shape.
#[derive(Clone, Debug)]
pub struct Node {
    /// The operation.
    pub op: Op,
    /// The shape over the graph's symbolic dimensions.
    pub shape: Shape,
    /// Known to equal its own transpose (structurally: S', X*X', inv(sym), …).
    pub symmetric: bool,
}

/// An input variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Var {
    /// The name as the user wrote it.
    pub name: String,
    /// Its shape.
    pub shape: Shape,
    /// Declared `symmetric(n)`: the simplifier may use S' = S.
    pub symmetric: bool,
}

/// The expression DAG of one problem: nodes, variables and dimensions.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: Vec<Node>,
    /// The structural key of each node (`order`), computed once when it is interned.
    keys: Vec<Key>,
    index: HashMap<(Op, Shape), NodeId>,
    /// Input variables, indexed by `Op::Var` (added through [`Graph::add_var`], which checks
    /// them; read with [`Graph::vars`]).
    pub(crate) vars: Vec<Var>,
    /// The symbolic dimensions shapes refer to (read with [`Graph::dims`]).
    pub(crate) dims: DimTable,
}

impl Graph {
    /// An empty graph over these dimensions.
    pub fn new(dims: DimTable) -> Graph {
        Graph { dims, ..Graph::default() }
    }
    /// The input variables, indexed by `Op::Var`.
    pub fn vars(&self) -> &[Var] {
        &self.vars
    }
    /// The symbolic dimensions the shapes refer to.
    pub fn dims(&self) -> &DimTable {
        &self.dims
    }
    /// The node `id`.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }
    /// The operation of node `id`.
    pub fn op(&self, id: NodeId) -> &Op {
        &self.nodes[id.index()].op
    }
    /// The shape of node `id`.
    pub fn shape(&self, id: NodeId) -> Shape {
        self.nodes[id.index()].shape
    }
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
    /// The index of the variable called `name`.
    pub fn var_id(&self, name: &str) -> Option<u32> {
        self.vars.iter().position(|v| v.name == name).map(|i| i as u32)
    }
    /// The node of a variable (created if the expression never mentions it).
    pub fn var_node(&mut self, var: u32) -> NodeId {
        let v = &self.vars[var as usize];
        let (shape, sym) = (v.shape, v.symmetric);
        self.intern(Op::Var(var), shape, sym)
    }
    /// Constant value of a scalar constant node.
    pub fn as_const(&self, id: NodeId) -> Option<f64> {
        match self.op(id) {
            Op::Const(c) => Some(c.get()),
            _ => None,
        }
    }
    /// Whether a node's value depends on any variable.
    pub fn is_constant(&self, id: NodeId) -> bool {
        self.reachable(&[id]).iter().all(|&n| !matches!(self.op(n), Op::Var(_)))
    }
    /// All nodes reachable from `roots`, in increasing id (topological) order.
    pub fn reachable(&self, roots: &[NodeId]) -> Vec<NodeId> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<NodeId> = roots.to_vec();
        while let Some(n) = stack.pop() {
            if !seen[n.index()] {
                // A walk over a whole expression: stoppable, and counted as work.
                matdiff_syntax::budget::tick();
                seen[n.index()] = true;
                stack.extend(self.op(n).children());
            }
        }
        (0..self.nodes.len()).filter(|&i| seen[i]).map(|i| NodeId(i as u32)).collect()
    }
    /// How many times each node is used as a child within the part reachable from `roots`.
    pub fn use_counts(&self, roots: &[NodeId]) -> Vec<u32> {
        let mut counts = vec![0u32; self.nodes.len()];
        for n in self.reachable(roots) {
            for c in self.op(n).children() {
                counts[c.index()] += 1;
            }
        }
        counts
    }

    /// The node for `op` at `shape`, if the graph already has it (never creates one).
    pub fn find(&self, op: &Op, shape: Shape) -> Option<NodeId> {
        self.index.get(&(op.clone(), shape)).copied()
    }

    fn intern(&mut self, op: Op, shape: Shape, symmetric: bool) -> NodeId {
        // Every node built — by the simplifier, the differentiator, a claim — passes here: the
        // checkpoint that lets a server stop runaway symbolic work.
        matdiff_syntax::budget::tick();
        if let Some(&id) = self.index.get(&(op.clone(), shape)) {
            return id;
        }
        let id = NodeId(self.nodes.len() as u32);
        let key = self.make_key(&op, shape);
        self.keys.push(key);
        self.nodes.push(Node { op: op.clone(), shape, symmetric });
        self.index.insert((op, shape), id);
        id
    }
}
