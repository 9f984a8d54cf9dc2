//! The planner: IR nodes to steps over numbered buffers, with cost-based rewrites for the sizes.

use super::factor::Factor;
use crate::eval::{check_sizes, Env};
use faer::dyn_stack::{MemBuffer, StackReq};
use faer::Mat;
use matdiff_core::{Func, Graph, NodeId, Op};
use matdiff_syntax::Result;
use std::collections::HashMap;

/// Where a step reads a value: a caller input or a buffer, possibly as its transpose (a view).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Opnd {
    pub src: Src,
    pub t: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    Input(usize),
    Slot(usize),
}

impl Opnd {
    fn flip(self) -> Opnd {
        Opnd { t: !self.t, ..self }
    }
}

/// One instruction; `dst` is always a buffer index.
#[derive(Clone, Debug)]
pub enum Step {
    Fill {
        dst: usize,
        value: f64,
    },
    Ident {
        dst: usize,
    },
    /// dst = Σ cᵢ · (scalarsᵢ) · xᵢ + Σ dⱼ · (scalarsⱼ) · diag(vⱼ), where a missing vⱼ is the
    /// identity; added to dst's value when `acc` (after the GEMMs of product terms).
    Lin {
        dst: usize,
        terms: Vec<(f64, Vec<Opnd>, Opnd)>,
        diag: Vec<(f64, Vec<Opnd>, Option<Opnd>)>,
        acc: bool,
    },
    /// dst = diag(v)·x (rows scaled), or x·diag(v) when `cols`: a diagonal factor of a product
    /// is never formed as a dense matrix.
    ScaleBy {
        dst: usize,
        v: Opnd,
        x: Opnd,
        cols: bool,
    },
    /// dst = a·b for a product known to be symmetric (Xᵀ·X, Xᵀ·diag(w)·X with b = diag(w)·X):
    /// the lower triangle by a triangular product (half the flops), then mirrored.
    SymGemm {
        dst: usize,
        a: Opnd,
        b: Opnd,
    },
    /// dst = Rᵀ·diag(v)·R (the logistic-regression Hessian `A'*diag(w)*A`): the rows of R
    /// scaled block by block into a small buffer while they are in cache, each block's product
    /// added into the lower triangle, then mirrored; the scaled N×d matrix is never written.
    ScaledSymGemm {
        dst: usize,
        r: Opnd,
        v: Opnd,
    },
    Scale {
        dst: usize,
        s: Opnd,
        x: Opnd,
    },
    Had {
        dst: usize,
        a: Opnd,
        b: Opnd,
    },
    Pow {
        dst: usize,
        a: Opnd,
        p: f64,
    },
    Map {
        dst: usize,
        f: Func,
        a: Opnd,
    },
    /// dst = α·a·b, or dst += α·a·b when `acc`.
    Gemm {
        dst: usize,
        a: Opnd,
        b: Opnd,
        alpha: Coef,
        acc: bool,
    },
    Sum {
        dst: usize,
        a: Opnd,
    },
    SqNorm {
        dst: usize,
        a: Opnd,
    },
    Norm1 {
        dst: usize,
        a: Opnd,
    },
    Norm2 {
        dst: usize,
        a: Opnd,
    },
    Dot {
        dst: usize,
        a: Opnd,
        b: Opnd,
    },
    Trace {
        dst: usize,
        a: Opnd,
    },
    /// Factorize a square matrix: Cholesky when symmetric (LU if that fails), else LU.
    Factor {
        f: usize,
        a: Opnd,
        sym: bool,
    },
    /// Factorize α·U·Uᵀ + β·I through its q×q capacitance matrix βI + αUᵀU.
    FactorLowRank {
        f: usize,
        u: Opnd,
        alpha: Coef,
        beta: Coef,
    },
    LogDet {
        dst: usize,
        f: usize,
    },
    Det {
        dst: usize,
        f: usize,
    },
    Inverse {
        dst: usize,
        f: usize,
    },
    /// dst = op(A)⁻¹·rhs, op = transpose when `t`.
    Solve {
        dst: usize,
        f: usize,
        t: bool,
        rhs: Opnd,
    },
    /// dst = tr(A⁻¹·B) from A's factorization; `bu` is B·U when A = α·U·Uᵀ + β·I is planned
    /// low-rank (a product the gradient usually needs too, so it is planned as a shared chain).
    TraceSolve {
        dst: usize,
        f: usize,
        b: Opnd,
        bu: Option<Opnd>,
    },
    /// dst = M⁻¹·rhs, or rhs·M⁻¹ when `right`, with M = βI + α·UᵀU the q×q capacitance matrix
    /// of a low-rank factor `f` (A·U = U·M, so A⁻¹·U = U·M⁻¹ and Uᵀ·A⁻¹ = M⁻¹·Uᵀ).
    CapSolve {
        dst: usize,
        f: usize,
        rhs: Opnd,
        right: bool,
    },
    Diag {
        dst: usize,
        a: Opnd,
    },
    DiagPart {
        dst: usize,
        a: Opnd,
    },
    Copy {
        dst: usize,
        a: Opnd,
    },
    /// dst = kron(a, b).
    Kron {
        dst: usize,
        a: Opnd,
        b: Opnd,
    },
    /// dst = a's entries in column-major order, in dst's shape (`vec`, `unvec`).
    Reshape {
        dst: usize,
        a: Opnd,
    },
    /// dst = softmax(a) of a column (shifted by its maximum; `eval::softmax_into`).
    Softmax {
        dst: usize,
        a: Opnd,
    },
    /// dst = the commutation matrix K(m, n).
    Commutation {
        dst: usize,
        m: usize,
        n: usize,
    },
    /// dst = an entrywise program over same-shaped arrays, in one pass (see `fuse`).
    Fused {
        dst: usize,
        leaves: Vec<Opnd>,
        prog: Vec<super::fuse::Ew>,
    },
}

/// Symmetric products at least this large are computed as one triangle and mirrored (below it
/// the bookkeeping costs more than the halved multiply saves).
const SYM_MIN: usize = 32;
/// ... and have at least this inner dimension.
const SYM_MIN_INNER: usize = 8;

/// A constant times a product of scalar operands.
pub type Coef = (f64, Vec<Opnd>);

/// Steps and buffers for one set of dimension sizes.
pub struct Plan {
    pub dims: Vec<usize>,
    pub steps: Vec<Step>,
    pub slots: Vec<Mat<f64>>,
    pub factors: Vec<Factor>,
    /// Workspace for factorizations, solves and inverses, sized for the largest step.
    pub scratch: MemBuffer,
    pub outputs: Vec<usize>,
    /// The second thread for the halves of large steps (none when every step is small).
    pub duo: Option<super::duo::Duo>,
    /// Input shapes the plan was made for (a run with the same ones reuses it).
    pub input_shapes: Vec<(usize, usize)>,
}

