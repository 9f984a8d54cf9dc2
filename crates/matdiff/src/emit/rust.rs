//! Rust target: one self-contained source file over `faer::Mat<f64>`.
//!
//! Every non-scalar is a `Mat<f64>` in its own orientation (a vector is n×1, a row vector
//! 1×n). A chain is split at rank-one joints (an outer product of the two sides), inverses
//! become solves with a factorization made once per matrix (Cholesky when symmetric and
//! positive definite, LU otherwise), and each remaining run is multiplied in the cheapest
//! order for the run-time sizes by a small matrix-chain DP. Scalars are `f64`.

use super::chain::{decompose, rhs_key, trace_as_inner_product, Chain};
use super::helpers::{Helper, Helpers};
use super::names::RUST_RESERVED;
use super::plan::{domains, schedule, setup, setup_roots, Backend, Cx, Derived, Domain, Line, Param, Setup};
use super::template::{join, prec, Item, Template};
use super::Source;
use crate::derivative::{Derivative, Layout, Order};
use crate::problem::{Gradients, Problem};
use matdiff_core::{DimId, Shape};
use matdiff_core::{Func, Graph, NodeId, Op};
use matdiff_syntax::Result;
use std::collections::BTreeSet;
use std::fmt::Write;

struct Rs {
    derived: Derived,
    helpers: Helpers,
}

/// A number as Rust reads it back exactly (always with a `.` or an exponent: an f64 literal).
fn lit(x: f64) -> Template {
    // Constant folding can overflow (`exp(1000)`): still valid code.
    if !x.is_finite() {
        let s = if x.is_nan() {
            "f64::NAN"
        } else if x > 0.0 {
            "f64::INFINITY"
        } else {
            "f64::NEG_INFINITY"
        };
        return Template::text(s, prec::ATOM);
    }
    let s = if x.fract() == 0.0 && x.abs() < 1e15 { format!("{x:.1}") } else { format!("{x:?}") };
    Template::text(s, if x < 0.0 { prec::NEG } else { prec::ATOM })
}

fn node(n: NodeId) -> Item {
    Item::node(n)
}

/// A scalar node's value (an `f64`), in whatever context it is put.
fn h(n: NodeId) -> Template {
    Template::alias(node(n))
}

/// A matrix node's value as a `&Mat<f64>`.
fn r(n: NodeId) -> Template {
    Template::new(prec::ATOM).borrow(node(n))
}

/// A `&Mat<f64>` for a matrix-valued template: a hole is borrowed, a call gets `&`.
fn as_ref(t: Template) -> Template {
    if t.prec == prec::INHERIT {
        let item = t.holes().next().expect("an alias has one hole");
        return Template::new(prec::ATOM).borrow(item);
    }
    Template::text("&", prec::ATOM).sub(t, prec::ATOM)
}

fn call(f: &str, args: Vec<Template>) -> Template {
    Template::text(format!("{f}("), prec::ATOM).sub(join(args, ", ", prec::LOWEST), prec::LOWEST).t(")")
}

fn binop(a: Template, op: &str, b: Template, p: u8) -> Template {
    Template::new(p).sub(a, p).t(format!(" {op} ")).sub(b, p + 1)
}

fn method(recv: Template, m: &str) -> Template {
    Template::new(prec::ATOM).sub(recv, prec::ATOM).t(format!(".{m}"))
}

impl Rs {
    fn use_helper(&mut self, h: Helper) {
        self.helpers.add(h);
    }
    fn dim(&self, cx: &Cx, d: Option<DimId>) -> String {
        d.map_or("1".into(), |d| cx.dim_arg(d).to_string())
    }
    /// The function applied to one `f64`, as a path or closure usable by `map`.
    fn func(&mut self, f: Func) -> String {
        let helper = match f {
            Func::Log => return "f64::ln".into(),
            Func::Exp | Func::Sin | Func::Cos | Func::Tan | Func::Tanh | Func::Sqrt | Func::Abs => {
                return format!("f64::{}", f.name())
            }
            Func::Sign => Helper::Sign,
            Func::Relu => Helper::Relu,
            Func::Sigmoid => Helper::Sigmoid,
            Func::Softplus => Helper::Softplus,
            Func::Swish => Helper::Swish,
            Func::Step => Helper::Step,
        };
        self.use_helper(helper);
        helper.rust_name().to_string()
    }

    fn chain(&mut self, cx: &Cx, c: &Chain) -> Template {
        match c {
            Chain::Factor(n) => h(*n),
            Chain::Product(parts) => {
                let refs: Vec<Template> = parts.iter().map(|p| as_ref(self.chain(cx, p))).collect();
                if refs.len() == 2 {
                    self.use_helper(Helper::Mm);
                    call("mm", refs)
                } else {
                    self.use_helper(Helper::Chain);
                    call(
                        "chain",
                        vec![Template::text("&[", prec::ATOM).sub(join(refs, ", ", prec::LOWEST), prec::LOWEST).t("]")],
                    )
                }
            }
            Chain::Outer { scalars, col, row } => {
                // A column times a row is their (outer) product; scalar pieces scale it.
                let core = match (col, row) {
                    (Some(c), Some(r)) => {
                        self.use_helper(Helper::Mm);
                        let (c, r) = (as_ref(self.chain(cx, c)), as_ref(self.chain(cx, r)));
                        Some(call("mm", vec![c, r]))
                    }
                    (Some(x), None) | (None, Some(x)) => Some(self.chain(cx, x)),
                    (None, None) => None,
                };
                let factor = self.scalar_product(cx, scalars);
                match (core, factor) {
                    (Some(core), Some(s)) => {
                        self.use_helper(Helper::Scale);
                        call("scale", vec![s, as_ref(core)])
                    }
                    (Some(core), None) => core,
                    // Only scalars: a 1×1 matrix, as every chain here is a matrix.
                    (None, s) => {
                        self.use_helper(Helper::Full);
                        call("full", vec![Template::text("1", prec::ATOM), Template::text("1", prec::ATOM), s.unwrap()])
                    }
                }
            }
            Chain::Gram(half) => {
                // H·Hᵀ with H computed once.
                self.use_helper(Helper::Mm);
                self.use_helper(Helper::Tr);
                let ht = self.chain(cx, half);
                let hi = self.derived.intern(None, ht);
                let h = Template::new(prec::ATOM).borrow(hi);
                call("mm", vec![h.clone(), as_ref(call("tr", vec![h]))])
            }
            Chain::Solve { k, rhs, right, transposed } => {
                // b·K⁻¹ = (K⁻ᵀ·bᵀ)ᵀ, and bᵀ = b when b is symmetric.
                let g = cx.g;
                let t_eff = (transposed != right) && !g.node(*k).symmetric;
                let key = rhs_key(g, rhs, *right, false).map(|b| (*k, t_eff, b));
                let b = match (right, &**rhs) {
                    (false, _) => as_ref(self.chain(cx, rhs)),
                    (true, _) if rhs.symmetric(g) => as_ref(self.chain(cx, rhs)),
                    (true, Chain::Factor(n)) => self.transpose_ref(g, *n),
                    (true, _) => {
                        self.use_helper(Helper::Tr);
                        let t = as_ref(self.chain(cx, rhs));
                        as_ref(call("tr", vec![t]))
                    }
                };
                let solver = if t_eff { Helper::SolveT } else { Helper::Solve };
                self.use_helper(solver);
                let fac = Template::new(prec::ATOM).borrow(Item::factor(*k));
                let solved = Template::alias(self.derived.intern(key, call(solver.rust_name(), vec![fac, b])));
                if *right {
                    self.use_helper(Helper::Tr);
                    call("tr", vec![as_ref(solved)])
                } else {
                    solved
                }
            }
        }
    }

