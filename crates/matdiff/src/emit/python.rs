//! Python targets (NumPy, JAX, PyTorch): one backend with a flavor for the library's names.
//!
//! Column and row vectors are 1-D arrays and scalars 0-d, so `x'*A*y` is a number and a
//! column times a row is an outer product. Inverses inside products become solves; NumPy has
//! no reusable factorization, so it solves with `np.linalg.solve` each time, while JAX and
//! PyTorch factor each matrix once (Cholesky when it is symmetric, else LU) and reuse it.

use super::chain::{decompose, rhs_key, trace_as_inner_product, Chain};
use super::helpers::{Helper, Helpers};
use super::names::PYTHON_RESERVED;
use super::plan::{
    check_dims, domains, params_without, schedule, setup, setup_roots, Backend, Cx, Derived, Domain, Line, Param, Setup,
};
use super::template::{join, prec, Item, Template};
use super::{Source, Update};
use crate::derivative::{Derivative, Order};
use crate::problem::{Gradients, Problem};
use matdiff_core::Shape;
use matdiff_core::{Func, Graph, NodeId, Op};
use matdiff_syntax::Result;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    Numpy,
    Jax,
    Torch,
}

impl Flavor {
    /// The array module's name in generated code.
    fn m(self) -> &'static str {
        match self {
            Flavor::Numpy => "np",
            Flavor::Jax => "jnp",
            Flavor::Torch => "torch",
        }
    }
    fn library(self) -> &'static str {
        match self {
            Flavor::Numpy => "NumPy",
            Flavor::Jax => "JAX",
            Flavor::Torch => "PyTorch",
        }
    }
}

struct Py {
    flavor: Flavor,
    derived: Derived,
    /// Module-level helper functions the code uses.
    helpers: Helpers,
}

/// A number as Python reads it back exactly.
fn lit(x: f64) -> Template {
    // Constant folding can overflow (`exp(1000)`): still valid code.
    if !x.is_finite() {
        let s = if x.is_nan() {
            "float(\"nan\")"
        } else if x > 0.0 {
            "float(\"inf\")"
        } else {
            "-float(\"inf\")"
        };
        return Template::text(s, if x < 0.0 { prec::NEG } else { prec::ATOM });
    }
    let s = if x.fract() == 0.0 && x.abs() < 1e15 { format!("{x:.1}") } else { format!("{x:?}") };
    Template::text(s, if x < 0.0 { prec::NEG } else { prec::ATOM })
}

fn node(n: NodeId) -> Item {
    Item::node(n)
}

/// Node `n`'s value, in whatever context it is put.
fn h(n: NodeId) -> Template {
    Template::alias(node(n))
}

fn call(f: &str, args: Vec<Template>) -> Template {
    Template::text(format!("{f}("), prec::ATOM).sub(join(args, ", ", prec::LOWEST), prec::LOWEST).t(")")
}

/// `a op b` for a left-associative operator at level `p`. Elementwise `*` and `/` next to
/// `@` read ambiguously, so their compound operands are always parenthesized.
fn binop(a: Template, op: &str, b: Template, p: u8) -> Template {
    let left = if op == "@" { p } else { p + 1 };
    Template::new(p).sub(a, left).t(format!(" {op} ")).sub(b, p + 1)
}