/// A term of a sum distributed over a product: coefficient, scalar factors, matrix factors.
type Term = (f64, Vec<NodeId>, Vec<NodeId>);

/// A product to distribute over its sum factor number `at`.
struct Distribution {
    at: usize,
    terms: Vec<Term>,
    /// Whether the products of the factors left and right of the sum are planned first and
    /// shared by the terms' chains (see `shared_sides_cost`).
    share: bool,
}

/// How a factor of a product chain is produced.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Factor_ {
    Plain(NodeId),
    /// inv(a), or its transpose when `t`: used through solves.
    Inv {
        a: NodeId,
        t: bool,
    },
}

pub(super) struct Planner<'g> {
    pub(super) g: &'g Graph,
    env: Env,
    steps: Vec<Step>,
    shapes: Vec<(usize, usize)>,
    /// Per factor: its matrix size n, and q when it is a low-rank update of the identity.
    factor_sizes: Vec<(usize, Option<usize>)>,
    pub(super) values: HashMap<NodeId, Opnd>,
    chains: HashMap<Vec<NodeId>, Opnd>,
    factor_of: HashMap<NodeId, usize>,
    pub(super) parents: Vec<Vec<NodeId>>,
}

impl Plan {
    pub fn new(g: &Graph, roots: &[NodeId], dims: Vec<usize>) -> Result<Plan> {
        let env = Env { dims: dims.clone(), vars: vec![] };
        check_sizes(g, roots, &env)?;
        let mut parents = vec![vec![]; g.len()];
        for n in g.reachable(roots) {
            for c in g.op(n).children() {
                if !parents[c.index()].contains(&n) {
                    parents[c.index()].push(n);
                }
            }
        }
        let mut p = Planner {
            g,
            env,
            steps: vec![],
            shapes: vec![],
            factor_sizes: vec![],
            values: HashMap::new(),
            chains: HashMap::new(),
            factor_of: HashMap::new(),
            parents,
        };
        p.plan_deep_levels(roots);
        let mut outputs = vec![];
        for &r in roots {
            let o = p.value(r);
            // Outputs are plain buffers the caller can read directly.
            let slot = match o {
                Opnd { src: Src::Slot(s), t: false } => s,
                _ => {
                    let (rows, cols) = p.size(r);
                    let dst = p.slot(rows, cols);
                    p.steps.push(Step::Copy { dst, a: o });
                    dst
                }
            };
            outputs.push(slot);
        }
        let slots = p.shapes.iter().map(|&(r, c)| Mat::zeros(r, c)).collect();
        let factors = p
            .factor_sizes
            .iter()
            .map(|&(n, q)| match q {
                Some(q) => Factor::low_rank(n, q),
                None => Factor::dense(n),
            })
            .collect();
        let scratch = MemBuffer::new(p.scratch());
        let input_shapes = g.vars().iter().map(|v| p.env.size(v.shape)).collect();
        // Steps are split in halves only from PARALLEL_ENTRIES entries (the products that are
        // split have even larger outputs).
        let big = |&(r, c): &(usize, usize)| r * c >= super::run::PARALLEL_ENTRIES;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let duo = (cores >= 2 && p.shapes.iter().any(big)).then(super::duo::Duo::new).flatten();
        Ok(Plan { dims, steps: p.steps, slots, factors, scratch, outputs, duo, input_shapes })
    }

    pub fn describe(&self) -> String {
        self.steps.iter().map(|s| format!("{s:?}\n")).collect()
    }
}