    /// The product of 1×1 chains as an `f64` (None for none).
    fn scalar_product(&mut self, cx: &Cx, scalars: &[Chain]) -> Option<Template> {
        let mut out: Option<Template> = None;
        for s in scalars {
            let v = Template::new(prec::ATOM).sub(self.chain(cx, s), prec::ATOM).t("[(0, 0)]");
            out = Some(match out {
                None => v,
                Some(acc) => binop(acc, "*", v, prec::MUL),
            });
        }
        out
    }

    /// The transpose of matrix node `n` as a `&Mat`, unwrapping `n = w'` to `w`.
    fn transpose_ref(&mut self, g: &Graph, n: NodeId) -> Template {
        match g.op(n) {
            Op::Transpose(w) => r(*w),
            _ => {
                self.use_helper(Helper::Tr);
                as_ref(call("tr", vec![r(n)]))
            }
        }
    }

    fn lin(&mut self, cx: &Cx, n: NodeId, ts: &[(matdiff_core::Num, NodeId)]) -> Template {
        let g = cx.g;
        let mut konst = 0.0;
        let mut terms: Vec<(f64, NodeId)> = vec![];
        // A matrix sum of sums is one pass over the entries: inner sums are opened up.
        let flatten = !g.shape(n).is_scalar();
        let mut work: Vec<(f64, NodeId)> = ts.iter().rev().map(|(c, t)| (c.get(), *t)).collect();
        while let Some((c, t)) = work.pop() {
            match (g.fill_value(t), g.op(t)) {
                (Some(k), _) => konst += c * k,
                (None, Op::Lin(inner)) if flatten => {
                    work.extend(inner.iter().rev().map(|(ci, ti)| (c * ci.get(), *ti)))
                }
                _ => terms.push((c, t)),
            }
        }
        if !g.shape(n).is_scalar() && terms.len() == 1 && konst == 0.0 {
            self.use_helper(Helper::Scale);
            return call("scale", vec![lit(terms[0].0), r(terms[0].1)]);
        }
        if !g.shape(n).is_scalar() {
            self.use_helper(Helper::Lin);
            // A scaled term `c*(s*X)` passes `c*s` as its weight: no scaled copy of X.
            let list: Vec<Template> = terms
                .iter()
                .map(|&(c, t)| {
                    let (w, x) = match g.op(t) {
                        Op::Scale(s, x) if c == 1.0 => (h(*s), *x),
                        Op::Scale(s, x) if c == -1.0 => (Template::text("-", prec::NEG).sub(h(*s), prec::NEG), *x),
                        Op::Scale(s, x) => (binop(lit(c), "*", h(*s), prec::MUL), *x),
                        _ => (lit(c), t),
                    };
                    Template::text("(", prec::ATOM).sub(w, prec::LOWEST).t(", ").sub(r(x), prec::ATOM).t(")")
                })
                .collect();
            let arr = Template::text("&[", prec::ATOM).sub(join(list, ", ", prec::LOWEST), prec::LOWEST).t("]");
            return call("lin", vec![arr, lit(konst)]);
        }
        // Scalars: plain arithmetic, a positive term first.
        let mut terms: Vec<(f64, Option<NodeId>)> = terms.into_iter().map(|(c, t)| (c, Some(t))).collect();
        if konst != 0.0 {
            terms.push((konst, None));
        }
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
                Some(t) if a == 1.0 => h(t),
                Some(t) => binop(lit(a), "*", h(t), prec::MUL),
            };
            if i == 0 {
                out = if c < 0.0 { out.t("-").sub(body, prec::MUL) } else { out.sub(body, prec::ADD) };
            } else {
                out = out.t(if c < 0.0 { " - " } else { " + " }).sub(body, prec::MUL);
            }
        }
        out
    }
}

impl Backend for Rs {
    fn node(&mut self, cx: &Cx, n: NodeId) -> Template {
        let g = cx.g;
        let shape = g.shape(n);
        let scalar = shape.is_scalar();
        match g.op(n) {
            Op::Var(v) => Template::text(cx.params[*v as usize].clone(), prec::ATOM),
            Op::Const(c) => lit(c.get()),
            Op::Fill(c) => {
                self.use_helper(Helper::Full);
                Template::text(format!("full({}, {}, ", self.dim(cx, shape.rows), self.dim(cx, shape.cols)), prec::ATOM)
                    .sub(lit(c.get()), prec::LOWEST)
                    .t(")")
            }
            Op::Identity => {
                self.use_helper(Helper::Eye);
                Template::text(format!("eye({})", self.dim(cx, shape.rows)), prec::ATOM)
            }
            Op::Lin(ts) => self.lin(cx, n, ts),
            Op::Scale(s, x) => {
                let (s, recip) = match g.op(*s) {
                    Op::Pow(b, p) if p.get() == -1.0 => (*b, true),
                    _ => (*s, false),
                };
                if scalar {
                    if recip {
                        binop(h(*x), "/", h(s), prec::MUL)
                    } else {
                        binop(h(s), "*", h(*x), prec::MUL)
                    }
                } else {
                    self.use_helper(Helper::Scale);
                    let factor = if recip { binop(lit(1.0), "/", h(s), prec::MUL) } else { h(s) };
                    call("scale", vec![factor, r(*x)])
                }
            }
            Op::MatMul(fs) => {
                let c = decompose(g, fs);
                if let (true, Chain::Outer { scalars, col: None, row: None }) = (scalar, &c) {
                    return self.scalar_product(cx, scalars).expect("a product of something");
                }
                let t = self.chain(cx, &c);
                if scalar {
                    Template::new(prec::ATOM).sub(t, prec::ATOM).t("[(0, 0)]")
                } else {
                    t
                }
            }
            Op::Hadamard(a, b) => {
                self.use_helper(Helper::Hadamard);
                call("hadamard", vec![r(*a), r(*b)])
            }
            Op::Pow(a, p) => {
                let p = p.get();
                let f = if p == -1.0 {
                    None
                } else if p == 0.5 {
                    Some("sqrt()".to_string())
                } else if p.fract() == 0.0 && p.abs() < 1e6 {
                    Some(format!("powi({})", p as i64))
                } else {
                    Some(format!("powf({p:?})"))
                };
                match (scalar, f) {
                    (true, None) => binop(lit(1.0), "/", h(*a), prec::MUL),
                    (true, Some(f)) => method(h(*a), &f),
                    (false, f) => {
                        self.use_helper(Helper::Map);
                        let body = match f {
                            None => "|v| 1.0 / v".to_string(),
                            Some(f) => format!("|v| v.{f}"),
                        };
                        call("map", vec![r(*a), Template::text(body, prec::ATOM)])
                    }
                }
            }
            Op::Map(f, a) => {
                let fname = self.func(*f);
                if scalar {
                    call(&fname, vec![h(*a)])
                } else {
                    self.use_helper(Helper::Map);
                    call("map", vec![r(*a), Template::text(fname, prec::ATOM)])
                }
            }
            Op::Transpose(a) => {
                self.use_helper(Helper::Tr);
                call("tr", vec![r(*a)])
            }
            Op::Sum(a) => self.reduce(Helper::Sum, vec![r(*a)]),
            Op::SqNorm(a) => self.reduce(Helper::SqNorm, vec![r(*a)]),
            Op::Norm1(a) => self.reduce(Helper::Norm1, vec![r(*a)]),
            Op::Norm2(a) => self.reduce(Helper::Norm2, vec![r(*a)]),
            Op::Dot(a, b) => self.reduce(Helper::Dot, vec![r(*a), r(*b)]),
            Op::Trace(a) => match g.op(*a) {
                // tr(P*F) = ⟨P, F'⟩ without forming the square product.
                Op::MatMul(fs) if trace_as_inner_product(g, fs) => {
                    let k = fs.len();
                    let head = if k == 2 { r(fs[0]) } else { as_ref(self.chain(cx, &decompose(g, &fs[..k - 1]))) };
                    let tail = self.transpose_ref(g, fs[k - 1]);
                    self.reduce(Helper::Dot, vec![head, tail])
                }
                _ => self.reduce(Helper::Trace, vec![r(*a)]),
            },
            Op::Det(a) => self.reduce(Helper::Det, vec![r(*a)]),
            Op::LogDet(a) => self.reduce(Helper::Logdet, vec![Template::new(prec::ATOM).borrow(Item::factor(*a))]),
            Op::Inv(a) => {
                self.use_helper(Helper::Inverse);
                call("inverse", vec![Template::new(prec::ATOM).borrow(Item::factor(*a))])
            }
            Op::Diag(a) => {
                self.use_helper(Helper::Diag);
                call("diag", vec![r(*a)])
            }
            Op::DiagPart(a) => {
                self.use_helper(Helper::DiagPart);
                call("diag_part", vec![r(*a)])
            }
            Op::Kron(a, b) => {
                self.use_helper(Helper::Kron);
                call("kron", vec![r(*a), r(*b)])
            }
            Op::Vectorize(a) | Op::Unvec(a) => {
                self.use_helper(Helper::Reshape);
                let (rows, cols) = (self.dim(cx, shape.rows), self.dim(cx, shape.cols));
                call("reshape", vec![r(*a), Template::text(rows, prec::ATOM), Template::text(cols, prec::ATOM)])
            }
            Op::Softmax(a) => {
                self.use_helper(Helper::Softmax);
                call("softmax", vec![r(*a)])
            }
            Op::Commutation(m, k) => {
                self.use_helper(Helper::Commutation);
                Template::text(format!("commutation({}, {})", cx.dim_arg(*m), cx.dim_arg(*k)), prec::ATOM)
            }
        }
    }