impl Py {
    fn dtype(&self) -> &'static str {
        match self.flavor {
            Flavor::Torch => ", dtype=torch.float64",
            _ => "",
        }
    }
    fn shape_tuple(&self, cx: &Cx, s: Shape) -> String {
        match (s.rows, s.cols) {
            (Some(m), Some(n)) => format!("({}, {})", cx.dim(m), cx.dim(n)),
            (Some(n), None) | (None, Some(n)) => format!("({},)", cx.dim(n)),
            (None, None) => "()".into(),
        }
    }
    fn fill(&self, cx: &Cx, c: f64, s: Shape) -> Template {
        let m = self.flavor.m();
        let shape = self.shape_tuple(cx, s);
        let d = self.dtype();
        if c == 0.0 {
            Template::text(format!("{m}.zeros({shape}{d})"), prec::ATOM)
        } else if c == 1.0 {
            Template::text(format!("{m}.ones({shape}{d})"), prec::ATOM)
        } else {
            Template::text(format!("{m}.full({shape}, "), prec::ATOM).sub(lit(c), prec::LOWEST).t(format!("{d})"))
        }
    }
    fn eye(&self, cx: &Cx, n: matdiff_core::DimId) -> Template {
        Template::text(format!("{}.eye({}{})", self.flavor.m(), cx.dim(n), self.dtype()), prec::ATOM)
    }
    /// `x.T` for a matrix, `x` itself for a vector (1-D arrays have no orientation).
    fn transposed(&self, x: Template, s: Shape) -> Template {
        if s.is_matrix() {
            Template::new(prec::ATOM).sub(x, prec::ATOM).t(".T")
        } else {
            x
        }
    }
    /// The transpose of node `n`'s value, unwrapping `n = w'` to `w`.
    fn transpose_of(&self, g: &Graph, n: NodeId) -> Template {
        match g.op(n) {
            Op::Transpose(w) => Template::alias(node(*w)),
            _ => self.transposed(Template::alias(node(n)), g.shape(n)),
        }
    }

    fn map(&mut self, f: Func, x: Template) -> Template {
        let m = self.flavor.m();
        let (name, extra): (String, Option<&str>) = match (f, self.flavor) {
            (Func::Relu, Flavor::Numpy) => ("np.maximum".into(), Some("0.0")),
            (Func::Relu, Flavor::Jax) => ("jax.nn.relu".into(), None),
            (Func::Relu, Flavor::Torch) => ("torch.relu".into(), None),
            (Func::Sigmoid, Flavor::Numpy) => {
                self.helpers.add(Helper::Sigmoid);
                ("_sigmoid".into(), None)
            }
            (Func::Sigmoid, Flavor::Jax) => ("jax.nn.sigmoid".into(), None),
            (Func::Sigmoid, Flavor::Torch) => ("torch.sigmoid".into(), None),
            (Func::Softplus, Flavor::Numpy) => return call("np.logaddexp", vec![lit(0.0), x]),
            (Func::Softplus, Flavor::Jax) => ("jax.nn.softplus".into(), None),
            (Func::Softplus, Flavor::Torch) => {
                self.helpers.add(Helper::Softplus);
                ("_softplus".into(), None)
            }
            (Func::Swish, Flavor::Numpy) => {
                self.helpers.add(Helper::Sigmoid);
                self.helpers.add(Helper::Swish);
                ("_swish".into(), None)
            }
            (Func::Swish, Flavor::Jax) => ("jax.nn.swish".into(), None),
            (Func::Swish, Flavor::Torch) => ("torch.nn.functional.silu".into(), None),
            (Func::Step, Flavor::Torch) => {
                self.helpers.add(Helper::Step);
                ("_step".into(), None)
            }
            (Func::Step, _) => (format!("{m}.heaviside"), Some("0.0")),
            _ => (format!("{m}.{}", f.name()), None),
        };
        let mut args = vec![x];
        if let Some(e) = extra {
            args.push(Template::text(e, prec::ATOM));
        }
        call(&name, args)
    }

    /// `op(K)⁻¹·b'`, the solve inside `K⁻¹·b` (b' = b) or `b·K⁻¹` (b' = bᵀ, the result
    /// transposed back by the caller); op(K) = Kᵀ when `t_eff`.
    fn solve(&mut self, cx: &Cx, k: NodeId, b: Template, t_eff: bool) -> Template {
        let g = cx.g;
        let sym = g.node(k).symmetric;
        let fac = || Template::new(prec::ATOM).hole(Item::factor(k), prec::ATOM);
        match self.flavor {
            Flavor::Numpy => {
                let kk = if t_eff {
                    self.transposed(Template::alias(node(k)), g.shape(k))
                } else {
                    Template::alias(node(k))
                };
                call("np.linalg.solve", vec![kk, b])
            }
            Flavor::Jax if sym => call("jsl.cho_solve", vec![fac(), b]),
            Flavor::Jax if t_eff => call("jsl.lu_solve", vec![fac(), b, Template::text("trans=1", prec::ATOM)]),
            Flavor::Jax => call("jsl.lu_solve", vec![fac(), b]),
            Flavor::Torch if sym => {
                self.helpers.add(Helper::ChoSolve);
                call("_cho_solve", vec![fac(), b])
            }
            Flavor::Torch => {
                self.helpers.add(Helper::LuSolve);
                let mut args = vec![fac(), b];
                if t_eff {
                    args.push(Template::text("adjoint=True", prec::ATOM));
                }
                call("_lu_solve", args)
            }
        }
    }

    /// The parts of a product, each diagonal factor `diag(v)` applied to its neighbour as a
    /// broadcasting scale instead of built as an n×n matrix: `L·diag(v)` is `(L * v)` (columns
    /// scaled), `diag(v)·R` is `(v[:, None] * R)` (rows; `(v * r)` for a vector), so
    /// `A'*diag(w)*A` is `(A.T * w) @ A`. Only diagonal factors: `diag(v₁ * ⋯ * vₖ)`.
    fn scaled_parts(&mut self, cx: &Cx, parts: &[Chain]) -> Vec<Template> {
        let g = cx.g;
        let paren = |t: Template| Template::text("(", prec::ATOM).sub(t, prec::LOWEST).t(")");
        let mut ts: Vec<Template> = vec![];
        // The product of the diagonal factors that lead the chain, until a factor to scale.
        let mut leading: Option<Template> = None;
        for p in parts {
            if let Chain::Factor(f) = p {
                if let Op::Diag(v) = g.op(*f) {
                    match ts.pop() {
                        Some(left) => ts.push(paren(binop(left, "*", h(*v), prec::MUL))),
                        None => leading = Some(leading.map_or(h(*v), |u| binop(u, "*", h(*v), prec::MUL))),
                    }
                    continue;
                }
            }
            let t = self.chain(cx, p);
            ts.push(match leading.take() {
                Some(u) if p.shape(g).is_matrix() => {
                    let col = Template::new(prec::ATOM).sub(u, prec::ATOM).t("[:, None]");
                    paren(binop(col, "*", t, prec::MUL))
                }
                Some(u) => paren(binop(u, "*", t, prec::MUL)),
                None => t,
            });
        }
        if let Some(u) = leading {
            ts.push(call(&format!("{}.diag", self.flavor.m()), vec![u]));
        }
        ts
    }

    fn chain(&mut self, cx: &Cx, c: &Chain) -> Template {
        let g = cx.g;
        let m = self.flavor.m();
        match c {
            Chain::Factor(n) => Template::alias(node(*n)),
            Chain::Product(parts) => {
                let mut ts = self.scaled_parts(cx, parts);
                if ts.len() == 1 {
                    ts.pop().expect("one part")
                } else if ts.len() == 2 {
                    let mut it = ts.into_iter();
                    binop(it.next().unwrap(), "@", it.next().unwrap(), prec::MUL)
                } else {
                    let list = Template::text("[", prec::ATOM).sub(join(ts, ", ", prec::LOWEST), prec::LOWEST).t("]");
                    call(&format!("{m}.linalg.multi_dot"), vec![list])
                }
            }
            Chain::Outer { scalars, col, row } => {
                let core = match (col, row) {
                    (Some(a), Some(b)) => {
                        let (a, b) = (self.chain(cx, a), self.chain(cx, b));
                        Some(call(&format!("{m}.outer"), vec![a, b]))
                    }
                    (Some(a), None) => Some(self.chain(cx, a)),
                    (None, Some(b)) => Some(self.chain(cx, b)),
                    (None, None) => None,
                };
                let mut factors: Vec<Template> = scalars.iter().map(|s| self.chain(cx, s)).collect();
                factors.extend(core);
                let mut it = factors.into_iter();
                let first = it.next().expect("an outer product of something");
                it.fold(first, |acc, t| binop(acc, "*", t, prec::MUL))
            }
            Chain::Gram(half) => {
                // H·Hᵀ with H computed once (H is a matrix: a vector half is a rank-one joint).
                let ht = self.chain(cx, half);
                let hi = Template::alias(self.derived.intern(None, ht));
                binop(hi.clone(), "@", self.transposed(hi, half.shape(g)), prec::MUL)
            }
            Chain::Solve { k, rhs, right, transposed } => {
                // b·K⁻¹ = (K⁻ᵀ·bᵀ)ᵀ: a right solve is a left solve with the other K, transposed
                // around (a 1-D or symmetric b needs no transposes).
                let shape = rhs.shape(g);
                let t_eff = (transposed != right) && !g.node(*k).symmetric;
                let key = rhs_key(g, rhs, *right, true).map(|b| (*k, t_eff, b));
                let b = match (right, &**rhs) {
                    (false, _) => self.chain(cx, rhs),
                    (true, _) if !shape.is_matrix() || rhs.symmetric(g) => self.chain(cx, rhs),
                    (true, Chain::Factor(n)) => self.transpose_of(g, *n),
                    (true, _) => {
                        let t = self.chain(cx, rhs);
                        self.transposed(t, shape)
                    }
                };
                let inner = self.solve(cx, *k, b, t_eff);
                let solved = Template::alias(self.derived.intern(key, inner));
                if *right {
                    self.transposed(solved, shape)
                } else {
                    solved
                }
            }
        }
    }

    fn lin(&self, cx: &Cx, ts: &[(matdiff_core::Num, NodeId)]) -> Template {
        let g = cx.g;
        // Constant terms are written as numbers and broadcast.
        let mut terms: Vec<(f64, Option<NodeId>)> = ts
            .iter()
            .map(|(c, t)| match g.fill_value(*t) {
                Some(k) => (c.get() * k, None),
                None => (c.get(), Some(*t)),
            })
            .collect();
        // Lead with a positive term: `1.0 - t` reads better than `-t + 1.0`.
        if let Some(i) = terms.iter().position(|t| t.0 > 0.0) {
            let first = terms.remove(i);
            terms.insert(0, first);
        }
        let single = terms.len() == 1;
        let mut out = Template::new(if single { prec::MUL } else { prec::ADD });
        for (i, (c, t)) in terms.into_iter().enumerate() {
            let a = c.abs();
            let body = match t {
                None => lit(a),
                Some(t) if a == 1.0 => Template::alias(node(t)),
                Some(t) => binop(lit(a), "*", Template::alias(node(t)), prec::MUL),
            };
            if i == 0 {
                // Negation is exact, so `-a * b` is `-(a * b)` to the last bit.
                out = if c < 0.0 { out.t("-").sub(body, prec::MUL) } else { out.sub(body, prec::ADD) };
            } else {
                out = out.t(if c < 0.0 { " - " } else { " + " }).sub(body, prec::MUL);
            }
        }
        out
    }
}

