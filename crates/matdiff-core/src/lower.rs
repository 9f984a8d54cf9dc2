//! Syntax tree to IR: resolves names and functions, infers shapes, reports mismatches.
//!
//! Shapes are inferred with a union-find over symbolic dimensions while the IR is built; the
//! graph is then rebuilt with each dimension class replaced by its final name. Undeclared
//! names take matrixcalculus.org's defaults (a–g scalar, h–z vector, A–Z matrix); when the
//! defaults do not type-check, single-name kind changes are searched greedily, and a choice
//! that is not forced is reported as ambiguous rather than guessed.

use crate::builtin::Builtin;
use crate::ir::{Func, Graph, NodeId, Var};
use crate::shape::{DimId, Shape, Unifier};
use matdiff_syntax::{BinOp, Decl, DeclKind, DimSpec, Expr, ExprKind, Program};
use matdiff_syntax::{Error, ErrorKind, Input, Result, Span};
use std::collections::HashMap;

/// The kind of a variable, before its dimensions are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A scalar (`s`, `alpha`, `lambda`).
    Scalar,
    /// A column vector (`x`, `y`, `b`).
    Vector,
    /// A matrix (`A`, `W`, `X`).
    Matrix,
}

impl Kind {
    /// The kind in a declaration (`scalar`, `vector`, `matrix`).
    pub fn word(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Vector => "vector",
            Kind::Matrix => "matrix",
        }
    }
}

/// matrixcalculus.org's convention, by first letter.
pub fn default_kind(name: &str) -> Kind {
    match name.chars().next() {
        Some('a'..='g') => Kind::Scalar,
        Some('h'..='z') => Kind::Vector,
        Some('A'..='Z') => Kind::Matrix,
        _ => Kind::Scalar,
    }
}

/// Largest |k| accepted in a matrix power `A^k` (the product has |k| factors, its gradient |k|
/// terms of as many factors each).
pub const MAX_MATRIX_POWER: f64 = 256.0;

/// The lowered problem: the graph, the output node, and the variables in order of appearance.
pub struct Lowered {
    /// The typed DAG.
    pub graph: Graph,
    /// The expression's node.
    pub output: NodeId,
    /// Names that were not declared and were given a kind (by default or by usage).
    pub inferred: Vec<(String, Kind)>,
    /// The user's definitions (`h = tanh(W*x)` before the expression), in source order, with
    /// the node each one names.
    pub definitions: Vec<(String, NodeId)>,
    /// How many reductions to a scalar (`sum`, norms, `tr`, `det`, `logdet`) the expression has.
    pub reductions: usize,
}

/// Lower a parsed program under the given declarations.
pub fn lower(program: &Program, decls: &[Decl]) -> Result<Lowered> {
    // First as if an undeclared name were never broadcast (`W1*x + b1`: the bias is a vector,
    // as before broadcasting existed); only when no kinds fit that way is it broadcast
    // (`norm2(x - c)^2`: c a scalar by its letter, x a vector).
    match lower_search(program, decls, true, HashMap::new()) {
        Ok(done) => Ok(coefficients_as_scalars(program, decls, done, true)),
        Err(strict) => lower_search(program, decls, false, HashMap::new())
            .map(|done| coefficients_as_scalars(program, decls, done, false))
            .map_err(|_| strict),
    }
}

/// The letter defaults (except for the names `kinds` sets), then the kind search; `strict`:
/// an undeclared name is never broadcast.
fn lower_search(program: &Program, decls: &[Decl], strict: bool, mut kinds: HashMap<String, Kind>) -> Result<Lowered> {
    let first = match Lowerer::run(program, decls, &kinds, strict) {
        Ok(done) => return Ok(done),
        Err(e) => e,
    };
    // The defaults failed: try changing one undeclared name's kind at a time, keeping the
    // change that lets inference get furthest, until it succeeds.
    let undeclared = first.undeclared.clone();
    let default_err = first.error.clone();
    let (mut best_err, mut best_progress) = (first.error, first.progress);
    for _round in 0..undeclared.len().min(8) {
        let mut successes: Vec<(String, Kind, Lowered)> = vec![];
        let mut best_step: Option<(String, Kind, usize, Error)> = None;
        for name in &undeclared {
            if kinds.contains_key(name) {
                continue;
            }
            for kind in [Kind::Scalar, Kind::Vector, Kind::Matrix] {
                if kind == default_kind(name) {
                    continue;
                }
                let mut trial = kinds.clone();
                trial.insert(name.clone(), kind);
                match Lowerer::run(program, decls, &trial, strict) {
                    Ok(done) => successes.push((name.clone(), kind, done)),
                    Err(f) if f.progress > best_progress && best_step.as_ref().is_none_or(|b| f.progress > b.2) => {
                        best_step = Some((name.clone(), kind, f.progress, f.error));
                    }
                    Err(_) => {}
                }
            }
        }
        // Expressions are losses: a reading with a scalar value beats one without.
        if successes.iter().any(|s| s.2.graph.shape(s.2.output).is_scalar()) {
            successes.retain(|s| s.2.graph.shape(s.2.output).is_scalar());
        }
        match successes.len() {
            0 => {}
            1 => return Ok(successes.pop().unwrap().2),
            _ => {
                return Err(ambiguous(&successes, &default_err));
            }
        }
        match best_step {
            Some((name, kind, progress, err)) => {
                kinds.insert(name, kind);
                best_progress = progress;
                best_err = err;
            }
            None => break,
        }
    }
    Err(best_err)
}