    fn factor(&mut self, cx: &Cx, k: NodeId) -> Template {
        self.use_helper(Helper::Factor);
        let sym = cx.g.node(k).symmetric;
        call("factor", vec![r(k), Template::text(if sym { "true" } else { "false" }, prec::ATOM)])
    }

    fn derived(&mut self, k: u32) -> Template {
        self.derived.get(k)
    }

    fn factor_name(&self, _cx: &Cx, _k: NodeId, base: Option<&str>) -> String {
        match base {
            Some(b) => format!("{b}_f"),
            None => "fac".into(),
        }
    }

    fn trivial(&self, cx: &Cx, item: Item) -> bool {
        item.is_node() && matches!(cx.g.op(item.node), Op::Var(_) | Op::Const(_))
    }
}

impl Rs {
    fn reduce(&mut self, h: Helper, args: Vec<Template>) -> Template {
        self.use_helper(h);
        call(h.rust_name(), args)
    }
}

/// Generate the source file.
pub(crate) fn emit(p: &Problem, grads: &Gradients, src: &Source) -> Result<String> {
    let Setup { ps, roots, mut namer, cx, root_names } = setup(p, grads, RUST_RESERVED)?;
    let mut be = Rs { derived: Derived::default(), helpers: Helpers::default() };
    let lines = schedule(&cx, &mut be, &roots, &root_names, &mut namer);

    let mut out = String::new();
    header(&mut out, &cx, &ps, src, &root_names, grads, &be.helpers);
    function(&mut out, &cx, &ps, &lines, &root_names, grads);
    checker(&mut out, &cx, &ps, p.output, grads, &root_names);
    be.helpers.write_rust(&mut out);
    Ok(out)
}

fn rust_type(s: Shape) -> &'static str {
    if s.is_scalar() {
        "f64"
    } else {
        "Mat<f64>"
    }
}

fn describe(cx: &Cx, s: Shape) -> String {
    match (s.rows, s.cols) {
        (None, None) => "scalar".into(),
        (Some(n), None) => format!("vector ({}×1)", cx.g.dims().name(n)),
        (None, Some(n)) => format!("row vector (1×{})", cx.g.dims().name(n)),
        (Some(m), Some(n)) => format!("matrix ({}×{})", cx.g.dims().name(m), cx.g.dims().name(n)),
    }
}

fn header(out: &mut String, cx: &Cx, ps: &[Param], src: &Source, roots: &[String], grads: &Gradients, used: &Helpers) {
    let g = cx.g;
    out.push_str("//! Value and gradient of a scalar function, generated by matdiff.\n//!\n//! ```text\n");
    for line in src.expr.lines() {
        let _ = writeln!(out, "//! {line}");
    }
    if !src.decls.trim().is_empty() {
        let _ = writeln!(out, "//! declarations: {}", src.decls.trim());
    }
    out.push_str("//! ```\n//!\n");
    let args: Vec<&str> = ps.iter().map(|p| cx.params[p.var].as_str()).collect();
    let grad_list = if roots.len() == 2 { roots[1].clone() } else { format!("({})", roots[1..].join(", ")) };
    let _ = writeln!(
        out,
        "//! `f_and_grad({})` returns `({}, {grad_list})`; each gradient has its variable's shape.",
        args.join(", "),
        roots[0]
    );
    for p in ps {
        let v = &g.vars()[p.var];
        let sym = if v.symmetric { ", symmetric" } else { "" };
        let _ = writeln!(out, "//! - `{}`: {}{sym}", cx.params[p.var], describe(cx, v.shape));
    }
    out.push_str(
        "//!\n//! Non-scalars are `faer::Mat<f64>` (a vector is an n×1 matrix), scalars `f64`. Needs faer 0.24.\n",
    );
    for &v in &grads.vars {
        if g.vars()[v].symmetric {
            let n = &g.vars()[v].name;
            let _ = writeln!(out, "//! `grad_{n}` treats the entries of `{n}` as independent; along symmetric perturbations\n//! the derivative is `grad_{n} + grad_{n}ᵀ - diag(grad_{n})`.");
        }
    }
    out.push_str("//! `check_gradient(seed)` compares the gradient with central differences at random inputs.\n");
    out.push_str("#![allow(non_snake_case, unused_variables, dead_code, clippy::all)]\n\n");
    imports(out, used);
}

/// The `use` lines: exactly what the helpers need (the file compiles without warnings).
fn imports(out: &mut String, used: &Helpers) {
    // Import exactly what the helpers use (the file should compile without warnings).
    let solvers: Vec<&str> = [(Helper::Inverse, "DenseSolveCore"), (Helper::Solve, "Solve"), (Helper::SolveT, "Solve")]
        .iter()
        .filter(|(h, _)| used.contains(*h))
        .map(|p| p.1)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !solvers.is_empty() {
        let _ = writeln!(out, "use faer::linalg::solvers::{{{}}};", solvers.join(", "));
    }
    out.push_str(if used.contains(Helper::Factor) { "use faer::{Mat, Side};\n" } else { "use faer::Mat;\n" });
}