impl Backend for Py {
    fn node(&mut self, cx: &Cx, n: NodeId) -> Template {
        let g = cx.g;
        let m = self.flavor.m();
        let shape = g.shape(n);
        match g.op(n) {
            Op::Var(v) => Template::text(cx.params[*v as usize].clone(), prec::ATOM),
            Op::Const(c) => lit(c.get()),
            Op::Fill(c) => self.fill(cx, c.get(), shape),
            Op::Identity => self.eye(cx, shape.rows.expect("identity is square")),
            Op::Lin(ts) => self.lin(cx, ts),
            Op::Scale(s, x) => match g.op(*s) {
                Op::Pow(b, p) if p.get() == -1.0 => binop(h(*x), "/", h(*b), prec::MUL),
                _ => binop(h(*s), "*", h(*x), prec::MUL),
            },
            Op::MatMul(fs) => {
                let c = decompose(g, fs);
                self.chain(cx, &c)
            }
            Op::Hadamard(a, b) => binop(h(*a), "*", h(*b), prec::MUL),
            Op::Pow(a, p) => {
                let p = p.get();
                if p == -1.0 {
                    binop(lit(1.0), "/", h(*a), prec::MUL)
                } else if p == 0.5 {
                    call(&format!("{m}.sqrt"), vec![h(*a)])
                } else if p.fract() == 0.0 && p.abs() < 1e6 {
                    Template::new(prec::POW).hole(node(*a), prec::ATOM).t(format!(" ** {}", p as i64))
                } else {
                    let f = if self.flavor == Flavor::Torch { "torch.pow".to_string() } else { format!("{m}.power") };
                    call(&f, vec![h(*a), lit(p)])
                }
            }
            Op::Map(f, a) => self.map(*f, h(*a)),
            Op::Transpose(a) => self.transposed(Template::alias(node(*a)), g.shape(*a)),
            Op::Sum(a) => call(&format!("{m}.sum"), vec![h(*a)]),
            Op::SqNorm(a) => {
                if !g.shape(*a).is_matrix() {
                    Template::new(prec::MUL).hole(node(*a), prec::ATOM).t(" @ ").hole(node(*a), prec::ATOM)
                } else {
                    self.vdot(node(*a), node(*a))
                }
            }
            Op::Norm1(a) => match self.flavor {
                Flavor::Torch => call("torch.linalg.vector_norm", vec![h(*a), lit(1.0)]),
                _ => call(&format!("{m}.sum"), vec![call(&format!("{m}.abs"), vec![h(*a)])]),
            },
            Op::Norm2(a) => match self.flavor {
                Flavor::Torch => call("torch.linalg.vector_norm", vec![h(*a)]),
                _ => call(&format!("{m}.linalg.norm"), vec![h(*a)]),
            },
            Op::Dot(a, b) => self.vdot(node(*a), node(*b)),
            Op::Trace(a) => match g.op(*a) {
                // tr(P*F) = sum(P .* F') without forming the square product: with P = inv(K)*Y
                // and F = Y', a solve with D right-hand sides instead of N.
                Op::MatMul(fs) if trace_as_inner_product(g, fs) => {
                    let k = fs.len();
                    let head = if k == 2 { h(fs[0]) } else { self.chain(cx, &decompose(g, &fs[..k - 1])) };
                    let prod = binop(head, "*", self.transpose_of(g, fs[k - 1]), prec::MUL);
                    call(&format!("{m}.sum"), vec![prod])
                }
                _ => call(&format!("{m}.trace"), vec![h(*a)]),
            },
            Op::Det(a) => call(&format!("{m}.linalg.det"), vec![h(*a)]),
            Op::LogDet(a) => {
                let sym = g.node(*a).symmetric;
                match (self.flavor, sym) {
                    (Flavor::Numpy, true) => {
                        self.helpers.add(Helper::Logdet);
                        self.helpers.add(Helper::LogdetSpd);
                        call("_logdet_spd", vec![h(*a)])
                    }
                    (_, false) => {
                        self.helpers.add(Helper::Logdet);
                        call("_logdet", vec![h(*a)])
                    }
                    (Flavor::Jax, true) => {
                        let d = Template::new(prec::ATOM).hole(Item::factor(*a), prec::ATOM).t("[0]");
                        binop(
                            lit(2.0),
                            "*",
                            call("jnp.sum", vec![call("jnp.log", vec![call("jnp.diag", vec![d])])]),
                            prec::MUL,
                        )
                    }
                    (Flavor::Torch, true) => {
                        let d = Template::new(prec::ATOM).hole(Item::factor(*a), prec::LOWEST);
                        binop(
                            lit(2.0),
                            "*",
                            call("torch.sum", vec![call("torch.log", vec![call("torch.diagonal", vec![d])])]),
                            prec::MUL,
                        )
                    }
                }
            }
            Op::Inv(a) => {
                let sym = g.node(*a).symmetric;
                let fac = Template::new(prec::ATOM).hole(Item::factor(*a), prec::LOWEST);
                let n = shape.rows.expect("inverse of a square matrix");
                match (self.flavor, sym) {
                    (Flavor::Numpy, _) => call("np.linalg.inv", vec![h(*a)]),
                    (Flavor::Jax, true) => call("jsl.cho_solve", vec![fac, self.eye(cx, n)]),
                    (Flavor::Jax, false) => call("jsl.lu_solve", vec![fac, self.eye(cx, n)]),
                    (Flavor::Torch, true) => call("torch.cholesky_inverse", vec![fac]),
                    (Flavor::Torch, false) => {
                        self.helpers.add(Helper::LuSolve);
                        call("_lu_solve", vec![fac, self.eye(cx, n)])
                    }
                }
            }
            Op::Diag(a) | Op::DiagPart(a) => call(&format!("{m}.diag"), vec![h(*a)]),
            Op::Kron(a, b) => {
                // Vectors are 1-D: in a matrix result each vector operand gets its orientation
                // back (a column `x[:, None]`, a row `x[None, :]`); np.kron treats a lone 1-D
                // operand next to a matrix as a row.
                let as_2d = |x: NodeId| {
                    let s = g.shape(x);
                    if !shape.is_matrix() || s.is_matrix() || s.is_scalar() {
                        h(x)
                    } else if s.is_col() {
                        Template::new(prec::ATOM).hole(node(x), prec::ATOM).t("[:, None]")
                    } else {
                        Template::new(prec::ATOM).hole(node(x), prec::ATOM).t("[None, :]")
                    }
                };
                call(&format!("{m}.kron"), vec![as_2d(*a), as_2d(*b)])
            }
            Op::Vectorize(a) => {
                self.helpers.add(Helper::Vec);
                call(Helper::Vec.python_name(), vec![h(*a)])
            }
            Op::Unvec(a) => {
                self.helpers.add(Helper::Unvec);
                let (r, c) = (cx.dim(shape.rows.unwrap()), cx.dim(shape.cols.unwrap()));
                let dims = Template::text(format!("{r}, {c}"), prec::LOWEST);
                call(Helper::Unvec.python_name(), vec![h(*a), dims])
            }
            Op::Softmax(a) => match self.flavor {
                Flavor::Numpy => {
                    self.helpers.add(Helper::Softmax);
                    call(Helper::Softmax.python_name(), vec![h(*a)])
                }
                // Both shift by the maximum themselves; a vector is 1-D, its only axis 0.
                Flavor::Jax => call("jax.nn.softmax", vec![h(*a)]),
                Flavor::Torch => call("torch.softmax", vec![h(*a), Template::text("0", prec::ATOM)]),
            },
            Op::Commutation(r, c) => {
                self.helpers.add(Helper::Commutation);
                Template::text(
                    format!("{}({}, {})", Helper::Commutation.python_name(), cx.dim(*r), cx.dim(*c)),
                    prec::ATOM,
                )
            }
        }
    }

