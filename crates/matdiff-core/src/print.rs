//! IR to text: the plain input syntax (re-parseable) and LaTeX, with optional shared-subterm names.

use crate::ir::{Func, Graph, NodeId, Num, Op};
use std::collections::{HashMap, HashSet};

/// Output notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// The input language: `W*(W'*W*x - x)*x'`.
    Plain,
    /// LaTeX math: `W \left(W^\top W x - x\right) x^\top`.
    Latex,
}

/// Binding strength of a printed form; a child weaker than its slot needs parentheses.
const SUM: u8 = 1;
const PROD: u8 = 2;
const NEG: u8 = 3;
const POW: u8 = 4;
const POSTFIX: u8 = 5;
const ATOM: u8 = 6;

/// An expression with where-clauses for shared subterms.
#[derive(Clone, Debug, PartialEq)]
pub struct Printed {
    /// The expression, referring to the `defs` names.
    pub expr: String,
    /// `(name, definition)` in dependency order.
    pub defs: Vec<(String, String)>,
}

/// Print `root` fully inlined.
pub fn print(g: &Graph, root: NodeId, style: Style) -> String {
    Printer { g, style, names: HashMap::new() }.show(root, 0)
}

/// Print `root` with the given subterms written as their names (the root itself is written
/// out), as a step of a derivation refers to earlier steps.
pub fn print_with_names(g: &Graph, root: NodeId, style: Style, names: &[(String, NodeId)]) -> String {
    let names = names.iter().filter(|(_, n)| *n != root).map(|(s, n)| (*n, s.clone())).collect();
    Printer { g, style, names }.show(root, 0)
}

/// Print `roots` with subterms that occur more than once (and are not tiny) named `t0`, `t1`, …
pub fn print_shared(g: &Graph, roots: &[NodeId], style: Style) -> Vec<Printed> {
    print_shared_named(g, roots, style, &[])
}

/// `print_shared`, naming a shared subterm after the user's definition (`h = …`) when it is one.
/// Generated names `t0`, `t1`, … skip any name a variable or definition already uses.
pub fn print_shared_named(g: &Graph, roots: &[NodeId], style: Style, user: &[(String, NodeId)]) -> Vec<Printed> {
    // A root counts as a use, so a subterm shared between two gradients gets a name.
    let mut counts = g.use_counts(roots);
    for r in roots {
        counts[r.index()] += 1;
    }
    let taken: HashSet<&str> =
        g.vars.iter().map(|v| v.name.as_str()).chain(user.iter().map(|u| u.0.as_str())).collect();
    let user: HashMap<NodeId, &str> = user.iter().rev().map(|(u, n)| (*n, u.as_str())).collect();
    let mut p = Printer { g, style, names: HashMap::new() };
    let mut defs = vec![];
    let mut next = 0;
    // Nesting printed inline so far below each node (named subterms count 1): a subterm nested
    // deeper than MAX_INLINE_DEPTH gets a name even when used once, so that neither the text nor
    // the printer's recursion grows with the depth of a definitions chain.
    let mut depth: HashMap<NodeId, u32> = HashMap::new();
    for n in g.reachable(roots) {
        let below = g.op(n).children().iter().map(|c| depth.get(c).copied().unwrap_or(1)).max().unwrap_or(0);
        let deep = below + 1 > MAX_INLINE_DEPTH;
        if (counts[n.index()] >= 2 || deep) && worth_naming(g, n) {
            let body = p.show(n, 0);
            let name = match user.get(&n) {
                Some(u) if style == Style::Latex => latex_name(u),
                Some(u) => u.to_string(),
                None => {
                    while taken.contains(format!("t{next}").as_str()) {
                        next += 1;
                    }
                    next += 1;
                    match style {
                        Style::Plain => format!("t{}", next - 1),
                        Style::Latex => format!("t_{{{}}}", next - 1),
                    }
                }
            };
            defs.push((name.clone(), body));
            p.names.insert(n, name);
            depth.insert(n, 1);
        } else {
            depth.insert(n, below + 1);
        }
    }
    roots.iter().map(|&r| Printed { expr: p.show(r, 0), defs: defs.clone() }).collect()
}

/// How deeply a printed expression may nest before [`print_shared_named`] names a subterm.
pub const MAX_INLINE_DEPTH: u32 = 64;