fn function(out: &mut String, cx: &Cx, ps: &[Param], lines: &[Line], roots: &[String], grads: &Gradients) {
    let g = cx.g;
    let args = signature(cx, ps);
    let grad_types: Vec<&str> = grads.vars.iter().map(|&v| rust_type(g.vars()[v].shape)).collect();
    let grad_type =
        if grad_types.len() == 1 { grad_types[0].to_string() } else { format!("({})", grad_types.join(", ")) };
    let _ = writeln!(
        out,
        "\n/// The value and the gradient{}.",
        if grad_types.len() > 1 { "s, one per variable" } else { "" }
    );
    let _ = writeln!(out, "pub fn f_and_grad({}) -> (f64, {grad_type}) {{", args.join(", "));
    prologue(out, cx, ps);
    write_lines(out, g, lines);
    let grads_ret = if roots.len() == 2 { roots[1].clone() } else { format!("({})", roots[1..].join(", ")) };
    let _ = writeln!(out, "    ({}, {grads_ret})", roots[0]);
    out.push_str("}\n");
}

/// The parameters `name: type` of a function taking `ps`.
fn signature(cx: &Cx, ps: &[Param]) -> Vec<String> {
    ps.iter()
        .map(|p| {
            let v = &cx.g.vars()[p.var];
            let ty = if v.shape.is_scalar() { "f64" } else { "&Mat<f64>" };
            format!("{}: {ty}", cx.params[p.var])
        })
        .collect()
}

/// The scheduled statements `let name = value;`.
fn write_lines(out: &mut String, g: &Graph, lines: &[Line]) {
    for l in lines {
        let text =
            if l.copy && !g.shape(l.item.node).is_scalar() { format!("{}.clone()", l.text) } else { l.text.clone() };
        let _ = writeln!(out, "    let {} = {text};", l.name);
    }
}

/// A function's first lines: the dimensions read off its inputs and their shapes checked.
fn prologue(out: &mut String, cx: &Cx, ps: &[Param]) {
    let g = cx.g;
    let mut known: Vec<bool> = g.dims().dims().iter().map(|d| d.size.is_some()).collect();
    for p in super::plan::check_order(g, ps) {
        let v = &g.vars()[p.var];
        if v.shape.is_scalar() {
            continue;
        }
        let name = &cx.params[p.var];
        let want = describe(cx, v.shape);
        let (rows, cols) = (v.shape.rows, v.shape.cols);
        let new: Vec<String> = p.binds.iter().map(|&(_, d)| cx.dim_arg(d).to_string()).collect();
        if !new.is_empty() {
            let getters: Vec<String> = p
                .binds
                .iter()
                .map(|&(axis, _)| {
                    let row_axis = axis == 0 && rows.is_some();
                    format!("{name}.{}()", if row_axis { "nrows" } else { "ncols" })
                })
                .collect();
            if new.len() == 1 {
                let _ = writeln!(out, "    let {} = {};", new[0], getters[0]);
            } else {
                let _ = writeln!(out, "    let ({}) = ({});", new.join(", "), getters.join(", "));
            }
            for &(_, d) in &p.binds {
                known[d as usize] = true;
            }
        }
        // Check the full shape unless the bindings just read it off.
        let trivially = p.binds.len() == [rows, cols].iter().flatten().count() && cols.is_some() && rows.is_some();
        if !trivially {
            let _ = writeln!(
                out,
                "    assert_eq!(({name}.nrows(), {name}.ncols()), ({}, {}), \"{name} should be a {want}\");",
                rows.map_or("1".to_string(), |d| cx.dim_arg(d).to_string()),
                cols.map_or("1".to_string(), |d| cx.dim_arg(d).to_string())
            );
        }
    }
}

fn checker(out: &mut String, cx: &Cx, ps: &[Param], output: NodeId, grads: &Gradients, roots: &[String]) {
    let g = cx.g;
    let doms = domains(g, output);
    let call_with = |replace: Option<(usize, &str)>| -> String {
        let args: Vec<String> = ps
            .iter()
            .map(|p| {
                let name = match replace {
                    Some((v, with)) if v == p.var => with.to_string(),
                    _ => cx.params[p.var].clone(),
                };
                if g.vars()[p.var].shape.is_scalar() {
                    name
                } else {
                    format!("&{name}")
                }
            })
            .collect();
        format!("f_and_grad({})", args.join(", "))
    };
    // The checker's locals reuse the function's result names, which no parameter has.
    let value = &roots[0];
    let gname = |i: usize| roots[i + 1].clone();
    let grad_pattern = if roots.len() == 2 { roots[1].clone() } else { format!("({})", roots[1..].join(", ")) };
    let finite: Vec<String> = grads
        .vars
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if g.vars()[v].shape.is_scalar() {
                format!("{}.is_finite()", gname(i))
            } else {
                format!("finite(&{})", gname(i))
            }
        })
        .collect();

    out.push_str("\n/// Compare the gradient with central differences at random inputs of two size ranges; return\n/// the largest relative error, panic when it exceeds 1e-5.\npub fn check_gradient(seed: u64) -> f64 {\n");
    out.push_str(
        "    let mut rng = Rng::new(seed);\n    let mut worst = 0.0f64;\n    for (lo, hi) in [(2, 4), (3, 6)] {\n",
    );
    let _ = writeln!(out, "        let mut checked = false;\n        for _ in 0..30 {{");
    draws(out, cx, ps, &doms);
    let _ = writeln!(out, "            let ({value}, {grad_pattern}) = {};", call_with(None));
    let _ = writeln!(
        out,
        "            if !({value}.is_finite() && {}) {{\n                continue;\n            }}",
        finite.join(" && ")
    );
    let _ = writeln!(out, "            let mut errs: Vec<(f64, bool)> = Vec::new();");
    for (i, &v) in grads.vars.iter().enumerate() {
        let name = &cx.params[v];
        let var = &g.vars()[v];
        if var.shape.is_scalar() {
            let _ = writeln!(
                out,
                "            let (fd, noise) = fd_scalar({name}, |probe| {}.0);",
                call_with(Some((v, "probe")))
            );
            let _ = writeln!(
                out,
                "            errs.push(compare(&Mat::from_fn(1, 1, |_, _| fd), &Mat::from_fn(1, 1, |_, _| {}), noise));",
                gname(i)
            );
        } else {
            let sym = var.symmetric;
            let _ = writeln!(
                out,
                "            let (fd, noise) = fd_mat({name}.clone(), {sym}, |probe| {}.0);",
                call_with(Some((v, "probe")))
            );
            let grad = if sym { format!("&symmetrized(&{})", gname(i)) } else { format!("&{}", gname(i)) };
            let _ = writeln!(out, "            errs.push(compare(&fd, {grad}, noise));");
        }
    }
    out.push_str(concat!(
        "            let err = errs.iter().fold(0.0f64, |w, e| w.max(e.0));\n",
        "            // Rounding must leave room to see a wrong gradient (a saturated tanh does not).\n",
        "            if err > 1e-5 || errs.iter().all(|e| e.1) {\n",
        "                worst = worst.max(err);\n                checked = true;\n                break;\n            }\n",
        "        }\n",
        "        assert!(checked, \"nothing was checked: no random input where f and its gradient are finite and rounding leaves the finite differences room to judge\");\n",
        "    }\n    assert!(worst <= 1e-5, \"gradient check failed: relative error {worst:.1e}\");\n    worst\n}\n",
    ));
    out.push_str(CHECK_HELPERS);
}