    fn factor(&mut self, cx: &Cx, k: NodeId) -> Template {
        let sym = cx.g.node(k).symmetric;
        let f = match (self.flavor, sym) {
            (Flavor::Jax, true) => return call("jsl.cho_factor", vec![h(k), Template::text("lower=True", prec::ATOM)]),
            (Flavor::Jax, false) => "jsl.lu_factor",
            (Flavor::Torch, true) => "torch.linalg.cholesky",
            (Flavor::Torch, false) => "torch.linalg.lu_factor",
            (Flavor::Numpy, _) => unreachable!("NumPy code solves without stored factorizations"),
        };
        call(f, vec![h(k)])
    }

    fn derived(&mut self, k: u32) -> Template {
        self.derived.get(k)
    }

    fn factor_name(&self, cx: &Cx, k: NodeId, base: Option<&str>) -> String {
        let kind = if cx.g.node(k).symmetric { "chol" } else { "lu" };
        match base {
            Some(b) => format!("{b}_{kind}"),
            None => kind.to_string(),
        }
    }

    fn trivial(&self, cx: &Cx, item: Item) -> bool {
        if !item.is_node() {
            return false;
        }
        match cx.g.op(item.node) {
            Op::Var(_) | Op::Const(_) => true,
            Op::Transpose(a) => matches!(cx.g.op(*a), Op::Var(_)),
            _ => false,
        }
    }
}

impl Py {
    /// `sum(a .* b)` for same-shaped matrices.
    fn vdot(&self, a: Item, b: Item) -> Template {
        match self.flavor {
            Flavor::Torch => {
                call("torch.sum", vec![Template::new(prec::MUL).hole(a, prec::MUL).t(" * ").hole(b, prec::POW)])
            }
            f => call(&format!("{}.vdot", f.m()), vec![Template::alias(a), Template::alias(b)]),
        }
    }
}

/// Generate the module.
pub(crate) fn emit(flavor: Flavor, p: &Problem, grads: &Gradients, src: &Source) -> Result<String> {
    let Setup { ps, roots, mut namer, cx, root_names } = setup(p, grads, PYTHON_RESERVED)?;
    let mut be = Py { flavor, derived: Derived::default(), helpers: Helpers::default() };
    let lines = schedule(&cx, &mut be, &roots, &root_names, &mut namer);

    let mut out = String::new();
    header(&mut out, flavor, &cx, &ps, grads, src, &root_names);
    imports(&mut out, flavor);
    be.helpers.write_python(&mut out, flavor);
    function(&mut out, flavor, &cx, &ps, &lines, &root_names, grads.vars.len());
    checker(&mut out, &cx, &ps, p.output, grads);
    out.push_str("\n\nif __name__ == \"__main__\":\n    check_gradient()\n");
    Ok(out)
}

/// Generate the module of [`emit`] with `update_<var>(…)` (the closed form), the matrices it
/// inverts (`_update_inverted`, for the check to skip ill-posed draws) and `check_update()`.
pub(crate) fn emit_update(flavor: Flavor, p: &Problem, grads: &Gradients, up: &Update, src: &Source) -> Result<String> {
    let Setup { ps, roots, mut namer, cx, root_names } = setup(p, grads, PYTHON_RESERVED)?;
    let g = cx.g;
    let ups = params_without(g, &ps, up.var);
    let inverted: Vec<NodeId> = g
        .reachable(&[up.node])
        .into_iter()
        .filter_map(|n| if let Op::Inv(a) = g.op(n) { Some(*a) } else { None })
        .collect();
    let mut update_roots = vec![up.node];
    update_roots.extend(&inverted);
    check_dims(g, &ups, &update_roots)?;
    let mut be = Py { flavor, derived: Derived::default(), helpers: Helpers::default() };
    let lines = schedule(&cx, &mut be, &roots, &root_names, &mut namer);
    let name = &cx.params[up.var];
    let sol_name = namer.claim(&format!("{name}_star"));
    let mut ube = Py { flavor, derived: Derived::default(), helpers: Helpers::default() };
    let ulines = schedule(&cx, &mut ube, &[up.node], std::slice::from_ref(&sol_name), &mut namer);
    let inv_names: Vec<String> = (0..inverted.len()).map(|i| namer.claim(&format!("k{i}"))).collect();
    let mut ibe = Py { flavor, derived: Derived::default(), helpers: Helpers::default() };
    let ilines = schedule(&cx, &mut ibe, &inverted, &inv_names, &mut namer);
    let mut used = be.helpers.clone();
    used.extend(&ube.helpers);
    used.extend(&ibe.helpers);

    let mut out = String::new();
    header(&mut out, flavor, &cx, &ps, grads, src, &root_names);
    imports(&mut out, flavor);
    used.write_python(&mut out, flavor);
    function(&mut out, flavor, &cx, &ps, &lines, &root_names, grads.vars.len());
    let args: Vec<&str> = ups.iter().map(|p| cx.params[p.var].as_str()).collect();
    let clean = up.summary.replace("\"\"\"", "'''").replace('\\', "\\\\");
    let _ = writeln!(out, "\n\ndef update_{name}({}):", args.join(", "));
    let _ = writeln!(out, "    \"\"\"The stationary point of f in {name}: {clean}\"\"\"");
    prologue(&mut out, flavor, &cx, &ups);
    for l in &ulines {
        let _ = writeln!(out, "    {} = {}", l.name, l.text);
    }
    let _ = writeln!(out, "    return {sol_name}");
    let _ = writeln!(out, "\n\ndef _update_inverted({}):", args.join(", "));
    let _ = writeln!(out, "    \"\"\"The matrices update_{name} inverts (its conditions: each invertible).\"\"\"");
    prologue(&mut out, flavor, &cx, &ups);
    for l in &ilines {
        let _ = writeln!(out, "    {} = {}", l.name, l.text);
    }
    let _ = writeln!(out, "    return ({})", inv_names.iter().map(|n| format!("{n}, ")).collect::<String>());
    checker(&mut out, &cx, &ps, p.output, grads);
    update_checker(&mut out, &cx, &ps, p.output, up);
    out.push_str("\n\nif __name__ == \"__main__\":\n    check_gradient()\n    check_update()\n");
    Ok(out)
}

/// `_update_inputs` (inputs drawn as `solve`'s conditions read: symmetric matrices positive
/// definite, scalars positive) and `check_update()`.
fn update_checker(out: &mut String, cx: &Cx, ps: &[Param], output: NodeId, up: &Update) {
    let g = cx.g;
    let doms = domains(g, output);
    let _ = writeln!(out, "\n\ndef _update_inputs(rng, lo, hi):");
    let _ = writeln!(
        out,
        "    \"\"\"Random inputs of random consistent sizes in lo..hi: symmetric matrices positive definite,\n    scalars positive, as the update's conditions assume.\"\"\""
    );
    for p in ps {
        for &(_, d) in &p.binds {
            let _ = writeln!(out, "    {} = int(rng.integers(lo, hi + 1))", cx.dim(d));
        }
    }
    let _ = writeln!(out, "    return {{");
    for p in ps {
        let v = &g.vars()[p.var];
        let shape = match (v.shape.rows, v.shape.cols) {
            (None, None) => String::new(),
            (Some(n), None) | (None, Some(n)) => format!("({},)", cx.dim(n)),
            (Some(m), Some(n)) => format!("({}, {})", cx.dim(m), cx.dim(n)),
        };
        let Domain { spd, positive } = doms[p.var];
        let value = if v.shape.is_scalar() {
            "float(rng.uniform(0.5, 2.0))".to_string()
        } else if (spd || v.symmetric) && v.shape.is_square() {
            format!("_random_spd(rng, {})", cx.dim(v.shape.rows.unwrap()))
        } else if positive {
            format!("rng.uniform(0.5, 2.0, {shape})")
        } else if v.shape.is_square() {
            // A square matrix with a positive definite symmetric part: the sums `A + A'` an
            // update inverts are then positive definite (JAX and PyTorch factor them by Cholesky).
            format!("_random_posdef(rng, {})", cx.dim(v.shape.rows.unwrap()))
        } else {
            format!("rng.standard_normal({shape})")
        };
        let _ = writeln!(out, "        \"{}\": {value},", cx.params[p.var]);
    }
    let _ = writeln!(out, "    }}");
    let name = &cx.params[up.var];
    let sym = if g.vars()[up.var].symmetric { "True" } else { "False" };
    // Where f inverts the variable (or takes its log), the update must be invertible (positive)
    // for f to be defined there: draws where it is not are outside the conditions.
    let py_bool = |b: bool| if b { "True" } else { "False" };
    let _ = write!(
        out,
        "{}",
        UPDATE_CHECKER
            .replace("{NAME}", name)
            .replace("{SYM}", sym)
            .replace("{INVERTS}", py_bool(doms[up.var].spd))
            .replace("{POSITIVE}", py_bool(doms[up.var].positive))
    );
}