/// The default kinds type-check, but the value is not a scalar although the expression reduces
/// something to one (`C*norm2(w)^2 + sum(..)`, `-D/2*logdet(K)`, `lam*norm2(x)^2 + ..`): an
/// undeclared name outside every reduction used as a scalar coefficient (a scalar broadcast
/// over the rest would make it a non-scalar). When exactly one such name read as a scalar
/// gives a scalar value, that reading is taken (and reported as retyped); otherwise the default
/// reading stands.
fn coefficients_as_scalars(program: &Program, decls: &[Decl], done: Lowered, strict: bool) -> Lowered {
    if done.graph.shape(done.output).is_scalar() || done.reductions == 0 {
        return done;
    }
    let mut reduced = vec![];
    for d in &program.defs {
        names_in_reductions(&d.value, false, &mut reduced);
    }
    names_in_reductions(&program.body, false, &mut reduced);
    let mut found: Vec<Lowered> = vec![];
    for (name, kind) in &done.inferred {
        // Only a name outside every reduction can be a coefficient (`x/norm2(x)` keeps x).
        if *kind == Kind::Scalar || kinds_changed(name, *kind) || reduced.contains(name) {
            continue;
        }
        let trial: HashMap<String, Kind> = [(name.clone(), Kind::Scalar)].into_iter().collect();
        if let Ok(l) = lower_search(program, decls, strict, trial) {
            if l.graph.shape(l.output).is_scalar() {
                found.push(l);
            }
        }
    }
    if found.len() == 1 {
        found.pop().unwrap()
    } else {
        done
    }
}

/// Whether the kind was set by a search rather than by the first letter.
fn kinds_changed(name: &str, kind: Kind) -> bool {
    default_kind(name) != kind
}

/// The names that occur inside the argument of a reduction (`sum`, norms, `tr`, `det`, `logdet`).
fn names_in_reductions(e: &Expr, inside: bool, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Num(_) => {}
        ExprKind::Name(n) => {
            if inside && !out.contains(n) {
                out.push(n.clone());
            }
        }
        ExprKind::Neg(a) | ExprKind::Transpose(a) => names_in_reductions(a, inside, out),
        ExprKind::Binary(_, a, b) => {
            names_in_reductions(a, inside, out);
            names_in_reductions(b, inside, out);
        }
        ExprKind::Call { func, args, .. } => {
            let reduces = matches!(func.as_str(), "sum" | "norm1" | "norm2" | "tr" | "trace" | "det" | "logdet");
            for a in args {
                names_in_reductions(a, inside || reduces, out);
            }
        }
    }
}

/// Several single-name kind changes make the expression well-typed: ask for declarations,
/// pointing at where the default kinds failed.
fn ambiguous(successes: &[(String, Kind, Lowered)], default_err: &Error) -> Error {
    let mut names: Vec<&str> = vec![];
    for (n, _, _) in successes {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let options: Vec<String> = successes.iter().map(|(n, k, _)| format!("`{n}` as a {}", k.word())).collect();
    // One consistent choice: the first working change, the other names at their defaults.
    let (first_name, first_kind) = (&successes[0].0, successes[0].1);
    let example: Vec<String> = names
        .iter()
        .map(|n| match if *n == first_name { first_kind } else { default_kind(n) } {
            Kind::Scalar => format!("{n}: scalar"),
            Kind::Vector => format!("{n}: vector(n)"),
            Kind::Matrix => format!("{n}: matrix(m,n)"),
        })
        .collect();
    let message = match quoted.as_slice() {
        [one] => format!("cannot tell the kind of the undeclared name {one}"),
        _ => format!("cannot tell the kinds of the undeclared names {}", quoted.join(" and ")),
    };
    let err = match default_err.span {
        Some(span) => Error::new(Input::Expr, span, message)
            .with_kind(ErrorKind::Shape)
            .with_label(format!("with the default kinds: {}", default_err.message)),
        None => Error::unspanned(Input::Expr, message)
            .with_kind(ErrorKind::Shape)
            .with_note(format!("with the default kinds: {}", default_err.message)),
    };
    err.with_note(format!("reading {} would each make it well-typed", options.join(", or ")))
        .with_note("undeclared names are scalars (a-g), vectors (h-z) or matrices (A-Z) by their first letter")
        .with_note(format!(
            "declare {}, e.g. --decl \"{}\"",
            if names.len() == 1 { "it" } else { "them" },
            example.join("; ")
        ))
}

/// Lower `program` into an existing graph (a claimed answer next to the expression it answers):
/// same variables, same dimensions; new dimensions (from `I`, `vector(1)`) are added.
pub fn lower_into(program: &Program, decls: &[Decl], base: &mut Graph) -> Result<NodeId> {
    lower_into_with(program, decls, base, true)
}

/// [`lower_into`]; without `broadcast`, a scalar added to an array is a shape error (the
/// auditor reads OCR'd text, where `C - 5` is more likely `C - S` misread than a broadcast).
pub fn lower_into_with(program: &Program, decls: &[Decl], base: &mut Graph, broadcast: bool) -> Result<NodeId> {
    lower_into_like(program, decls, base, broadcast, None)
}

/// [`lower_into_with`], with the claim's free dimensions sized like `like` (a shape of `base`):
/// a bare `vector(1)` or `\mathbf{1}` claimed as a gradient is a vector of the gradient's
/// length, not of a new one.
pub fn lower_into_like(
    program: &Program,
    decls: &[Decl],
    base: &mut Graph,
    broadcast: bool,
    like: Option<Shape>,
) -> Result<NodeId> {
    let kinds = HashMap::new();
    let mut lw = Lowerer {
        graph: Graph::default(),
        u: Unifier::default(),
        decls: decls.iter().map(|d| (d.name.as_str(), d)).collect(),
        kinds: &kinds,
        vars: HashMap::new(),
        defs: HashMap::new(),
        named_dims: HashMap::new(),
        undeclared: vec![],
        progress: 0,
        closed: true,
        reductions: 0,
        strict: false,
        broadcast,
        sums: HashMap::new(),
    };
    // Unifier variable i is the base's dimension i, pinned by name so it cannot merge with another
    // (a product dimension is the product of its factors' variables).
    for d in &base.dims.dims {
        let id = match d.size {
            _ if !d.factors.is_empty() => {
                let fs: Vec<Option<DimId>> = d.factors.iter().map(|&f| Some(f)).collect();
                lw.u.product(&fs).expect("a product has factors")
            }
            Some(k) => lw.u.sized(k),
            None => lw.u.named(&d.name),
        };
        lw.named_dims.insert(d.name.clone(), id);
    }
    for (i, v) in base.vars.iter().enumerate() {
        lw.graph.vars.push(v.clone());
        let id = lw.graph.var_node(i as u32);
        lw.vars.insert(v.name.clone(), id);
    }
    let out = lw.program(program)?;
    if let Some(like) = like {
        // Unifier variable i is the base's dimension i; a failure leaves the shapes to differ.
        let s = lw.graph.shape(out);
        for (a, b) in [(s.rows, like.rows), (s.cols, like.cols)] {
            if let (Some(a), Some(b)) = (a, b) {
                let _ = lw.u.unify(a, b);
            }
        }
    }
    let k = base.dims.dims.len() as u32;
    let mut map = vec![u32::MAX; lw.u.len()];
    for d in 0..lw.u.len() as u32 {
        let r = lw.u.find(d);
        if r < k {
            map[d as usize] = r;
        }
    }
    let mut products = vec![];
    for d in 0..lw.u.len() as u32 {
        let r = lw.u.find(d);
        if map[r as usize] == u32::MAX {
            if lw.u.is_product(r) {
                products.push(d);
                continue;
            }
            map[r as usize] = base.dims.dims.len() as u32;
            let name = base.dims.fresh_name();
            base.dims.dims.push(crate::shape::Dim::atomic(name, None, false));
        }
        map[d as usize] = map[r as usize];
    }
    for d in products {
        let r = lw.u.find(d);
        if map[r as usize] == u32::MAX {
            let (atoms, c) = lw.u.product_parts(r);
            let mut ids: Vec<DimId> = atoms.iter().map(|&a| map[a as usize]).collect();
            if c != 1 || ids.is_empty() {
                ids.push(base.dims.sized(c));
            }
            map[r as usize] = base.dims.product_of(&ids);
        }
        map[d as usize] = map[r as usize];
    }
    let ids = base.import(&lw.graph, |d| map[d as usize]);
    Ok(ids[out.index()])
}

struct Failure {
    error: Error,
    progress: usize,
    undeclared: Vec<String>,
}

struct Lowerer<'a> {
    graph: Graph,
    u: Unifier,
    decls: HashMap<&'a str, &'a Decl>,
    kinds: &'a HashMap<String, Kind>,
    vars: HashMap<String, NodeId>,
    defs: HashMap<String, NodeId>,
    named_dims: HashMap<String, DimId>,
    undeclared: Vec<String>,
    progress: usize,
    /// Lowering a claim against an existing problem: no new variables may appear.
    closed: bool,
    /// Reductions to a scalar, a sign that the expression is a loss.
    reductions: usize,
    /// Refuse to broadcast an undeclared name: usage should say its kind first.
    strict: bool,
    /// Whether scalars broadcast over arrays at all.
    broadcast: bool,
    /// The terms of each sum just lowered from a chain of `+` and `-`, for the sum it is
    /// part of (see `binary`).
    sums: HashMap<NodeId, Vec<(f64, NodeId)>>,
}

