//! The forward graph of a derivation: one named node per operation, in evaluation order.
//!
//! Built from the IR with three changes that make it read like a hand derivation: product
//! chains are split into binary products (in the cheapest order, vectors counting as size 1,
//! so `W'*W*x` becomes `a = W*x`, `b = W'*a`); transposes of a node are written on the operand
//! (`b = W'*a`) instead of being nodes of their own; constants (`0.5`, `eye(n)`) stay inline.
//! Every node gets an opaque symbol (a fresh variable of the same shape) and a definition over
//! its operands' symbols, so later expressions can be written with the names.

use super::{FwdNode, NodeKind, Operand};
use matdiff_core::Shape;
use matdiff_core::{Graph, NodeId, Op};
use std::collections::{HashMap, HashSet};

pub(super) struct Forward {
    pub nodes: Vec<FwdNode>,
    pub output: Option<usize>,
    pub output_name: String,
}

struct Builder<'a> {
    g: &'a mut Graph,
    nodes: Vec<FwdNode>,
    memo: HashMap<NodeId, usize>,
    taken: HashSet<String>,
    next_name: usize,
    wrt: &'a [usize],
    /// Names the user gave to subexpressions (`h = relu(W*x + b) + x`), by IR node.
    user: HashMap<NodeId, String>,
}

/// Build the forward graph of `output`, with `wrt` (variable indices) marking what is active
/// and `user` the names the user gave to subexpressions (used where they do not clash).
pub(super) fn build(g: &mut Graph, output: NodeId, wrt: &[usize], user: &[(String, NodeId)]) -> Forward {
    let mut taken: HashSet<String> = g.vars().iter().map(|v| v.name.clone()).collect();
    taken.extend(g.dims().dims().iter().map(|d| d.name.clone()));
    // A scalar output is the loss L; anything else is a function value f.
    let candidates =
        if g.shape(output).is_scalar() { ["L", "f", "F", "loss", "out"] } else { ["f", "F", "y", "out", "L"] };
    let output_name = candidates.into_iter().find(|n| !taken.contains(*n)).unwrap_or("L").to_string();
    taken.insert(output_name.clone());
    let mut named = HashMap::new();
    for (name, id) in user {
        if *id != output && !named.contains_key(id) && taken.insert(name.clone()) {
            named.insert(*id, name.clone());
        }
    }
    let mut b = Builder { g, nodes: vec![], memo: HashMap::new(), taken, next_name: 0, wrt, user: named };
    // Inputs first, in the order the problem lists its variables.
    let mut inputs: Vec<(u32, NodeId)> =
        b.g.reachable(&[output])
            .into_iter()
            .filter_map(|n| match b.g.op(n) {
                Op::Var(v) => Some((*v, n)),
                _ => None,
            })
            .collect();
    inputs.sort();
    for (_, n) in inputs {
        b.node(n);
    }
    b.warm(output);
    let out = match b.operand(output) {
        Operand::Node { node, transposed: false } => Some(node),
        // A transposed scalar is the scalar; a constant output has no graph at all.
        Operand::Node { node, .. } => Some(node),
        Operand::Const(_) => None,
    };
    if let Some(o) = out {
        if b.nodes[o].kind == NodeKind::Operation {
            b.nodes[o].name = output_name.clone();
            let v = b.var_of_symbol(b.nodes[o].symbol);
            b.g.rename_var(v as u32, output_name.clone());
        }
    }
    Forward { nodes: b.nodes, output: out, output_name }
}

