//! The gradient as a sum of monomials in the unknown: products of constant factors and the
//! unknown (transposed, inverted), elementwise powers, scalar multiples. Everything the
//! solver does afterwards (clearing inverses, collecting linear terms) works on this form.

use matdiff_core::{Graph, NodeId, Op, Shape};

/// Largest number of monomials an expansion may produce (a pathological input is refused
/// quickly instead of multiplying out an exponential number of terms).
const MAX_MONOS: usize = 4096;

/// A factor of a product chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Atom {
    /// A matrix free of the unknown (a single factor, never itself a product).
    K(NodeId),
    /// The unknown X, transposed when `t`, inverted when `inv` (`inv(X)'` is `t && inv`).
    U { t: bool, inv: bool },
}

/// What a monomial multiplies its coefficient by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// A value free of the unknown.
    Const(NodeId),
    /// A matrix product with at least one unknown factor.
    Chain(Vec<Atom>),
    /// `h .* op(X).^p` (`h` absent: all ones), op = transpose when `t`. For a scalar unknown
    /// this is `h*x^p` with `h` of any shape.
    Elem { h: Option<NodeId>, p: i32, t: bool },
}

/// `coef * body`, `coef` a scalar free of the unknown.
#[derive(Clone, Debug)]
pub(crate) struct Mono {
    pub coef: NodeId,
    pub body: Body,
}

/// Why an expression could not be written as monomials.
#[derive(Clone, Debug)]
pub(crate) enum Fail {
    /// A subterm that is not a polynomial in the unknown and its inverse (`exp(A*x)`, `sign(..)`).
    NotPolynomial(NodeId),
    /// A form the solver does not handle (a subterm, and what it is).
    Unsupported(NodeId, &'static str),
    /// More than `MAX_MONOS` monomials.
    TooLarge,
}

/// Expands nodes of one graph into monomials in one unknown.
pub(crate) struct Expander<'g> {
    pub g: &'g mut Graph,
    /// The unknown's variable node.
    pub x: NodeId,
    pub xshape: Shape,
    /// The unknown is symmetric: X' is X.
    pub sym: bool,
    /// Whether each node (by id) depends on the unknown; extended as the graph grows.
    dep: Vec<bool>,
}