/// The update's checker; `{NAME}` is the updated variable, `{SYM}` whether it is symmetric.
const UPDATE_CHECKER: &str = r#"

def _random_posdef(rng, n):
    K = rng.standard_normal((n, n))
    return _random_spd(rng, n) + 0.5 / np.sqrt(n) * (K - K.T)

def check_update(seed=0, tol=1e-6, verbose=True):
    """Check that the gradient vanishes at update_{NAME}(...): at random inputs of two size
    ranges (draws where a matrix the update inverts is ill-conditioned are outside its
    conditions and redrawn), |grad f| at the update relative to |grad f| at a random {NAME};
    return the largest ratio, raise AssertionError above tol or when nothing was checked."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for lo, hi in [(2, 4), (3, 6)]:
        for _attempt in range(30):
            inputs = _update_inputs(rng, lo, hi)
            args = {k: v for k, v in inputs.items() if k != "{NAME}"}
            try:
                inverted = [np.asarray(m, dtype=np.float64) for m in _update_inverted(**args)]
                if any(np.ndim(m) == 2 and np.linalg.cond(m) > 1e8 for m in inverted):
                    continue
                x = np.asarray(update_{NAME}(**args), dtype=np.float64)
                if ({INVERTS} and np.linalg.cond(np.atleast_2d(x)) > 1e8) or ({POSITIVE} and np.any(x <= 0)):
                    continue
                g_sol = np.asarray(f_and_grad(**{**args, "{NAME}": x})[1], dtype=np.float64)
                g_rand = np.asarray(f_and_grad(**inputs)[1], dtype=np.float64)
            except (ArithmeticError, ValueError, RuntimeError, np.linalg.LinAlgError):
                continue
            if {SYM}:
                g_sol, g_rand = g_sol + g_sol.T, g_rand + g_rand.T
            scale = float(np.linalg.norm(g_rand))
            if not (np.all(np.isfinite(x)) and np.all(np.isfinite(g_sol)) and np.isfinite(scale) and scale > 0):
                continue
            worst = max(worst, float(np.linalg.norm(g_sol)) / scale)
            break
        else:
            raise AssertionError("nothing was checked: no random input satisfied the update's conditions")
    if verbose:
        print(f"check_update: gradient at the update {worst:.1e} of its size at a random point")
    assert worst <= tol, f"update check failed: {worst:.1e} > {tol:.0e}"
    return worst
"#;

/// `matrix (m, n)`, `vector (n,)`, `scalar`.
fn describe(cx: &Cx, s: Shape) -> String {
    match (s.rows, s.cols) {
        (None, None) => "scalar".into(),
        (Some(n), None) => format!("vector ({},)", cx.g.dims().name(n)),
        (None, Some(n)) => format!("row vector ({},)", cx.g.dims().name(n)),
        (Some(m), Some(n)) => format!("matrix ({}, {})", cx.g.dims().name(m), cx.g.dims().name(n)),
    }
}

fn header(out: &mut String, flavor: Flavor, cx: &Cx, ps: &[Param], grads: &Gradients, src: &Source, roots: &[String]) {
    let g = cx.g;
    let clean = |s: &str| s.replace("\"\"\"", "'''");
    let _ =
        writeln!(out, "r\"\"\"Value and gradient of a scalar function ({}), generated by matdiff.\n", flavor.library());
    for line in src.expr.lines() {
        let _ = writeln!(out, "    {}", clean(line));
    }
    if !src.decls.trim().is_empty() {
        let _ = writeln!(out, "\n    declarations: {}", clean(src.decls.trim()));
    }
    let args: Vec<&str> = ps.iter().map(|p| cx.params[p.var].as_str()).collect();
    let grad_list = if roots.len() == 2 { roots[1].clone() } else { format!("({})", roots[1..].join(", ")) };
    let _ = writeln!(out, "\nf_and_grad({}) returns ({}, {}).", args.join(", "), roots[0], grad_list);
    let _ = writeln!(out, "Inputs:");
    for p in ps {
        let v = &g.vars()[p.var];
        let sym = if v.symmetric { ", symmetric" } else { "" };
        let _ = writeln!(out, "    {}: {}{sym}", cx.params[p.var], describe(cx, v.shape));
    }
    let _ = writeln!(
        out,
        "Vectors (column or row) are 1-D arrays; scalars are 0-d. Each gradient has its variable's shape."
    );
    for &v in &grads.vars {
        if g.vars()[v].symmetric {
            let n = &cx.params[v];
            let _ = writeln!(
                out,
                "grad_{n} treats the entries of {n} as independent; along symmetric perturbations the\nderivative is grad_{n} + grad_{n}.T - diag(grad_{n})."
            );
        }
    }
    if flavor != Flavor::Numpy {
        let _ = writeln!(
            out,
            "Symmetric matrices that are inverted or log-determined are assumed positive definite\n(they are factored by Cholesky)."
        );
    }
    let _ = writeln!(out, "check_gradient() compares the gradient with central differences at random inputs.\n\"\"\"");
}

fn imports(out: &mut String, flavor: Flavor) {
    match flavor {
        Flavor::Numpy => out.push_str("import numpy as np\n"),
        Flavor::Jax => out.push_str(
            "import numpy as np\nimport jax\nimport jax.numpy as jnp\nimport jax.scipy.linalg as jsl\n\n# Gradients are checked in double precision.\njax.config.update(\"jax_enable_x64\", True)\n",
        ),
        Flavor::Torch => out.push_str("import numpy as np\nimport torch\n"),
    }
}

fn function(out: &mut String, flavor: Flavor, cx: &Cx, ps: &[Param], lines: &[Line], roots: &[String], n_grads: usize) {
    let args: Vec<&str> = ps.iter().map(|p| cx.params[p.var].as_str()).collect();
    let _ = writeln!(out, "\n\ndef f_and_grad({}):", args.join(", "));
    let grad_doc = if n_grads == 1 { "the gradient" } else { "a tuple of gradients, one per variable" };
    let _ = writeln!(out, "    \"\"\"Return (f, {grad_doc}).\"\"\"");
    prologue(out, flavor, cx, ps);
    for l in lines {
        let _ = writeln!(out, "    {} = {}", l.name, l.text);
    }
    let grads = if n_grads == 1 { roots[1].clone() } else { format!("({})", roots[1..].join(", ")) };
    let _ = writeln!(out, "    return {}, {grads}", roots[0]);
}

/// A function's first lines: its inputs converted to arrays, their shapes checked, and the
/// dimensions read off them.
fn prologue(out: &mut String, flavor: Flavor, cx: &Cx, ps: &[Param]) {
    let g = cx.g;
    let args: Vec<&str> = ps.iter().map(|p| cx.params[p.var].as_str()).collect();
    let convert = match flavor {
        Flavor::Numpy => "np.asarray({}, dtype=np.float64)",
        Flavor::Jax => "jnp.asarray({}, dtype=jnp.float64)",
        Flavor::Torch => "torch.as_tensor({}, dtype=torch.float64)",
    };
    for a in &args {
        let _ = writeln!(out, "    {a} = {}", convert.replace("{}", a));
    }
    // Shape checks; the first parameter that shows a dimension defines it.
    let mut known: Vec<bool> = g.dims().dims().iter().map(|d| d.size.is_some()).collect();
    for p in super::plan::check_order(g, ps) {
        let v = &g.vars()[p.var];
        let name = &cx.params[p.var];
        let axes: Vec<u32> = [v.shape.rows, v.shape.cols].into_iter().flatten().collect();
        let want = describe(cx, v.shape);
        let tuple = |axes: &[u32]| match axes.len() {
            0 => "()".to_string(),
            1 => format!("({},)", cx.dim(axes[0])),
            _ => format!("({}, {})", cx.dim(axes[0]), cx.dim(axes[1])),
        };
        let all_known = axes.iter().all(|&d| super::plan::dim_known(g, &known, d));
        if all_known {
            let _ = writeln!(
                out,
                "    assert {name}.shape == {}, f\"{name} should be a {want} = {}, got {{tuple({name}.shape)}}\"",
                tuple(&axes),
                fmt_tuple(cx, &axes)
            );
            continue;
        }
        let _ = writeln!(
            out,
            "    assert {name}.ndim == {}, f\"{name} should be a {want}, got shape {{tuple({name}.shape)}}\"",
            axes.len()
        );
        if p.binds.len() == 2 {
            let _ = writeln!(out, "    {}, {} = {name}.shape", cx.dim(p.binds[0].1), cx.dim(p.binds[1].1));
        } else {
            for &(axis, d) in &p.binds {
                let _ = writeln!(out, "    {} = {name}.shape[{axis}]", cx.dim(d));
            }
        }
        for &(_, d) in &p.binds {
            known[d as usize] = true;
        }
        // Repeated or earlier-defined dimensions still need checking.
        if p.binds.len() < axes.len() {
            let _ = writeln!(
                out,
                "    assert {name}.shape == {}, f\"{name} should be a {want} = {}, got {{tuple({name}.shape)}}\"",
                tuple(&axes),
                fmt_tuple(cx, &axes)
            );
        }
    }
}

/// `({m}, {n})` inside an f-string: the sizes in an error message.
fn fmt_tuple(cx: &Cx, axes: &[u32]) -> String {
    let parts: Vec<String> = axes.iter().map(|&d| format!("{{{}}}", cx.dim(d))).collect();
    match parts.len() {
        0 => "()".into(),
        1 => format!("({},)", parts[0]),
        _ => format!("({})", parts.join(", ")),
    }
}

/// `check_gradient()` and the random inputs it uses; NumPy-based for every flavor (the
/// function converts its inputs).
fn checker(out: &mut String, cx: &Cx, ps: &[Param], output: NodeId, grads: &Gradients) {
    let g = cx.g;
    random_inputs(out, cx, ps, output);
    let wrt: Vec<String> = grads
        .vars
        .iter()
        .map(|&v| format!("(\"{}\", {})", cx.params[v], if g.vars()[v].symmetric { "True" } else { "False" }))
        .collect();
    let _ =
        writeln!(out, "\n\n# The differentiated variables and whether each is symmetric.\n_WRT = [{}]", wrt.join(", "));
    CHECKER.iter().for_each(|piece| out.push_str(piece));
}

/// `_random_inputs(rng, lo, hi)`: inputs of random consistent sizes inside f's domain.
fn random_inputs(out: &mut String, cx: &Cx, ps: &[Param], output: NodeId) {
    let g = cx.g;
    let doms = domains(g, output);
    let _ = writeln!(out, "\n\ndef _random_inputs(rng, lo, hi):");
    let _ = writeln!(out, "    \"\"\"Random inputs of random consistent sizes in lo..hi, inside f's domain.\"\"\"");
    for p in ps {
        for &(_, d) in &p.binds {
            let _ = writeln!(out, "    {} = int(rng.integers(lo, hi + 1))", cx.dim(d));
        }
    }
    let _ = writeln!(out, "    return {{");
    for p in ps {
        let v = &g.vars()[p.var];
        let shape = match (v.shape.rows, v.shape.cols) {
            (None, None) => String::new(),
            (Some(n), None) | (None, Some(n)) => format!("({},)", cx.dim(n)),
            (Some(m), Some(n)) => format!("({}, {})", cx.dim(m), cx.dim(n)),
        };
        let Domain { spd, positive } = doms[p.var];
        let value = if v.shape.is_scalar() {
            "float(rng.uniform(0.5, 1.5))".to_string()
        } else if spd && v.shape.is_square() {
            format!("_random_spd(rng, {})", cx.dim(v.shape.rows.unwrap()))
        } else if positive {
            format!("rng.uniform(0.5, 2.0, {shape})")
        } else if v.symmetric {
            format!("_random_symmetric(rng, {})", cx.dim(v.shape.rows.unwrap()))
        } else {
            format!("rng.standard_normal({shape})")
        };
        let _ = writeln!(out, "        \"{}\": {value},", cx.params[p.var]);
    }
    let _ = writeln!(out, "    }}");
}

/// The part of `check_gradient` that does not depend on the function, in pieces shared with
/// the checks of derivative modules.
const CHECKER: [&str; 6] = [RANDOM_MATRICES, VALUE_AND_GRADS, FD_STEP, CENTRAL_DIFFERENCE, REL_ERR, CHECK_GRADIENT];

/// Random symmetric positive definite and symmetric matrices.
const RANDOM_MATRICES: &str = r#"

def _random_spd(rng, n):
    B = rng.standard_normal((n, n))
    return B @ B.T / n + np.eye(n)


def _random_symmetric(rng, n):
    M = rng.standard_normal((n, n))
    return 0.5 * (M + M.T)
"#;

/// `f_and_grad`'s results as floats and arrays.
const VALUE_AND_GRADS: &str = r#"

def _value_and_grads(inputs):
    value, grad = f_and_grad(**inputs)
    grads = grad if len(_WRT) > 1 else (grad,)
    return float(np.asarray(value)), [np.asarray(g, dtype=np.float64) for g in grads]
"#;

/// The finite-difference step and the rounding error of one evaluation.
const FD_STEP: &str = r#"

def _fd_step(x0, idx):
    """Central-difference step: 1e-5 relative to the entry, or to the root mean square of the
    whole value for an entry near zero (so scaling an input scales its steps)."""
    rms = float(np.sqrt(np.mean(np.square(x0)))) if x0.size else 0.0
    base = max(abs(float(x0[idx])), rms)
    return 1e-5 * (base if 0.0 < base < np.inf else 1.0)


# Rounding error of one evaluation of f, in unit roundoffs of |f|.
_ROUNDING_ULPS = 64.0
"#;

/// Central differences of f entry by entry (the gradient's check).
const CENTRAL_DIFFERENCE: &str = r#"

def _central_difference(inputs, name, symmetric):
    """df/dx entry by entry, and the differences' rounding error; a symmetric x is perturbed
    symmetrically."""
    x0 = np.array(inputs[name], dtype=np.float64)
    out = np.zeros_like(x0)
    noise = 0.0
    for idx in np.ndindex(x0.shape):
        if symmetric and idx[0] < idx[1]:
            continue
        step = _fd_step(x0, idx)
        values = []
        for d in (step, -step):
            x = x0.copy()
            x[idx] += d
            if symmetric:
                x[idx[::-1]] = x[idx]
            values.append(float(np.asarray(f_and_grad(**{**inputs, name: x})[0])))
        out[idx] = (values[0] - values[1]) / (2 * step)
        eps = _ROUNDING_ULPS * np.finfo(np.float64).eps / 2
        noise = max(noise, eps * max(abs(values[0]), abs(values[1])) / step)
        if symmetric:
            out[idx[::-1]] = out[idx]
    return out, noise
"#;

/// The scale-invariant comparison of differences with a derivative.
const REL_ERR: &str = r#"

def _rel_err(a, b, noise):
    """Largest entrywise difference beyond the rounding error `noise`, relative to the largest
    entry (no absolute floor: scaling f scales nothing here); inf for NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    diff = float(np.max(np.abs(a - b), initial=0.0))
    if not np.isfinite(diff):
        return float("inf")
    return 0.0 if diff <= noise else (diff - noise) / scale