impl Planner<'_> {
    fn shape_of(&self, o: Opnd) -> (usize, usize) {
        let (r, c) = match o.src {
            Src::Input(i) => self.env.size(self.g.vars()[i].shape),
            Src::Slot(s) => self.shapes[s],
        };
        if o.t {
            (c, r)
        } else {
            (r, c)
        }
    }

    /// Workspace for the steps that factorize, solve or invert: the largest any one needs.
    fn scratch(&self) -> StackReq {
        let reqs: Vec<StackReq> = self
            .steps
            .iter()
            .filter_map(|s| {
                let (f, k) = match s {
                    Step::Factor { f, .. } | Step::FactorLowRank { f, .. } => (*f, 1),
                    Step::Inverse { f, .. } => (*f, self.factor_sizes[*f].0),
                    Step::Solve { f, rhs, .. } => (*f, self.shape_of(*rhs).1),
                    Step::TraceSolve { f, b, .. } => (*f, self.shape_of(*b).1),
                    Step::CapSolve { f, rhs, .. } => (*f, self.shape_of(*rhs).1),
                    Step::ScaledSymGemm { r, .. } => {
                        let d = self.shape_of(*r).1;
                        return Some(super::run::scaled_sym_gemm_scratch(d));
                    }
                    _ => return None,
                };
                let (n, q) = self.factor_sizes[f];
                // Low-rank: q×k and d×q temporaries, the q×q capacitance LU; dense fallback: n×n.
                let low = q.map_or(StackReq::EMPTY, |q| {
                    StackReq::any_of(&[
                        faer::linalg::temp_mat_scratch::<f64>(q, k),
                        faer::linalg::temp_mat_scratch::<f64>(n, q),
                        Factor::scratch(q, k),
                    ])
                });
                Some(StackReq::any_of(&[Factor::scratch(n, k), low]))
            })
            .collect();
        StackReq::any_of(&reqs)
    }

    pub(super) fn size(&self, n: NodeId) -> (usize, usize) {
        self.env.size(self.g.shape(n))
    }
    fn slot(&mut self, r: usize, c: usize) -> usize {
        self.shapes.push((r, c));
        self.shapes.len() - 1
    }
    pub(super) fn out(&mut self, n: NodeId) -> usize {
        let (r, c) = self.size(n);
        self.slot(r, c)
    }
    /// The node `sigmoid(a)` if the graph has it: swish(a) = a.*sigmoid(a) then reuses the
    /// sigmoid the gradient needs anyway.
    pub(super) fn sigmoid_of(&self, a: NodeId) -> Option<NodeId> {
        self.g.find(&Op::Map(Func::Sigmoid, a), self.g.shape(a))
    }

    pub(super) fn emit(&mut self, step: Step) {
        self.steps.push(step);
    }
    pub(super) fn at(dst: usize) -> Opnd {
        Opnd { src: Src::Slot(dst), t: false }
    }

    /// The operand holding node `n`'s value, planning its computation on first use.
    /// Planning recurses from a node into its operands. In a graph deeper than
    /// `PLAN_LEVELS` (a definitions chain thousands of levels deep) the nodes at every
    /// `PLAN_LEVELS`-th level are planned first, bottom up, so that the recursion stops at
    /// them: its depth stays bounded, and shallower graphs are planned exactly as before.
    fn plan_deep_levels(&mut self, roots: &[NodeId]) {
        const PLAN_LEVELS: u32 = 128;
        let order = self.g.reachable(roots);
        let mut level: HashMap<NodeId, u32> = HashMap::with_capacity(order.len());
        for &n in &order {
            let below = self.g.op(n).children().iter().map(|c| level[c]).max().unwrap_or(0);
            level.insert(n, below + 1);
        }
        if roots.iter().all(|r| level[r] <= 2 * PLAN_LEVELS) {
            return;
        }
        for n in order {
            if level[&n].is_multiple_of(PLAN_LEVELS) {
                self.value(n);
            }
        }
    }

    pub(super) fn value(&mut self, n: NodeId) -> Opnd {
        if let Some(&o) = self.values.get(&n) {
            return o;
        }
        let o = self.compute(n);
        self.values.insert(n, o);
        o
    }

    fn compute(&mut self, n: NodeId) -> Opnd {
        if let Some(o) = self.try_fuse(n) {
            return o;
        }
        let g = self.g;
        let op = g.op(n).clone();
        let unary = |p: &mut Self, a: NodeId, mk: fn(usize, Opnd) -> Step| {
            let a = p.value(a);
            let dst = p.out(n);
            p.emit(mk(dst, a));
            Self::at(dst)
        };
        match op {
            Op::Var(i) => Opnd { src: Src::Input(i as usize), t: false },
            Op::Const(c) | Op::Fill(c) => {
                let dst = self.out(n);
                self.emit(Step::Fill { dst, value: c.get() });
                Self::at(dst)
            }
            Op::Identity => {
                let dst = self.out(n);
                self.emit(Step::Ident { dst });
                Self::at(dst)
            }
            Op::Lin(ts) => {
                // Scaled terms used only here are folded in, identities are added on the diagonal:
                // a*X*X' + I/b is one pass, not four.
                // A product used only here is accumulated straight into the sum by its last
                // matrix multiply (no separate buffer and pass): W*t*X' + W*X*t' is two GEMMs.
                // Diagonal matrices (I, diag(v)) are added on the diagonal, never formed: diag(p) - p*p'
                // is one rank-1 GEMM and a pass over the diagonal.
                let mut terms = vec![];
                let mut diag = vec![];
                let mut fused = vec![];
                for (c, t) in ts {
                    let (scalars, body) = match *g.op(t) {
                        Op::Scale(s, x)
                            if self.parents[t.index()].len() == 1 || matches!(g.op(x), Op::Identity | Op::Diag(_)) =>
                        {
                            (vec![self.value(s)], x)
                        }
                        _ => (vec![], t),
                    };
                    match *g.op(body) {
                        Op::Identity => diag.push((c.get(), scalars, None)),
                        Op::Diag(v) => {
                            let v = self.value(v);
                            diag.push((c.get(), scalars, Some(v)))
                        }
                        _ => match self.fusable_product(body) {
                            Some((a, b)) => fused.push(((c.get(), scalars), a, b)),
                            None => terms.push((c.get(), scalars, self.value(body))),
                        },
                    }
                }
                let dst = self.out(n);
                // The plain terms set dst first; with none, the first GEMM does and the diagonal
                // is added after the products.
                let first = !terms.is_empty() || fused.is_empty();
                if first {
                    self.emit(Step::Lin { dst, terms, diag: std::mem::take(&mut diag), acc: false });
                }
                for (k, (alpha, a, b)) in fused.into_iter().enumerate() {
                    self.emit(Step::Gemm { dst, a, b, alpha, acc: first || k > 0 });
                }
                if !diag.is_empty() {
                    self.emit(Step::Lin { dst, terms: vec![], diag, acc: true });
                }
                Self::at(dst)
            }
            Op::Scale(s, x) => {
                let (s, x) = (self.value(s), self.value(x));
                let dst = self.out(n);
                self.emit(Step::Scale { dst, s, x });
                Self::at(dst)
            }
            Op::MatMul(fs) => self.chain(&fs),
            Op::Hadamard(a, b) => {
                let (a, b) = (self.value(a), self.value(b));
                let dst = self.out(n);
                self.emit(Step::Had { dst, a, b });
                Self::at(dst)
            }
            Op::Pow(a, p) => {
                let a = self.value(a);
                let dst = self.out(n);
                self.emit(Step::Pow { dst, a, p: p.get() });
                Self::at(dst)
            }
            Op::Map(Func::Swish, a) if self.sigmoid_of(a).is_some() => {
                let sig = self.sigmoid_of(a).unwrap();
                let (a, sig) = (self.value(a), self.value(sig));
                let dst = self.out(n);
                self.emit(Step::Had { dst, a, b: sig });
                Self::at(dst)
            }
            Op::Map(f, a) => {
                let a = self.value(a);
                let dst = self.out(n);
                self.emit(Step::Map { dst, f, a });
                Self::at(dst)
            }
            Op::Transpose(a) => self.value(a).flip(),
            Op::Sum(a) => unary(self, a, |dst, a| Step::Sum { dst, a }),
            Op::SqNorm(a) => unary(self, a, |dst, a| Step::SqNorm { dst, a }),
            Op::Norm1(a) => unary(self, a, |dst, a| Step::Norm1 { dst, a }),
            Op::Norm2(a) => unary(self, a, |dst, a| Step::Norm2 { dst, a }),
            Op::Dot(a, b) => {
                let (a, b) = (self.value(a), self.value(b));
                let dst = self.out(n);
                self.emit(Step::Dot { dst, a, b });
                Self::at(dst)
            }
            Op::Trace(a) => self.trace(n, a),
            Op::Det(a) => {
                let f = self.factor(a);
                let dst = self.out(n);
                self.emit(Step::Det { dst, f });
                Self::at(dst)
            }
            Op::LogDet(a) => {
                let f = self.factor(a);
                let dst = self.out(n);
                self.emit(Step::LogDet { dst, f });
                Self::at(dst)
            }
            Op::Inv(a) => {
                let f = self.factor(a);
                let dst = self.out(n);
                self.emit(Step::Inverse { dst, f });
                Self::at(dst)
            }
            Op::Diag(a) => unary(self, a, |dst, a| Step::Diag { dst, a }),
            Op::DiagPart(a) => unary(self, a, |dst, a| Step::DiagPart { dst, a }),
            Op::Kron(a, b) => {
                let (a, b) = (self.value(a), self.value(b));
                let dst = self.out(n);
                self.emit(Step::Kron { dst, a, b });
                Self::at(dst)
            }
            Op::Vectorize(a) | Op::Unvec(a) => unary(self, a, |dst, a| Step::Reshape { dst, a }),
            Op::Softmax(a) => unary(self, a, |dst, a| Step::Softmax { dst, a }),
            Op::Commutation(m, k) => {
                let (m, k) = (self.env.dims[m as usize], self.env.dims[k as usize]);
                let dst = self.out(n);
                self.emit(Step::Commutation { dst, m, n: k });
                Self::at(dst)
            }
        }
    }

    /// The two operands of a product's last multiply, planned, when the product is used by one
    /// parent only, is not planned yet, and its last step is a plain multiply (not a solve).
    fn fusable_product(&mut self, t: NodeId) -> Option<(Opnd, Opnd)> {
        let Op::MatMul(fs) = self.g.op(t).clone() else { return None };
        if self.parents[t.index()].len() != 1 || self.values.contains_key(&t) || self.planned(&fs).is_some() {
            return None;
        }
        if self.sandwich_parts(&fs).is_none() && fs.iter().any(|&f| self.diag_vector(f).is_some()) {
            // A diagonal chain's last multiply accumulates into the sum like a plain one's.
            return match self.diagonal_parts(&fs)? {
                Err(ab) => Some(ab),
                Ok(o) => {
                    // Already a value: no multiply left to fuse; record it for `value`.
                    self.values.insert(t, o);
                    None
                }
            };
        }
        if self.distributable(&fs).is_some() || self.low_rank_pair(&fs).is_some() || self.structured(&fs) {
            return None;
        }
        let (_, split) = self.chain_dp(&fs);
        let k = fs.len();
        let s = split[0][k - 1];
        let inv = |p: &Self, f: NodeId| matches!(p.classify(f), Factor_::Inv { .. });
        if (s == 0 && inv(self, fs[0])) || (s + 1 == k - 1 && inv(self, fs[k - 1])) {
            return None;
        }
        let a = self.build(&fs, &split, 0, s);
        let b = self.build(&fs, &split, s + 1, k - 1);
        Some((a, b))
    }

    /// One factorization per matrix, shared by log det, det, inverse and solves.
    fn factor(&mut self, a: NodeId) -> usize {
        if let Some(&f) = self.factor_of.get(&a) {
            return f;
        }
        let n = self.size(a).0;
        // Operands first: planning them may add factors of their own.
        let f = if let Some((u, alpha, beta)) = self.low_rank(a) {
            let f = self.factor_sizes.len();
            self.factor_sizes.push((n, Some(self.shape_of(u).1)));
            self.emit(Step::FactorLowRank { f, u, alpha, beta });
            f
        } else {
            let av = self.value(a);
            let f = self.factor_sizes.len();
            self.factor_sizes.push((n, None));
            self.emit(Step::Factor { f, a: av, sym: self.g.node(a).symmetric });
            f
        };
        self.factor_of.insert(a, f);
        f
    }

    /// The parts (U and whether it is written transposed, α's and β's factors) of `α·U·Uᵀ + β·I`.
    #[allow(clippy::type_complexity)]
    fn low_rank_parts(&self, a: NodeId) -> Option<((NodeId, bool), (f64, Vec<NodeId>), (f64, Vec<NodeId>))> {
        let Op::Lin(ts) = self.g.op(a).clone() else { return None };
        if ts.len() != 2 {
            return None;
        }
        let (mut u, mut alpha, mut beta) = (None, None, None);
        for (c, t) in ts {
            let (scalars, body) = match *self.g.op(t) {
                Op::Scale(s, x) => (vec![s], x),
                _ => (vec![], t),
            };
            match self.g.op(body).clone() {
                Op::Identity => beta = Some((c.get(), scalars)),
                Op::MatMul(fs) if fs.len() == 2 && *self.g.op(fs[1]) == Op::Transpose(fs[0]) => {
                    u = Some((fs[0], false));
                    alpha = Some((c.get(), scalars));
                }
                Op::MatMul(fs) if fs.len() == 2 && *self.g.op(fs[0]) == Op::Transpose(fs[1]) => {
                    u = Some((fs[1], true));
                    alpha = Some((c.get(), scalars));
                }
                _ => return None,
            }
        }
        let ((un, flip), alpha, beta) = (u?, alpha?, beta?);
        let (d, q) = self.size(un);
        let (d, q) = if flip { (q, d) } else { (d, q) };
        (4 * q <= d).then_some(((un, flip), alpha, beta))
    }

    /// Whether `a` will be factorized as a low-rank update of the identity (plans nothing).
    fn is_low_rank(&self, a: NodeId) -> bool {
        if let Some(&f) = self.factor_of.get(&a) {
            return self.steps.iter().any(|s| matches!(s, Step::FactorLowRank { f: g, .. } if *g == f));
        }
        self.low_rank_parts(a).is_some()
    }

    /// `α·U·Uᵀ + β·I` with U thin (q ≤ d/4): factorized through the q×q matrix βI + αUᵀU
    /// (Woodbury and the matrix determinant lemma) instead of the d×d one.
    fn low_rank(&mut self, a: NodeId) -> Option<(Opnd, Coef, Coef)> {
        let ((un, flip), alpha, beta) = self.low_rank_parts(a)?;
        let uo = self.value(un);
        let uo = if flip { uo.flip() } else { uo };
        let coef = |p: &mut Self, (c, ss): (f64, Vec<NodeId>)| (c, ss.iter().map(|&s| p.value(s)).collect());
        let (alpha, beta) = (coef(self, alpha), coef(self, beta));
        Some((uo, alpha, beta))
    }

    /// tr(F₁⋯Fₖ) = ⟨F₁⋯Fₛ, (Fₛ₊₁⋯Fₖ)ᵀ⟩ at the cheapest split: the product is never formed.
    fn trace(&mut self, n: NodeId, a: NodeId) -> Opnd {
        let fs = match self.g.op(a) {
            Op::MatMul(fs) => fs.clone(),
            _ => {
                let av = self.value(a);
                let dst = self.out(n);
                self.emit(Step::Trace { dst, a: av });
                return Self::at(dst);
            }
        };
        // tr(inv(A)*B) with A = α·U·Uᵀ + β·I: never form the d×d inverse.
        if let [x, y] = fs[..] {
            for (inv, other) in [(x, y), (y, x)] {
                if let Factor_::Inv { a: m, .. } = self.classify(inv) {
                    if self.is_low_rank(m) {
                        let f = self.factor(m);
                        let b = self.value(other);
                        // B·U as a chain, so that a gradient needing it (S·A⁻¹·U = S·U·M⁻¹) shares it.
                        let bu = match self.low_rank_parts(m) {
                            Some(((u, false), ..)) => Some(self.chain(&[other, u])),
                            _ => None,
                        };
                        let dst = self.out(n);
                        self.emit(Step::TraceSolve { dst, f, b, bu });
                        return Self::at(dst);
                    }
                }
            }
        }
        let k = fs.len();
        let best = (1..k)
            .min_by(|&x, &y| {
                let cx = self.standalone_cost(&fs[..x]) + self.standalone_cost(&fs[x..]);
                let cy = self.standalone_cost(&fs[..y]) + self.standalone_cost(&fs[y..]);
                cx.total_cmp(&cy)
            })
            .unwrap();
        let left = self.chain(&fs[..best]);
        let right = self.chain(&fs[best..]);
        let dst = self.out(n);
        self.emit(Step::Dot { dst, a: left, b: right.flip() });
        Self::at(dst)
    }

    fn classify(&self, f: NodeId) -> Factor_ {
        match self.g.op(f) {
            Op::Inv(a) => Factor_::Inv { a: *a, t: false },
            Op::Transpose(x) => match self.g.op(*x) {
                Op::Inv(a) => Factor_::Inv { a: *a, t: true },
                _ => Factor_::Plain(f),
            },
            _ => Factor_::Plain(f),
        }
    }

    /// The operand of a product already planned: the chain itself, or its transpose read
    /// transposed (`X'*V'` is `(V*X)'`: the autoencoder's HVP has `W*X*X'*V'*W`, which is
    /// `(W*X)*(V*X)'*W` with both products shared with the gradient's forward pass).
    fn planned(&self, fs: &[NodeId]) -> Option<Opnd> {
        if let Some(&o) = self.chains.get(fs) {
            return Some(o);
        }
        if fs.len() < 2 {
            return None;
        }
        let t: Option<Vec<NodeId>> = fs.iter().rev().map(|&f| self.transpose_of(f)).collect();
        self.chains.get(&t?).map(|o| o.flip())
    }

    /// The node `f'`, if the graph has it.
    fn transpose_of(&self, f: NodeId) -> Option<NodeId> {
        match *self.g.op(f) {
            Op::Transpose(x) => Some(x),
            _ => self.g.find(&Op::Transpose(f), self.g.shape(f).t()),
        }
    }

    /// Rows of each factor and columns of the last, for the chain-order programme.
    fn chain_dims(&self, fs: &[NodeId]) -> Vec<usize> {
        std::iter::once(self.size(fs[0]).0).chain(fs.iter().map(|&f| self.size(f).1)).collect()
    }

    /// Flops of the best order (sub-chains already planned cost nothing).
    fn chain_cost(&self, fs: &[NodeId]) -> f64 {
        self.chain_dp(fs).0
    }

    /// Matrix-chain programme aware of sub-chains already planned: (cost, split table).
    fn chain_dp(&self, fs: &[NodeId]) -> (f64, Vec<Vec<usize>>) {
        let k = fs.len();
        if k <= 1 || self.planned(fs).is_some() {
            return (0.0, vec![vec![0; k]; k]);
        }
        let d: Vec<f64> = self.chain_dims(fs).into_iter().map(|d| d as f64).collect();
        let order = matdiff_core::chain_order(&d, |i, j| self.planned(&fs[i..=j]).is_some());
        (order.cost, order.split)
    }

    /// Flops to compute a product of `fs` on its own: its chain, or an explicit inverse when it
    /// is a lone `inv(A)` (inside a longer chain an inverse becomes a solve, costing like a product).
    fn standalone_cost(&self, fs: &[NodeId]) -> f64 {
        match fs {
            [f] if matches!(self.classify(*f), Factor_::Inv { .. }) => {
                let n = self.size(*f).0 as f64;
                n * n * n
            }
            _ => self.chain_cost(fs),
        }
    }

    /// [`Self::standalone_cost`], with the inverses of low-rank updates of the identity inside a
    /// longer chain costed as what they are, Woodbury solves (about 4·n·q per column of the
    /// thinner side), not n×n products: `inv(K)*(V*X' + X*V')*inv(K)*Y*Y'*inv(K)*X` (the GPLVM's
    /// HVP) then distributes over the sum and stays n×q instead of forming the n×n sum.
    fn solve_aware_cost(&self, fs: &[NodeId]) -> f64 {
        if fs.len() < 2 {
            return self.standalone_cost(fs);
        }
        let cheap = |f: NodeId| match self.classify(f) {
            Factor_::Inv { a, .. } if self.is_low_rank(a) => self.low_rank_parts(a).map(|((u, t), ..)| {
                let (d, q) = self.size(u);
                if t {
                    (q, d)
                } else {
                    (d, q)
                }
            }),
            _ => None,
        };
        let rest: Vec<NodeId> = fs.iter().copied().filter(|&f| cheap(f).is_none()).collect();
        if rest.len() == fs.len() || rest.is_empty() {
            return self.chain_cost(fs);
        }
        let thin = self.size(fs[0]).0.min(self.size(fs[fs.len() - 1]).1) as f64;
        let solves: f64 = fs.iter().filter_map(|&f| cheap(f)).map(|(d, q)| 4.0 * (d * q) as f64 * thin).sum();
        self.chain_cost(&rest) + solves
    }

    /// The cost of a product distributed over a sum with the product of the factors on each
    /// side of the sum (`left`, `right`) computed once and shared by every term's chain; `None`
    /// when a side is a single factor (nothing to share) or a factor is an inverse (solves are
    /// costed by `solve_aware_cost`).
    fn shared_sides_cost(&self, left: &[NodeId], terms: &[Term], right: &[NodeId]) -> Option<f64> {
        if left.len() < 2 && right.len() < 2 {
            return None;
        }
        let plain = |f: &NodeId| matches!(self.classify(*f), Factor_::Plain(_));
        if !left.iter().chain(right).chain(terms.iter().flat_map(|t| &t.2)).all(plain) {
            return None;
        }
        let mut cost = self.chain_cost(left) + self.chain_cost(right);
        for (_, _, factors) in terms {
            // Each side as one factor: its rows, then the columns of every factor after it.
            let mut dims = vec![];
            if let Some(&l) = left.first() {
                dims.push(self.size(l).0 as f64);
            }
            dims.push(self.size(factors[0]).0 as f64);
            dims.extend(factors.iter().map(|&f| self.size(f).1 as f64));
            if let Some(&r) = right.last() {
                dims.push(self.size(r).1 as f64);
            }
            cost += matdiff_core::chain_order(&dims, |_, _| false).cost;
        }
        Some(cost)
    }

    /// A sum factor worth distributing the product over: `(A - B)*X` → `A*X - B*X`.
    fn distributable(&mut self, fs: &[NodeId]) -> Option<Distribution> {
        for (k, &f) in fs.iter().enumerate() {
            let Op::Lin(ts) = self.g.op(f).clone() else { continue };
            if ts.len() < 2 {
                continue;
            }
            // Split each term into scalar multipliers and matrix factors.
            let terms: Vec<Term> = ts
                .iter()
                .map(|(c, t)| {
                    let (scalars, body) = match self.g.op(*t) {
                        Op::Scale(s, y) => (vec![*s], *y),
                        _ => (vec![], *t),
                    };
                    let factors = match self.g.op(body) {
                        Op::MatMul(inner) => inner.clone(),
                        _ => vec![body],
                    };
                    (c.get(), scalars, factors)
                })
                .collect();
            let only_in_products = self.only_in_products(f);
            // Materializing the sum: each term on its own (unless the sum is needed anyway), then the chain.
            let (r, c) = self.size(f);
            let own: f64 = terms.iter().map(|(_, _, fs)| self.solve_aware_cost(fs) + (r * c) as f64).sum();
            let materialize = if only_in_products { own } else { 0.0 } + self.solve_aware_cost(fs);
            let mut distributed = 0.0;
            for (_, _, factors) in &terms {
                let spliced: Vec<NodeId> = fs[..k].iter().chain(factors).chain(&fs[k + 1..]).copied().collect();
                distributed += self.solve_aware_cost(&spliced);
            }
            // The terms' chains share the factors left and right of the sum: counted once
            // (`W*X*X'*(V'*W + W'*V)`, the autoencoder's HVP: W·X·X' once, then two thin
            // products per term, instead of the n×n sum and its product).
            let share = self.shared_sides_cost(&fs[..k], &terms, &fs[k + 1..]).filter(|&c| c < distributed);
            let distributed = share.unwrap_or(distributed);
            if distributed < 0.5 * materialize {
                return Some(Distribution { at: k, terms, share: share.is_some() });
            }
        }
        None
    }

    /// Whether `f` is used only as a factor of products, itself, transposed, scaled or as a term
    /// of a sum that is itself used only so (an HVP has `S*B`, `S'*C`, `a*S*D` and `(S + T)*X`,
    /// every product then distributed over the sums), so that the sum is never needed as a
    /// matrix. Looks at most `MAX_USE_DEPTH` levels up (deep definitions chains).
    fn only_in_products(&self, f: NodeId) -> bool {
        const MAX_USE_DEPTH: u32 = 8;
        fn walk(p: &Planner, f: NodeId, depth: u32) -> bool {
            depth < MAX_USE_DEPTH
                && p.parents[f.index()].iter().all(|&q| match p.g.op(q) {
                    Op::MatMul(_) => true,
                    Op::Transpose(_) | Op::Lin(_) => walk(p, q, depth + 1),
                    Op::Scale(s, x) => *x == f && *s != f && walk(p, q, depth + 1),
                    _ => false,
                })
        }
        walk(self, f, 0)
    }

    /// The product F₁⋯Fₖ in the cheapest order, inverses applied by solves.
    fn chain(&mut self, fs: &[NodeId]) -> Opnd {
        if fs.len() == 1 {
            return self.value(fs[0]);
        }
        if let Some(o) = self.planned(fs) {
            return o;
        }
        if let Some(o) = self.sandwich(fs).or_else(|| self.through_diagonal(fs)) {
            self.chains.insert(fs.to_vec(), o);
            return o;
        }
        if let Some(Distribution { at: k, terms, share }) = self.distributable(fs) {
            if share {
                // The sides first, so that every term's chain finds them planned.
                for side in [&fs[..k], &fs[k + 1..]] {
                    if side.len() >= 2 {
                        self.chain(side);
                    }
                }
            }
            let mut lin = vec![];
            for (c, scalars, factors) in terms {
                let spliced: Vec<NodeId> = fs[..k].iter().chain(&factors).chain(&fs[k + 1..]).copied().collect();
                let x = self.chain(&spliced);
                let ss = scalars.iter().map(|&s| self.value(s)).collect();
                lin.push((c, ss, x));
            }
            let (r, c) = (self.size(fs[0]).0, self.size(fs[fs.len() - 1]).1);
            let dst = self.slot(r, c);
            self.emit(Step::Lin { dst, terms: lin, diag: vec![], acc: false });
            let o = Self::at(dst);
            self.chains.insert(fs.to_vec(), o);
            return o;
        }
        if let Some(pair) = self.low_rank_pair(fs) {
            let o = self.through_capacitance(fs, pair);
            self.chains.insert(fs.to_vec(), o);
            return o;
        }
        let (_, split) = self.chain_dp(fs);
        let o = self.build(fs, &split, 0, fs.len() - 1);
        self.chains.insert(fs.to_vec(), o);
        o
    }

    /// Whether a chain takes one of the structured routes (`sandwich`, `through_diagonal`),
    /// which plain chain ordering (`build`) must not bypass.
    fn structured(&self, fs: &[NodeId]) -> bool {
        fs.iter().any(|&f| matches!(self.g.op(f), Op::Diag(_))) || self.sandwich_parts(fs).is_some()
    }

    /// The vector of a diagonal factor `diag(v)`.
    fn diag_vector(&self, f: NodeId) -> Option<NodeId> {
        match *self.g.op(f) {
            Op::Diag(v) => Some(v),
            _ => None,
        }
    }

    /// The diagonal of a run of diagonal factors diag(v₁)⋯diag(vₖ): v₁ ⊙ ⋯ ⊙ vₖ.
    fn diag_run(&mut self, run: &[NodeId]) -> Opnd {
        let mut v = self.value(self.diag_vector(run[0]).expect("a diagonal factor"));
        for &f in &run[1..] {
            let w = self.value(self.diag_vector(f).expect("a diagonal factor"));
            let (r, c) = self.shape_of(v);
            let dst = self.slot(r, c);
            self.emit(Step::Had { dst, a: v, b: w });
            v = Self::at(dst);
        }
        v
    }

    /// A product that reads the same transposed, `Rᵀ·R` or `Rᵀ·M·R` with M symmetric or a run
    /// of diagonal factors (R itself a chain), large enough to be worth computing as one
    /// triangle: (start of R, the middle factors), when that costs less than the best plain
    /// order (always with a diagonal middle: `Aᵀ·diag(w)·A`, the logistic-regression Hessian,
    /// is one scaled rank-k update).
    fn sandwich_parts(&self, fs: &[NodeId]) -> Option<(usize, std::ops::Range<usize>)> {
        let k = fs.len();
        let (r, c) = (self.size(fs[0]).0, self.size(fs[k - 1]).1);
        if k < 2 || r != c || r < SYM_MIN {
            return None;
        }
        let mirrored = |a: NodeId, b: NodeId| {
            (a == b && self.g.node(a).symmetric)
                || *self.g.op(a) == Op::Transpose(b)
                || *self.g.op(b) == Op::Transpose(a)
        };
        // Diagonal factors commute: a run of them in the middle is one diagonal.
        let first_diag = fs.iter().position(|&f| self.diag_vector(f).is_some());
        let (lo, hi) = match first_diag {
            Some(i) => {
                let j = (i..k).find(|&j| self.diag_vector(fs[j]).is_none()).unwrap_or(k);
                (i, j)
            }
            None => (k / 2, k - k / 2),
        };
        let diagonal = first_diag.is_some();
        if lo != k - hi || (!diagonal && hi - lo > 1) {
            return None;
        }
        if !(0..lo).all(|i| mirrored(fs[i], fs[k - 1 - i])) || (!diagonal && hi > lo && !mirrored(fs[lo], fs[lo])) {
            return None;
        }
        let right = &fs[hi..];
        if right.is_empty() {
            return None;
        }
        let inner = self.size(right[0]).0;
        if inner < SYM_MIN_INNER {
            // An outer product is memory-bound: mirroring would only add a pass.
            return None;
        }
        let inner = inner as f64;
        let middle_cost = match hi - lo {
            0 => 0.0,
            _ if diagonal => inner * r as f64,
            _ => inner * inner * r as f64,
        };
        let cost = self.chain_cost(right) + middle_cost + 0.5 * (r * r) as f64 * inner;
        (diagonal || cost < self.chain_cost(fs)).then_some((hi, lo..hi))
    }

    /// `Rᵀ·R`, `Rᵀ·diag(w)·R` or `Rᵀ·M·R` (see `sandwich_parts`): R once, then the lower triangle
    /// of its product with diag(w)·R (rows scaled) or M·R, mirrored.
    fn sandwich(&mut self, fs: &[NodeId]) -> Option<Opnd> {
        let (start, middle) = self.sandwich_parts(fs)?;
        let right = &fs[start..];
        let ro = self.chain(right);
        let (inner, r) = (self.size(right[0]).0, self.size(fs[fs.len() - 1]).1);
        let b = if middle.is_empty() {
            ro
        } else if self.diag_vector(fs[middle.start]).is_some() {
            let v = self.diag_run(&fs[middle]);
            let dst = self.slot(r, r);
            self.emit(Step::ScaledSymGemm { dst, r: ro, v });
            return Some(Self::at(dst));
        } else {
            let mo = self.value(fs[middle.start]);
            self.product(mo, ro, inner, r)
        };
        let dst = self.slot(r, r);
        self.emit(Step::SymGemm { dst, a: ro.flip(), b });
        Some(Self::at(dst))
    }

    /// A chain with diagonal factors `L·diag(v)·R` (a run of them is one diagonal): the
    /// cheaper side scaled by rows or columns — its adjacent factor when that is smaller than
    /// the side's product (`e*1'*diag(e)` scales the row 1', not an n×n product) — then the
    /// product; diag(v) is never formed. Returns the value, or the two operands of the last
    /// multiply (for a sum to accumulate into).
    fn diagonal_parts(&mut self, fs: &[NodeId]) -> Option<Result<Opnd, (Opnd, Opnd)>> {
        let i = fs.iter().position(|&f| self.diag_vector(f).is_some())?;
        let j = (i..fs.len()).find(|&j| self.diag_vector(fs[j]).is_none()).unwrap_or(fs.len());
        let n = self.size(fs[i]).0;
        let (left, right) = (&fs[..i], &fs[j..]);
        let v = self.diag_run(&fs[i..j]);
        if left.is_empty() && right.is_empty() {
            // Only diagonal factors: the product is diag(v₁ ⊙ ⋯ ⊙ vₖ) itself.
            let dst = self.slot(n, n);
            self.emit(Step::Diag { dst, a: v });
            return Some(Ok(Self::at(dst)));
        }
        let entries = |p: &Self, f: &[NodeId]| {
            let (r, c) = (p.size(f[0]).0, p.size(f[f.len() - 1]).1);
            r * c
        };
        // Scale the side whose scaled operand is smaller.
        let cost_of = |p: &Self, side: &[NodeId], near: NodeId| entries(p, side).min(entries(p, &[near]));
        let scale_right = match (left.last(), right.first()) {
            (_, None) => false,
            (None, _) => true,
            (Some(&l), Some(&r)) => cost_of(self, right, r) <= cost_of(self, left, l),
        };
        let parts = if scale_right {
            let near = right[0];
            if right.len() > 1 && entries(self, &[near]) < entries(self, right) {
                // diag(v)·F·Rest = (diag(v)·F)·Rest
                let fo = self.value(near);
                let c = self.size(near).1;
                let dst = self.slot(n, c);
                self.emit(Step::ScaleBy { dst, v, x: fo, cols: false });
                let rest = self.chain(&right[1..]);
                let mut ops = vec![Self::at(dst), rest];
                if !left.is_empty() {
                    ops.insert(0, self.chain(left));
                }
                return Some(self.last_product(ops));
            }
            let ro = self.chain(right);
            let c = self.size(right[right.len() - 1]).1;
            let dst = self.slot(n, c);
            self.emit(Step::ScaleBy { dst, v, x: ro, cols: false });
            if left.is_empty() {
                return Some(Ok(Self::at(dst)));
            }
            vec![self.chain(left), Self::at(dst)]
        } else {
            let near = left[left.len() - 1];
            if left.len() > 1 && entries(self, &[near]) < entries(self, left) {
                // Rest·F·diag(v) = Rest·(F·diag(v))
                let fo = self.value(near);
                let r = self.size(near).0;
                let dst = self.slot(r, n);
                self.emit(Step::ScaleBy { dst, v, x: fo, cols: true });
                let mut ops = vec![self.chain(&left[..left.len() - 1]), Self::at(dst)];
                if !right.is_empty() {
                    ops.push(self.chain(right));
                }
                return Some(self.last_product(ops));
            }
            let lo = self.chain(left);
            let r = self.size(left[0]).0;
            let dst = self.slot(r, n);
            self.emit(Step::ScaleBy { dst, v, x: lo, cols: true });
            if right.is_empty() {
                return Some(Ok(Self::at(dst)));
            }
            vec![Self::at(dst), self.chain(right)]
        };
        Some(self.last_product(parts))
    }

    /// Two or three planned operands multiplied in the cheaper order, all but the last multiply
    /// planned: that one's operands are returned.
    fn last_product(&mut self, ops: Vec<Opnd>) -> Result<Opnd, (Opnd, Opnd)> {
        match ops[..] {
            [a, b] => Err((a, b)),
            [a, b, c] => {
                let ((r, p), (_, q), (_, s)) = (self.shape_of(a), self.shape_of(b), self.shape_of(c));
                // (ab)c: r·p·q + r·q·s; a(bc): p·q·s + r·p·s.
                if r * p * q + r * q * s <= p * q * s + r * p * s {
                    Err((self.product(a, b, r, q), c))
                } else {
                    Err((a, self.product(b, c, p, s)))
                }
            }
            _ => unreachable!("two or three operands"),
        }
    }

    /// `diagonal_parts` as a value.
    fn through_diagonal(&mut self, fs: &[NodeId]) -> Option<Opnd> {
        Some(match self.diagonal_parts(fs)? {
            Ok(o) => o,
            Err((a, b)) => {
                let ((r, _), (_, c)) = (self.shape_of(a), self.shape_of(b));
                self.product(a, b, r, c)
            }
        })
    }

    /// The rightmost `A⁻¹·U` or `Uᵀ·A⁻¹` in a chain, with A = α·U·Uᵀ + β·I planned low-rank:
    /// (index of the pair's first factor, A, whether the inverse comes first).
    fn low_rank_pair(&self, fs: &[NodeId]) -> Option<(usize, NodeId, bool)> {
        (0..fs.len().saturating_sub(1)).rev().find_map(|i| {
            let (x, y) = (fs[i], fs[i + 1]);
            match (self.low_rank_inverse(x), self.low_rank_inverse(y)) {
                (Some((a, u)), _) if u == y => Some((i, a, true)),
                (_, Some((a, u))) if *self.g.op(x) == Op::Transpose(u) => Some((i, a, false)),
                _ => None,
            }
        })
    }

    /// For a factor `inv(A)` (or its transpose) with A = α·U·Uᵀ + β·I planned low-rank: (A, U).
    fn low_rank_inverse(&self, f: NodeId) -> Option<(NodeId, NodeId)> {
        let Factor_::Inv { a, .. } = self.classify(f) else { return None };
        match self.low_rank_parts(a) {
            Some(((u, false), ..)) if self.is_low_rank(a) => Some((a, u)),
            _ => None,
        }
    }

    /// F·A⁻¹·U·G = ((F·U)·M⁻¹)·G and F·Uᵀ·A⁻¹·G = F·(M⁻¹·(Uᵀ·G)): the d×d inverse becomes a q×q
    /// solve, and F·U (often S·U, already needed for tr(A⁻¹·S)) is planned as a shared chain.
    fn through_capacitance(&mut self, fs: &[NodeId], (i, a, inv_first): (usize, NodeId, bool)) -> Opnd {
        let f = self.factor(a);
        let ((un, _), ..) = self.low_rank_parts(a).expect("low-rank pair");
        let q = self.size(un).1;
        let (left, right) = (&fs[..i], &fs[i + 2..]);
        if inv_first {
            let fu: Vec<NodeId> = left.iter().copied().chain([un]).collect();
            let fu_o = self.chain(&fu);
            let rows = self.size(fu[0]).0;
            let dst = self.slot(rows, q);
            self.emit(Step::CapSolve { dst, f, rhs: fu_o, right: true });
            let p = Self::at(dst);
            if right.is_empty() {
                return p;
            }
            let r = self.chain(right);
            let cols = self.size(right[right.len() - 1]).1;
            self.product(p, r, rows, cols)
        } else {
            let ut = fs[i];
            let ug: Vec<NodeId> = [ut].into_iter().chain(right.iter().copied()).collect();
            let ug_o = self.chain(&ug);
            let cols = self.size(ug[ug.len() - 1]).1;
            let dst = self.slot(q, cols);
            self.emit(Step::CapSolve { dst, f, rhs: ug_o, right: false });
            let p = Self::at(dst);
            if left.is_empty() {
                return p;
            }
            let l = self.chain(left);
            let rows = self.size(left[0]).0;
            self.product(l, p, rows, cols)
        }
    }

    /// a·b (r×c) into a new buffer. A short, wide result from a transposed right factor (r·hᵀ
    /// in a backward pass) is computed as its tall transpose B·Aᵀ, whose left factor is then
    /// plain, and read transposed: faer's kernels tile the rows of the output (0.09 → 0.06 ms
    /// for P3's 10×256·256×512).
    fn product(&mut self, a: Opnd, b: Opnd, r: usize, c: usize) -> Opnd {
        if r < 32 && c >= 4 * r && b.t {
            let dst = self.slot(c, r);
            self.emit(Step::Gemm { dst, a: b.flip(), b: a.flip(), alpha: (1.0, vec![]), acc: false });
            Self::at(dst).flip()
        } else {
            let dst = self.slot(r, c);
            self.emit(Step::Gemm { dst, a, b, alpha: (1.0, vec![]), acc: false });
            Self::at(dst)
        }
    }

    fn build(&mut self, fs: &[NodeId], split: &[Vec<usize>], i: usize, j: usize) -> Opnd {
        if i == j {
            return self.value(fs[i]);
        }
        if let Some(o) = self.planned(&fs[i..=j]) {
            return o;
        }
        let s = split[i][j];
        let (r, c) = (self.size(fs[i]).0, self.size(fs[j]).1);
        let o = match (s == i, s + 1 == j) {
            // inv(A)·R: a solve instead of an inverse.
            (true, _) if matches!(self.classify(fs[i]), Factor_::Inv { .. }) => {
                let Factor_::Inv { a, t } = self.classify(fs[i]) else { unreachable!() };
                let rhs = self.build(fs, split, i + 1, j);
                let f = self.factor(a);
                let dst = self.slot(r, c);
                self.emit(Step::Solve { dst, f, t, rhs });
                Self::at(dst)
            }
            // L·inv(A) = (inv(A)ᵀ·Lᵀ)ᵀ.
            (_, true) if matches!(self.classify(fs[j]), Factor_::Inv { .. }) => {
                let Factor_::Inv { a, t } = self.classify(fs[j]) else { unreachable!() };
                let lhs = self.build(fs, split, i, j - 1);
                let f = self.factor(a);
                let dst = self.slot(c, r);
                self.emit(Step::Solve { dst, f, t: !t, rhs: lhs.flip() });
                Self::at(dst).flip()
            }
            _ => {
                let a = self.build(fs, split, i, s);
                let b = self.build(fs, split, s + 1, j);
                self.product(a, b, r, c)
            }
        };
        self.chains.insert(fs[i..=j].to_vec(), o);
        o
    }
}
