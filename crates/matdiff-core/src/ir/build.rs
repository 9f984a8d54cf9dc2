//! Canonicalizing constructors: the simplifier lives here, so every node is born simplified.
//!
//! Rules: constants fold; linear combinations flatten and collect like terms; scalar factors
//! float out of products to one coefficient; products flatten and drop identities; transposes
//! move onto leaves through products (not through sums, which keeps `(W'*W*x - x)'` compact)
//! and vanish on symmetric nodes.

use super::{Func, Graph, NodeId, Num, Op};
use crate::shape::{DimId, Shape};
use std::collections::{BTreeMap, HashMap};

/// The most factors two elementwise-product chains may have together for like bases in them to
/// be merged (`t.*u./t` is `u`); longer chains are left as built (see `merge_hadamard_powers`).
pub const MAX_MERGED_FACTORS: usize = 64;

/// How many nodes of each term of a sum (through the sums inside it) are searched for terms
/// shared with the other terms (see `colliding_sums`).
pub const MAX_SUM_VIEW: usize = 64;

impl Graph {
    /// A scalar constant.
    pub fn constant(&mut self, c: f64) -> NodeId {
        self.intern(Op::Const(Num::new(c)), Shape::SCALAR, true)
    }
    /// A constant-filled array (a scalar constant when `shape` is scalar).
    pub fn fill(&mut self, c: f64, shape: Shape) -> NodeId {
        if shape.is_scalar() {
            return self.constant(c);
        }
        let sym = shape.is_square();
        self.intern(Op::Fill(Num::new(c)), shape, sym)
    }
    /// The zero of a shape (the constant 0 for a scalar).
    pub fn zero(&mut self, shape: Shape) -> NodeId {
        self.fill(0.0, shape)
    }
    /// The n×n identity matrix.
    pub fn identity(&mut self, n: DimId) -> NodeId {
        self.intern(Op::Identity, Shape::mat(n, n), true)
    }
    /// The constant value of a constant node, scalar or filled.
    pub fn fill_value(&self, id: NodeId) -> Option<f64> {
        match self.op(id) {
            Op::Const(c) | Op::Fill(c) => Some(c.get()),
            _ => None,
        }
    }
    pub(super) fn is_zero(&self, id: NodeId) -> bool {
        self.fill_value(id) == Some(0.0)
    }
    /// `(c, t)` when `id` is `c*t` (a one-term linear combination), else `(1, id)`.
    pub(super) fn split_coef(&self, id: NodeId) -> (f64, NodeId) {
        match self.op(id) {
            Op::Lin(ts) if ts.len() == 1 => (ts[0].0.get(), ts[0].1),
            _ => (1.0, id),
        }
    }
    /// `(b, p)` when `id` is `b.^p`, else `(id, 1)`.
    fn split_pow(&self, id: NodeId) -> (NodeId, f64) {
        match self.op(id) {
            Op::Pow(b, p) => (*b, p.get()),
            _ => (id, 1.0),
        }
    }

    /// Whether `id` is a sum of two or more terms that are all subtracted, `-a - b`, also
    /// through nested sums (`-a + (-b - c)`).
    fn all_subtracted(&self, id: NodeId) -> bool {
        match self.op(id) {
            Op::Lin(ts) if ts.len() > 1 => {
                ts.iter().all(|&(c, t)| self.subtracted(c.get(), t) || self.all_subtracted(t))
            }
            _ => false,
        }
    }
    /// Whether the term `c*t` is printed subtracted (a constant term by the sign of its value).
    fn subtracted(&self, c: f64, t: NodeId) -> bool {
        c * self.fill_value(t).unwrap_or(1.0) < 0.0
    }

    /// `a + b` when `id` is the sum `-a - b` (see `all_subtracted`).
    fn negated_sum(&mut self, id: NodeId) -> Option<NodeId> {
        if !self.all_subtracted(id) {
            return None;
        }
        let Op::Lin(ts) = self.op(id).clone() else { unreachable!() };
        let mut out = vec![];
        for (c, t) in ts {
            if self.subtracted(c.get(), t) {
                out.push((-c.get(), t));
            } else {
                let pos = self.negated_sum(t).expect("an all-subtracted nested sum");
                out.push((c.get(), pos));
            }
        }
        Some(self.lin(out))
    }

    /// `a + b` (same shapes).
    pub fn add(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.lin(vec![(1.0, a), (1.0, b)])
    }
    /// `a - b` (same shapes).
    pub fn sub(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.lin(vec![(1.0, a), (-1.0, b)])
    }
    /// `-a`.
    pub fn neg(&mut self, a: NodeId) -> NodeId {
        self.lin(vec![(-1.0, a)])
    }
    /// `c*a` for a constant `c`.
    pub fn times(&mut self, c: f64, a: NodeId) -> NodeId {
        self.lin(vec![(c, a)])
    }
    /// Sum of nodes (all the same shape); `zero(shape)` when empty.
    pub fn sum_of(&mut self, terms: &[NodeId], shape: Shape) -> NodeId {
        if terms.is_empty() {
            return self.zero(shape);
        }
        self.lin(terms.iter().map(|&t| (1.0, t)).collect())
    }