/// The random inputs of one attempt of a check: sizes in `lo..=hi`, each variable drawn inside
/// f's domain (`doms`), bound under its parameter name.
fn draws(out: &mut String, cx: &Cx, ps: &[Param], doms: &[Domain]) {
    let g = cx.g;
    for p in ps {
        for &(_, d) in &p.binds {
            let _ = writeln!(out, "            let {} = rng.size(lo, hi);", cx.dim_arg(d));
        }
    }
    for p in ps {
        let v = &g.vars()[p.var];
        let dim = |d: Option<DimId>| d.map_or("1".to_string(), |d| cx.dim_arg(d).to_string());
        let (rr, cc) = (dim(v.shape.rows), dim(v.shape.cols));
        let Domain { spd, positive } = doms[p.var];
        let value = if v.shape.is_scalar() {
            "rng.uniform(0.5, 1.5)".to_string()
        } else if spd && v.shape.is_square() {
            format!("rng.spd({rr})")
        } else if positive {
            format!("rng.uniform_mat({rr}, {cc}, 0.5, 2.0)")
        } else if v.symmetric {
            format!("rng.symmetric({rr})")
        } else {
            format!("rng.normal_mat({rr}, {cc})")
        };
        let _ = writeln!(out, "            let {} = {value};", cx.params[p.var]);
    }
}

/// Helpers for `check_gradient`, always present.
const CHECK_HELPERS: &str = r#"
/// A small xorshift generator with Box–Muller normals (no dependency beyond faer).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
    fn size(&mut self, lo: usize, hi: usize) -> usize {
        lo + ((hi - lo + 1) as f64 * self.next()) as usize
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.next().max(1e-300), self.next());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn normal_mat(&mut self, r: usize, c: usize) -> Mat<f64> {
        Mat::from_fn(r, c, |_, _| self.normal())
    }
    fn uniform_mat(&mut self, r: usize, c: usize, lo: f64, hi: f64) -> Mat<f64> {
        Mat::from_fn(r, c, |_, _| self.uniform(lo, hi))
    }
    fn symmetric(&mut self, n: usize) -> Mat<f64> {
        let m = self.normal_mat(n, n);
        Mat::from_fn(n, n, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]))
    }
    fn spd(&mut self, n: usize) -> Mat<f64> {
        let b = self.normal_mat(n, n);
        let a = &b * b.transpose();
        Mat::from_fn(n, n, |i, j| a[(i, j)] / n as f64 + if i == j { 1.0 } else { 0.0 })
    }
}

/// Central differences of `f` at `x0`, entry by entry, and their rounding error; a symmetric
/// `x0` is perturbed symmetrically.
fn fd_mat(x0: Mat<f64>, symmetric: bool, f: impl Fn(Mat<f64>) -> f64) -> (Mat<f64>, f64) {
    let mut out = Mat::zeros(x0.nrows(), x0.ncols());
    let mut noise = 0.0f64;
    let count = (x0.nrows() * x0.ncols()).max(1) as f64;
    let mut squares = 0.0;
    for j in 0..x0.ncols() {
        for i in 0..x0.nrows() {
            squares += x0[(i, j)] * x0[(i, j)];
        }
    }
    let rms = (squares / count).sqrt();
    for j in 0..x0.ncols() {
        for i in 0..x0.nrows() {
            if symmetric && i < j {
                continue;
            }
            let h = fd_step(x0[(i, j)], rms);
            let at = |d: f64| {
                let mut x = x0.clone();
                x[(i, j)] += d;
                if symmetric {
                    x[(j, i)] = x[(i, j)];
                }
                f(x)
            };
            let (fp, fm) = (at(h), at(-h));
            out[(i, j)] = (fp - fm) / (2.0 * h);
            noise = noise.max(ROUNDING * fp.abs().max(fm.abs()) / h);
            if symmetric {
                out[(j, i)] = out[(i, j)];
            }
        }
    }
    (out, noise)
}

fn fd_scalar(x0: f64, f: impl Fn(f64) -> f64) -> (f64, f64) {
    let h = fd_step(x0, x0.abs());
    let (fp, fm) = (f(x0 + h), f(x0 - h));
    ((fp - fm) / (2.0 * h), ROUNDING * fp.abs().max(fm.abs()) / h)
}

/// Rounding error of one evaluation of f: 64 unit roundoffs of |f|.
const ROUNDING: f64 = 64.0 * f64::EPSILON / 2.0;

/// Central-difference step: 1e-5 relative to the entry, or to the root mean square of the whole
/// value for an entry near zero (so scaling an input scales its steps).
fn fd_step(x: f64, rms: f64) -> f64 {
    let base = x.abs().max(rms);
    1e-5 * if base > 0.0 && base.is_finite() { base } else { 1.0 }
}

/// What a symmetric perturbation measures: G + Gᵀ off the diagonal.
fn symmetrized(g: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(g.nrows(), g.ncols(), |i, j| if i == j { g[(i, i)] } else { g[(i, j)] + g[(j, i)] })
}

/// Compare differences `fd` (rounding error `noise`) with a gradient: the largest entrywise
/// difference beyond the noise, relative to the largest entry (no absolute floor, so scaling f
/// changes nothing; infinite for NaN), and whether the noise leaves room to judge.
fn compare(fd: &Mat<f64>, grad: &Mat<f64>, noise: f64) -> (f64, bool) {
    let (mut diff, mut scale, mut gmax) = (0.0f64, 0.0f64, 0.0f64);
    for j in 0..fd.ncols() {
        for i in 0..fd.nrows() {
            let d = (fd[(i, j)] - grad[(i, j)]).abs();
            if d.is_nan() {
                return (f64::INFINITY, true);
            }
            diff = diff.max(d);
            scale = scale.max(fd[(i, j)].abs()).max(grad[(i, j)].abs());
            gmax = gmax.max(grad[(i, j)].abs());
        }
    }
    let err = if diff <= noise { 0.0 } else { (diff - noise) / scale };
    (err, noise <= 1e-2 * scale || (gmax == 0.0 && err == 0.0))
}

fn finite(m: &Mat<f64>) -> bool {
    (0..m.ncols()).all(|j| (0..m.nrows()).all(|i| m[(i, j)].is_finite()))
}
"#;