"#;

/// `check_gradient()`.
const CHECK_GRADIENT: &str = r#"

def check_gradient(seed=0, tol=1e-5, verbose=True):
    """Compare f_and_grad's gradient with central differences at random inputs of two size
    ranges; return the largest relative error, raise AssertionError when it exceeds tol or
    when no input could be checked (a check that compared nothing never passes)."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for lo, hi in [(2, 4), (3, 6)]:
        for _attempt in range(30):
            inputs = _random_inputs(rng, lo, hi)
            value, grads = _value_and_grads(inputs)
            if not (np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)):
                continue
            errs, resolved = [], True
            for (name, symmetric), grad in zip(_WRT, grads):
                if symmetric:
                    grad = grad + grad.T - np.diag(np.diag(grad))
                fd, noise = _central_difference(inputs, name, symmetric)
                errs.append(_rel_err(fd, grad, noise))
                scale = max(float(np.max(np.abs(fd), initial=0.0)), float(np.max(np.abs(grad), initial=0.0)))
                # Rounding must leave room to see a wrong gradient (a saturated tanh does not).
                resolved = resolved and (noise <= 1e-2 * scale or (not np.any(grad) and errs[-1] == 0.0))
            if max(errs) > tol or resolved:
                worst = max(worst, max(errs))
                break
        else:
            raise AssertionError(
                "nothing was checked: no random input where f and its gradient are finite and "
                "rounding leaves the finite differences room to judge"
            )
    if verbose:
        print(f"check_gradient: max relative error {worst:.1e} against central differences")
    assert worst <= tol, f"gradient check failed: relative error {worst:.1e} > {tol:.0e}"
    return worst
"#;

/// Generate a derivative module (see [`super::emit_derivative`]).
pub(crate) fn emit_derivative(flavor: Flavor, p: &Problem, d: &Derivative, src: &Source) -> Result<String> {
    let ex = super::exported(p, d);
    let Setup { ps, roots, mut namer, cx, root_names } = setup_roots(p, ex.roots.clone(), &ex.names, PYTHON_RESERVED)?;
    let g = cx.g;
    let mut be = Py { flavor, derived: Derived::default(), helpers: Helpers::default() };
    let (parts, scheduled) = super::plan::schedule_parts(
        &cx,
        &mut be,
        |b| b.derived = Derived::default(),
        d.order,
        ex.function,
        (&roots, &root_names),
        &mut namer,
    );

    let mut out = String::new();
    let args: Vec<&str> = ps.iter().map(|p| cx.params[p.var].as_str()).collect();
    let clean = |s: &str| s.replace("\"\"\"", "'''");
    let title = match d.order {
        Order::First => "Derivative of an expression",
        Order::Hessian => "Value, gradient and Hessian of a scalar function",
        Order::Hvp => "Value, gradient and Hessian-vector product of a scalar function",
    };
    let _ = writeln!(out, "r\"\"\"{title} ({}), generated by matdiff.\n", flavor.library());
    for line in src.expr.lines() {
        let _ = writeln!(out, "    {}", clean(line));
    }
    if !src.decls.trim().is_empty() {
        let _ = writeln!(out, "\n    declarations: {}", clean(src.decls.trim()));
    }
    let call = format!("({})", args.join(", "));
    match d.order {
        Order::First => {
            let _ = writeln!(out, "\nf_value{call} returns f; jacobian{call} returns {}.", ex.summary);
        }
        _ => {
            let _ = writeln!(
                out,
                "\n{}{call} returns ({}, {}, {}):\nthe value, the gradient (shaped like {}) and {}.",
                ex.function, root_names[0], root_names[1], root_names[2], cx.params[d.var], ex.summary
            );
        }
    }
    let _ = writeln!(out, "Inputs:");
    for p in &ps {
        let v = &g.vars()[p.var];
        let sym = if v.symmetric { ", symmetric" } else { "" };
        let _ = writeln!(out, "    {}: {}{sym}", cx.params[p.var], describe(&cx, v.shape));
    }
    let _ = writeln!(
        out,
        "Vectors (column or row) are 1-D arrays; scalars are 0-d; vec(A) stacks A's columns.\n{}() compares with central differences at random inputs.\n\"\"\"",
        ex.check
    );
    imports(&mut out, flavor);
    be.helpers.write_python(&mut out, flavor);
    for ((name, _, names), lines) in parts.iter().zip(&scheduled) {
        let _ = writeln!(out, "\n\ndef {name}({}):", args.join(", "));
        let doc = match (d.order, *name) {
            (Order::First, "f_value") => "Return the value of the expression.".to_string(),
            (Order::First, _) => format!("Return {}.", ex.summary),
            _ => format!(
                "Return (value, gradient, {}).",
                if d.order == Order::Hvp { "Hessian-vector product" } else { "Hessian" }
            ),
        };
        let _ = writeln!(out, "    \"\"\"{}\"\"\"", clean(&doc));
        prologue(&mut out, flavor, &cx, &ps);
        for l in lines {
            let _ = writeln!(out, "    {} = {}", l.name, l.text);
        }
        let _ = writeln!(out, "    return {}", names.join(", "));
    }
    random_inputs(&mut out, &cx, &ps, p.output);
    let py_bool = |b: bool| if b { "True" } else { "False" };
    let _ = writeln!(
        out,
        "\n\n# The variable differentiated by and whether it is symmetric.\n_WRT, _SYMMETRIC = \"{}\", {}",
        cx.params[d.var],
        py_bool(g.vars()[d.var].symmetric)
    );
    match d.order {
        Order::First => {
            let _ = writeln!(out, "# How jacobian() arranges the derivative.\n_LAYOUT = \"{}\"", d.layout.name());
        }
        Order::Hvp => {
            let v = d.direction.expect("an HVP has a direction");
            let _ = writeln!(out, "# The direction of the Hessian-vector product.\n_DIRECTION = \"{}\"", cx.params[v]);
        }
        Order::Hessian => {}
    }
    for piece in [RANDOM_MATRICES, FD_STEP, REL_ERR, SECOND_CHECKER] {
        out.push_str(piece);
    }
    out.push_str(match d.order {
        Order::First => CHECK_JACOBIAN,
        Order::Hessian => CHECK_HESSIAN,
        Order::Hvp => CHECK_HVP,
    });
    let _ = writeln!(out, "\n\nif __name__ == \"__main__\":\n    {}()", ex.check);
    Ok(out)
}

/// What the checks of derivative modules share: differences of any function's entries along
/// entry directions or a given direction, and the check loop over random inputs.
const SECOND_CHECKER: &str = r#"


def _entries(a):
    """vec(a): the entries column by column as floats (a number is one entry)."""
    return np.asarray(a, dtype=np.float64).reshape(-1, order="F")


def _finite(*arrays):
    return all(np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays)


def _directions(shape, symmetric):
    """The perturbations of a variable of this shape, as lists of vec indices: each entry, or
    for a symmetric matrix each pair (i, j), (j, i) moved together."""
    rows = shape[0] if len(shape) > 0 else 1
    cols = shape[1] if len(shape) > 1 else 1
    out = []
    for j in range(cols):
        for i in range(rows):
            if symmetric and i < j:
                continue
            out.append([i + rows * j] if i == j or not symmetric else [i + rows * j, j + rows * i])
    return out


def _along(fun, inputs, name, delta):
    """(vec(fun(x + delta)) - vec(fun(x - delta))) / 2 with x = inputs[name], and its rounding
    error."""
    x0 = np.asarray(inputs[name], dtype=np.float64)
    values = [_entries(fun({**inputs, name: x0 + s * delta})) for s in (1.0, -1.0)]
    eps = _ROUNDING_ULPS * np.finfo(np.float64).eps / 2
    noise = eps * max(float(np.max(np.abs(v), initial=0.0)) for v in values)
    return (values[0] - values[1]) / 2, noise


def _differences(fun, inputs, name, dirs):
    """Central differences of vec(fun) along each direction of variable `name` (the columns of
    a matrix), and their rounding error."""
    x0 = np.asarray(inputs[name], dtype=np.float64)
    flat = x0.reshape(-1, order="F")
    cols, noise = [], 0.0
    for d in dirs:
        step = _fd_step(flat, d[0])
        delta = np.zeros(flat.size)
        delta[d] = step
        col, err = _along(fun, inputs, name, delta.reshape(x0.shape, order="F"))
        cols.append(col / step)
        noise = max(noise, err / step)
    return np.column_stack(cols), noise


def _claimed(jac, dirs):
    """What the derivative jac (rows: entries of the result, columns: vec of the variable) says
    the differences along `dirs` are: a symmetric pair sums its two columns."""
    return np.column_stack([jac[:, d].sum(axis=1) for d in dirs])


def _judge(fd, claimed, noise):
    """(relative error, whether rounding leaves room to see a wrong derivative)."""
    err = _rel_err(fd, claimed, noise)
    scale = max(float(np.max(np.abs(fd), initial=0.0)), float(np.max(np.abs(claimed), initial=0.0)))
    return err, noise <= 1e-2 * scale or (not np.any(claimed) and err == 0.0)


def _rms(a):
    r = float(np.sqrt(np.mean(np.square(a)))) if np.size(a) else 0.0
    return r if 0.0 < r < np.inf else 1.0


def _run_check(what, compare, seed, tol, verbose):
    """compare(inputs) -> [(error, resolved), ...] or None (not finite there), at random inputs of
    two size ranges; the largest error. Raises AssertionError above tol, or when no input of a
    range could be judged (a check that compared nothing never passes)."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for lo, hi in [(2, 4), (3, 6)]:
        for _attempt in range(30):
            judged = compare(_random_inputs(rng, lo, hi))
            if judged is None:
                continue
            err = max(e for e, _ in judged)
            if err > tol or all(r for _, r in judged):
                worst = max(worst, err)
                break
        else:
            raise AssertionError(
                "nothing was checked: no random input where f and its derivatives are finite and "
                "rounding leaves the finite differences room to judge"
            )
    if verbose:
        print(f"{what}: max relative error {worst:.1e} against central differences")
    assert worst <= tol, f"{what} failed: relative error {worst:.1e} > {tol:.0e}"
    return worst
