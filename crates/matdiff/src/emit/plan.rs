//! What every target shares: the signature (parameter order, dimensions and the checks that
//! bind them), the input domains for random checks, and the schedule of named values.

use super::names::Namer;
use super::template::{prec, Item, ItemKind, Piece, Template};
use matdiff_core::DimId;
use matdiff_core::{Graph, NodeId, Op};
use matdiff_syntax::{Error, ErrorKind, Input, Result};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// Names and sizes the templates are written with.
pub(crate) struct Cx<'a> {
    pub g: &'a Graph,
    /// Parameter name of each variable (indexed like `Graph::vars`).
    pub params: Vec<String>,
    /// How each dimension is written: its local name, or its literal size.
    pub dims: Vec<String>,
}

impl Cx<'_> {
    pub fn dim(&self, d: DimId) -> &str {
        &self.dims[d as usize]
    }
    /// The dimension as a whole argument or tuple element: a product without its parentheses
    /// (`m * n`; Rust warns about `f((m * n))`).
    pub fn dim_arg(&self, d: DimId) -> &str {
        let s = self.dim(d);
        s.strip_prefix('(').and_then(|s| s.strip_suffix(')')).unwrap_or(s)
    }
    pub fn is_var(&self, item: Item) -> bool {
        item.is_node() && matches!(self.g.op(item.node), Op::Var(_))
    }
}

/// Code generation for one target language.
pub(crate) trait Backend {
    /// The value of node `n` in terms of other items.
    fn node(&mut self, cx: &Cx, n: NodeId) -> Template;
    /// A factorization of the square matrix `k`, reused by its solves, inverse and log det.
    fn factor(&mut self, cx: &Cx, k: NodeId) -> Template;
    /// Derived value `k`, made while writing another template.
    fn derived(&mut self, k: u32) -> Template;
    /// The name of a factorization of a matrix written as `base` (or of an unnamed one).
    fn factor_name(&self, cx: &Cx, k: NodeId, base: Option<&str>) -> String;
    /// Values too cheap to be worth a name even when used twice.
    fn trivial(&self, cx: &Cx, item: Item) -> bool;
}

/// Key of a derived solve: the matrix, whether it is transposed, and the right-hand side as
/// `(factor, transposed)` pairs.
pub(crate) type SolveKey = (NodeId, bool, Vec<(NodeId, bool)>);

/// Values a backend derives while writing templates (solves inside products), each made
/// once: the same solve asked for twice is the same item.
#[derive(Default)]
pub(crate) struct Derived {
    templates: Vec<Template>,
    keys: HashMap<SolveKey, Item>,
}

impl Derived {
    /// The item computing `t`; `key` identifies equal computations (None: never shared).
    pub fn intern(&mut self, key: Option<SolveKey>, t: Template) -> Item {
        let last = t.last_dependency();
        let existing = key.as_ref().and_then(|k| self.keys.get(k)).copied();
        if let Some(it) = existing {
            if it.node <= last {
                return it;
            }
        }
        let it = Item::derived(last, self.templates.len() as u32);
        self.templates.push(t);
        if let Some(old) = existing {
            // The same value written with later inputs (`y'` for `y`): the earlier-placed
            // form is computed, and the other refers to it.
            let ItemKind::Derived(k) = old.kind else { unreachable!("derived items are derived") };
            self.templates[k as usize] = Template::alias(it);
        }
        if let Some(k) = key {
            self.keys.insert(k, it);
        }
        it
    }
    pub fn get(&self, k: u32) -> Template {
        self.templates[k as usize].clone()
    }
}

/// One variable's entry in the signature and the dimensions its shape fixes.
#[derive(Clone, Debug)]
pub(crate) struct Param {
    pub var: usize,
    /// `(axis, dim)` for each dimension first seen on this parameter.
    pub binds: Vec<(usize, DimId)>,
}

/// Parameters in signature order: declared ones in declaration order, then the others in
/// order of appearance (the order of `Graph::vars`).
pub(crate) fn params(g: &Graph, decl_order: &[String]) -> Vec<Param> {
    let mut order: Vec<usize> = decl_order.iter().filter_map(|n| g.var_id(n).map(|v| v as usize)).collect();
    order.dedup();
    for v in 0..g.vars().len() {
        if !order.contains(&v) {
            order.push(v);
        }
    }
    let mut bound = vec![false; g.dims().dims().len()];
    order
        .into_iter()
        .map(|var| {
            let s = g.vars()[var].shape;
            let mut binds = vec![];
            let axes: Vec<DimId> = match (s.rows, s.cols) {
                (None, None) => vec![],
                (Some(n), None) | (None, Some(n)) => vec![n],
                (Some(m), Some(n)) => vec![m, n],
            };
            for (axis, d) in axes.into_iter().enumerate() {
                // A product dimension (`m*n`) follows from its factors; it binds nothing.
                if !bound[d as usize] && g.dims().dims()[d as usize].size.is_none() && !g.dims().is_product(d) {
                    bound[d as usize] = true;
                    binds.push((axis, d));
                }
            }
            Param { var, binds }
        })
        .collect()
}