/// The module of [`emit`] with `update_<var>(…)` (the closed form), the matrices it inverts
/// (`update_inverted`, for the check to skip ill-posed draws) and `check_update(seed)`.
pub(crate) fn emit_update(p: &Problem, grads: &Gradients, up: &super::Update, src: &Source) -> Result<String> {
    let Setup { ps, roots, mut namer, cx, root_names } = setup(p, grads, RUST_RESERVED)?;
    let g = cx.g;
    let ups = super::plan::params_without(g, &ps, up.var);
    let inverted: Vec<NodeId> = g
        .reachable(&[up.node])
        .into_iter()
        .filter_map(|n| if let Op::Inv(a) = g.op(n) { Some(*a) } else { None })
        .collect();
    let mut update_roots = vec![up.node];
    update_roots.extend(&inverted);
    super::plan::check_dims(g, &ups, &update_roots)?;
    let mut be = Rs { derived: Derived::default(), helpers: Helpers::default() };
    let lines = schedule(&cx, &mut be, &roots, &root_names, &mut namer);
    let name = cx.params[up.var].clone();
    let sol_name = namer.claim(&format!("{name}_star"));
    let mut ube = Rs { derived: Derived::default(), helpers: Helpers::default() };
    let ulines = schedule(&cx, &mut ube, &[up.node], std::slice::from_ref(&sol_name), &mut namer);
    let inv_names: Vec<String> = (0..inverted.len()).map(|i| namer.claim(&format!("k{i}"))).collect();
    let mut ibe = Rs { derived: Derived::default(), helpers: Helpers::default() };
    let ilines = schedule(&cx, &mut ibe, &inverted, &inv_names, &mut namer);
    let mut used = be.helpers.clone();
    used.extend(&ube.helpers);
    used.extend(&ibe.helpers);

    let mut out = String::new();
    header(&mut out, &cx, &ps, src, &root_names, grads, &used);
    function(&mut out, &cx, &ps, &lines, &root_names, grads);
    let args = signature(&cx, &ups);
    let ty = rust_type(g.vars()[up.var].shape);
    let _ = writeln!(out, "\n/// The stationary point of f in `{name}`: `{}`.", up.summary.replace('`', "'"));
    let _ = writeln!(out, "pub fn update_{name}({}) -> {ty} {{", args.join(", "));
    prologue(&mut out, &cx, &ups);
    write_lines(&mut out, g, &ulines);
    let _ = writeln!(out, "    {sol_name}\n}}");
    let _ = writeln!(out, "\n/// The matrices `update_{name}` inverts (its conditions: each invertible).");
    let _ = writeln!(out, "pub fn update_inverted({}) -> Vec<Mat<f64>> {{", args.join(", "));
    prologue(&mut out, &cx, &ups);
    write_lines(&mut out, g, &ilines);
    let _ = writeln!(
        out,
        "    vec![{}]\n}}",
        inv_names.iter().map(|n| format!("{n}.clone()")).collect::<Vec<_>>().join(", ")
    );
    checker(&mut out, &cx, &ps, p.output, grads, &root_names);
    update_checker(&mut out, &cx, &ps, p.output, up);
    used.write_rust(&mut out);
    Ok(out)
}

/// `check_update(seed)`: inputs drawn as `solve`'s conditions read (symmetric matrices positive
/// definite, scalars positive), draws where an inverted matrix is ill-conditioned skipped.
fn update_checker(out: &mut String, cx: &Cx, ps: &[Param], output: NodeId, up: &super::Update) {
    let g = cx.g;
    let doms = domains(g, output);
    let var = up.var;
    let name = &cx.params[var];
    let call = |f: &str, skip: Option<usize>, replace: Option<&str>| -> String {
        let args: Vec<String> = ps
            .iter()
            .filter(|p| Some(p.var) != skip)
            .map(|p| {
                let n = match replace {
                    Some(with) if p.var == var => with.to_string(),
                    _ => cx.params[p.var].clone(),
                };
                if g.vars()[p.var].shape.is_scalar() {
                    n
                } else {
                    format!("&{n}")
                }
            })
            .collect();
        format!("{f}({})", args.join(", "))
    };
    let as_mat =
        |e: String| if g.vars()[var].shape.is_scalar() { format!("Mat::from_fn(1, 1, |_, _| {e})") } else { e };
    out.push_str("\n/// Check that the gradient vanishes at the update: at random inputs of two size ranges,\n/// |grad f| there relative to |grad f| at a random point; return the largest ratio, panic\n/// above 1e-6 or when nothing was checked.\npub fn check_update(seed: u64) -> f64 {\n");
    out.push_str(
        "    let mut rng = Rng::new(seed);\n    let mut worst = 0.0f64;\n    for (lo, hi) in [(2, 4), (3, 6)] {\n",
    );
    let _ = writeln!(out, "        let mut checked = false;\n        for _ in 0..30 {{");
    for p in ps {
        for &(_, d) in &p.binds {
            let _ = writeln!(out, "            let {} = rng.size(lo, hi);", cx.dim_arg(d));
        }
    }
    for p in ps {
        let v = &g.vars()[p.var];
        let dim = |d: Option<DimId>| d.map_or("1".to_string(), |d| cx.dim_arg(d).to_string());
        let (rr, cc) = (dim(v.shape.rows), dim(v.shape.cols));
        let Domain { spd, positive } = doms[p.var];
        let value = if v.shape.is_scalar() {
            "rng.uniform(0.5, 2.0)".to_string()
        } else if (spd || v.symmetric) && v.shape.is_square() {
            format!("rng.spd({rr})")
        } else if positive {
            format!("rng.uniform_mat({rr}, {cc}, 0.5, 2.0)")
        } else if v.shape.is_square() {
            // A positive definite symmetric part, as in the Python modules.
            format!("random_posdef(&mut rng, {rr})")
        } else {
            format!("rng.normal_mat({rr}, {cc})")
        };
        let _ = writeln!(out, "            let {} = {value};", cx.params[p.var]);
    }
    let _ = writeln!(
        out,
        "            if {}.iter().any(|m| rcond(m) < 1e-8) {{\n                continue;\n            }}",
        call("update_inverted", Some(var), None)
    );
    // The update's local: a name no parameter has.
    let mut u = "update_value".to_string();
    while cx.params.contains(&u) {
        u.push('_');
    }
    let _ = writeln!(out, "            let {u} = {};", as_mat(call(&format!("update_{name}"), Some(var), None)));
    let Domain { spd, positive } = doms[var];
    let _ = writeln!(
        out,
        "            if !finite(&{u}) || ({spd} && rcond(&{u}) < 1e-8) || ({positive} && {u}.col_iter().any(|c| c.iter().any(|&e| e <= 0.0))) {{\n                continue;\n            }}"
    );
    let x_arg = if g.vars()[var].shape.is_scalar() { format!("{u}[(0, 0)]") } else { u.clone() };
    let _ =
        writeln!(out, "            let g_sol = {};", as_mat(format!("{}.1", call("f_and_grad", None, Some(&x_arg)))));
    let _ = writeln!(out, "            let g_rand = {};", as_mat(format!("{}.1", call("f_and_grad", None, None))));
    if g.vars()[var].symmetric {
        out.push_str("            let (g_sol, g_rand) = (&g_sol + g_sol.transpose(), &g_rand + g_rand.transpose());\n");
    }
    out.push_str(concat!(
        "            let scale = g_rand.norm_l2();\n",
        "            if !(finite(&g_sol) && scale.is_finite() && scale > 0.0) {\n                continue;\n            }\n",
        "            worst = worst.max(g_sol.norm_l2() / scale);\n            checked = true;\n            break;\n",
        "        }\n",
        "        assert!(checked, \"nothing was checked: no random input satisfied the update's conditions\");\n",
        "    }\n    assert!(worst <= 1e-6, \"update check failed: {worst:.1e}\");\n    worst\n}\n",
        "\n/// A square matrix with a positive definite symmetric part.\n",
        "fn random_posdef(rng: &mut Rng, n: usize) -> Mat<f64> {\n",
        "    let k = rng.normal_mat(n, n);\n",
        "    let p = rng.spd(n);\n",
        "    let s = 0.5 / (n as f64).sqrt();\n",
        "    Mat::from_fn(n, n, |i, j| p[(i, j)] + s * (k[(i, j)] - k[(j, i)]))\n}\n",
        "\n/// Reciprocal condition number by singular values (0 when singular or not finite).\n",
        "fn rcond(m: &Mat<f64>) -> f64 {\n",
        "    if !finite(m) {\n        return 0.0;\n    }\n",
        "    match m.singular_values() {\n        Ok(s) if !s.is_empty() && s[0] > 0.0 => s[s.len() - 1] / s[0],\n        _ => 0.0,\n    }\n}\n",
    ));
}