impl<'g> Expander<'g> {
    pub fn new(g: &'g mut Graph, x: NodeId) -> Expander<'g> {
        let xshape = g.shape(x);
        let sym = g.node(x).symmetric;
        Expander { g, x, xshape, sym, dep: vec![] }
    }

    /// Whether `n`'s value depends on the unknown.
    pub fn depends(&mut self, n: NodeId) -> bool {
        for i in self.dep.len()..self.g.len() {
            let id = NodeId(i as u32);
            let d = id == self.x || self.g.op(id).children().iter().any(|c| self.dep[c.index()]);
            self.dep.push(d);
        }
        self.dep[n.index()]
    }

    pub fn one(&mut self) -> NodeId {
        self.g.constant(1.0)
    }

    fn konst(&mut self, n: NodeId) -> Mono {
        Mono { coef: self.one(), body: Body::Const(n) }
    }

    /// The unknown as a monomial.
    fn unknown(&mut self) -> Mono {
        let coef = self.one();
        let body = if self.xshape.is_scalar() {
            Body::Elem { h: None, p: 1, t: false }
        } else {
            Body::Chain(vec![Atom::U { t: false, inv: false }])
        };
        Mono { coef, body }
    }

    /// Shape of an atom.
    pub fn atom_shape(&self, a: Atom) -> Shape {
        match a {
            Atom::K(k) => self.g.shape(k),
            Atom::U { t, .. } => {
                if t {
                    self.xshape.t()
                } else {
                    self.xshape
                }
            }
        }
    }

    /// `coef * k` split into a scalar coefficient and single (non-product) factors.
    pub fn factors(&mut self, k: NodeId) -> (NodeId, Vec<NodeId>) {
        match self.g.op(k).clone() {
            Op::Lin(ts) if ts.len() == 1 => {
                let (c, fs) = self.factors(ts[0].1);
                (self.g.times(ts[0].0.get(), c), fs)
            }
            Op::Scale(s, y) if !self.g.shape(y).is_scalar() => {
                let (c, fs) = self.factors(y);
                (self.g.mul(s, c), fs)
            }
            Op::MatMul(fs) => {
                let one = self.one();
                (one, fs)
            }
            _ => {
                let one = self.one();
                (one, vec![k])
            }
        }
    }

    /// Append `k`'s factors to a chain (its coefficient multiplied into `coef`).
    fn push_factors(&mut self, k: NodeId, coef: &mut NodeId, atoms: &mut Vec<Atom>) {
        let (c, fs) = self.factors(k);
        *coef = self.g.mul(*coef, c);
        atoms.extend(fs.into_iter().map(Atom::K));
    }

    /// The monomials of `n`.
    pub fn expand(&mut self, n: NodeId) -> Result<Vec<Mono>, Fail> {
        if !self.depends(n) {
            return Ok(vec![self.konst(n)]);
        }
        if n == self.x {
            return Ok(vec![self.unknown()]);
        }
        let shape = self.g.shape(n);
        let out = match self.g.op(n).clone() {
            Op::Lin(ts) => {
                let mut out = vec![];
                for (c, t) in ts {
                    for mut m in self.expand(t)? {
                        m.coef = self.g.times(c.get(), m.coef);
                        out.push(m);
                    }
                }
                out
            }
            Op::Scale(s, y) => {
                let (ms, my) = (self.expand(s)?, self.expand(y)?);
                self.cartesian(&ms, &my, n, |e, a, b, n| e.scalar_times(a, b, n))?
            }
            Op::MatMul(fs) => {
                let mut acc = self.expand(fs[0])?;
                for &f in &fs[1..] {
                    let mf = self.expand(f)?;
                    acc = self.cartesian(&acc, &mf, n, |e, a, b, n| e.matmul2(a, b, n))?;
                }
                acc
            }
            Op::Hadamard(a, b) => {
                let (ma, mb) = (self.expand(a)?, self.expand(b)?);
                self.cartesian(&ma, &mb, n, |e, a, b, n| e.hadamard2(a, b, n))?
            }
            Op::Transpose(a) => {
                let ms = self.expand(a)?;
                ms.into_iter().map(|m| self.transpose(m)).collect()
            }
            Op::Inv(a) if a == self.x => {
                let one = self.one();
                vec![Mono { coef: one, body: Body::Chain(vec![Atom::U { t: false, inv: true }]) }]
            }
            Op::Pow(a, p) => {
                let p = p.get();
                if p.fract() != 0.0 || p.abs() > 64.0 {
                    return Err(Fail::NotPolynomial(n));
                }
                let p = p as i32;
                if a == self.x {
                    let one = self.one();
                    vec![Mono { coef: one, body: Body::Elem { h: None, p, t: false } }]
                } else if (2..=4).contains(&p) {
                    // A small power of an expression in X: multiply it out.
                    let ma = self.expand(a)?;
                    let mut acc = ma.clone();
                    for _ in 1..p {
                        acc = if shape.is_scalar() {
                            self.cartesian(&acc, &ma, n, |e, a, b, n| e.scalar_times(a, b, n))?
                        } else {
                            self.cartesian(&acc, &ma, n, |e, a, b, n| e.hadamard2(a, b, n))?
                        };
                    }
                    acc
                } else {
                    return Err(Fail::NotPolynomial(n));
                }
            }
            Op::Sum(a) => {
                let ms = self.expand(a)?;
                let mut out = vec![];
                for m in ms {
                    out.push({
                        let sa = self.g.shape(a);
                        self.sum_entries(m, sa, n)?
                    });
                }
                out
            }
            Op::Trace(a) => {
                let ms = self.expand(a)?;
                let mut out = vec![];
                for m in ms {
                    let body = match m.body {
                        Body::Const(k) => Body::Const(self.g.trace(k)),
                        Body::Elem { h: Some(h), p, .. } if self.xshape.is_scalar() => {
                            Body::Elem { h: Some(self.g.trace(h)), p, t: false }
                        }
                        _ => return Err(Fail::Unsupported(n, "a trace of an expression in the unknown")),
                    };
                    out.push(Mono { coef: m.coef, body });
                }
                out
            }
            Op::Dot(a, b) => {
                let (ma, mb) = (self.expand(a)?, self.expand(b)?);
                self.cartesian(&ma, &mb, n, |e, a, b, n| e.dot2(a, b, n))?
            }
            Op::SqNorm(a) => {
                let ma = self.expand(a)?;
                self.cartesian(&ma, &ma, n, |e, a, b, n| e.dot2(a, b, n))?
            }
            Op::Kron(..) | Op::Vectorize(_) | Op::Unvec(_) => {
                return Err(Fail::Unsupported(n, "a Kronecker product, vec or unvec of the unknown"));
            }
            Op::Diag(_) | Op::DiagPart(_) => {
                return Err(Fail::Unsupported(n, "a diagonal of an expression in the unknown"));
            }
            _ => return Err(Fail::NotPolynomial(n)),
        };
        Ok(out)
    }

    /// All products of a monomial of `a` with one of `b`.
    fn cartesian(
        &mut self,
        a: &[Mono],
        b: &[Mono],
        n: NodeId,
        mut f: impl FnMut(&mut Self, &Mono, &Mono, NodeId) -> Result<Mono, Fail>,
    ) -> Result<Vec<Mono>, Fail> {
        if a.len().saturating_mul(b.len()) > MAX_MONOS {
            return Err(Fail::TooLarge);
        }
        let mut out = Vec::with_capacity(a.len() * b.len());
        for x in a {
            for y in b {
                out.push(f(self, x, y, n)?);
            }
        }
        Ok(out)
    }

    /// `a*b` for a scalar `a` (or both scalars).
    fn scalar_times(&mut self, a: &Mono, b: &Mono, n: NodeId) -> Result<Mono, Fail> {
        let coef = self.g.mul(a.coef, b.coef);
        let a_scalar = self.body_shape(&a.body).is_scalar();
        let (a, b) = if a_scalar { (a, b) } else { (b, a) };
        let body = match (&a.body, &b.body) {
            (Body::Const(k), body) if self.g.shape(*k).is_scalar() => {
                let coef = self.g.mul(coef, *k);
                return Ok(Mono { coef, body: body.clone() });
            }
            (body, Body::Const(k)) if self.g.shape(*k).is_scalar() => {
                let coef = self.g.mul(coef, *k);
                return Ok(Mono { coef, body: body.clone() });
            }
            (Body::Elem { h: ha, p: pa, .. }, Body::Const(k)) if self.xshape.is_scalar() => {
                Body::Elem { h: Some(self.opt_mul(*ha, Some(*k)).unwrap()), p: *pa, t: false }
            }
            (Body::Const(k), Body::Elem { h: hb, p: pb, .. }) if self.xshape.is_scalar() => {
                Body::Elem { h: Some(self.opt_mul(Some(*k), *hb).unwrap()), p: *pb, t: false }
            }
            (Body::Elem { h: ha, p: pa, .. }, Body::Elem { h: hb, p: pb, .. }) if self.xshape.is_scalar() => {
                Body::Elem { h: self.opt_mul(*ha, *hb), p: pa + pb, t: false }
            }
            // A scalar chain (`v'*x`) times a vector: the vector joins the chain.
            (Body::Chain(ca), Body::Const(k)) => {
                let ks = self.g.shape(*k);
                let mut coef = coef;
                let mut atoms = vec![];
                if ks.is_col() {
                    self.push_factors(*k, &mut coef, &mut atoms);
                    atoms.extend(ca.iter().copied());
                } else if ks.is_row() {
                    atoms.extend(ca.iter().copied());
                    self.push_factors(*k, &mut coef, &mut atoms);
                } else {
                    return Err(Fail::Unsupported(n, "a matrix times a scalar function of the unknown"));
                }
                return Ok(Mono { coef, body: Body::Chain(atoms) });
            }
            (Body::Chain(ca), Body::Chain(cb)) => {
                let bs = self.body_shape(&b.body);
                let atoms = if bs.is_row() || bs.is_scalar() {
                    ca.iter().chain(cb).copied().collect()
                } else if bs.is_col() {
                    cb.iter().chain(ca).copied().collect()
                } else {
                    return Err(Fail::NotPolynomial(n));
                };
                Body::Chain(atoms)
            }
            _ => {
                return Err(Fail::Unsupported(n, "a product of a scalar and an elementwise expression in the unknown"))
            }
        };
        Ok(Mono { coef, body })
    }

    /// Product of optional factors (absent = 1).
    fn opt_mul(&mut self, a: Option<NodeId>, b: Option<NodeId>) -> Option<NodeId> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(self.g.mul(a, b)),
        }
    }

    /// Elementwise product of optional factors (absent = all ones).
    fn opt_hadamard(&mut self, a: Option<NodeId>, b: Option<NodeId>) -> Option<NodeId> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(a), Some(b)) => Some(self.g.hadamard(a, b)),
        }
    }

    /// The matrix product of two non-scalar monomials.
    fn matmul2(&mut self, a: &Mono, b: &Mono, n: NodeId) -> Result<Mono, Fail> {
        let mut coef = self.g.mul(a.coef, b.coef);
        if self.xshape.is_scalar() {
            // A scalar unknown commutes: products of `h*x^p` multiply the h's.
            let (ha, pa) = self.scalar_parts(&a.body);
            let (hb, pb) = self.scalar_parts(&b.body);
            let h = self.g.matmul(vec![ha, hb]);
            let body = if pa + pb == 0 { Body::Const(h) } else { Body::Elem { h: Some(h), p: pa + pb, t: false } };
            return Ok(Mono { coef, body });
        }
        if let (Body::Const(x), Body::Const(y)) = (&a.body, &b.body) {
            let k = self.g.matmul(vec![*x, *y]);
            return Ok(Mono { coef, body: Body::Const(k) });
        }
        let mut atoms = vec![];
        for m in [a, b] {
            match &m.body {
                Body::Const(k) => self.push_factors(*k, &mut coef, &mut atoms),
                Body::Chain(c) => atoms.extend(c.iter().copied()),
                Body::Elem { h: None, p: 1, t } => atoms.push(Atom::U { t: *t, inv: false }),
                Body::Elem { .. } => {
                    return Err(Fail::Unsupported(
                        n,
                        "an elementwise expression in the unknown inside a matrix product",
                    ))
                }
            }
        }
        Ok(Mono { coef, body: Body::Chain(atoms) })
    }

    /// `(h, p)` of a monomial body of a scalar unknown (`h*x^p`).
    fn scalar_parts(&mut self, b: &Body) -> (NodeId, i32) {
        match b {
            Body::Const(k) => (*k, 0),
            Body::Elem { h: Some(h), p, .. } => (*h, *p),
            Body::Elem { h: None, p, .. } => (self.g.constant(1.0), *p),
            Body::Chain(_) => unreachable!("no chains for a scalar unknown"),
        }
    }

    /// A chain that is just `op(X)` as an elementwise body.
    fn as_elem(&self, b: &Body) -> Option<(Option<NodeId>, i32, bool)> {
        match b {
            Body::Elem { h, p, t } => Some((*h, *p, *t)),
            Body::Chain(c) if c.len() == 1 => match c[0] {
                Atom::U { t, inv: false } => Some((None, 1, t)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The elementwise product of two same-shaped monomials.
    fn hadamard2(&mut self, a: &Mono, b: &Mono, n: NodeId) -> Result<Mono, Fail> {
        let coef = self.g.mul(a.coef, b.coef);
        let body = match (&a.body, &b.body) {
            (Body::Const(x), Body::Const(y)) => Body::Const(self.g.hadamard(*x, *y)),
            (Body::Const(k), other) | (other, Body::Const(k)) => match self.as_elem(other) {
                Some((h, p, t)) => Body::Elem { h: self.opt_hadamard(Some(*k), h), p, t },
                None => {
                    return Err(Fail::Unsupported(n, "an elementwise product with a matrix product in the unknown"))
                }
            },
            (x, y) => match (self.as_elem(x), self.as_elem(y)) {
                (Some((ha, pa, ta)), Some((hb, pb, tb))) if ta == tb || self.xshape.is_scalar() => {
                    Body::Elem { h: self.opt_hadamard(ha, hb), p: pa + pb, t: ta }
                }
                _ => return Err(Fail::NotPolynomial(n)),
            },
        };
        Ok(Mono { coef, body })
    }

    /// Inner product `sum(a.*b)` of two monomials (scalar result).
    fn dot2(&mut self, a: &Mono, b: &Mono, n: NodeId) -> Result<Mono, Fail> {
        let coef = self.g.mul(a.coef, b.coef);
        let body = match (&a.body, &b.body) {
            (Body::Const(x), Body::Const(y)) => Body::Const(self.g.dot(*x, *y)),
            _ if self.xshape.is_scalar() => {
                let (ha, pa) = self.scalar_parts(&a.body);
                let (hb, pb) = self.scalar_parts(&b.body);
                let h = self.g.dot(ha, hb);
                if pa + pb == 0 {
                    Body::Const(h)
                } else {
                    Body::Elem { h: Some(h), p: pa + pb, t: false }
                }
            }
            _ if self.xshape.is_col() || self.xshape.is_row() => {
                // Vectors: the inner product is a'*b, a chain.
                let at = self.transpose(a.clone());
                return self.matmul2(&at, b, n);
            }
            _ => return Err(Fail::Unsupported(n, "an inner product of matrix expressions in the unknown")),
        };
        Ok(Mono { coef, body })
    }

    /// `sum(m)` of a monomial whose value has shape `shape`.
    fn sum_entries(&mut self, m: Mono, shape: Shape, n: NodeId) -> Result<Mono, Fail> {
        let body = match m.body {
            Body::Const(k) => Body::Const(self.g.sum(k)),
            Body::Elem { h, p, .. } if self.xshape.is_scalar() => {
                let h = match h {
                    Some(h) => self.g.sum(h),
                    None => self.g.constant(1.0),
                };
                Body::Elem { h: Some(h), p, t: false }
            }
            body => {
                // sum(v) = 1'*v for a column, v'*1 for a row: a chain again; sum(h.*x) = h'*x.
                let chain = match self.as_elem(&body) {
                    Some((Some(h), 1, false)) if shape.is_col() => {
                        let ht = self.g.transpose(h);
                        return Ok(Mono {
                            coef: m.coef,
                            body: Body::Chain(vec![Atom::K(ht), Atom::U { t: false, inv: false }]),
                        });
                    }
                    Some((None, 1, t)) => vec![Atom::U { t, inv: false }],
                    Some(_) => return Err(Fail::Unsupported(n, "a sum of an elementwise expression in the unknown")),
                    None => match body {
                        Body::Chain(c) => c,
                        _ => unreachable!("constants and scalar unknowns are handled above"),
                    },
                };
                let mut atoms = vec![];
                if shape.is_col() {
                    atoms.push(Atom::K(self.g.fill(1.0, Shape::row(shape.rows.unwrap()))));
                    atoms.extend(chain);
                } else if shape.is_row() {
                    atoms.extend(chain);
                    atoms.push(Atom::K(self.g.fill(1.0, Shape::col(shape.cols.unwrap()))));
                } else {
                    return Err(Fail::Unsupported(n, "a sum of the entries of a matrix expression in the unknown"));
                }
                Body::Chain(atoms)
            }
        };
        Ok(Mono { coef: m.coef, body })
    }

    /// Shape of a monomial body.
    pub fn body_shape(&self, b: &Body) -> Shape {
        match b {
            Body::Const(k) => self.g.shape(*k),
            Body::Chain(c) => {
                let first = self.atom_shape(c[0]);
                let last = self.atom_shape(c[c.len() - 1]);
                Shape { rows: first.rows, cols: last.cols }
            }
            Body::Elem { h, t, .. } => {
                if self.xshape.is_scalar() {
                    h.map_or(Shape::SCALAR, |h| self.g.shape(h))
                } else if *t {
                    self.xshape.t()
                } else {
                    self.xshape
                }
            }
        }
    }

    /// The transpose of a monomial.
    pub fn transpose(&mut self, m: Mono) -> Mono {
        let body = match m.body {
            Body::Const(k) => Body::Const(self.g.transpose(k)),
            Body::Elem { h, p, t } => {
                let h = h.map(|h| self.g.transpose(h));
                let t = !self.xshape.is_scalar() && !self.sym && !t;
                Body::Elem { h, p, t }
            }
            Body::Chain(c) => {
                let mut coef = m.coef;
                let mut atoms = vec![];
                for a in c.into_iter().rev() {
                    match a {
                        Atom::K(k) => {
                            let kt = self.g.transpose(k);
                            self.push_factors(kt, &mut coef, &mut atoms);
                        }
                        Atom::U { t, inv } => atoms.push(Atom::U { t: !self.sym && !t, inv }),
                    }
                }
                return Mono { coef, body: Body::Chain(atoms) };
            }
        };
        Mono { coef: m.coef, body }
    }
}