    /// Linear combination of same-shaped nodes.
    pub fn lin(&mut self, terms: Vec<(f64, NodeId)>) -> NodeId {
        let shape = self.shape(terms[0].1);
        let mut acc: BTreeMap<NodeId, f64> = BTreeMap::new();
        let mut konst = 0.0;
        let collisions = self.colliding_sums(&terms);
        let mut work: Vec<(f64, NodeId)> = terms;
        while let Some((c, t)) = work.pop() {
            if c == 0.0 {
                continue;
            }
            match self.op(t) {
                // A scaled term, or a sum sharing terms with its siblings, is opened up so that
                // like terms meet; other sums stay whole (`h + y - t` keeps `h` recognizable).
                Op::Lin(inner) if inner.len() == 1 || collisions.contains(&t) => {
                    work.extend(inner.iter().map(|(ci, ti)| (c * ci.get(), *ti)))
                }
                Op::Const(k) | Op::Fill(k) => konst += c * k.get(),
                _ => *acc.entry(t).or_insert(0.0) += c,
            }
        }
        acc.retain(|_, c| *c != 0.0);
        if konst != 0.0 {
            let k = self.fill(konst, shape);
            acc.insert(k, 1.0);
        }
        match acc.len() {
            0 => self.zero(shape),
            1 => {
                let (&t, &c) = acc.iter().next().unwrap();
                if c == 1.0 {
                    return t;
                }
                if let Some(k) = self.fill_value(t) {
                    return self.fill(c * k, shape);
                }
                // c*(-a - b) is -c*(a + b): no `-(-a - b)`.
                if let Some(pos) = self.negated_sum(t) {
                    return self.lin(vec![(-c, pos)]);
                }
                let sym = self.node(t).symmetric;
                self.intern(Op::Lin(vec![(Num::new(c), t)]), shape, sym)
            }
            _ => {
                // Symmetric when every term is, or pairs with its own transpose at the same
                // coefficient (A + A', X*Y' + Y*X').
                let sym = acc.iter().all(|(&t, &c)| {
                    self.node(t).symmetric
                        || acc.iter().any(|(&u, &cu)| {
                            cu == c
                                && (*self.op(u) == Op::Transpose(t)
                                    || *self.op(t) == Op::Transpose(u)
                                    || self.is_transpose_of(u, t))
                        })
                });
                // A common factor is pulled out: 0.5*A - 0.5*B is 0.5*(A - B), and with its sign
                // when every term is subtracted: -2*A - 2*B is -2*(A + B), not 2*(-A - B).
                let k = acc.values().next().unwrap().abs();
                let k = if acc.values().all(|c| *c < 0.0) { -k } else { k };
                let common = k.abs() != 1.0 && acc.values().all(|c| c.abs() == k.abs());
                let mut ts: Vec<(Num, NodeId)> =
                    acc.into_iter().map(|(t, c)| (Num::new(if common { c / k } else { c }), t)).collect();
                // Stored in the order terms are written (for the printer and the emitters).
                ts.sort_by(|a, b| self.cmp_terms(a.1, b.1));
                let sum = self.intern(Op::Lin(ts), shape, sym);
                if common {
                    self.intern(Op::Lin(vec![(Num::new(k), sum)]), shape, sym)
                } else {
                    sum
                }
            }
        }
    }

    /// Whether `u` is structurally `t'` for products: X*Y' and Y*X' (transpose of a chain).
    fn is_transpose_of(&self, u: NodeId, t: NodeId) -> bool {
        match (self.op(u), self.op(t)) {
            (Op::MatMul(fu), Op::MatMul(ft)) if fu.len() == ft.len() => {
                fu.iter().zip(ft.iter().rev()).all(|(&a, &b)| {
                    (a == b && self.node(a).symmetric)
                        || *self.op(a) == Op::Transpose(b)
                        || *self.op(b) == Op::Transpose(a)
                })
            }
            _ => false,
        }
    }