/// Generate a derivative module (see [`super::emit_derivative`]).
pub(crate) fn emit_derivative(p: &Problem, d: &Derivative, src: &Source) -> Result<String> {
    let ex = super::exported(p, d);
    let Setup { ps, roots, mut namer, cx, root_names } = setup_roots(p, ex.roots.clone(), &ex.names, RUST_RESERVED)?;
    let g = cx.g;
    let mut be = Rs { derived: Derived::default(), helpers: Helpers::default() };
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
    let title = match d.order {
        Order::First => "Derivative of an expression",
        Order::Hessian => "Value, gradient and Hessian of a scalar function",
        Order::Hvp => "Value, gradient and Hessian-vector product of a scalar function",
    };
    let _ = writeln!(out, "//! {title}, generated by matdiff.\n//!\n//! ```text");
    for line in src.expr.lines() {
        let _ = writeln!(out, "//! {line}");
    }
    if !src.decls.trim().is_empty() {
        let _ = writeln!(out, "//! declarations: {}", src.decls.trim());
    }
    out.push_str("//! ```\n//!\n");
    let args: Vec<&str> = ps.iter().map(|p| cx.params[p.var].as_str()).collect();
    let call = format!("({})", args.join(", "));
    match d.order {
        Order::First => {
            let _ = writeln!(out, "//! `f_value{call}` returns f; `jacobian{call}` returns {}.", ex.summary);
        }
        _ => {
            let _ = writeln!(
                out,
                "//! `{}{call}` returns `({}, {}, {})`: the value, the gradient (shaped like `{}`) and\n//! {}.",
                ex.function, root_names[0], root_names[1], root_names[2], cx.params[d.var], ex.summary
            );
        }
    }
    for p in &ps {
        let v = &g.vars()[p.var];
        let sym = if v.symmetric { ", symmetric" } else { "" };
        let _ = writeln!(out, "//! - `{}`: {}{sym}", cx.params[p.var], describe(&cx, v.shape));
    }
    let _ = writeln!(
        out,
        "//!\n//! Non-scalars are `faer::Mat<f64>` (a vector is an n×1 matrix), scalars `f64`; vec(A) stacks\n//! A's columns. Needs faer 0.24. `{}(seed)` compares with central differences at random inputs.",
        ex.check
    );
    out.push_str("#![allow(non_snake_case, unused_variables, dead_code, clippy::all)]\n\n");
    imports(&mut out, &be.helpers);
    let sig = signature(&cx, &ps);
    for ((name, rs, names), lines) in parts.iter().zip(&scheduled) {
        let types: Vec<&str> = rs.iter().map(|&r| rust_type(g.shape(r))).collect();
        let (ty, ret) = if types.len() == 1 {
            (types[0].to_string(), names[0].clone())
        } else {
            (format!("({})", types.join(", ")), format!("({})", names.join(", ")))
        };
        let doc = match (d.order, *name) {
            (Order::First, "f_value") => "The value of the expression.".to_string(),
            (Order::First, _) => format!("{}.", capitalized(&ex.summary)),
            (Order::Hessian, _) => "The value, the gradient and the Hessian.".to_string(),
            (Order::Hvp, _) => "The value, the gradient and the Hessian-vector product.".to_string(),
        };
        let _ = writeln!(out, "\n/// {doc}\npub fn {name}({}) -> {ty} {{", sig.join(", "));
        prologue(&mut out, &cx, &ps);
        write_lines(&mut out, g, lines);
        let _ = writeln!(out, "    {ret}\n}}");
    }
    derivative_checker(&mut out, &cx, &ps, p, d, &ex);
    be.helpers.write_rust(&mut out);
    Ok(out)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// `check_jacobian(seed)`, `check_hessian(seed)` or `check_hvp(seed)`.
fn derivative_checker(out: &mut String, cx: &Cx, ps: &[Param], p: &Problem, d: &Derivative, ex: &super::Exported) {
    let g = cx.g;
    let doms = domains(g, p.output);
    let x = &cx.params[d.var];
    let scalar_x = g.vars()[d.var].shape.is_scalar();
    // A call of `f` with the variable replaced by `probe` (a `&Mat`; a 1×1 one for a scalar).
    let call_with = |f: &str, probe: bool| -> String {
        let args: Vec<String> = ps
            .iter()
            .map(|q| {
                let scalar = g.vars()[q.var].shape.is_scalar();
                match (probe && q.var == d.var, scalar) {
                    (true, true) => "probe[(0, 0)]".to_string(),
                    (true, false) => "probe".to_string(),
                    (false, true) => cx.params[q.var].clone(),
                    (false, false) => format!("&{}", cx.params[q.var]),
                }
            })
            .collect();
        format!("{f}({})", args.join(", "))
    };
    // A result as a matrix: a number is 1×1.
    let as_mat = |e: String, s: Shape| if s.is_scalar() { format!("one({e})") } else { e };
    let _ = writeln!(
        out,
        "\n/// Compare with central differences at random inputs of two size ranges; return the largest\n/// relative error, panic when it exceeds 1e-5 or when no input could be checked.\npub fn {}(seed: u64) -> f64 {{",
        ex.check
    );
    out.push_str(
        "    let mut rng = Rng::new(seed);\n    let mut worst = 0.0f64;\n    for (lo, hi) in [(2, 4), (3, 6)] {\n",
    );
    out.push_str("        let mut checked = false;\n        for _ in 0..30 {\n");
    draws(out, cx, ps, &doms);
    let x0 = if scalar_x { format!("one({x})") } else { format!("{x}.clone()") };
    let _ = writeln!(
        out,
        "            let chk_x0 = {x0};\n            let chk_dirs = directions(chk_x0.nrows(), chk_x0.ncols(), {});",
        g.vars()[d.var].symmetric
    );
    let fshape = g.shape(p.output);
    match d.order {
        Order::First => {
            let _ = writeln!(out, "            let chk_value = {};", as_mat(call_with("f_value", false), fshape));
            let _ =
                writeln!(out, "            let chk_jac = {};", as_mat(call_with("jacobian", false), g.shape(d.root)));
            out.push_str("            if !(finite(&chk_value) && finite(&chk_jac)) {\n                continue;\n            }\n");
            // The derivative as ∂vec(f)/∂vec(x)ᵀ whatever its layout.
            let full = match d.layout {
                Layout::Gradient => "as_row(&chk_jac)",
                Layout::Elementwise => "as_col(&chk_jac)",
                Layout::Jacobian | Layout::Vec => "chk_jac.clone()",
            };
            let _ = writeln!(out, "            let chk_full = {full};");
            let _ = writeln!(
                out,
                "            let (fd, noise) = differences(&chk_x0, &chk_dirs, |probe: &Mat<f64>| {});",
                as_mat(call_with("f_value", true), fshape)
            );
            out.push_str("            let errs = vec![compare(&fd, &claimed(&chk_full, &chk_dirs), noise)];\n");
        }
        Order::Hessian | Order::Hvp => {
            let gshape = g.shape(d.of);
            let _ =
                writeln!(out, "            let (chk_value, chk_grad, chk_second) = {};", call_with(ex.function, false));
            if gshape.is_scalar() || g.shape(d.root).is_scalar() {
                let _ = writeln!(
                    out,
                    "            let (chk_grad, chk_second) = ({}, {});",
                    as_mat("chk_grad".into(), gshape),
                    as_mat("chk_second".into(), g.shape(d.root))
                );
            }
            out.push_str(
                "            if !(chk_value.is_finite() && finite(&chk_grad) && finite(&chk_second)) {\n                continue;\n            }\n",
            );
            let _ = writeln!(
                out,
                "            let (fd, noise) = differences(&chk_x0, &chk_dirs, |probe: &Mat<f64>| one({}.0));",
                call_with(ex.function, true)
            );
            out.push_str(
                "            let mut errs = vec![compare(&fd, &claimed(&as_row(&chk_grad), &chk_dirs), noise)];\n",
            );
            let grad_of_probe = as_mat(format!("{}.1", call_with(ex.function, true)), gshape);
            if d.order == Order::Hessian {
                let _ = writeln!(
                    out,
                    "            let (fd, noise) = differences(&chk_x0, &chk_dirs, |probe: &Mat<f64>| {grad_of_probe});"
                );
                out.push_str("            errs.push(compare(&fd, &claimed(&chk_second, &chk_dirs), noise));\n");
            } else {
                let v = d.direction.expect("an HVP has a direction");
                let vm = if scalar_x { format!("one({})", cx.params[v]) } else { format!("{}.clone()", cx.params[v]) };
                let _ = writeln!(out, "            let chk_v = {vm};");
                out.push_str("            let chk_step = 1e-5 * rms_or_one(&chk_x0) / rms_or_one(&chk_v);\n");
                out.push_str("            let chk_delta = Mat::from_fn(chk_v.nrows(), chk_v.ncols(), |i, j| chk_step * chk_v[(i, j)]);\n");
                let _ = writeln!(
                    out,
                    "            let (fd, noise) = along(&chk_x0, &chk_delta, &|probe: &Mat<f64>| {grad_of_probe});"
                );
                out.push_str("            let fd = Mat::from_fn(fd.len(), 1, |i, _| fd[i] / chk_step);\n");
                out.push_str("            errs.push(compare(&fd, &as_col(&chk_second), noise / chk_step));\n");
            }
        }
    }
    out.push_str(concat!(
        "            let err = errs.iter().fold(0.0f64, |w, e| w.max(e.0));\n",
        "            // Rounding must leave room to see a wrong derivative (a saturated tanh does not).\n",
        "            if err > 1e-5 || errs.iter().all(|e| e.1) {\n",
        "                worst = worst.max(err);\n                checked = true;\n                break;\n            }\n",
        "        }\n",
        "        assert!(checked, \"nothing was checked: no random input where f and its derivatives are finite and rounding leaves the finite differences room to judge\");\n",
        "    }\n",
    ));
    let _ = writeln!(
        out,
        "    assert!(worst <= 1e-5, \"{} failed: relative error {{worst:.1e}}\");\n    worst\n}}",
        ex.check
    );
    out.push_str(CHECK_HELPERS);
    out.push_str(SECOND_HELPERS);
}

/// Helpers of the derivative checks.
const SECOND_HELPERS: &str = r#"
/// A number as a 1×1 matrix.
fn one(x: f64) -> Mat<f64> {
    Mat::from_fn(1, 1, |_, _| x)
}

/// vec(a): the entries column by column.
fn entries_of(a: &Mat<f64>) -> Vec<f64> {
    (0..a.ncols()).flat_map(|j| (0..a.nrows()).map(move |i| a[(i, j)])).collect()
}

/// vec(a)ᵀ, 1×numel(a).
fn as_row(a: &Mat<f64>) -> Mat<f64> {
    let e = entries_of(a);
    Mat::from_fn(1, e.len(), |_, j| e[j])
}

/// vec(a), numel(a)×1.
fn as_col(a: &Mat<f64>) -> Mat<f64> {
    let e = entries_of(a);
    Mat::from_fn(e.len(), 1, |i, _| e[i])
}

/// The perturbations of a rows×cols variable as lists of vec indices: each entry, or for a
/// symmetric matrix each pair (i, j), (j, i) moved together.
fn directions(rows: usize, cols: usize, symmetric: bool) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for j in 0..cols {
        for i in 0..rows {
            if symmetric && i < j {
                continue;
            }
            if symmetric && i != j {
                out.push(vec![i + rows * j, j + rows * i]);
            } else {
                out.push(vec![i + rows * j]);
            }
        }
    }
    out
}