impl<'a> Lowerer<'a> {
    fn run(
        program: &'a Program,
        decls: &'a [Decl],
        kinds: &'a HashMap<String, Kind>,
        strict: bool,
    ) -> Result<Lowered, Box<Failure>> {
        let mut lw = Lowerer {
            graph: Graph::default(),
            u: Unifier::default(),
            decls: decls.iter().map(|d| (d.name.as_str(), d)).collect(),
            kinds,
            vars: HashMap::new(),
            defs: HashMap::new(),
            named_dims: HashMap::new(),
            undeclared: vec![],
            progress: 0,
            closed: false,
            reductions: 0,
            strict,
            broadcast: true,
            sums: HashMap::new(),
        };
        let result = lw.program(program);
        match result {
            Ok(out) => Ok(lw.finish(out, program)),
            Err(error) => Err(Box::new(Failure { error, progress: lw.progress, undeclared: lw.undeclared })),
        }
    }

    fn program(&mut self, p: &Program) -> Result<NodeId> {
        for def in &p.defs {
            if self.decls.contains_key(def.name.as_str()) {
                return Err(Error::new(
                    Input::Expr,
                    def.name_span,
                    format!("`{}` is both declared and defined", def.name),
                )
                .with_label("defined here"));
            }
            if self.defs.contains_key(&def.name) || self.vars.contains_key(&def.name) {
                return Err(Error::new(
                    Input::Expr,
                    def.name_span,
                    format!("`{}` is already used or defined", def.name),
                )
                .with_label("defined again here")
                .with_note("each name may be defined once, before it is used"));
            }
            let v = self.expr(&def.value)?;
            self.defs.insert(def.name.clone(), v);
        }
        self.expr(&p.body)
    }

    /// Rebuild the graph with final dimension names, so equal shapes are equal ids.
    fn finish(mut self, out: NodeId, program: &Program) -> Lowered {
        let used: Vec<DimId> = self.graph.vars.iter().flat_map(|v| [v.shape.rows, v.shape.cols]).flatten().collect();
        let (table, map) = self.u.finish(&used);
        let mut g = Graph::new(table);
        g.vars = self
            .graph
            .vars
            .iter()
            .map(|v| Var { name: v.name.clone(), shape: v.shape.map(|d| map[d as usize]), symmetric: v.symmetric })
            .collect();
        let ids = g.import(&self.graph, |d| map[d as usize]);
        let inferred = self
            .undeclared
            .iter()
            .map(|n| (n.clone(), self.kinds.get(n).copied().unwrap_or_else(|| default_kind(n))))
            .collect();
        let definitions = program
            .defs
            .iter()
            .filter_map(|d| self.defs.get(&d.name).map(|&id| (d.name.clone(), ids[id.index()])))
            .collect();
        Lowered { graph: g, output: ids[out.index()], inferred, definitions, reductions: self.reductions }
    }