    /// The sums to open up among `terms` and the sums inside them: those on the way to a term
    /// (or a constant) that another of `terms` shares, however deep (`s - (log(a) - (s + c))`
    /// is `log(a) - 2*s - c`), so that like terms meet as they do when the sum is printed
    /// with its inner sums written out and read back. Each term's sums are searched down to
    /// [`MAX_SUM_VIEW`] nodes, so that building a deeply nested sum stays linear.
    fn colliding_sums(&self, terms: &[(f64, NodeId)]) -> Vec<NodeId> {
        // Per term: the leaves reached through sums (a constant as one key) and, for each
        // leaf, the sums above it in this term.
        let konst = NodeId(u32::MAX);
        let mut views: Vec<Vec<(NodeId, Vec<NodeId>)>> = Vec::with_capacity(terms.len());
        for &(_, t) in terms {
            let mut leaves = vec![];
            let mut todo: Vec<(NodeId, Vec<NodeId>)> = vec![(t, vec![])];
            let mut seen = 0;
            while let Some((n, path)) = todo.pop() {
                seen += 1;
                match self.op(n) {
                    Op::Lin(inner) if seen <= MAX_SUM_VIEW => {
                        let mut below = path.clone();
                        below.push(n);
                        todo.extend(inner.iter().map(|&(_, x)| (x, below.clone())));
                    }
                    _ => leaves.push((if self.fill_value(n).is_some() { konst } else { n }, path)),
                }
            }
            views.push(leaves);
        }
        // How many terms reach each leaf (counted once per term).
        let mut reached: HashMap<NodeId, usize> = HashMap::new();
        for view in &views {
            let mut mine: Vec<NodeId> = view.iter().map(|v| v.0).collect();
            mine.sort_unstable();
            mine.dedup();
            for leaf in mine {
                *reached.entry(leaf).or_insert(0) += 1;
            }
        }
        let mut out = vec![];
        for (leaf, path) in views.iter().flatten() {
            if reached[leaf] > 1 {
                out.extend(path.iter().copied());
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// `a*b`: scaling when either side is a scalar, else the matrix product.
    pub fn mul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if self.shape(a).is_scalar() {
            self.scale(a, b)
        } else if self.shape(b).is_scalar() {
            self.scale(b, a)
        } else {
            self.matmul(vec![a, b])
        }
    }

    /// Scalar `s` times `x`.
    pub fn scale(&mut self, s: NodeId, x: NodeId) -> NodeId {
        let (mut s, mut x) = (s, x);
        if !self.shape(s).is_scalar() {
            std::mem::swap(&mut s, &mut x);
        }
        debug_assert!(self.shape(s).is_scalar());
        if let Some(c) = self.as_const(s) {
            return self.times(c, x);
        }
        if let Some(c) = self.fill_value(x) {
            if c == 0.0 {
                return x;
            }
            if self.shape(x).is_scalar() {
                return self.times(c, s);
            }
            // `s*matrix(c)` is c*(s*matrix(1)): the value joins the coefficient, as in products.
            if c != 1.0 {
                let shape = self.shape(x);
                let one = self.fill(1.0, shape);
                let inner = self.scale(s, one);
                return self.times(c, inner);
            }
        }
        let (cs, s1) = self.split_coef(s);
        let (cx, x1) = self.split_coef(x);
        if cs != 1.0 || cx != 1.0 {
            let inner = self.scale(s1, x1);
            return self.times(cs * cx, inner);
        }
        // (-a - b)*x is -(a + b)*x, as in products.
        for (u, v) in [(s, x), (x, s)] {
            if let Some(pos) = self.negated_sum(u) {
                let inner = self.scale(pos, v);
                return self.neg(inner);
            }
        }
        let xs = self.shape(x);
        if !xs.is_scalar() {
            if let Op::Scale(t, y) = *self.op(x) {
                let st = self.scale(s, t);
                return self.scale(st, y);
            }
            let sym = self.node(x).symmetric;
            return self.intern(Op::Scale(s, x), xs, sym);
        }
        // Scalar times scalar: one flat product of powers, like bases merged (b*b is b^2,
        // e/e is 1), factors in structural order, so equal products are one node however
        // grouped or built.
        let mut fs = vec![];
        self.scalar_factors(s, &mut fs);
        self.scalar_factors(x, &mut fs);
        fs.sort_by(|a, b| self.cmp_nodes(a.0, b.0));
        let mut merged: Vec<(NodeId, f64)> = vec![];
        for (b, p) in fs {
            match merged.last_mut() {
                Some(last) if last.0 == b => last.1 += p,
                _ => merged.push((b, p)),
            }
        }
        // exp(u)/(1 + exp(u)) is sigmoid(u).
        if let Some(i) = merged.iter().position(|&(b, p)| p == 1.0 && matches!(self.op(b), Op::Map(Func::Exp, _))) {
            let e = merged[i].0;
            if let Some(j) = merged.iter().position(|&(w, p)| p == -1.0 && self.logistic_ratio(e, w).is_some()) {
                let u = self.logistic_ratio(e, merged[j].0).expect("checked");
                let sig = self.map(Func::Sigmoid, u);
                merged[i] = (sig, 1.0);
                merged.remove(j);
                merged.sort_by(|a, b| self.cmp_nodes(a.0, b.0));
            }
        }
        // The chain is ordered by its factors as they stand (`b^-1` is a denominator, `b` is not).
        let mut factors: Vec<NodeId> =
            merged.into_iter().filter(|f| f.1 != 0.0).map(|(b, p)| self.scalar_power(b, p)).collect();
        factors.sort_by(|&a, &b| self.cmp_nodes(a, b));
        let mut product: Option<NodeId> = None;
        for f in factors {
            product = Some(match product {
                None => f,
                Some(acc) => self.intern(Op::Scale(acc, f), Shape::SCALAR, true),
            });
        }
        product.unwrap_or_else(|| self.constant(1.0))
    }

    /// The factors `(base, power)` of a scalar product chain. Powers of one quantity meet
    /// under one base: `norm2(x)^2` (a squared norm) is the norm squared (whether or not the
    /// graph had the norm: reading the text back creates it), and `sqrt(b)` is `b^0.5`, so `norm2(x)^2/norm2(x)` is `norm2(x)` and
    /// `1/sqrt(n)/n` is `n^-1.5`.
    fn scalar_factors(&mut self, n: NodeId, out: &mut Vec<(NodeId, f64)>) {
        match *self.op(n) {
            Op::Scale(a, b) if self.shape(n).is_scalar() => {
                self.scalar_factors(a, out);
                self.scalar_factors(b, out);
            }
            _ => {
                let (base, p) = self.split_pow(n);
                let (base, p) = match *self.op(base) {
                    Op::SqNorm(e) => (self.norm2(e), 2.0 * p),
                    Op::Map(Func::Sqrt, b) if self.shape(b).is_scalar() => (b, 0.5 * p),
                    _ => (base, p),
                };
                out.push((base, p));
            }
        }
    }

    /// `b^p` as a factor of a scalar product: half-integer powers keep their square roots
    /// (`sqrt(b)`, `1/sqrt(b)`), as they were written.
    fn scalar_power(&mut self, b: NodeId, p: f64) -> NodeId {
        if p == 0.5 || p == -0.5 {
            let r = self.map(Func::Sqrt, b);
            return self.pow(r, 2.0 * p);
        }
        self.pow(b, p)
    }

    /// `u` when `e` is `exp(u)` and `w` is `1 + exp(u)`: then `e/w` is `sigmoid(u)`.
    fn logistic_ratio(&self, e: NodeId, w: NodeId) -> Option<NodeId> {
        let Op::Map(Func::Exp, u) = *self.op(e) else { return None };
        let Op::Lin(ts) = self.op(w) else { return None };
        let one_plus = ts.len() == 2
            && ts.iter().all(|&(c, t)| c.get() == 1.0 && (t == e || self.fill_value(t) == Some(1.0)))
            && ts.iter().any(|&(_, t)| t == e);
        one_plus.then_some(u)
    }

    /// Product chain of non-scalar factors (scalars, if any, are pulled out).
    pub fn matmul(&mut self, factors: Vec<NodeId>) -> NodeId {
        let mut coef = 1.0;
        let mut scalars: Vec<NodeId> = vec![];
        let mut fs: Vec<NodeId> = vec![];
        let mut dropped_identity = None;
        let mut work: Vec<NodeId> = factors.into_iter().rev().collect();
        while let Some(f) = work.pop() {
            if self.shape(f).is_scalar() {
                scalars.push(f);
                continue;
            }
            match self.op(f).clone() {
                Op::MatMul(inner) => work.extend(inner.into_iter().rev()),
                Op::Lin(ts) if ts.len() == 1 => {
                    coef *= ts[0].0.get();
                    work.push(ts[0].1);
                }
                // (-a - b)*X is -(a + b)*X: the sign joins the coefficient.
                Op::Lin(_) if self.negated_sum(f).is_some() => {
                    coef = -coef;
                    let pos = self.negated_sum(f).unwrap();
                    fs.push(pos);
                }
                Op::Scale(s, y) => {
                    scalars.push(s);
                    work.push(y);
                }
                Op::Identity => dropped_identity = Some(f),
                // A filled factor's value joins the coefficient (`2*matrix(0.25)*x` and
                // `matrix(0.5)*x` are one node): the constant is where re-reading puts it.
                Op::Fill(c) if c.get() != 1.0 && c.get() != 0.0 => {
                    coef *= c.get();
                    let shape = self.shape(f);
                    fs.push(self.fill(1.0, shape));
                }
                _ => fs.push(f),
            }
        }
        // Adjacent factors that simplify together (Kronecker, vec and commutation rules).
        for i in 0..fs.len().saturating_sub(1) {
            if let Some(rep) = self.simplify_pair(fs[i], fs[i + 1]).or_else(|| self.reciprocal_inner(fs[i], fs[i + 1]))
            {
                let rep = if rep.is_empty() { vec![self.identity(self.shape(fs[i]).rows.unwrap())] } else { rep };
                let all: Vec<NodeId> =
                    fs[..i].iter().chain(&rep).chain(&fs[i + 2..]).chain(&scalars).copied().collect();
                let r = if all.iter().all(|&f| self.shape(f).is_scalar()) {
                    let one = self.constant(1.0);
                    all.into_iter().fold(one, |acc, f| self.scale(acc, f))
                } else {
                    self.matmul(all)
                };
                return self.times(coef, r);
            }
        }
        let mut result = match fs.len() {
            0 => dropped_identity.expect("matmul of nothing"),
            1 => fs[0],
            _ => {
                if fs.iter().any(|&f| self.is_zero(f)) {
                    let shape = Shape { rows: self.shape(fs[0]).rows, cols: self.shape(fs[fs.len() - 1]).cols };
                    return self.zero(shape);
                }
                // Leading factors that multiply to a 1×1 (`y'*y*x'*x`) are a scalar factor, as
                // the product reads back left to right: (y'*y)*(x'*x).
                let last = fs.len() - 1;
                let head = (0..last).find(|&i| self.shape(fs[0]).rows.is_none() && self.shape(fs[i]).cols.is_none());
                if let Some(i) = head {
                    let tail = fs.split_off(i + 1);
                    let (h, t) = (self.matmul(fs), self.matmul(tail));
                    self.scale(h, t)
                } else {
                    let shape = Shape { rows: self.shape(fs[0]).rows, cols: self.shape(fs[last]).cols };
                    let sym = self.palindrome(&fs);
                    self.intern(Op::MatMul(fs), shape, sym)
                }
            }
        };
        for s in scalars {
            result = self.scale(s, result);
        }
        self.times(coef, result)
    }

    /// A product that reads the same transposed: `A*B*A'`, `X*X'`, `U*S*U'` with S symmetric.
    fn palindrome(&self, fs: &[NodeId]) -> bool {
        let k = fs.len();
        (0..k.div_ceil(2)).all(|i| {
            let (a, b) = (fs[i], fs[k - 1 - i]);
            (a == b && self.node(a).symmetric) || *self.op(a) == Op::Transpose(b) || *self.op(b) == Op::Transpose(a)
        })
    }

    /// Elementwise product.
    pub fn hadamard(&mut self, a: NodeId, b: NodeId) -> NodeId {
        if self.shape(a).is_scalar() || self.shape(b).is_scalar() {
            return self.mul(a, b);
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Some(c) = self.fill_value(x) {
                return self.times(c, y);
            }
        }
        let (ca, a1) = self.split_coef(a);
        let (cb, b1) = self.split_coef(b);
        if ca != 1.0 || cb != 1.0 {
            let inner = self.hadamard(a1, b1);
            return self.times(ca * cb, inner);
        }
        // (-a - b).*y is -(a + b).*y, as in products.
        for (x, y) in [(a, b), (b, a)] {
            if let Some(pos) = self.negated_sum(x) {
                let inner = self.hadamard(pos, y);
                return self.neg(inner);
            }
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Op::Scale(s, x1) = *self.op(x) {
                let inner = self.hadamard(x1, y);
                return self.scale(s, inner);
            }
        }
        let ((ba, pa), (bb, pb)) = (self.split_pow(a), self.split_pow(b));
        if ba == bb {
            return self.pow(ba, pa + pb);
        }
        // exp(u)./(1 + exp(u)) is sigmoid(u).
        for ((e, pe), (w, pw)) in [((ba, pa), (bb, pb)), ((bb, pb), (ba, pa))] {
            if pe == 1.0 && pw == -1.0 {
                if let Some(u) = self.logistic_ratio(e, w) {
                    return self.map(Func::Sigmoid, u);
                }
            }
        }
        // Like bases anywhere in a chain of elementwise products meet: t.*(1 - t)./t is 1 - t.
        if let Some(merged) = self.merge_hadamard_powers(a, b) {
            return merged;
        }
        // One left-deep chain with its factors in structural order, however it was grouped:
        // `a.*(b.*c)` and `(c.*a).*b` are one node. Chains longer than MAX_MERGED_FACTORS (a
        // definitions chain's adjoint) are left as built, so that building one stays linear.
        let mut factors = vec![];
        if self.hadamard_factors(a, &mut factors, MAX_MERGED_FACTORS)
            && self.hadamard_factors(b, &mut factors, MAX_MERGED_FACTORS)
        {
            if let Some(fs) = self.regroup_hadamard(&factors) {
                let mut acc = fs[0];
                for &f in &fs[1..] {
                    acc = self.hadamard(acc, f);
                }
                return acc;
            }
            factors.sort_by(|&x, &y| self.cmp_nodes(x, y));
            return self.hadamard_chain(&factors);
        }
        let (x, y) = if self.cmp_nodes(a, b).is_le() { (a, b) } else { (b, a) };
        let sym = self.node(x).symmetric && self.node(y).symmetric;
        self.intern(Op::Hadamard(x, y), self.shape(a), sym)
    }

    /// The factors of a chain rewritten by a rule that a product of two of them applies (so
    /// that reading the chain back left to right, which applies it to a prefix and the next
    /// factor, gives the same node): `exp(u)` and `(1 + exp(u)).^-1` are `sigmoid(u)`, and a
    /// power of a chain of other factors absorbs them (`B.*C'.*(B.*C').^2` is `(B.*C').^3`).
    /// `None` when no rule applies.
    fn regroup_hadamard(&mut self, factors: &[NodeId]) -> Option<Vec<NodeId>> {
        let without = |skip: &[usize]| -> Vec<NodeId> {
            factors.iter().enumerate().filter(|(k, _)| !skip.contains(k)).map(|(_, &f)| f).collect()
        };
        for (i, &e) in factors.iter().enumerate() {
            if !matches!(self.op(e), Op::Map(Func::Exp, _)) {
                continue;
            }
            for (j, &w) in factors.iter().enumerate() {
                let Op::Pow(den, p) = *self.op(w) else { continue };
                if let Some(u) = self.logistic_ratio(e, den).filter(|_| p.get() == -1.0) {
                    let mut out = without(&[i, j]);
                    out.push(self.map(Func::Sigmoid, u));
                    return Some(out);
                }
            }
        }
        for (j, &w) in factors.iter().enumerate() {
            let Op::Pow(base, p) = *self.op(w) else { continue };
            let mut inner = vec![];
            if !matches!(self.op(base), Op::Hadamard(..))
                || !self.hadamard_factors(base, &mut inner, MAX_MERGED_FACTORS)
            {
                continue;
            }
            let mut rest = without(&[j]);
            let all_there = inner.iter().all(|f| match rest.iter().position(|r| r == f) {
                Some(k) => {
                    rest.remove(k);
                    true
                }
                None => false,
            });
            if all_there {
                rest.push(self.pow(base, p.get() + 1.0));
                return Some(rest);
            }
        }
        None
    }

    /// The left-deep chain `f0.*f1.*…` of factors already ordered and simplified together.
    fn hadamard_chain(&mut self, factors: &[NodeId]) -> NodeId {
        let shape = self.shape(factors[0]);
        let mut acc = factors[0];
        for &f in &factors[1..] {
            let sym = self.node(acc).symmetric && self.node(f).symmetric;
            acc = self.intern(Op::Hadamard(acc, f), shape, sym);
        }
        acc
    }

    /// The factors of an elementwise-product chain; `false` (and a partial list) once there
    /// are more than `limit`. Iterative: a chain may be as long as a definitions chain is deep.
    fn hadamard_factors(&self, n: NodeId, out: &mut Vec<NodeId>, limit: usize) -> bool {
        let mut todo = vec![n];
        // A chain of k factors has k - 1 product nodes: counting both bounds the walk even
        // down a long spine before its first factor.
        let mut visited = 0;
        while let Some(n) = todo.pop() {
            matdiff_syntax::budget::tick();
            visited += 1;
            match *self.op(n) {
                Op::Hadamard(x, y) => todo.extend([y, x]),
                _ => out.push(n),
            }
            if out.len() > limit || visited > 2 * limit {
                return false;
            }
        }
        true
    }

    /// `[sum(u.*v)]` when the pair is `u'*v` of columns one of which has the factor `w.^-1` of
    /// the other (`p'*(y./p)` is `sum(y)`, the softmax adjoint of a cross-entropy), as `dot` does.
    fn reciprocal_inner(&mut self, x: NodeId, v: NodeId) -> Option<Vec<NodeId>> {
        let Op::Transpose(u) = *self.op(x) else { return None };
        if !(self.shape(u).is_col() && self.shape(v).is_col()) {
            return None;
        }
        if !(self.has_reciprocal_factor(v, u) || self.has_reciprocal_factor(u, v)) {
            return None;
        }
        let h = self.hadamard(u, v);
        Some(vec![self.sum(h)])
    }

    /// Whether the elementwise-product chain `y` has the factor `x.^-1` (so `x.*y` cancels it).
    fn has_reciprocal_factor(&self, y: NodeId, x: NodeId) -> bool {
        let mut factors = vec![];
        let (_, y) = self.split_coef(y);
        self.hadamard_factors(y, &mut factors, MAX_MERGED_FACTORS)
            && factors.iter().any(|&f| self.split_pow(f) == (x, -1.0))
    }

    /// `a.*b` rebuilt with like bases merged, when the chains share a base; `None` otherwise.
    ///
    /// Only chains of up to [`MAX_MERGED_FACTORS`] factors together are searched: building a
    /// chain one factor at a time (the adjoint along a definitions chain `h_i = tanh(h_{i-1})`)
    /// would otherwise walk the whole chain at every step, quadratic in its length.
    fn merge_hadamard_powers(&mut self, a: NodeId, b: NodeId) -> Option<NodeId> {
        let mut factors = vec![];
        if !self.hadamard_factors(a, &mut factors, MAX_MERGED_FACTORS)
            || !self.hadamard_factors(b, &mut factors, MAX_MERGED_FACTORS)
        {
            return None;
        }
        let mut merged: BTreeMap<NodeId, f64> = BTreeMap::new();
        for &f in &factors {
            let (base, p) = self.split_pow(f);
            *merged.entry(base).or_insert(0.0) += p;
        }
        if merged.len() == factors.len() {
            return None;
        }
        let shape = self.shape(a);
        let parts: Vec<NodeId> =
            merged.into_iter().filter(|&(_, p)| p != 0.0).map(|(base, p)| self.pow(base, p)).collect();
        let mut result = match parts.first() {
            Some(&first) => first,
            None => return Some(self.fill(1.0, shape)),
        };
        for &part in &parts[1..] {
            result = self.hadamard(result, part);
        }
        Some(result)
    }

    /// Elementwise power by a constant.
    pub fn pow(&mut self, a: NodeId, p: f64) -> NodeId {
        let shape = self.shape(a);
        if p == 1.0 {
            return a;
        }
        if p == 0.0 {
            return self.fill(1.0, shape);
        }
        if let Some(c) = self.fill_value(a) {
            return self.fill(c.powf(p), shape);
        }
        let integer = p.fract() == 0.0;
        match self.op(a).clone() {
            Op::Pow(b, q) if integer => return self.pow(b, q.get() * p),
            Op::Norm2(e) if p == 2.0 => return self.sqnorm(e),
            // (norm2(x)^2)^3 is norm2(x)^6, however it was written.
            Op::SqNorm(e) => {
                let norm = self.norm2(e);
                return self.pow(norm, 2.0 * p);
            }
            Op::Lin(ts) if ts.len() == 1 && integer => {
                let inner = self.pow(ts[0].1, p);
                return self.times(ts[0].0.get().powf(p), inner);
            }
            _ => {}
        }
        let sym = self.node(a).symmetric;
        self.intern(Op::Pow(a, Num::new(p)), shape, sym)
    }

    /// Elementwise function.
    pub fn map(&mut self, f: Func, a: NodeId) -> NodeId {
        let shape = self.shape(a);
        if let Some(c) = self.fill_value(a) {
            return self.fill(f.apply(c), shape);
        }
        if let (Func::Log, Op::Map(Func::Exp, x)) = (f, self.op(a)) {
            return *x;
        }
        // log(1 + exp(u)) is softplus(u) (whose derivative is sigmoid(u)).
        if f == Func::Log {
            if let Op::Lin(ts) = self.op(a) {
                if let Some(e) = ts.iter().map(|t| t.1).find(|&t| matches!(self.op(t), Op::Map(Func::Exp, _))) {
                    if let Some(u) = self.logistic_ratio(e, a) {
                        return self.map(Func::Softplus, u);
                    }
                }
            }
        }
        let sym = self.node(a).symmetric;
        self.intern(Op::Map(f, a), shape, sym)
    }

    /// `a'` (a scalar is its own transpose; a symmetric matrix too).
    pub fn transpose(&mut self, a: NodeId) -> NodeId {
        let shape = self.shape(a);
        if shape.is_scalar() || self.node(a).symmetric {
            return a;
        }
        match self.op(a).clone() {
            Op::Transpose(b) => b,
            Op::MatMul(fs) => {
                let ts = fs.into_iter().rev().map(|f| self.transpose(f)).collect();
                self.matmul(ts)
            }
            Op::Scale(s, x) => {
                let xt = self.transpose(x);
                self.scale(s, xt)
            }
            Op::Lin(ts) if ts.len() == 1 => {
                let t = self.transpose(ts[0].1);
                self.times(ts[0].0.get(), t)
            }
            Op::Fill(c) => self.fill(c.get(), shape.t()),
            Op::Kron(x, y) => {
                let (xt, yt) = (self.transpose(x), self.transpose(y));
                self.kron_shaped(xt, yt, shape.t())
            }
            Op::Commutation(m, n) => self.commutation_shaped(n, m, shape.rows.unwrap()),
            _ => self.intern(Op::Transpose(a), shape.t(), false),
        }
    }

    /// Sum of all entries. (This and the other reductions of a zero array are 0.)
    pub fn sum(&mut self, a: NodeId) -> NodeId {
        if self.shape(a).is_scalar() {
            return a;
        }
        if self.is_zero(a) {
            return self.constant(0.0);
        }
        let (c, a1) = self.split_coef(a);
        if c != 1.0 {
            let inner = self.sum(a1);
            return self.times(c, inner);
        }
        match *self.op(a) {
            Op::Scale(s, x) => {
                let inner = self.sum(x);
                self.scale(s, inner)
            }
            Op::Transpose(x) | Op::Vectorize(x) | Op::Unvec(x) => self.sum(x),
            // The entries of a softmax sum to one.
            Op::Softmax(_) => self.constant(1.0),
            Op::Kron(x, y) => {
                let (sx, sy) = (self.sum(x), self.sum(y));
                self.scale(sx, sy)
            }
            // sum(x.*y) of matrices is their inner product, as `dot` builds it.
            Op::Hadamard(x, y) if self.shape(a).is_matrix() && !matches!(self.op(x), Op::Hadamard(..)) => {
                self.dot(x, y)
            }
            _ => self.intern(Op::Sum(a), Shape::SCALAR, true),
        }
    }
    /// `norm2(a)^2`.
    pub fn sqnorm(&mut self, a: NodeId) -> NodeId {
        if self.shape(a).is_scalar() {
            return self.pow(a, 2.0);
        }
        if self.is_zero(a) {
            return self.constant(0.0);
        }
        let (c, a1) = self.split_coef(a);
        if c != 1.0 {
            let inner = self.sqnorm(a1);
            return self.times(c * c, inner);
        }
        match *self.op(a) {
            Op::Transpose(x) | Op::Vectorize(x) | Op::Unvec(x) => self.sqnorm(x),
            _ => self.intern(Op::SqNorm(a), Shape::SCALAR, true),
        }
    }
    /// The Euclidean (Frobenius for a matrix) norm.
    pub fn norm2(&mut self, a: NodeId) -> NodeId {
        self.norm(a, Op::Norm2)
    }
    /// The sum of absolute values.
    pub fn norm1(&mut self, a: NodeId) -> NodeId {
        self.norm(a, Op::Norm1)
    }
    /// An entrywise norm: |a| for a scalar, 0 of zeros, and blind to transposes.
    fn norm(&mut self, mut a: NodeId, op: fn(NodeId) -> Op) -> NodeId {
        if self.shape(a).is_scalar() {
            return self.map(Func::Abs, a);
        }
        if self.is_zero(a) {
            return self.constant(0.0);
        }
        while let Op::Transpose(x) = *self.op(a) {
            a = x;
        }
        self.intern(op(a), Shape::SCALAR, true)
    }

    /// Inner product `sum(a.*b)` of same-shaped values, written the most readable way.
    pub fn dot(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let shape = self.shape(a);
        if shape.is_scalar() {
            return self.scale(a, b);
        }
        // a'*(y./a) is sum(y): the softmax adjoint p'*(g) with g = -y./p (cross-entropy).
        for (x, y) in [(a, b), (b, a)] {
            if self.has_reciprocal_factor(y, x) {
                let h = self.hadamard(x, y);
                return self.sum(h);
            }
        }
        if shape.is_col() {
            let at = self.transpose(a);
            return self.matmul(vec![at, b]);
        }
        if shape.is_row() {
            let bt = self.transpose(b);
            return self.matmul(vec![a, bt]);
        }
        if a == b {
            return self.sqnorm(a);
        }
        for (x, y) in [(a, b), (b, a)] {
            match self.op(x).clone() {
                Op::Identity => return self.trace(y),
                Op::Fill(c) => {
                    let s = self.sum(y);
                    return self.times(c.get(), s);
                }
                Op::Lin(ts) if ts.len() == 1 => {
                    let inner = self.dot(ts[0].1, y);
                    return self.times(ts[0].0.get(), inner);
                }
                Op::Scale(s, x1) => {
                    let inner = self.dot(x1, y);
                    return self.scale(s, inner);
                }
                _ => {}
            }
        }
        // One form for `sum(a.*b)` however it was built: the elementwise product simplified as
        // such (`G.*(G.*I)` is `I.*G.^2`, then `tr(G.^2)`), an inner product of its two factors
        // when it has two, else the sum of the product.
        let h = self.hadamard(a, b);
        match *self.op(h) {
            Op::Hadamard(x, y) if !matches!(self.op(x), Op::Hadamard(..)) => {
                if (x, y) != (a, b) && (x, y) != (b, a) {
                    return self.dot(x, y);
                }
                self.intern(Op::Dot(x, y), Shape::SCALAR, true)
            }
            _ => self.sum(h),
        }
    }

    /// The trace of a square matrix.
    pub fn trace(&mut self, a: NodeId) -> NodeId {
        if self.shape(a).is_scalar() {
            return a;
        }
        if self.is_zero(a) {
            return self.constant(0.0);
        }
        let (c, a1) = self.split_coef(a);
        if c != 1.0 {
            let inner = self.trace(a1);
            return self.times(c, inner);
        }
        match self.op(a).clone() {
            Op::Scale(s, x) => {
                let inner = self.trace(x);
                self.scale(s, inner)
            }
            Op::Transpose(x) => self.trace(x),
            Op::Kron(x, y) => {
                let (tx, ty) = (self.trace(x), self.trace(y));
                self.scale(tx, ty)
            }
            // tr(A*x*y'*B) = y'*B*A*x: rotate a row-vector factor to the front.
            Op::MatMul(fs) => match fs.iter().position(|&f| self.shape(f).is_row()) {
                Some(i) => {
                    let rotated = fs[i..].iter().chain(&fs[..i]).copied().collect();
                    self.matmul(rotated)
                }
                None => self.intern(Op::Trace(a), Shape::SCALAR, true),
            },
            _ => self.intern(Op::Trace(a), Shape::SCALAR, true),
        }
    }
    /// The determinant of a square matrix.
    pub fn det(&mut self, a: NodeId) -> NodeId {
        if self.shape(a).is_scalar() {
            return a;
        }
        if self.is_zero(a) {
            return self.constant(0.0);
        }
        if let Op::Transpose(x) = *self.op(a) {
            return self.det(x);
        }
        self.intern(Op::Det(a), Shape::SCALAR, true)
    }
    /// `log(det(a))` of a square matrix.
    pub fn logdet(&mut self, a: NodeId) -> NodeId {
        if self.shape(a).is_scalar() {
            return self.map(Func::Log, a);
        }
        match *self.op(a) {
            Op::Transpose(x) => self.logdet(x),
            Op::Inv(x) => {
                let l = self.logdet(x);
                self.neg(l)
            }
            _ => self.intern(Op::LogDet(a), Shape::SCALAR, true),
        }
    }
    /// The inverse of a square matrix (`inv(inv(A))` is `A`).
    pub fn inv(&mut self, a: NodeId) -> NodeId {
        let shape = self.shape(a);
        if shape.is_scalar() {
            return self.pow(a, -1.0);
        }
        let (c, a1) = self.split_coef(a);
        if c != 1.0 {
            let inner = self.inv(a1);
            return self.times(1.0 / c, inner);
        }
        match *self.op(a) {
            Op::Inv(x) => x,
            Op::Identity => a,
            Op::Commutation(..) => self.transpose(a),
            Op::Transpose(x) => {
                let i = self.inv(x);
                self.transpose(i)
            }
            Op::Scale(s, x) => {
                let si = self.pow(s, -1.0);
                let xi = self.inv(x);
                self.scale(si, xi)
            }
            _ => {
                let sym = self.node(a).symmetric;
                self.intern(Op::Inv(a), shape, sym)
            }
        }
    }
    /// Vector to diagonal matrix.
    pub fn diag(&mut self, v: NodeId) -> NodeId {
        let n = self.shape(v).rows.expect("diag of a column vector");
        if let Some(c) = self.fill_value(v) {
            // diag(vector(c)) = c*I (a zero matrix for c = 0).
            let i = self.identity(n);
            return self.times(c, i);
        }
        let (c, v1) = self.split_coef(v);
        if c != 1.0 {
            let inner = self.diag(v1);
            return self.times(c, inner);
        }
        self.intern(Op::Diag(v), Shape::mat(n, n), true)
    }
    /// `softmax(z)` of a column vector (lowering and [`Graph::apply`] check the shape). It does
    /// not change when one number is added to every entry: `softmax(z + c)` is `softmax(z)` (c a
    /// constant or a scalar broadcast), and the softmax of a constant vector is
    /// `vector(1)/sum(vector(1))` (1/n in every entry).
    pub fn softmax(&mut self, z: NodeId) -> NodeId {
        let shape = self.shape(z);
        debug_assert!(shape.is_col(), "softmax of a column vector");
        // A term with the same value in every entry: a constant, or a scalar times one.
        let uniform = |g: &Graph, t: NodeId| match *g.op(t) {
            Op::Scale(_, f) => g.fill_value(f).is_some(),
            _ => g.fill_value(t).is_some(),
        };
        let all_uniform = match self.op(z) {
            Op::Lin(ts) => ts.iter().all(|&(_, t)| uniform(self, t)),
            _ => uniform(self, z),
        };
        if all_uniform {
            let ones = self.fill(1.0, shape);
            let n = self.sum(ones);
            let inv = self.pow(n, -1.0);
            return self.scale(inv, ones);
        }
        if let Op::Lin(ts) = self.op(z) {
            if ts.iter().any(|&(_, t)| uniform(self, t)) {
                let rest: Vec<(f64, NodeId)> =
                    ts.iter().filter(|&&(_, t)| !uniform(self, t)).map(|&(c, t)| (c.get(), t)).collect();
                let shifted = self.lin(rest);
                return self.softmax(shifted);
            }
        }
        self.intern(Op::Softmax(z), shape, false)
    }
    /// Diagonal of a square matrix as a column vector.
    pub fn diag_part(&mut self, m: NodeId) -> NodeId {
        let n = self.shape(m).rows.expect("diag of a matrix");
        match self.op(m).clone() {
            Op::Diag(v) => v,
            Op::Identity => self.fill(1.0, Shape::col(n)),
            Op::Fill(c) => self.fill(c.get(), Shape::col(n)),
            Op::Transpose(x) => self.diag_part(x),
            Op::Lin(ts) if ts.len() == 1 => {
                let inner = self.diag_part(ts[0].1);
                self.times(ts[0].0.get(), inner)
            }
            Op::Scale(s, x) => {
                let inner = self.diag_part(x);
                self.scale(s, inner)
            }
            _ => self.intern(Op::DiagPart(m), Shape::col(n), false),
        }
    }
}