/// `roots` written out in full when that is about as short as the shared form (no `where`
/// lines: what a reader wants for a small result), otherwise [`print_shared_named`]. "About as
/// short": the tree the DAG unfolds to has at most four times its nodes (plus 256), and nests
/// at most [`MAX_INLINE_DEPTH`] deep; so the text stays linear in the size of the DAG (a
/// definitions chain's gradient mentions each definition many times over when unfolded).
pub fn print_compact(g: &Graph, roots: &[NodeId], style: Style, user: &[(String, NodeId)]) -> Vec<Printed> {
    let order = g.reachable(roots);
    // (tree size, nesting depth) of each node's full unfolding; sizes saturate.
    let mut unfolded: HashMap<NodeId, (f64, u32)> = HashMap::with_capacity(order.len());
    for &n in &order {
        let (mut size, mut deep) = (1.0, 0);
        for c in g.op(n).children() {
            let (s, d) = unfolded[&c];
            size += s;
            deep = deep.max(d);
        }
        unfolded.insert(n, (size, deep + 1));
    }
    let size: f64 = roots.iter().map(|r| unfolded[r].0).sum();
    let deep = roots.iter().map(|r| unfolded[r].1).max().unwrap_or(0);
    if size <= 4.0 * order.len() as f64 + 256.0 && deep <= MAX_INLINE_DEPTH {
        let p = Printer { g, style, names: HashMap::new() };
        return roots.iter().map(|&r| Printed { expr: p.show(r, 0), defs: vec![] }).collect();
    }
    print_shared_named(g, roots, style, user)
}

/// For `s^(2k)*u*w'` (a scalar power times the outer product of two columns), the nodes
/// `s^k*u` and `s^k*w` when the graph already has both: the canonical form keeps scalars out
/// of products, so `p*p'` with `p = e/s` is stored as `e*e'/s^2`, and a printer that has a
/// name for `p` writes it back as `p*p'`.
pub fn scaled_outer_factors(g: &Graph, s: NodeId, x: NodeId) -> Option<(NodeId, NodeId)> {
    let Op::MatMul(fs) = g.op(x) else { return None };
    let [u, w] = fs[..] else { return None };
    let Op::Transpose(wt) = *g.op(w) else { return None };
    if !(g.shape(u).is_col() && g.shape(wt).is_col()) {
        return None;
    }
    let Op::Pow(b, p) = *g.op(s) else { return None };
    let half = p.get() / 2.0;
    if half.fract() != 0.0 || half == 0.0 {
        return None;
    }
    let h = if half == 1.0 { b } else { g.find(&Op::Pow(b, Num::new(half)), g.shape(s))? };
    let su = g.find(&Op::Scale(h, u), g.shape(u))?;
    let sw = g.find(&Op::Scale(h, wt), g.shape(wt))?;
    Some((su, sw))
}

/// Leaves and near-leaves read better inline than as a name.
fn worth_naming(g: &Graph, n: NodeId) -> bool {
    let small = |x: NodeId| matches!(g.op(x), Op::Var(_) | Op::Const(_) | Op::Fill(_) | Op::Identity);
    match g.op(n) {
        Op::Var(_) | Op::Const(_) | Op::Fill(_) | Op::Identity => false,
        Op::Transpose(a) | Op::Pow(a, _) => !small(*a),
        Op::Lin(ts) if ts.len() == 1 => !small(ts[0].1),
        _ => true,
    }
}

/// Shortest round-tripping decimal for a number.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// `p/q` with a small denominator when `x` is exactly such a fraction.
fn fraction(x: f64) -> Option<(i64, i64)> {
    (2..=12).find_map(|q| {
        let p = x * q as f64;
        (p.fract() == 0.0 && p.abs() < 1e9).then_some((p as i64, q))
    })
}

struct Printer<'a> {
    g: &'a Graph,
    style: Style,
    names: HashMap<NodeId, String>,
}

