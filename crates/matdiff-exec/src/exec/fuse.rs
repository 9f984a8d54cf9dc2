//! Elementwise fusion: a tree of same-shaped entrywise operations becomes one pass over memory.
//!
//! The backward pass of an activation is a handful of entrywise products and sums
//! (`g.*(s + h.*(1 - s))` for swish); run one by one, each reads and writes a whole array.
//! Fused, the tree is a small register program evaluated on short column chunks that stay in
//! L1, so the arrays are read once and the result written once.

use super::plan::{Coef, Opnd, Planner, Step};
use super::run::{map_value, pow_value, Ctx};
use faer::reborrow::ReborrowMut;
use faer::MatMut;
use matdiff_core::{Func, NodeId, Op};
use std::collections::HashMap;

/// One instruction; its result is the register with its own index, operands are earlier ones.
#[derive(Clone, Debug)]
pub enum Ew {
    /// An array computed elsewhere (an input or a buffer), by index into the step's leaves.
    Leaf(usize),
    Const(f64),
    /// Σ coefᵢ · rᵢ
    Lin(Vec<(Coef, usize)>),
    Mul(usize, usize),
    Pow(usize, f64),
    Map(Func, usize),
}

/// Programs longer than this are not fused further (registers live on the stack).
const MAX_REGS: usize = 32;
/// Rows evaluated per instruction: a chunk of every register fits in L1 together.
const CHUNK: usize = 64;

struct Program {
    prog: Vec<Ew>,
    leaves: Vec<Opnd>,
    memo: HashMap<NodeId, usize>,
    shape: (usize, usize),
}

impl Planner<'_> {
    /// Whether `n` is an entrywise operation on arrays of its own shape.
    fn entrywise(&self, n: NodeId) -> bool {
        matches!(self.g.op(n), Op::Lin(_) | Op::Scale(..) | Op::Hadamard(..) | Op::Pow(..) | Op::Map(..))
    }

    /// A child computed inside its parent's program rather than in a buffer of its own.
    fn absorbable(&self, n: NodeId, shape: (usize, usize)) -> bool {
        match self.g.op(n) {
            Op::Fill(_) => true,
            // A sum with I or diag(v) adds it on the diagonal in its own step (see `Lin`).
            Op::Lin(ts) if ts.iter().any(|&(_, t)| self.diagonal_term(t)) => false,
            _ => {
                self.entrywise(n)
                    && self.size(n) == shape
                    && self.parents[n.index()].len() == 1
                    && !self.values.contains_key(&n)
            }
        }
    }

    /// A term `I`, `diag(v)` or a scalar times one: `Lin` adds it on the diagonal.
    fn diagonal_term(&self, t: NodeId) -> bool {
        let body = match *self.g.op(t) {
            Op::Scale(_, x) => x,
            _ => t,
        };
        matches!(self.g.op(body), Op::Diag(_) | Op::Identity)
    }

    /// Plan `n` and the entrywise operations under it that nothing else uses as one fused step,
    /// when that saves at least one pass. `None` leaves `n` to the ordinary steps.
    pub(super) fn try_fuse(&mut self, n: NodeId) -> Option<Opnd> {
        let shape = self.size(n);
        if shape.0 * shape.1 < 2 || !self.entrywise(n) {
            return None;
        }
        let op = self.g.op(n).clone();
        if !op.children().iter().any(|&c| self.absorbable(c, shape)) {
            return None;
        }
        // A sum with a product term used only there accumulates it by GEMM, and adds diagonal
        // terms (I, diag(v)) on the diagonal: keep that path.
        if let Op::Lin(ts) = &op {
            let only_here = |t: NodeId| self.parents[t.index()].len() == 1 && !self.values.contains_key(&t);
            let product_term = ts.iter().any(|&(_, t)| {
                let body = match *self.g.op(t) {
                    Op::Scale(_, x) if only_here(t) => x,
                    _ => t,
                };
                (matches!(self.g.op(body), Op::MatMul(_)) && only_here(body)) || self.diagonal_term(t)
            });
            if product_term {
                return None;
            }
        }
        let mut p = Program { prog: vec![], leaves: vec![], memo: HashMap::new(), shape };
        self.emit_ew(n, true, &mut p)?;
        let dst = self.out(n);
        self.emit(Step::Fused { dst, leaves: p.leaves, prog: p.prog });
        Some(Self::at(dst))
    }

    /// Append `n`'s instructions; its register index, or `None` when the program grows too long.
    fn emit_ew(&mut self, n: NodeId, root: bool, p: &mut Program) -> Option<usize> {
        if let Some(&r) = p.memo.get(&n) {
            return Some(r);
        }
        if p.prog.len() >= MAX_REGS {
            return None;
        }
        let g = self.g;
        let ins = if !root && !self.absorbable(n, p.shape) {
            let o = self.value(n);
            if self.size(n) != p.shape {
                return None;
            }
            let k = p.leaves.iter().position(|&l| l == o).unwrap_or_else(|| {
                p.leaves.push(o);
                p.leaves.len() - 1
            });
            Ew::Leaf(k)
        } else {
            match g.op(n).clone() {
                Op::Fill(c) => Ew::Const(c.get()),
                Op::Lin(ts) => {
                    let mut terms = vec![];
                    for (c, t) in ts {
                        terms.push(((c.get(), vec![]), self.emit_ew(t, false, p)?));
                    }
                    Ew::Lin(terms)
                }
                Op::Scale(s, x) => {
                    let s = self.value(s);
                    Ew::Lin(vec![((1.0, vec![s]), self.emit_ew(x, false, p)?)])
                }
                Op::Hadamard(a, b) => Ew::Mul(self.emit_ew(a, false, p)?, self.emit_ew(b, false, p)?),
                Op::Pow(a, e) => Ew::Pow(self.emit_ew(a, false, p)?, e.get()),
                Op::Map(Func::Swish, a) if self.sigmoid_of(a).is_some() => {
                    let sig = self.sigmoid_of(a).unwrap();
                    Ew::Mul(self.emit_ew(a, false, p)?, self.emit_ew(sig, false, p)?)
                }
                Op::Map(f, a) => Ew::Map(f, self.emit_ew(a, false, p)?),
                _ => return None,
            }
        };
        if p.prog.len() >= MAX_REGS {
            return None;
        }
        p.prog.push(ins);
        p.memo.insert(n, p.prog.len() - 1);
        Some(p.prog.len() - 1)
    }
}