    fn describe(&mut self, id: NodeId) -> String {
        let s = self.graph.shape(id);
        self.u.describe(s)
    }

    fn unify(&mut self, a: DimId, b: DimId, span: Span, what: impl FnOnce() -> String) -> Result<()> {
        self.u.unify(a, b).map_err(|(x, y)| {
            let why = if x.parse::<usize>().is_ok() && y.parse::<usize>().is_ok() {
                format!("sizes {x} and {y} differ")
            } else {
                format!("{x} and {y} are different dimensions: the result must hold whatever their sizes")
            };
            Error::new(Input::Expr, span, what()).with_kind(ErrorKind::Shape).with_note(why)
        })
    }

    fn expr(&mut self, e: &Expr) -> Result<NodeId> {
        let id = self.expr_inner(e)?;
        // Constants fold as they are built: `1/0`, `log(0)` would be infinite or NaN.
        if let Some(v) = self.graph.fill_value(id).filter(|v| !v.is_finite()) {
            return Err(Error::new(Input::Expr, e.span, format!("`{}` has no finite value", snippet(e)))
                .with_kind(ErrorKind::Domain)
                .with_label(format!("this is {v}"))
                .with_note("a constant part of the expression divides by zero or leaves the domain of a function"));
        }
        self.progress += 1;
        Ok(id)
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<NodeId> {
        match &e.kind {
            ExprKind::Num(x) => {
                if !x.is_finite() {
                    return Err(Error::new(Input::Expr, e.span, "number too large")
                        .with_kind(ErrorKind::Limit)
                        .with_label("not a finite number"));
                }
                Ok(self.graph.constant(*x))
            }
            ExprKind::Name(n) => self.name(n, e.span),
            ExprKind::Neg(a) => {
                let a = self.expr(a)?;
                Ok(self.graph.neg(a))
            }
            ExprKind::Transpose(inner) => {
                let a = self.expr(inner)?;
                self.scalar_transposed(inner, a)?;
                Ok(self.graph.transpose(a))
            }
            ExprKind::Binary(op, l, r) => {
                let a = self.expr(l)?;
                let b = self.expr(r)?;
                self.binary(*op, a, b, l, r, e.span)
            }
            ExprKind::Call { func, func_span, args } => self.call(func, *func_span, args, e.span),
        }
    }

    /// `c'` with `c` undeclared and a scalar only by its first letter: transposing says it is
    /// not a scalar, so the default reading fails here and the kind search looks further
    /// (`c'*x`, `0.5*x'*A*x - b'*x` make `c` and `b` vectors).
    fn scalar_transposed(&self, e: &Expr, a: NodeId) -> Result<()> {
        let ExprKind::Name(n) = &e.kind else { return Ok(()) };
        let undeclared = !self.decls.contains_key(n.as_str()) && !self.defs.contains_key(n) && !self.closed;
        if undeclared
            && default_kind(n) == Kind::Scalar
            && !self.kinds.contains_key(n)
            && matches!(self.graph.op(a), crate::ir::Op::Var(_))
        {
            return Err(Error::new(
                Input::Expr,
                e.span,
                format!("`{n}'` transposes `{n}`, a scalar by its first letter"),
            )
            .with_kind(ErrorKind::Shape)
            .with_label("a scalar has no transpose to take")
            .with_note(format!("declare `{n}`, e.g. --decl \"{n}: vector(n)\"")));
        }
        Ok(())
    }

    fn name(&mut self, n: &str, span: Span) -> Result<NodeId> {
        if let Some(&d) = self.defs.get(n) {
            return Ok(d);
        }
        if let Some(&v) = self.vars.get(n) {
            return Ok(v);
        }
        if (n == "I" || n == "eye") && !self.decls.contains_key(n) {
            let d = self.u.fresh("n");
            return Ok(self.graph.identity(d));
        }
        if self.closed {
            let known: Vec<&str> = self.graph.vars.iter().map(|v| v.name.as_str()).collect();
            return Err(Error::new(Input::Expr, span, format!("`{n}` is not a variable of the expression"))
                .with_kind(ErrorKind::UnknownName)
                .with_label("unknown name")
                .with_note(format!("the expression's variables are: {}", known.join(", "))));
        }
        let (shape, symmetric) = match self.decls.get(n).copied() {
            Some(decl) => self.decl_shape(decl),
            None => {
                self.undeclared.push(n.to_string());
                let kind = self.kinds.get(n).copied().unwrap_or_else(|| default_kind(n));
                let shape = match kind {
                    Kind::Scalar => Shape::SCALAR,
                    Kind::Vector => Shape::col(self.u.fresh("n")),
                    Kind::Matrix => Shape::mat(self.u.fresh("m"), self.u.fresh("n")),
                };
                (shape, false)
            }
        };
        let idx = self.graph.vars.len() as u32;
        self.graph.vars.push(Var { name: n.to_string(), shape, symmetric });
        let id = self.graph.var_node(idx);
        self.vars.insert(n.to_string(), id);
        Ok(id)
    }

    fn dim(&mut self, spec: &Option<DimSpec>, hint: &str) -> DimId {
        match spec {
            None => self.u.fresh(hint),
            Some(spec) => self.dim_spec(spec),
        }
    }

    fn dim_spec(&mut self, spec: &DimSpec) -> DimId {
        match spec {
            DimSpec::Num(k) => self.u.sized(*k),
            DimSpec::Name(n) => self.named_dim(n),
            DimSpec::Product(fs) => {
                let ds: Vec<Option<DimId>> = fs.iter().map(|f| Some(self.dim_spec(f))).collect();
                self.u.product(&ds).expect("a product has factors")
            }
        }
    }

    fn named_dim(&mut self, n: &str) -> DimId {
        if let Some(&d) = self.named_dims.get(n) {
            return d;
        }
        let d = self.u.named(n);
        self.named_dims.insert(n.to_string(), d);
        d
    }

    fn decl_shape(&mut self, d: &Decl) -> (Shape, bool) {
        match &d.kind {
            DeclKind::Scalar => (Shape::SCALAR, false),
            DeclKind::Vector(n) => (Shape::col(self.dim(n, "n")), false),
            DeclKind::Matrix(m, n) => {
                let m = self.dim(m, "m");
                let n = self.dim(n, "n");
                (Shape::mat(m, n), false)
            }
            DeclKind::Symmetric(n) => {
                let n = self.dim(n, "n");
                (Shape::mat(n, n), true)
            }
        }
    }

    /// Whether `n` is a variable whose kind only its first letter (or a search) gave.
    fn is_undeclared(&self, n: &str) -> bool {
        !self.closed && !self.decls.contains_key(n) && !self.defs.contains_key(n)
    }

    /// The scalar `s` in every entry of an array of shape `like`: `s*vector(1)` (a constant
    /// folds into one filled array, so `1 + x` is `vector(1) + x` and prints as `1 + x`).
    fn broadcast(&mut self, s: NodeId, like: Shape) -> NodeId {
        let ones = self.graph.fill(1.0, like);
        self.graph.scale(s, ones)
    }

    fn same_shape(&mut self, a: NodeId, b: NodeId, span: Span, what: &str, l: &Expr, r: &Expr) -> Result<()> {
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        let mismatch = |this: &mut Self| {
            let (da, db) = (this.describe(a), this.describe(b));
            Error::new(Input::Expr, span, format!("cannot {what} {da} and {db}"))
                .with_kind(ErrorKind::Shape)
                .with_label(format!("left side is {da}, right side is {db}"))
                .with_note(format!("left: `{}`; right: `{}`", snippet(l), snippet(r)))
        };
        if sa.rows.is_some() != sb.rows.is_some() || sa.cols.is_some() != sb.cols.is_some() {
            let mut err = mismatch(self);
            if sa.is_scalar() != sb.is_scalar() {
                let (s, other) = if sa.is_scalar() { (l, sb) } else { (r, sa) };
                let fill = if other.is_matrix() {
                    "matrix(1)"
                } else if other.is_col() {
                    "vector(1)"
                } else {
                    "vector(1)'"
                };
                let s = snippet(s);
                err = err.with_note(if s.ends_with('…') {
                    format!("to use a scalar in every entry, multiply it by {fill}")
                } else {
                    format!("to use `{s}` in every entry, write `{s}*{fill}`")
                });
            }
            return Err(err);
        }
        for (x, y) in [(sa.rows, sb.rows), (sa.cols, sb.cols)] {
            if let (Some(x), Some(y)) = (x, y) {
                if self.u.unify(x, y).is_err() {
                    return Err(mismatch(self));
                }
            }
        }
        Ok(())
    }

    fn binary(&mut self, op: BinOp, a: NodeId, b: NodeId, l: &Expr, r: &Expr, span: Span) -> Result<NodeId> {
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        if matches!(op, BinOp::Div | BinOp::EDiv) && self.graph.fill_value(b) == Some(0.0) {
            return Err(Error::new(Input::Expr, r.span, format!("division by zero: `{}` is 0", snippet(r)))
                .with_kind(ErrorKind::Domain)
                .with_label("this is zero")
                .with_note("a constant zero divisor has no finite quotient"));
        }
        let g = &mut self.graph;
        match op {
            BinOp::Add | BinOp::Sub => {
                // NumPy semantics: a scalar added to an array is added to every entry.
                let bare = |e: &Expr| matches!(&e.kind, ExprKind::Name(n) if self.is_undeclared(n));
                let (a, b) = match (sa.is_scalar(), sb.is_scalar()) {
                    _ if !self.broadcast => (a, b),
                    (true, false) if !(self.strict && bare(l)) => (self.broadcast(a, sb), b),
                    (false, true) if !(self.strict && bare(r)) => (a, self.broadcast(b, sa)),
                    _ => (a, b),
                };
                self.same_shape(a, b, span, if op == BinOp::Add { "add" } else { "subtract" }, l, r)?;
                // A chain of + and - is one sum however it is grouped (the text does not say:
                // `a + b + c` is read as (a + b) + c, chains over 32 terms are regrouped), as
                // the printer writes a sum added whole: `2*a + 2*b - 4*c` is not
                // 2*(a + b) - 4*c. A subtracted group keeps its brackets: `a - (b + c)`.
                let chained = |e: &Expr| matches!(e.kind, ExprKind::Binary(BinOp::Add | BinOp::Sub, ..));
                let left = if chained(l) { self.sums.remove(&a) } else { None };
                let mut terms = left.unwrap_or_else(|| vec![(1.0, a)]);
                match op {
                    BinOp::Add => match if chained(r) { self.sums.remove(&b) } else { None } {
                        Some(right) => terms.extend(right),
                        None => terms.push((1.0, b)),
                    },
                    _ => terms.push((-1.0, b)),
                }
                let sum = self.graph.lin(terms.clone());
                self.sums.insert(sum, terms);
                Ok(sum)
            }
            BinOp::Mul => {
                if sa.is_scalar() || sb.is_scalar() {
                    return Ok(g.mul(a, b));
                }
                let ok = match (sa.cols, sb.rows) {
                    (None, None) => true,
                    (Some(x), Some(y)) => self.u.unify(x, y).is_ok(),
                    _ => false,
                };
                if !ok {
                    let (da, db) = (self.describe(a), self.describe(b));
                    let mut err = Error::new(Input::Expr, span, format!("cannot multiply {da} by {db}"))
                        .with_kind(ErrorKind::Shape)
                        .with_label(format!("`{}` is {da}, `{}` is {db}", snippet(l), snippet(r)))
                        .with_note("a matrix product A*B needs the columns of A to match the rows of B");
                    if sa.is_col() && sb.is_col() {
                        err = err.with_note(format!("for an inner product write `{}'*{}`", snippet(l), snippet(r)));
                    }
                    return Err(err);
                }
                Ok(self.graph.matmul(vec![a, b]))
            }
            BinOp::Div => {
                if !sb.is_scalar() {
                    let db = self.describe(b);
                    return Err(Error::new(Input::Expr, r.span, format!("cannot divide by {db}"))
                        .with_kind(ErrorKind::Shape)
                        .with_label(format!("this is {db}, not a scalar"))
                        .with_note("use ./ for elementwise division, or inv(A) for a matrix inverse"));
                }
                let rb = g.pow(b, -1.0);
                Ok(g.scale(rb, a))
            }
            BinOp::EMul | BinOp::EDiv => {
                let b = if op == BinOp::EDiv { self.graph.pow(b, -1.0) } else { b };
                if sa.is_scalar() || sb.is_scalar() {
                    return Ok(self.graph.mul(a, b));
                }
                self.same_shape(a, b, span, "combine elementwise", l, r)?;
                Ok(self.graph.hadamard(a, b))
            }
            BinOp::EPow | BinOp::Pow => self.power(op, a, b, l, r, span),
            BinOp::Kron => Ok(self.kron(a, b)),
        }
    }

    fn power(&mut self, op: BinOp, a: NodeId, b: NodeId, l: &Expr, r: &Expr, span: Span) -> Result<NodeId> {
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        if !sb.is_scalar() {
            let db = self.describe(b);
            return Err(Error::new(Input::Expr, r.span, format!("the exponent must be a scalar, not {db}"))
                .with_kind(ErrorKind::Shape)
                .with_label(format!("this exponent is {db}")));
        }
        let p = self.graph.as_const(b);
        if op == BinOp::EPow || sa.is_scalar() {
            return match p {
                Some(p) => Ok(self.graph.pow(a, p)),
                None if sa.is_scalar() => {
                    // a^b = exp(b*log(a)) for a symbolic exponent.
                    let la = self.graph.map(Func::Log, a);
                    let e = self.graph.scale(b, la);
                    Ok(self.graph.map(Func::Exp, e))
                }
                None => Err(Error::new(Input::Expr, r.span, "the exponent of `.^` must be a number")
                    .with_kind(ErrorKind::Unsupported)
                    .with_label("not a constant")),
            };
        }
        if !sa.is_matrix() {
            let da = self.describe(a);
            return Err(Error::new(
                Input::Expr,
                span,
                format!("`^` is the matrix power, but `{}` is {da}", snippet(l)),
            )
            .with_kind(ErrorKind::Shape)
            .with_label("not a square matrix")
            .with_note(format!(
                "use `{}.^k` for an elementwise power, or norm2({})^2 for the squared norm",
                snippet(l),
                snippet(l)
            )));
        }
        let k = match p {
            Some(k) if k.fract() == 0.0 && k.abs() <= MAX_MATRIX_POWER => k as i32,
            Some(k) if k.fract() == 0.0 => {
                return Err(Error::new(
                    Input::Expr,
                    r.span,
                    format!("a matrix power of at most {MAX_MATRIX_POWER} factors is supported, not {}", k.abs()),
                )
                .with_kind(ErrorKind::Limit)
                .with_label(format!("exponent is {k}")));
            }
            _ => {
                let transpose = matches!(&r.kind, ExprKind::Name(t) if t == "T");
                let err = Error::new(Input::Expr, r.span, "a matrix power needs an integer exponent")
                    .with_kind(ErrorKind::Unsupported);
                let err = if transpose {
                    err.with_note(format!("`T` is a declared name here; for the transpose write `{}'`", snippet(l)))
                } else {
                    err
                };
                return Err(err
                    .with_label(match p {
                        Some(k) => format!("exponent is {k}"),
                        None => "exponent is not a number".into(),
                    })
                    .with_note(format!("use `{}.^p` for an elementwise power", snippet(l))));
            }
        };
        let (rows, cols) = (sa.rows.unwrap(), sa.cols.unwrap());
        let da = self.describe(a);
        self.unify(rows, cols, l.span, || {
            format!("a matrix power needs a square matrix, but `{}` is {da}", snippet(l))
        })
        .map_err(|e| e.with_label(format!("this is {da}, not square")))?;
        if k == 0 {
            return Ok(self.graph.identity(rows));
        }
        let base = if k < 0 { self.graph.inv(a) } else { a };
        Ok(self.graph.matmul(vec![base; k.unsigned_abs() as usize]))
    }

    fn call(&mut self, func: &str, fspan: Span, args: &[Expr], span: Span) -> Result<NodeId> {
        let Some(builtin) = Builtin::from_name(func) else {
            let mut err = Error::new(Input::Expr, fspan, format!("unknown function `{func}`"))
                .with_kind(ErrorKind::UnknownName)
                .with_label("not a known function");
            if let Some(s) = closest(func) {
                err = err.with_note(format!("did you mean `{s}`?"));
            }
            let known: Vec<&str> = Builtin::names().collect();
            return Err(err.with_note(format!("known functions: {}", known.join(", "))));
        };
        match builtin {
            Builtin::Eye => return self.eye(args, span),
            Builtin::Vector | Builtin::Matrix => return self.filled(func, args, span),
            Builtin::Kron | Builtin::Unvec | Builtin::Commutation => return self.reshaping(builtin, args, span),
            _ => {}
        }
        let arity_err = |n: usize| {
            Error::new(
                Input::Expr,
                span,
                format!("`{func}` takes {n} argument{}, got {}", if n == 1 { "" } else { "s" }, args.len()),
            )
            .with_label("wrong number of arguments")
        };
        if args.len() != 1 {
            return Err(arity_err(1));
        }
        // log(det(A)) is log det.
        if builtin == Builtin::Entrywise(Func::Log) {
            if let ExprKind::Call { func: inner, args: inner_args, .. } = &args[0].kind {
                if inner == "det" && inner_args.len() == 1 {
                    let a = self.expr(&inner_args[0])?;
                    self.square(a, &inner_args[0], "det")?;
                    return Ok(self.graph.logdet(a));
                }
            }
        }
        let a = self.expr(&args[0])?;
        if matches!(func, "sum" | "norm1" | "norm2" | "tr" | "trace" | "det" | "logdet") {
            self.reductions += 1;
        }
        let g = &mut self.graph;
        match builtin {
            Builtin::Entrywise(f) => Ok(g.map(f, a)),
            Builtin::Sum => Ok(g.sum(a)),
            Builtin::Norm1 => Ok(g.norm1(a)),
            Builtin::Norm2 => Ok(g.norm2(a)),
            Builtin::Transpose => Ok(g.transpose(a)),
            Builtin::Vec => {
                let s = g.shape(a);
                match (s.rows, s.cols) {
                    (Some(m), Some(n)) => {
                        let len = self.u.product(&[Some(m), Some(n)]).expect("two factors");
                        Ok(self.graph.vectorize_shaped(a, len))
                    }
                    _ => Ok(g.vectorize_shaped(a, 0)),
                }
            }
            Builtin::Trace => {
                self.square(a, &args[0], func)?;
                Ok(self.graph.trace(a))
            }
            Builtin::Det => {
                self.square(a, &args[0], func)?;
                Ok(self.graph.det(a))
            }
            Builtin::LogDet => {
                self.square(a, &args[0], func)?;
                Ok(self.graph.logdet(a))
            }
            Builtin::Inv => {
                self.square(a, &args[0], func)?;
                Ok(self.graph.inv(a))
            }
            Builtin::Diag => {
                let s = self.graph.shape(a);
                if s.is_col() {
                    Ok(self.graph.diag(a))
                } else if s.is_matrix() {
                    self.square(a, &args[0], func)?;
                    Ok(self.graph.diag_part(a))
                } else {
                    let d = self.describe(a);
                    Err(Error::new(
                        Input::Expr,
                        args[0].span,
                        format!("diag needs a vector or a square matrix, not {d}"),
                    )
                    .with_kind(ErrorKind::Shape)
                    .with_label(format!("this is {d}")))
                }
            }
            Builtin::Softmax => {
                let s = self.graph.shape(a);
                if s.is_col() {
                    Ok(self.graph.softmax(a))
                } else {
                    // A matrix is refused rather than read column by column: `softmax(W*X)` of a
                    // batch is not a scalar loss's usual spelling, and a silent choice of axis
                    // would be a guess.
                    let d = self.describe(a);
                    let want = if s.is_row() { "a column vector" } else { "a vector" };
                    Err(Error::new(Input::Expr, args[0].span, format!("softmax takes {want}, not {d}"))
                        .with_kind(ErrorKind::Shape)
                        .with_label(format!("this is {d}"))
                        .with_note("softmax(z) = exp(z)/sum(exp(z)) of a column vector z"))
                }
            }
            // Dispatched above, before the one-argument functions.
            Builtin::Eye
            | Builtin::Vector
            | Builtin::Matrix
            | Builtin::Kron
            | Builtin::Unvec
            | Builtin::Commutation => {
                unreachable!("dispatched before the one-argument functions")
            }
        }
    }

    fn square(&mut self, a: NodeId, e: &Expr, func: &str) -> Result<()> {
        let s = self.graph.shape(a);
        if s.is_scalar() {
            return Ok(());
        }
        let d = self.describe(a);
        match (s.rows, s.cols) {
            (Some(m), Some(n)) => self
                .unify(m, n, e.span, || format!("`{func}` needs a square matrix, but `{}` is {d}", snippet(e)))
                .map_err(|err| err.with_label(format!("this is {d}, not square"))),
            _ => Err(Error::new(
                Input::Expr,
                e.span,
                format!("`{func}` needs a square matrix, but `{}` is {d}", snippet(e)),
            )
            .with_kind(ErrorKind::Shape)
            .with_label(format!("this is {d}, not a matrix"))),
        }
    }

    fn eye(&mut self, args: &[Expr], span: Span) -> Result<NodeId> {
        let d = match args {
            [] => self.u.fresh("n"),
            [e] if self.is_dim_expr(e) => self.dim_expr(e)?,
            _ => {
                return Err(Error::new(
                    Input::Expr,
                    span,
                    "`eye` takes one dimension: a name such as `n` or a positive integer",
                )
                .with_label("expected eye(n) or eye(3)"))
            }
        };
        Ok(self.graph.identity(d))
    }

    /// Whether `e` reads as a dimension: a name, a positive integer, or a product of those (`m*n`).
    fn is_dim_expr(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Name(_) | ExprKind::Num(_) => true,
            ExprKind::Binary(BinOp::Mul, l, r) => self.is_dim_expr(l) && self.is_dim_expr(r),
            _ => false,
        }
    }