/// The parameters of a function that does not take variable `var` (a closed-form update of
/// it): the others in the same order, each dimension bound by the first of them that shows it.
pub(crate) fn params_without(g: &Graph, ps: &[Param], var: usize) -> Vec<Param> {
    let mut bound = vec![false; g.dims().dims().len()];
    ps.iter()
        .filter(|p| p.var != var)
        .map(|p| {
            let s = g.vars()[p.var].shape;
            let axes: Vec<DimId> = [s.rows, s.cols].into_iter().flatten().collect();
            let binds = axes
                .into_iter()
                .enumerate()
                .filter(|&(_, d)| {
                    let free = !bound[d as usize] && g.dims().dims()[d as usize].size.is_none();
                    bound[d as usize] |= free;
                    free
                })
                .collect();
            Param { var: p.var, binds }
        })
        .collect()
}

/// Parameter names, indexed like `Graph::vars`: the variables' own names unless the language
/// reserves them (then with a trailing `_`).
pub(crate) fn param_names(g: &Graph, ps: &[Param], namer: &mut Namer) -> Vec<String> {
    let mut names = vec![String::new(); g.vars().len()];
    for p in ps {
        names[p.var] = namer.claim(&g.vars()[p.var].name);
    }
    names
}

/// Refuse dimensions the inputs cannot determine (they appear only in `eye(n)` and the like).
/// What every target starts from: parameters in declaration order, the roots (value, then
/// gradients), the names of parameters, dimensions and results, and the namer that keeps
/// further names clear of them.
pub(crate) struct Setup<'g> {
    pub ps: Vec<Param>,
    pub roots: Vec<NodeId>,
    pub namer: Namer,
    pub cx: Cx<'g>,
    /// `f`, then one `grad_<var>` per gradient.
    pub root_names: Vec<String>,
}

pub(crate) fn setup<'g>(
    p: &'g crate::problem::Problem,
    grads: &crate::problem::Gradients,
    reserved: &'static [&'static str],
) -> Result<Setup<'g>> {
    let g = &p.graph;
    let mut roots = vec![p.output];
    roots.extend(&grads.nodes);
    let mut wanted = vec!["f".to_string()];
    wanted.extend(grads.vars.iter().map(|&v| format!("grad_{}", g.vars()[v].name)));
    setup_roots(p, roots, &wanted, reserved)
}

/// [`setup`] for any roots, returned as the names `wanted` (made unique).
pub(crate) fn setup_roots<'g>(
    p: &'g crate::problem::Problem,
    roots: Vec<NodeId>,
    wanted: &[String],
    reserved: &'static [&'static str],
) -> Result<Setup<'g>> {
    let g = &p.graph;
    let ps = params(g, &super::decl_order(p));
    check_dims(g, &ps, &roots)?;
    let mut namer = Namer::new(reserved);
    let param_names = param_names(g, &ps, &mut namer);
    let mut dims: Vec<String> = vec![];
    for d in g.dims().dims() {
        let text = match d.size {
            Some(k) => k.to_string(),
            // Factors come before their products.
            None if !d.factors.is_empty() => {
                format!("({})", d.factors.iter().map(|&f| dims[f as usize].as_str()).collect::<Vec<_>>().join(" * "))
            }
            None => {
                let want = if param_names.contains(&d.name) { format!("n_{}", d.name) } else { d.name.clone() };
                namer.claim(&want)
            }
        };
        dims.push(text);
    }
    let root_names = wanted.iter().map(|w| namer.claim(w)).collect();
    Ok(Setup { ps, roots, namer, cx: Cx { g, params: param_names, dims }, root_names })
}

/// Whether dimension `d` is known, given which atomic dimensions are (`known`, by id): a
/// product is known when its factors are.
pub(crate) fn dim_known(g: &Graph, known: &[bool], d: DimId) -> bool {
    g.dims().factors(d).iter().all(|&f| known[f as usize])
}