"#;

/// `check_jacobian()`.
const CHECK_JACOBIAN: &str = r#"


def _as_matrix(jac, nf, nx):
    """The derivative as the nf×nx matrix ∂vec(f)/∂vec(x)ᵀ, whatever its layout."""
    if _LAYOUT == "gradient":
        return _entries(jac).reshape(1, nx)
    if _LAYOUT == "elementwise":
        return _entries(jac).reshape(nf, 1)
    return np.asarray(jac, dtype=np.float64).reshape(nf, nx, order="F")


def check_jacobian(seed=0, tol=1e-5, verbose=True):
    """Compare jacobian() with central differences of f_value() at random inputs of two size
    ranges; return the largest relative error, raise AssertionError when it exceeds tol or
    when no input could be checked."""

    def compare(inputs):
        value, jac = _entries(f_value(**inputs)), np.asarray(jacobian(**inputs), dtype=np.float64)
        if not _finite(value, jac):
            return None
        x0 = np.asarray(inputs[_WRT], dtype=np.float64)
        dirs = _directions(x0.shape, _SYMMETRIC)
        fd, noise = _differences(lambda kw: f_value(**kw), inputs, _WRT, dirs)
        return [_judge(fd, _claimed(_as_matrix(jac, value.size, x0.size), dirs), noise)]

    return _run_check("check_jacobian", compare, seed, tol, verbose)