    /// The dimension written by `e` (see `is_dim_expr`).
    fn dim_expr(&mut self, e: &Expr) -> Result<DimId> {
        match &e.kind {
            ExprKind::Name(n) => Ok(self.named_dim(n)),
            ExprKind::Num(k) => self.literal_size(*k, e.span),
            ExprKind::Binary(BinOp::Mul, l, r) => {
                let (a, b) = (self.dim_expr(l)?, self.dim_expr(r)?);
                Ok(self.u.product(&[Some(a), Some(b)]).expect("two factors"))
            }
            _ => Err(Error::new(
                Input::Expr,
                e.span,
                "expected a dimension: a name such as `n`, a positive integer, or a product `m*n`",
            )
            .with_label("not a dimension")),
        }
    }

    /// `kron(a, b)`: any shapes, the result's dimensions the products of theirs.
    fn kron(&mut self, a: NodeId, b: NodeId) -> NodeId {
        let (sa, sb) = (self.graph.shape(a), self.graph.shape(b));
        let shape = Shape { rows: self.u.product(&[sa.rows, sb.rows]), cols: self.u.product(&[sa.cols, sb.cols]) };
        self.graph.kron_shaped(a, b, shape)
    }

    /// `kron(A, B)`, `unvec(v, m, n)`, `commutation(m, n)`: the functions whose result shape is a
    /// product of dimensions.
    fn reshaping(&mut self, builtin: Builtin, args: &[Expr], span: Span) -> Result<NodeId> {
        let usage = builtin.usage();
        let func = match builtin {
            Builtin::Kron => "kron",
            Builtin::Unvec => "unvec",
            _ => "commutation",
        };
        let want = if builtin == Builtin::Unvec { 3 } else { 2 };
        if args.len() != want {
            return Err(Error::new(Input::Expr, span, format!("`{func}` takes {want} arguments, got {}", args.len()))
                .with_label("wrong number of arguments")
                .with_note(usage));
        }
        let dims_from = match builtin {
            Builtin::Kron => args.len(),
            Builtin::Unvec => 1,
            _ => 0,
        };
        for e in &args[dims_from..] {
            if !self.is_dim_expr(e) {
                return Err(Error::new(Input::Expr, e.span, format!("`{func}` expects a dimension here"))
                    .with_label("not a dimension: a name such as `n`, a positive integer, or `m*n`")
                    .with_note(usage));
            }
        }
        match builtin {
            Builtin::Kron => {
                let a = self.expr(&args[0])?;
                let b = self.expr(&args[1])?;
                Ok(self.kron(a, b))
            }
            Builtin::Unvec => {
                let v = self.expr(&args[0])?;
                let (m, n) = (self.dim_expr(&args[1])?, self.dim_expr(&args[2])?);
                let s = self.graph.shape(v);
                let dv = self.describe(v);
                if !s.is_col() {
                    return Err(Error::new(Input::Expr, args[0].span, format!("`unvec` needs a vector, not {dv}"))
                        .with_label(format!("this is {dv}"))
                        .with_note(usage));
                }
                let len = self.u.product(&[Some(m), Some(n)]).expect("two factors");
                let want = self.u.display(len);
                self.unify(s.rows.unwrap(), len, args[0].span, || {
                    format!("`unvec(v, m, n)` needs a vector of length {want}, but this is {dv}")
                })
                .map_err(|e| e.with_label(format!("this is {dv}")))?;
                Ok(self.graph.unvec(v, m, n))
            }
            _ => {
                let (m, n) = (self.dim_expr(&args[0])?, self.dim_expr(&args[1])?);
                let p = self.u.product(&[Some(m), Some(n)]).expect("two factors");
                Ok(self.graph.commutation_shaped(m, n, p))
            }
        }
    }