impl Builder<'_> {
    fn var_of_symbol(&self, sym: NodeId) -> usize {
        match self.g.op(sym) {
            Op::Var(v) => *v as usize,
            _ => unreachable!("a symbol is a variable node"),
        }
    }

    /// The next intermediate name: a, b, c, … (skipping l and o, which read as digits, and any
    /// name already used by a variable or dimension), then a2, b2, …
    fn fresh_name(&mut self) -> String {
        const LETTERS: &str = "abcdefghijkmnpqrstuvwxyz";
        loop {
            let k = self.next_name;
            self.next_name += 1;
            let letter = LETTERS.as_bytes()[k % LETTERS.len()] as char;
            let round = k / LETTERS.len();
            let name = if round == 0 { letter.to_string() } else { format!("{letter}{}", round + 1) };
            if self.taken.insert(name.clone()) {
                return name;
            }
        }
    }

    /// Create the forward nodes below `root` bottom-up with an explicit stack, in the order the
    /// recursive `operand`/`node` would (children left to right, each before its user), so
    /// that their recursion then finds every operand made and never goes deeper than one level:
    /// a definitions chain thousands of levels deep would otherwise overflow the stack.
    fn warm(&mut self, root: NodeId) {
        let mut stack = vec![(root, false)];
        while let Some((n, expanded)) = stack.pop() {
            if self.memo.contains_key(&n) || matches!(self.g.op(n), Op::Const(_) | Op::Fill(_) | Op::Identity) {
                continue;
            }
            if expanded {
                self.operand(n);
            } else {
                stack.push((n, true));
                stack.extend(self.g.op(n).children().into_iter().rev().map(|c| (c, false)));
            }
        }
    }

    /// How `ir` appears as an operand: a node (possibly transposed) or an inline constant.
    fn operand(&mut self, ir: NodeId) -> Operand {
        match self.g.op(ir).clone() {
            Op::Const(_) | Op::Fill(_) | Op::Identity => Operand::Const(ir),
            Op::Transpose(inner) => match self.operand(inner) {
                Operand::Node { node, transposed: false } => Operand::Node { node, transposed: true },
                Operand::Const(_) => Operand::Const(ir),
                Operand::Node { .. } => Operand::Node { node: self.node(ir), transposed: false },
            },
            _ => Operand::Node { node: self.node(ir), transposed: false },
        }
    }

    /// The operand as an expression over symbols.
    fn expr(&mut self, o: Operand) -> NodeId {
        match o {
            Operand::Const(c) => c,
            Operand::Node { node, transposed } => {
                let s = self.nodes[node].symbol;
                if transposed {
                    self.g.transpose(s)
                } else {
                    s
                }
            }
        }
    }

    /// The forward node whose value is `ir` (created with its operands on first use).
    fn node(&mut self, ir: NodeId) -> usize {
        if let Some(&i) = self.memo.get(&ir) {
            return i;
        }
        let op = self.g.op(ir).clone();
        let idx = match &op {
            Op::Var(v) => {
                let var = &self.g.vars()[*v as usize];
                let node = FwdNode {
                    name: var.name.clone(),
                    kind: NodeKind::Variable,
                    op: "variable",
                    value: ir,
                    symbol: ir,
                    def: None,
                    inputs: vec![],
                    shape: var.shape,
                    active: self.wrt.contains(&(*v as usize)),
                    wrt: self.wrt.contains(&(*v as usize)),
                };
                self.push(ir, node)
            }
            Op::MatMul(fs) if fs.len() > 2 => {
                let split = chain_split(self.g, fs);
                match self.chain(fs, &split, 0, fs.len() - 1) {
                    Operand::Node { node, .. } => node,
                    Operand::Const(_) => unreachable!("a chain of two or more factors is a node"),
                }
            }
            _ => {
                let children = op.children();
                let operands: Vec<Operand> = children.iter().map(|&c| self.operand(c)).collect();
                let mut map = HashMap::new();
                for (&c, &o) in children.iter().zip(&operands) {
                    let e = self.expr(o);
                    map.insert(c, e);
                }
                let def = super::subst::rebuild(self.g, &op, ir, &|c| map[&c]);
                self.step(ir, &op, operands, def)
            }
        };
        self.memo.insert(ir, idx);
        idx
    }

    /// The factors `fs[i..=j]` as an operand, split in two at `split[i][j]`.
    fn chain(&mut self, fs: &[NodeId], split: &[Vec<usize>], i: usize, j: usize) -> Operand {
        if i == j {
            return self.operand(fs[i]);
        }
        let ir = self.g.matmul(fs[i..=j].to_vec());
        if let Some(&n) = self.memo.get(&ir) {
            return Operand::Node { node: n, transposed: false };
        }
        let s = split[i][j];
        let left = self.chain(fs, split, i, s);
        let right = self.chain(fs, split, s + 1, j);
        let (l, r) = (self.expr(left), self.expr(right));
        // A piece of a chain can be a scalar (x'*x in x*x'*x*x'): `mul` scales then.
        let def = self.g.mul(l, r);
        let op = self.g.op(ir).clone();
        let n = self.step(ir, &op, vec![left, right], def);
        self.memo.insert(ir, n);
        Operand::Node { node: n, transposed: false }
    }

    /// Add an operation node: a fresh name and symbol, and its definition.
    fn step(&mut self, ir: NodeId, op: &Op, inputs: Vec<Operand>, def: NodeId) -> usize {
        let name = match self.user.get(&ir) {
            Some(n) => n.clone(),
            None => self.fresh_name(),
        };
        let (_, symbol) = self.g.add_symbol(name.clone(), ir, true);
        let active = inputs.iter().any(|o| matches!(o, Operand::Node { node, .. } if self.nodes[*node].active));
        let node = FwdNode {
            name,
            kind: NodeKind::Operation,
            op: op_name(match self.g.op(def) {
                Op::Var(_) => op,
                d => d,
            }),
            value: ir,
            symbol,
            def: Some(def),
            inputs,
            shape: self.g.shape(ir),
            active,
            wrt: false,
        };
        self.push(ir, node)
    }

    fn push(&mut self, ir: NodeId, node: FwdNode) -> usize {
        self.nodes.push(node);
        let i = self.nodes.len() - 1;
        self.memo.insert(ir, i);
        i
    }
}