/// The parameters in the order their shapes are checked: those with a product dimension last,
/// after the parameters that bind its factors.
pub(crate) fn check_order<'p>(g: &Graph, ps: &'p [Param]) -> Vec<&'p Param> {
    let has_product = |p: &Param| {
        [g.vars()[p.var].shape.rows, g.vars()[p.var].shape.cols].into_iter().flatten().any(|d| g.dims().is_product(d))
    };
    ps.iter().filter(|p| !has_product(p)).chain(ps.iter().filter(|p| has_product(p))).collect()
}

pub(crate) fn check_dims(g: &Graph, params: &[Param], roots: &[NodeId]) -> Result<()> {
    let bound: Vec<DimId> = params.iter().flat_map(|p| p.binds.iter().map(|b| b.1)).collect();
    let mut known: Vec<bool> = g.dims().dims().iter().map(|d| d.size.is_some()).collect();
    for &d in &bound {
        known[d as usize] = true;
    }
    for n in g.reachable(roots) {
        let s = g.shape(n);
        let inner = match g.op(n) {
            Op::Commutation(a, b) => vec![*a, *b],
            _ => vec![],
        };
        for d in [s.rows, s.cols].into_iter().flatten().chain(inner) {
            if !dim_known(g, &known, d) {
                return Err(Error::unspanned(
                    Input::None,
                    format!(
                        "cannot export code: the size of dimension {} does not follow from any input",
                        g.dims().name(d)
                    ),
                )
                .with_kind(ErrorKind::Unsupported)
                .with_note("give it a literal size (eye(3)) or use it in a variable's declaration"));
            }
        }
    }
    Ok(())
}

pub(crate) use matdiff_exec::{domains, Domain};

/// One statement of the generated function: `name = text`.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub name: String,
    pub text: String,
    pub item: Item,
    /// The text is just another value's name (a copy, where the language needs one).
    pub copy: bool,
}

/// Inline text longer than this gets its own line even when used once.
const LONG: usize = 64;