"#;

/// `check_hessian()`.
const CHECK_HESSIAN: &str = r#"


def check_hessian(seed=0, tol=1e-5, verbose=True):
    """Compare f_grad_hess()'s gradient with central differences of its value, and its Hessian
    with central differences of its gradient, at random inputs of two size ranges; return the
    largest relative error, raise AssertionError when it exceeds tol or when no input could be
    checked."""

    def compare(inputs):
        value, grad, hess = (np.asarray(a, dtype=np.float64) for a in f_grad_hess(**inputs))
        if not _finite(value, grad, hess):
            return None
        x0 = np.asarray(inputs[_WRT], dtype=np.float64)
        n = x0.size
        dirs = _directions(x0.shape, _SYMMETRIC)
        fd_g, noise_g = _differences(lambda kw: f_grad_hess(**kw)[0], inputs, _WRT, dirs)
        fd_h, noise_h = _differences(lambda kw: f_grad_hess(**kw)[1], inputs, _WRT, dirs)
        return [
            _judge(fd_g, _claimed(_entries(grad).reshape(1, n), dirs), noise_g),
            _judge(fd_h, _claimed(hess.reshape(n, n, order="F"), dirs), noise_h),
        ]

    return _run_check("check_hessian", compare, seed, tol, verbose)
"#;

/// `check_hvp()`.
const CHECK_HVP: &str = r#"


def check_hvp(seed=0, tol=1e-5, verbose=True):
    """Compare f_grad_hvp()'s gradient with central differences of its value, and its
    Hessian-vector product with the central difference of its gradient along the direction, at
    random inputs of two size ranges; return the largest relative error, raise AssertionError
    when it exceeds tol or when no input could be checked."""

    def compare(inputs):
        value, grad, hvp = (np.asarray(a, dtype=np.float64) for a in f_grad_hvp(**inputs))
        if not _finite(value, grad, hvp):
            return None
        x0 = np.asarray(inputs[_WRT], dtype=np.float64)
        v = np.asarray(inputs[_DIRECTION], dtype=np.float64)
        dirs = _directions(x0.shape, _SYMMETRIC)
        fd_g, noise_g = _differences(lambda kw: f_grad_hvp(**kw)[0], inputs, _WRT, dirs)
        step = 1e-5 * _rms(x0) / _rms(v)
        col, err = _along(lambda kw: f_grad_hvp(**kw)[1], inputs, _WRT, step * v)
        return [
            _judge(fd_g, _claimed(_entries(grad).reshape(1, x0.size), dirs), noise_g),
            _judge((col / step).reshape(-1, 1), _entries(hvp).reshape(-1, 1), err / step),
        ]

    return _run_check("check_hvp", compare, seed, tol, verbose)
"#;