super::simd::by_level! {
    /// Evaluate a fused program into `out` (columns `col0..` of the result), vectorized for
    /// the CPU's widest vector instructions.
    pub(super) fn run_fused[](prog: &[Ew], leaves: &[Opnd], ctx: &Ctx<'_, '_>, out: MatMut<'_, f64>, col0: usize) -> () = run_fused_cols
}

/// Column by column, in chunks of rows: every instruction runs over one chunk at a time.
#[inline(always)]
fn run_fused_cols(prog: &[Ew], leaves: &[Opnd], ctx: &Ctx<'_, '_>, mut out: MatMut<'_, f64>, col0: usize) {
    let mut regs = [[0.0f64; CHUNK]; MAX_REGS];
    let rows = out.nrows();
    for j in 0..out.ncols() {
        let mut i0 = 0;
        while i0 < rows {
            let len = CHUNK.min(rows - i0);
            for (k, ins) in prog.iter().enumerate() {
                let (done, rest) = regs.split_at_mut(k);
                let r = &mut rest[0][..len];
                match ins {
                    Ew::Leaf(l) => {
                        let m = ctx.get(leaves[*l]);
                        match super::run::col(m, col0 + j) {
                            Some(c) => r.copy_from_slice(&c[i0..i0 + len]),
                            None => r.iter_mut().enumerate().for_each(|(i, v)| *v = m[(i0 + i, col0 + j)]),
                        }
                    }
                    Ew::Const(c) => r.fill(*c),
                    Ew::Lin(ts) => {
                        let (coef, a) = &ts[0];
                        let c = ctx.coef(coef);
                        r.iter_mut().zip(&done[*a][..len]).for_each(|(v, &x)| *v = c * x);
                        for (coef, a) in &ts[1..] {
                            let c = ctx.coef(coef);
                            r.iter_mut().zip(&done[*a][..len]).for_each(|(v, &x)| *v += c * x);
                        }
                    }
                    Ew::Mul(a, b) => r
                        .iter_mut()
                        .zip(done[*a][..len].iter().zip(&done[*b][..len]))
                        .for_each(|(v, (&x, &y))| *v = x * y),
                    Ew::Pow(a, e) => {
                        let e = *e;
                        r.iter_mut().zip(&done[*a][..len]).for_each(|(v, &x)| *v = pow_value(x, e))
                    }
                    Ew::Map(f, a) => {
                        let f = *f;
                        r.iter_mut().zip(&done[*a][..len]).for_each(|(v, &x)| *v = map_value(f, x))
                    }
                }
            }
            let last = &regs[prog.len() - 1][..len];
            let mut oc = out.rb_mut().col_mut(j);
            for (i, &v) in last.iter().enumerate() {
                oc[i0 + i] = v;
            }
            i0 += len;
        }
    }
}