    fn literal_size(&mut self, k: f64, span: Span) -> Result<DimId> {
        if k.fract() != 0.0 || !(1.0..=1e6).contains(&k) {
            return Err(Error::new(Input::Expr, span, "a dimension must be a positive integer (at most 1000000)")
                .with_kind(ErrorKind::Limit)
                .with_label(format!("{k} is not a valid size")));
        }
        Ok(self.u.sized(k as usize))
    }

    /// `vector(c)`, `matrix(c)`: constant-filled, shape inferred (or `vector(c, n)`, `matrix(c, m, n)`).
    fn filled(&mut self, func: &str, args: &[Expr], span: Span) -> Result<NodeId> {
        let want = if func == "vector" { 2 } else { 3 };
        let value = args.first().map(|a| self.const_value(a));
        let c = match value {
            Some(Some(c)) if args.len() == 1 || args.len() == want => c,
            _ => {
                return Err(Error::new(Input::Expr, span, format!("`{func}` takes a constant fill value: {func}(1)"))
                    .with_label("expected a number as the only argument")
                    .with_note(format!("{func}(c) is the {func} with every entry c, its size inferred from context")))
            }
        };
        let mut dims = vec![];
        for (i, hint) in ["n", "n"].iter().enumerate().take(want - 1) {
            dims.push(match args.get(i + 1) {
                None => self.u.fresh(hint),
                Some(e) if self.is_dim_expr(e) => self.dim_expr(e)?,
                Some(other) => {
                    return Err(Error::new(Input::Expr, other.span, "expected a dimension name or a positive integer")
                        .with_label("not a dimension"))
                }
            });
        }
        let shape = if func == "vector" { Shape::col(dims[0]) } else { Shape::mat(dims[0], dims[1]) };
        Ok(self.graph.fill(c, shape))
    }