/// The functions of a derivative module, each with its statements: `jacobian` comes with
/// `f_value` (the function its check differentiates); `f_grad_hess` and `f_grad_hvp` are one
/// function returning every root. `fresh` starts the backend's derived values anew for each.
#[allow(clippy::type_complexity)]
pub(crate) fn schedule_parts<B: Backend>(
    cx: &Cx,
    be: &mut B,
    fresh: impl Fn(&mut B),
    order: crate::derivative::Order,
    function: &'static str,
    (roots, root_names): (&[NodeId], &[String]),
    namer: &mut Namer,
) -> (Vec<(&'static str, Vec<NodeId>, Vec<String>)>, Vec<Vec<Line>>) {
    let parts: Vec<(&'static str, Vec<NodeId>, Vec<String>)> = match order {
        crate::derivative::Order::First => vec![
            ("f_value", vec![roots[0]], vec![root_names[0].clone()]),
            (function, vec![roots[1]], vec![root_names[1].clone()]),
        ],
        _ => vec![(function, roots.to_vec(), root_names.to_vec())],
    };
    let scheduled = parts
        .iter()
        .map(|(_, rs, names)| {
            fresh(be);
            schedule(cx, be, rs, names, namer)
        })
        .collect();
    (parts, scheduled)
}

/// Decide which values get a name and write every statement, in dependency order.
///
/// `roots[i]` is returned as `root_names[i]`. A value gets a local when the written code refers
/// to it more than once (after solves replaced inverses and so on, so the counts are those of
/// the code, not of the IR), when it is a factorization, or when its text would be long.
pub(crate) fn schedule(
    cx: &Cx,
    be: &mut dyn Backend,
    roots: &[NodeId],
    root_names: &[String],
    namer: &mut Namer,
) -> Vec<Line> {
    // Build templates from the roots down; a template only refers to smaller items, so
    // taking the largest pending item first sees every user of an item before the item.
    let mut templates: HashMap<Item, Template> = HashMap::new();
    let mut pending: BTreeSet<Item> = roots.iter().map(|&r| Item::node(r)).collect();
    let mut all = vec![];
    while let Some(it) = pending.pop_last() {
        let t = match it.kind {
            ItemKind::Node => be.node(cx, it.node),
            ItemKind::Factor => be.factor(cx, it.node),
            ItemKind::Derived(k) => be.derived(k),
        };
        for h in t.holes() {
            debug_assert!(h < it, "templates refer to smaller items");
            pending.insert(h);
        }
        templates.insert(it, t);
        all.push(it);
    }
    all.reverse();

    // Equal code is one value: an item whose template, with its holes resolved, is an earlier
    // item's template is that item (IR nodes that differ but are written alike, the same solve
    // reached from two products); an alias is the value it names.
    let mut rep: HashMap<Item, Item> = HashMap::new();
    let mut by_code: HashMap<String, Item> = HashMap::new();
    for &it in &all {
        let t = &templates[&it];
        let r = if t.prec == prec::INHERIT {
            rep[&t.holes().next().expect("an alias has one hole")]
        } else {
            *by_code.entry(code_key(t, &rep)).or_insert(it)
        };
        rep.insert(it, r);
    }

    // Uses of each value in the code, from the roots down.
    let mut count: HashMap<Item, u32> = HashMap::new();
    let mut pending: BTreeSet<Item> = roots.iter().map(|&r| rep[&Item::node(r)]).collect();
    let mut live = vec![];
    while let Some(it) = pending.pop_last() {
        for h in templates[&it].holes() {
            let h = rep[&h];
            *count.entry(h).or_insert(0) += 1;
            pending.insert(h);
        }
        live.push(it);
    }
    live.reverse();

    let mut root_of: HashMap<Item, usize> = HashMap::new();
    for (i, &r) in roots.iter().enumerate() {
        root_of.entry(rep[&Item::node(r)]).or_insert(i);
    }
    // A matrix that is factored reads best under its own name (`K = …; K_chol = …`).
    let factored: Vec<Item> = live.iter().filter(|it| it.is_factor()).map(|it| rep[&Item::node(it.node)]).collect();
    let mut named: HashMap<Item, String> = HashMap::new();
    let mut inline: HashMap<Item, (String, u8)> = HashMap::new();
    let mut lines = vec![];
    for it in live {
        let (text, p) = expand(cx, &templates[&it], &rep, &named, &inline);
        let trivial = be.trivial(cx, it);
        let name = match root_of.get(&it) {
            // A returned value that other values use gets a neutral local name, and is
            // returned under its own name at the end (`f = 0.5 * (r @ r)`, not `grad_b @ grad_b`).
            Some(&i) if !trivial && !count.contains_key(&it) => Some(root_names[i].clone()),
            Some(_) if !trivial => Some(namer.numbered("t")),
            _ if it.is_factor() => {
                let k = rep[&Item::node(it.node)];
                let base = named.get(&k).cloned().or_else(|| cx.is_var(k).then(|| inline[&k].0.clone()));
                Some(namer.claim(&be.factor_name(cx, it.node, base.as_deref())))
            }
            _ if !trivial
                && (count.get(&it).copied().unwrap_or(0) >= 2 || text.len() > LONG || factored.contains(&it)) =>
            {
                Some(namer.numbered("t"))
            }
            _ => None,
        };
        match name {
            Some(name) => {
                lines.push(Line { name: name.clone(), text, item: it, copy: false });
                named.insert(it, name);
            }
            None => {
                inline.insert(it, (text, p));
            }
        }
    }
    // Roots that are plain inputs or constants, or the same value as an earlier root.
    for (i, &r) in roots.iter().enumerate() {
        let it = rep[&Item::node(r)];
        if named.get(&it) == Some(&root_names[i]) {
            continue;
        }
        let (text, copy) = match named.get(&it) {
            Some(other) => (other.clone(), true),
            None => {
                let text = inline[&it].0.clone();
                let copy = cx.is_var(it);
                (text, copy)
            }
        };
        lines.push(Line { name: root_names[i].clone(), text, item: Item::node(r), copy });
    }
    lines
}

/// A template's code with its holes resolved: equal keys are equal computations.
fn code_key(t: &Template, rep: &HashMap<Item, Item>) -> String {
    let mut key = format!("{}|", t.prec);
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) => key.push_str(s),
            Piece::Hole { item, min, borrow } => {
                let _ = write!(key, "\u{1}{:?}/{min}/{borrow}\u{1}", rep[item]);
            }
        }
    }
    key
}

/// Fill a template's holes with names or inline text.
fn expand(
    cx: &Cx,
    t: &Template,
    rep: &HashMap<Item, Item>,
    named: &HashMap<Item, String>,
    inline: &HashMap<Item, (String, u8)>,
) -> (String, u8) {
    let mut out = String::new();
    let mut inherited = prec::ATOM;
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) => out.push_str(s),
            Piece::Hole { item, min, borrow } => {
                let item = &rep[item];
                let (text, p) = match named.get(item) {
                    Some(n) => (n.clone(), prec::ATOM),
                    None => inline[item].clone(),
                };
                inherited = p;
                if *borrow && !cx.is_var(*item) {
                    out.push('&');
                }
                if p < *min {
                    out.push('(');
                    out.push_str(&text);
                    out.push(')');
                } else {
                    out.push_str(&text);
                }
            }
        }
    }
    let p = if t.prec == prec::INHERIT { inherited } else { t.prec };
    (out, p)
}