/// Root mean square of the entries (0 for none).
fn rms(a: &Mat<f64>) -> f64 {
    let e = entries_of(a);
    (e.iter().map(|x| x * x).sum::<f64>() / e.len().max(1) as f64).sqrt()
}

fn rms_or_one(a: &Mat<f64>) -> f64 {
    let r = rms(a);
    if r > 0.0 && r.is_finite() {
        r
    } else {
        1.0
    }
}

/// (vec f(x0 + delta) - vec f(x0 - delta)) / 2, and its rounding error.
fn along(x0: &Mat<f64>, delta: &Mat<f64>, f: &impl Fn(&Mat<f64>) -> Mat<f64>) -> (Vec<f64>, f64) {
    let at = |s: f64| entries_of(&f(&Mat::from_fn(x0.nrows(), x0.ncols(), |i, j| x0[(i, j)] + s * delta[(i, j)])));
    let (p, m) = (at(1.0), at(-1.0));
    let big = p.iter().chain(&m).fold(0.0f64, |w, v| w.max(v.abs()));
    (p.iter().zip(&m).map(|(a, b)| (a - b) / 2.0).collect(), ROUNDING * big)
}

/// Central differences of vec(f) along each direction (the columns of a matrix), and their
/// rounding error.
fn differences(x0: &Mat<f64>, dirs: &[Vec<usize>], f: impl Fn(&Mat<f64>) -> Mat<f64>) -> (Mat<f64>, f64) {
    let r = x0.nrows();
    let s = rms(x0);
    let mut cols: Vec<Vec<f64>> = Vec::new();
    let mut noise = 0.0f64;
    for dir in dirs {
        let k = dir[0];
        let h = fd_step(x0[(k % r, k / r)], s);
        let delta = Mat::from_fn(r, x0.ncols(), |i, j| if dir.contains(&(i + r * j)) { h } else { 0.0 });
        let (col, err) = along(x0, &delta, &f);
        cols.push(col.iter().map(|c| c / h).collect());
        noise = noise.max(err / h);
    }
    (Mat::from_fn(cols[0].len(), cols.len(), |i, j| cols[j][i]), noise)
}

/// What the derivative `jac` (rows: entries of the result, columns: vec of the variable) says
/// the differences along `dirs` are: a symmetric pair sums its two columns.
fn claimed(jac: &Mat<f64>, dirs: &[Vec<usize>]) -> Mat<f64> {
    Mat::from_fn(jac.nrows(), dirs.len(), |i, c| dirs[c].iter().map(|&k| jac[(i, k)]).sum())
}
"#;