    fn const_value(&self, e: &Expr) -> Option<f64> {
        match &e.kind {
            ExprKind::Num(x) if x.is_finite() => Some(*x),
            ExprKind::Neg(a) => self.const_value(a).map(|x| -x),
            _ => None,
        }
    }
}

/// Longest sub-expression shown in a message, in characters.
const SNIPPET_CHARS: usize = 40;

/// A short rendering of a sub-expression for messages (cut with `…` when long).
fn snippet(e: &Expr) -> String {
    matdiff_syntax::to_plain_snippet(e, SNIPPET_CHARS)
}

/// The known function nearest to a misspelling, if any is close.
fn closest(name: &str) -> Option<&'static str> {
    fn dist(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut prev = row[0];
            row[0] = i;
            for j in 1..=b.len() {
                let cur = row[j];
                row[j] = (row[j] + 1).min(row[j - 1] + 1).min(prev + usize::from(a[i - 1] != b[j - 1]));
                prev = cur;
            }
        }
        row[b.len()]
    }
    // Two edits are a plausible typo only in a longer name (`tarce`), not in `foo` → `cos`.
    let close = |d: usize| d == 1 || (d == 2 && name.chars().count() >= 5);
    Builtin::names().map(|f| (dist(name, f), f)).filter(|&(d, _)| close(d)).min().map(|p| p.1)
}