impl Printer<'_> {
    fn latex(&self) -> bool {
        self.style == Style::Latex
    }

    /// Print `n` so that it binds at least as tightly as `min`.
    fn show(&self, n: NodeId, min: u8) -> String {
        let (s, level) = self.form(n);
        self.bracket(s, level, min)
    }

    /// `s` (printed at `level`) bracketed when it binds less tightly than `min`.
    fn bracket(&self, s: String, level: u8, min: u8) -> String {
        if level < min {
            if self.latex() {
                format!("\\left({s}\\right)")
            } else {
                format!("({s})")
            }
        } else {
            s
        }
    }

    fn number(&self, x: f64) -> (String, u8) {
        let level = if x < 0.0 { NEG } else { ATOM };
        // log(2) rather than 0.6931471805599453 (the lowering folds log(2) to exactly this).
        if let Some(m) = (2..=10).find(|&m| f64::from(m).ln() == x.abs()) {
            let sign = if x < 0.0 { "-" } else { "" };
            return if self.latex() { (format!("{sign}\\log {m}"), level) } else { (format!("{sign}log({m})"), level) };
        }
        if self.latex() {
            if let Some((p, q)) = fraction(x).filter(|_| x.fract() != 0.0) {
                let sign = if p < 0 { "-" } else { "" };
                return (format!("{sign}\\frac{{{}}}{{{q}}}", p.abs()), level);
            }
        }
        (num(x), level)
    }

    fn var_name(&self, name: &str) -> String {
        if !self.latex() {
            return name.to_string();
        }
        latex_name(name)
    }

    fn call(&self, f: &str, arg: NodeId) -> (String, u8) {
        let a = self.show(arg, 0);
        if self.latex() {
            (format!("{f}\\left({a}\\right)"), ATOM)
        } else {
            (format!("{f}({a})"), ATOM)
        }
    }

    fn form(&self, n: NodeId) -> (String, u8) {
        // Printing a DAG inline can take time exponential in its depth: stoppable.
        matdiff_syntax::budget::tick();
        if let Some(name) = self.names.get(&n) {
            return (name.clone(), ATOM);
        }
        let g = self.g;
        let latex = self.latex();
        let shape = g.shape(n);
        match g.op(n) {
            Op::Var(v) => (self.var_name(&g.vars[*v as usize].name), ATOM),
            Op::Const(c) => self.number(c.get()),
            Op::Fill(c) => self.fill(c.get(), shape, true),
            Op::Identity => {
                if latex {
                    return ("I".into(), ATOM);
                }
                let d = &g.dims.dims[shape.rows.unwrap() as usize];
                if d.declared {
                    (format!("eye({})", d.name), ATOM)
                } else {
                    ("I".into(), ATOM)
                }
            }
            Op::Lin(ts) => self.lin(ts.iter().map(|(c, t)| (c.get(), *t)).collect()),
            Op::Scale(s, x) => self.scale(*s, *x),
            Op::MatMul(fs) => {
                let sep = if latex { " " } else { "*" };
                // An elementwise product inside a matrix product is always bracketed for the reader.
                // A run of equal factors is a matrix power: `X^19`, not nineteen `X*`s.
                let mut runs: Vec<(NodeId, usize)> = vec![];
                for &f in fs {
                    match runs.last_mut() {
                        Some((last, k)) if *last == f => *k += 1,
                        _ => runs.push((f, 1)),
                    }
                }
                let parts: Vec<String> = runs
                    .iter()
                    .enumerate()
                    .map(|(i, &(f, k))| {
                        if k > 1 {
                            // (LaTeX has no double superscript: `(X^\top)^{3}`.)
                            let base = self.show(f, if latex { ATOM } else { POSTFIX });
                            return if latex { format!("{base}^{{{k}}}") } else { format!("{base}^{k}") };
                        }
                        let min = if matches!(g.op(f), Op::Kron(..)) && latex {
                            ATOM
                        } else if i == 0 && !matches!(g.op(f), Op::Hadamard(..)) {
                            PROD
                        } else {
                            NEG
                        };
                        self.show(f, min)
                    })
                    .collect();
                if parts.len() == 1 {
                    return (parts.into_iter().next().unwrap(), POW);
                }
                (parts.join(sep), PROD)
            }
            Op::Hadamard(..) => {
                // A chain of elementwise products is as long as a definitions chain is deep: it is
                // walked down its left spine in a loop (the text is what printing the left operand
                // recursively gives), so printing it needs no stack per factor.
                let mut tails = vec![];
                let mut n = n;
                let head = loop {
                    let Op::Hadamard(a, b) = g.op(n) else { unreachable!("the spine holds products") };
                    let (a, b) = match (g.op(*a), g.op(*b)) {
                        (Op::Pow(_, p), Op::Pow(_, q)) if p.get() < 0.0 && q.get() >= 0.0 => (*b, *a),
                        (Op::Pow(_, p), _) if p.get() < 0.0 && !matches!(g.op(*b), Op::Pow(..)) => (*b, *a),
                        _ => (*a, *b),
                    };
                    tails.push(self.hadamard_tail(b));
                    if matches!(g.op(a), Op::Hadamard(..)) && !self.names.contains_key(&a) {
                        matdiff_syntax::budget::tick();
                        n = a;
                        continue;
                    }
                    // Matrix products inside an elementwise product are bracketed too.
                    let level = if matches!(g.op(a), Op::MatMul(_) | Op::Scale(..)) { NEG } else { PROD };
                    break self.show(a, level);
                };
                let mut out = head;
                for tail in tails.iter().rev() {
                    out.push_str(tail);
                }
                (out, PROD)
            }
            Op::Pow(a, p) => {
                let p = p.get();
                if p < 0.0 && shape.is_scalar() {
                    return if latex {
                        (format!("\\frac{{1}}{{{}}}", self.power(*a, -p, 0)), ATOM)
                    } else {
                        (format!("1/{}", self.power(*a, -p, NEG)), PROD)
                    };
                }
                (self.power(*a, p, 0), POW)
            }
            Op::Map(f, a) => self.map(*f, *a),
            Op::Transpose(a) => {
                let inner = self.show(*a, POSTFIX);
                (if latex { format!("{inner}^\\top") } else { format!("{inner}'") }, POSTFIX)
            }
            Op::Sum(a) => self.call(if latex { "\\operatorname{sum}" } else { "sum" }, *a),
            Op::SqNorm(a) => {
                if latex {
                    let sub = if g.shape(*a).is_matrix() { "_F" } else { "" };
                    (format!("\\left\\|{}\\right\\|{sub}^2", self.show(*a, 0)), POW)
                } else {
                    (format!("norm2({})^2", self.show(*a, 0)), POW)
                }
            }
            Op::Norm2(a) => {
                if latex {
                    let sub = if g.shape(*a).is_matrix() { "_F" } else { "" };
                    (format!("\\left\\|{}\\right\\|{sub}", self.show(*a, 0)), ATOM)
                } else {
                    self.call("norm2", *a)
                }
            }
            Op::Norm1(a) => {
                if latex {
                    (format!("\\left\\|{}\\right\\|_1", self.show(*a, 0)), ATOM)
                } else {
                    self.call("norm1", *a)
                }
            }
            Op::Dot(a, b) => {
                if latex {
                    (
                        format!(
                            "\\operatorname{{tr}}\\left({}^\\top {}\\right)",
                            self.show(*a, POSTFIX),
                            self.show(*b, NEG)
                        ),
                        ATOM,
                    )
                } else {
                    // Operands bracketed as in an elementwise product, so it reads (and re-parses) the same.
                    let operand = |x: NodeId| if matches!(g.op(x), Op::MatMul(_) | Op::Scale(..)) { NEG } else { PROD };
                    (format!("sum({}.*{})", self.show(*a, operand(*a)), self.show(*b, NEG)), ATOM)
                }
            }
            Op::Trace(a) => self.call(if latex { "\\operatorname{tr}" } else { "tr" }, *a),
            Op::Det(a) => self.call(if latex { "\\det" } else { "det" }, *a),
            Op::LogDet(a) => self.call(if latex { "\\log\\det" } else { "logdet" }, *a),
            Op::Inv(a) => {
                if latex {
                    (format!("{}^{{-1}}", self.show(*a, POSTFIX)), POSTFIX)
                } else {
                    self.call("inv", *a)
                }
            }
            Op::Diag(a) | Op::DiagPart(a) => self.call(if latex { "\\operatorname{diag}" } else { "diag" }, *a),
            Op::Kron(a, b) => {
                if latex {
                    let (l, r) = (self.show(*a, POSTFIX), self.show(*b, POSTFIX));
                    (format!("{l} \\otimes {r}"), PROD)
                } else {
                    // An identity factor names its size: nothing else in `kron(x', I)` fixes it.
                    let operand = |x: NodeId| match g.op(x) {
                        Op::Identity if !self.names.contains_key(&x) => {
                            format!("eye({})", self.dim(g.shape(x).rows.unwrap()))
                        }
                        _ => self.show(x, 0),
                    };
                    (format!("kron({}, {})", operand(*a), operand(*b)), ATOM)
                }
            }
            Op::Vectorize(a) => self.call(if latex { "\\operatorname{vec}" } else { "vec" }, *a),
            Op::Softmax(a) => self.call(if latex { "\\operatorname{softmax}" } else { "softmax" }, *a),
            Op::Unvec(a) => {
                let (m, n) = (shape.rows.unwrap(), shape.cols.unwrap());
                let (m, n) = (self.dim(m), self.dim(n));
                if latex {
                    (format!("\\operatorname{{unvec}}\\left({}, {m}, {n}\\right)", self.show(*a, 0)), ATOM)
                } else {
                    (format!("unvec({}, {m}, {n})", self.show(*a, 0)), ATOM)
                }
            }
            Op::Commutation(m, n) => {
                let (m, n) = (self.dim(*m), self.dim(*n));
                if latex {
                    (format!("K_{{{m},{n}}}"), ATOM)
                } else {
                    (format!("commutation({m}, {n})"), ATOM)
                }
            }
        }
    }

    /// The right operand of an elementwise product with its operator: `.*b`, or `./d` when `b`
    /// is a negative power `d^-p`.
    fn hadamard_tail(&self, b: NodeId) -> String {
        let latex = self.latex();
        if let Op::Pow(base, p) = self.g.op(b) {
            if p.get() < 0.0 {
                let den = self.power(*base, -p.get(), NEG);
                let op = if latex { " \\oslash " } else { "./" };
                return format!("{op}{den}");
            }
        }
        let op = if latex { " \\odot " } else { ".*" };
        format!("{op}{}", self.show(b, NEG))
    }

    /// A dimension as written in `eye(..)`, `unvec(..)`: its name (`m`, `3`, `m*n`).
    fn dim(&self, d: crate::shape::DimId) -> String {
        let name = self.g.dims.name(d);
        if self.latex() {
            name.replace('*', " ")
        } else {
            name.to_string()
        }
    }

    /// A constant-filled array. `sized`: name its dimensions (`vector(1, n)`), which a reader
    /// (and the parser) needs unless a sibling term fixes the shape, as in `x + vector(1)`.
    fn fill(&self, c: f64, shape: crate::shape::Shape, sized: bool) -> (String, u8) {
        if self.latex() {
            let one = "\\mathbf{1}".to_string();
            let body = if c == 1.0 {
                one
            } else if c == 0.0 {
                "\\mathbf{0}".into()
            } else {
                format!("{}\\,\\mathbf{{1}}", self.number(c).0)
            };
            let body = if shape.is_row() { format!("{body}^\\top") } else { body };
            return (body, if c == 1.0 || c == 0.0 { ATOM } else { PROD });
        }
        let dims: String = if sized {
            [shape.rows, shape.cols].into_iter().flatten().map(|d| format!(", {}", self.g.dims.name(d))).collect()
        } else {
            String::new()
        };
        if shape.is_matrix() {
            (format!("matrix({}{dims})", num(c)), ATOM)
        } else if shape.is_row() {
            (format!("vector({}{dims})'", num(c)), POSTFIX)
        } else {
            (format!("vector({}{dims})", num(c)), ATOM)
        }
    }

    /// `base^p` (`.^` for non-scalars), `base` printed tightly enough for a postfix.
    fn power(&self, base: NodeId, p: f64, min: u8) -> String {
        if p == 1.0 {
            return self.show(base, min);
        }
        let scalar = self.g.shape(base).is_scalar();
        if self.latex() {
            let b = self.show(base, POSTFIX);
            let ps = if p == 0.5 { "\\frac{1}{2}".to_string() } else { num(p) };
            return if scalar { format!("{b}^{{{ps}}}") } else { format!("{b}^{{\\circ {ps}}}") };
        }
        let b = self.show(base, POSTFIX);
        let ps = if p < 0.0 { format!("({})", num(p)) } else { num(p) };
        let s = format!("{b}{}{ps}", if scalar { "^" } else { ".^" });
        if min > POW {
            format!("({s})")
        } else {
            s
        }
    }

    /// A term of a sum of arrays that is a scalar in every entry: `vector(k)` is the number `k`,
    /// `s*vector(k)` is `k*s`. Printed as the scalar itself (broadcasting) when a sibling term
    /// is a genuine array that fixes the shape.
    fn broadcast_term(&self, t: NodeId) -> Option<(f64, Option<NodeId>)> {
        let g = self.g;
        if g.shape(t).is_scalar() {
            return None;
        }
        match g.op(t) {
            Op::Fill(k) => Some((k.get(), None)),
            Op::Scale(s, x) => g.fill_value(*x).map(|k| (k, Some(*s))),
            _ => None,
        }
    }

    fn lin(&self, ts: Vec<(f64, NodeId)>) -> (String, u8) {
        let g = self.g;
        // A sum added whole (coefficient 1, no name of its own) is written as its terms among
        // the others: `a + b + c` is how (a + b) + c and a + (b + c) read, and how the text
        // reads back (a chain of + and - is lowered as one sum).
        let mut flat = Vec::with_capacity(ts.len());
        let mut todo = ts;
        while let Some((c, t)) = todo.pop() {
            match g.op(t) {
                Op::Lin(inner) if c == 1.0 && inner.len() > 1 && !self.names.contains_key(&t) => {
                    matdiff_syntax::budget::tick();
                    todo.extend(inner.iter().map(|(ci, ti)| (ci.get(), *ti)));
                }
                _ => flat.push((c, t)),
            }
        }
        let mut ts = flat;
        // Positive terms first, constants last: `W'*W*x - x`, `x + 1`; otherwise in the
        // structural order of terms (never by node id).
        let class = |c: f64, t: NodeId| (c < 0.0, g.fill_value(t).is_some());
        ts.sort_by(|&(c, t), &(d, u)| class(c, t).cmp(&class(d, u)).then(g.cmp_terms(t, u)));
        if ts.len() == 1 {
            let (c, t) = ts[0];
            return self.coef_term(c, t);
        }
        let broadcast = ts.iter().any(|&(_, t)| !self.g.shape(t).is_scalar() && self.broadcast_term(t).is_none());
        let mut out = String::new();
        for (i, &(c, t)) in ts.iter().enumerate() {
            let (negative, body) = match self.broadcast_term(t).filter(|_| broadcast) {
                // `x - 5`, `1 + exp(u)`, `x - c`: a scalar in every entry, written as the scalar.
                Some((k, None)) => (c * k < 0.0, self.number((c * k).abs()).0),
                Some((k, Some(s))) => {
                    let (body, _) = self.coef_term((c * k).abs(), s);
                    (c * k < 0.0, body)
                }
                None => self.lin_term(c, t),
            };
            if i == 0 {
                out.push_str(if negative { "-" } else { "" });
            } else {
                out.push_str(if negative { " - " } else { " + " });
            }
            out.push_str(&body);
        }
        (out, SUM)
    }

    /// One term `c*t` of a sum: whether it is subtracted, and its text without the sign.
    fn lin_term(&self, c: f64, t: NodeId) -> (bool, String) {
        // A nested sum added as a whole (by its where-name) needs no brackets: a + (b + c)
        // reads as a + b + c.
        let (body, _) = if c == 1.0 && matches!(self.g.op(t), Op::Lin(ts) if ts.len() > 1) {
            self.form(t)
        } else {
            self.coef_term(c.abs(), t)
        };
        let body = if self.g.fill_value(t).is_some() && !self.g.shape(t).is_scalar() {
            // A filled constant term keeps its own coefficient inside; its siblings fix its shape.
            let k = self.g.fill_value(t).unwrap();
            let (b, l) = self.fill(k, self.g.shape(t), false);
            let b = if l < PROD { format!("({b})") } else { b };
            if c.abs() == 1.0 {
                b
            } else {
                body
            }
        } else {
            body
        };
        // A negative scalar constant is subtracted: `a - 3`, not `a + -3`.
        let konst = self.g.fill_value(t).filter(|_| self.g.shape(t).is_scalar());
        let negative = match konst {
            Some(k) => c * k < 0.0,
            None => c < 0.0,
        };
        let body = match konst {
            Some(k) => self.number((c * k).abs()).0,
            None => body,
        };
        // A nested sum that starts with a minus continues the outer one: `a - b - c`.
        match body.strip_prefix('-') {
            Some(rest) if !negative && c == 1.0 && matches!(self.g.op(t), Op::Lin(ts) if ts.len() > 1) => {
                (true, rest.to_string())
            }
            _ => (negative, body),
        }
    }

    /// `c*t` (or `t`, `-t`), with `t` at product level.
    fn coef_term(&self, c: f64, t: NodeId) -> (String, u8) {
        if let Some(k) = self.g.fill_value(t).filter(|_| self.g.shape(t).is_scalar()) {
            return self.number(c * k);
        }
        // The form once: printing it twice per level would take time exponential in the depth.
        let (form, level) = self.form(t);
        if c == 1.0 && level >= PROD {
            return (form, PROD);
        }
        let body = self.bracket(form, level, PROD);
        if c == 1.0 {
            return (body, PROD.min(level));
        }
        if c == -1.0 {
            // `-A'*y`, not `-(A'*y)`: a minus on a product's first factor is the same value
            // (and reads back to the same node); a sum or a leading minus keeps its brackets.
            let body = if body.starts_with('-') { self.bracket(body, SUM, NEG) } else { body };
            return (format!("-{body}"), SUM);
        }
        let (cs, _) = self.number(c.abs());
        let sign = if c < 0.0 { "-" } else { "" };
        // `0.5./sqrt(x)`, not `0.5*sqrt(x).^(-1)`.
        if let Op::Pow(base, p) = self.g.op(t) {
            if p.get() < 0.0 && !self.g.shape(t).is_scalar() && !self.latex() && !self.names.contains_key(&t) {
                let den = self.power(*base, -p.get(), NEG);
                return (format!("{sign}{cs}./{den}"), if c < 0.0 { SUM } else { PROD });
            }
        }
        // A coefficient over a reciprocal: `0.5/b`, not `0.5*1/b`.
        if let Some(den) = self.denominator(t) {
            return (format!("{sign}{cs}/{den}"), if c < 0.0 { SUM } else { PROD });
        }
        let sep = if self.latex() { " " } else { "*" };
        // `2*1/a/b*x` is `2/a/b*x` (left to right, a leading 1 is the only difference).
        if let Some(rest) = body.strip_prefix("1/").filter(|_| !self.latex()) {
            return (format!("{sign}{cs}/{rest}"), if c < 0.0 { SUM } else { PROD });
        }
        (format!("{sign}{cs}{sep}{body}"), if c < 0.0 { SUM } else { PROD })
    }

    /// The plain-text denominator `b` when `a` is a scalar reciprocal `b^-p` (`1/b`).
    fn denominator(&self, a: NodeId) -> Option<String> {
        let g = self.g;
        match g.op(a) {
            Op::Pow(base, p)
                if p.get() < 0.0 && g.shape(a).is_scalar() && !self.latex() && !self.names.contains_key(&a) =>
            {
                let den = self.power(*base, -p.get(), POW);
                Some(if matches!(g.op(*base), Op::Lin(_) | Op::Scale(..) | Op::MatMul(_)) && p.get() == -1.0 {
                    format!("({})", self.show(*base, 0))
                } else {
                    den
                })
            }
            _ => None,
        }
    }

    /// `s*x`, or `x/b` when the scalar is a reciprocal.
    fn scale(&self, s: NodeId, x: NodeId) -> (String, u8) {
        let g = self.g;
        let latex = self.latex();
        // `e*e'/s^2` with `p = e/s` named is `p*p'` (`diag(p) - p*p'`, the softmax Jacobian).
        if let Some((u, w)) = scaled_outer_factors(g, s, x) {
            if let (Some(u), Some(w)) = (self.names.get(&u), self.names.get(&w)) {
                let (sep, t) = if latex { (" ", "^\\top") } else { ("*", "'") };
                return (format!("{u}{sep}{w}{t}"), PROD);
            }
        }
        // Each side printed once (a second printing per level would be exponential in depth).
        let (ds, dx) = (self.denominator(s), self.denominator(x));
        // Two reciprocals: `1/a/b`, not `1/a*1/b`.
        if let (Some(ds), Some(dx)) = (&ds, &dx) {
            return (format!("1/{ds}/{dx}"), PROD);
        }
        for (a, b, da) in [(s, x, ds), (x, s, dx)] {
            if let Op::Pow(base, p) = g.op(a) {
                if p.get() < 0.0
                    && g.shape(a).is_scalar()
                    && !(g.shape(b).is_scalar() && matches!(g.op(b), Op::Pow(_, q) if q.get() < 0.0))
                {
                    if latex {
                        let den = self.power(*base, -p.get(), 0);
                        if g.shape(b).is_scalar() {
                            return (format!("\\frac{{{}}}{{{den}}}", self.show(b, 0)), ATOM);
                        }
                        return (format!("\\frac{{1}}{{{den}}} {}", self.show(b, NEG)), PROD);
                    }
                    // (A reciprocal with a where-name of its own is printed by that name.)
                    if let Some(den) = da {
                        return (format!("{}/{den}", self.show(b, PROD)), PROD);
                    }
                }
            }
        }
        let sep = if latex { " " } else { "*" };
        let (ls, rs) = (self.show(s, PROD), self.show(x, PROD));
        // `a*1/b*x` is `a/b*x`, read left to right.
        if let Some(rest) = rs.strip_prefix("1/").filter(|_| !latex) {
            return (format!("{ls}/{rest}"), PROD);
        }
        (format!("{ls}{sep}{rs}"), PROD)
    }

    /// `exp(k*u)` with k = log(m) is `m^u`, and `exp(u*log(a))` is `a^u` (scalars): the form
    /// the power was written in, which lowers back to this very node.
    fn scalar_power(&self, exponent: NodeId) -> Option<(String, u8)> {
        let g = self.g;
        if !g.shape(exponent).is_scalar() {
            return None;
        }
        let (base, u) = match g.op(exponent) {
            Op::Lin(ts) if ts.len() == 1 => {
                let m = (2..=10).find(|&m| f64::from(m).ln() == ts[0].0.get())?;
                (m.to_string(), ts[0].1)
            }
            Op::Scale(x, y) => {
                let (log, u) = match (g.op(*x), g.op(*y)) {
                    (Op::Map(Func::Log, _), _) => (*x, *y),
                    (_, Op::Map(Func::Log, _)) => (*y, *x),
                    _ => return None,
                };
                let Op::Map(Func::Log, a) = g.op(log) else { return None };
                (self.show(*a, if self.latex() { ATOM } else { POSTFIX }), u)
            }
            _ => return None,
        };
        Some(if self.latex() {
            (format!("{base}^{{{}}}", self.show(u, 0)), POW)
        } else {
            (format!("{base}^{}", self.show(u, ATOM)), POW)
        })
    }

    fn map(&self, f: Func, a: NodeId) -> (String, u8) {
        if f == Func::Exp {
            if let Some(p) = self.scalar_power(a) {
                return p;
            }
        }
        if !self.latex() {
            return self.call(f.name(), a);
        }
        let name = match f {
            Func::Exp => "\\exp",
            Func::Log => "\\log",
            Func::Sin => "\\sin",
            Func::Cos => "\\cos",
            Func::Tan => "\\tan",
            Func::Tanh => "\\tanh",
            Func::Sigmoid => "\\sigma",
            Func::Sqrt => return (format!("\\sqrt{{{}}}", self.show(a, 0)), ATOM),
            Func::Abs => return (format!("\\left|{}\\right|", self.show(a, 0)), ATOM),
            Func::Sign => "\\operatorname{sign}",
            Func::Relu => "\\operatorname{relu}",
            Func::Softplus => "\\operatorname{softplus}",
            Func::Swish => "\\operatorname{swish}",
            Func::Step => "\\operatorname{step}",
        };
        self.call(name, a)
    }
}

/// A variable name in LaTeX: Greek words as letters, trailing digits as subscripts.
pub fn latex_name(name: &str) -> String {
    const GREEK: &[&str] = &[
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
        "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
        "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega",
    ];
    let (stem, sub) = match name.find('_') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => {
            let cut = name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            (&name[..cut], &name[cut..])
        }
    };
    let stem = if stem == "lam" {
        "\\lambda".to_string()
    } else if GREEK.contains(&stem) {
        format!("\\{stem}")
    } else if stem.chars().count() > 1 {
        format!("\\mathrm{{{stem}}}")
    } else {
        stem.to_string()
    };
    if sub.is_empty() {
        stem
    } else {
        format!("{stem}_{{{sub}}}")
    }
}