/// Short name of an operation, for graph labels and JSON.
fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Var(_) => "variable",
        Op::Const(_) | Op::Fill(_) | Op::Identity => "constant",
        Op::Lin(ts) if ts.len() == 1 => "scale",
        Op::Lin(_) => "sum",
        Op::Scale(..) => "scale",
        Op::MatMul(_) => "matmul",
        Op::Hadamard(..) => "hadamard",
        Op::Pow(..) => "power",
        Op::Map(f, _) => f.name(),
        Op::Transpose(_) => "transpose",
        Op::Sum(_) => "sum of entries",
        Op::SqNorm(_) => "squared norm",
        Op::Norm1(_) => "norm1",
        Op::Norm2(_) => "norm2",
        Op::Dot(..) => "inner product",
        Op::Trace(_) => "trace",
        Op::Det(_) => "det",
        Op::LogDet(_) => "logdet",
        Op::Inv(_) => "inverse",
        Op::Diag(_) => "diag",
        Op::DiagPart(_) => "diagonal",
        Op::Kron(..) => "kron",
        Op::Vectorize(_) => "vec",
        Op::Unvec(_) => "unvec",
        Op::Commutation(..) => "constant",
        Op::Softmax(_) => "softmax",
    }
}

/// Cheapest binary split of a product chain (matrix-chain order), with every symbolic
/// dimension counted as 8 and the literal 1 of vectors as 1; ties split after the first factor.
fn chain_split(g: &Graph, fs: &[NodeId]) -> Vec<Vec<usize>> {
    let size = |d: Option<u32>| d.map_or(1.0, |_| 8.0);
    let shapes: Vec<Shape> = fs.iter().map(|&f| g.shape(f)).collect();
    let dims: Vec<f64> = std::iter::once(size(shapes[0].rows)).chain(shapes.iter().map(|s| size(s.cols))).collect();
    matdiff_core::chain_order(&dims, |_, _| false).split
}
