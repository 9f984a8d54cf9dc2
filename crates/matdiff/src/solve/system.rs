//! From the stationarity equation to a closed form: expand into monomials, clear inverses of
//! the unknown (the change of variable), cancel common invertible factors, collect the linear
//! terms `c*L*X*R` and `h.*X`, and isolate the unknown (a direct form when the terms share a
//! side, else the vec form).

use super::expand::{Atom, Body, Expander, Fail, Mono};
use super::{Action, Condition, Form, Step};
use matdiff_core::{linear_matrix, Graph, NodeId, Op, Shape};

/// The closed form found for an equation.
pub(super) struct Solved {
    pub node: NodeId,
    pub form: Form,
    pub conditions: Vec<Condition>,
}

/// Why an equation has no closed form here.
#[derive(Debug)]
pub(super) enum SysFail {
    Expand(Fail),
    /// The equation has no term in the unknown (its constant part, as a node).
    Constant(NodeId),
    /// After multiplying by the unknown, no term in it is left: `lhs = 0` with `lhs` constant
    /// and nonzero (what the equation became, and the multiplication used).
    NeverVanishes(NodeId, Action),
    /// A term of degree other than one in the unknown, after every clearing tried.
    NotAffine(NodeId),
    /// The operator's matrix (this node) has rank at most `k`, below its symbolic size.
    Singular(NodeId, usize),
    Unsupported(NodeId, &'static str),
}

impl From<Fail> for SysFail {
    fn from(f: Fail) -> SysFail {
        SysFail::Expand(f)
    }
}

/// A linear term `coef * left * op(X) * right` (absent sides are identities).
#[derive(Clone, Debug)]
struct Sandwich {
    coef: NodeId,
    left: Option<NodeId>,
    t: bool,
    right: Option<NodeId>,
}

/// A linear term `coef * h .* op(X)` (h absent: all ones; for a scalar unknown `coef*h*x`).
#[derive(Clone, Debug)]
struct ElemTerm {
    coef: NodeId,
    h: Option<NodeId>,
    t: bool,
}

/// Solve `eq = 0` for the unknown of `e`; records the algebra in `steps`.
pub(super) fn solve_equation(e: &mut Expander, eq: NodeId, steps: &mut Vec<Step>) -> Result<Solved, SysFail> {
    let monos = e.expand(eq)?;
    let mut monos = merge(e, monos);
    let mut conditions = vec![];
    let mut form = Form::Direct;
    if monos.iter().all(|m| is_const(&m.body)) {
        let b = constant_part(e, &monos);
        return Err(SysFail::Constant(b));
    }
    push_equation(e, &monos, Action::Collect, steps);

    // The change of variable: an equation in X and inv(X) (or x.^-k) multiplied by X until
    // no inverse is left. X is invertible wherever the objective is defined.
    if needs_clearing(&monos) {
        let (cleared, action) = clear(e, &monos)?;
        monos = merge(e, cleared);
        form = Form::ChangeOfVariable;
        conditions.push(Condition::UnknownInvertible);
        if monos.iter().all(|m| is_const(&m.body)) {
            let b = constant_part(e, &monos);
            return Err(SysFail::NeverVanishes(b, action));
        }
        push_equation(e, &monos, action, steps);
    }

    // Common invertible factors inv(F) on the left or right of every term cancel.
    if monos.iter().all(|m| !matches!(m.body, Body::Elem { .. })) {
        monos = cancel_common(e, monos, steps)?;
    }

    let (sandwiches, elems, rhs) = linear_terms(e, &monos)?;
    let x = e.x;
    let xshape = e.xshape;

    // A scalar unknown, or an elementwise equation: divide.
    if sandwiches.is_empty() {
        let transposed = elems.iter().any(|t| t.t);
        if transposed && elems.iter().any(|t| !t.t) {
            return Err(SysFail::Unsupported(eq, "elementwise terms in both the unknown and its transpose"));
        }
        let (rhs, elems) = if transposed && !xshape.is_scalar() {
            let r = e.g.transpose(rhs);
            let el = elems
                .iter()
                .map(|t| ElemTerm { coef: t.coef, h: t.h.map(|h| e.g.transpose(h)), t: false })
                .collect::<Vec<_>>();
            (r, el)
        } else {
            (rhs, elems)
        };
        let all_plain = elems.iter().all(|t| t.h.is_none() || e.g.shape(t.h.unwrap()).is_scalar());
        let a = if all_plain || xshape.is_scalar() {
            let parts: Vec<NodeId> = elems.iter().map(|t| opt_scale(e.g, t.coef, t.h)).collect();
            e.g.sum_of(&parts, Shape::SCALAR)
        } else {
            let parts: Vec<NodeId> = elems
                .iter()
                .map(|t| {
                    let h = t.h.unwrap_or_else(|| e.g.fill(1.0, xshape));
                    e.g.mul(t.coef, h)
                })
                .collect();
            e.g.sum_of(&parts, xshape)
        };
        if e.g.fill_value(a) == Some(0.0) {
            let b = constant_part(e, &monos);
            return Err(SysFail::Constant(b));
        }
        let inv_a = e.g.pow(a, -1.0);
        let node = if e.g.shape(a).is_scalar() { e.g.mul(inv_a, rhs) } else { e.g.hadamard(rhs, inv_a) };
        let lhs = if e.g.shape(a).is_scalar() { e.g.mul(a, x) } else { e.g.hadamard(a, x) };
        steps.push(Step { action: Action::Isolate, lhs: Some(lhs), rhs });
        conditions.push(if e.g.shape(a).is_scalar() { Condition::Nonzero(a) } else { Condition::NonzeroEntries(a) });
        steps.push(Step { action: Action::Solution, lhs: Some(x), rhs: node });
        return Ok(Solved { node, form, conditions });
    }

    // Matrix terms. Elementwise terms of a vector unknown are diagonal matrices: h.*x = diag(h)*x;
    // those of a matrix unknown only have a vec form.
    let mut terms = sandwiches;
    let mut elem_terms = vec![];
    for t in elems {
        if !t.t && xshape.is_col() {
            let left = t.h.map(|h| e.g.diag(h));
            terms.push(Sandwich { coef: t.coef, left, t: false, right: None });
        } else {
            elem_terms.push(t);
        }
    }
    let mut rhs = rhs;
    let mixed = terms.iter().any(|t| t.t) && terms.iter().any(|t| !t.t);
    if elem_terms.is_empty() && !mixed {
        if terms.iter().all(|t| t.t) {
            // Every term holds X': transpose the equation.
            terms = terms
                .into_iter()
                .map(|t| Sandwich {
                    coef: t.coef,
                    left: t.right.map(|r| e.g.transpose(r)),
                    t: false,
                    right: t.left.map(|l| e.g.transpose(l)),
                })
                .collect();
            rhs = e.g.transpose(rhs);
            let lhs = sandwich_sum(e, &terms);
            push_step(e.g, steps, Action::Transpose, lhs, rhs);
        }
        if let Some(node) = direct(e, &terms, rhs, steps, &mut conditions)? {
            steps.push(Step { action: Action::Solution, lhs: Some(x), rhs: node });
            return Ok(Solved { node, form, conditions });
        }
    }
    let node = vectorized(e, &terms, &elem_terms, rhs, steps, &mut conditions)?;
    if form == Form::Direct {
        form = Form::Vec;
    }
    steps.push(Step { action: Action::Solution, lhs: Some(x), rhs: node });
    Ok(Solved { node, form, conditions })
}

/// `inv(ΣLᵢ)*C*inv(R)` when the terms share their right factor, `inv(L)*C*inv(ΣRᵢ)` when
/// they share their left one; `None` when neither (two-sided terms with no common side).
fn direct(
    e: &mut Expander,
    terms: &[Sandwich],
    rhs: NodeId,
    steps: &mut Vec<Step>,
    conditions: &mut Vec<Condition>,
) -> Result<Option<NodeId>, SysFail> {
    let same_right = terms.iter().all(|t| t.right == terms[0].right);
    let same_left = terms.iter().all(|t| t.left == terms[0].left);
    if !same_right && !same_left {
        return Ok(None);
    }
    let xshape = e.xshape;
    let rows = xshape.rows.expect("a non-scalar unknown");
    let (lmat, rmat) = if same_right {
        let parts: Vec<NodeId> = terms
            .iter()
            .map(|t| {
                let l = t.left.unwrap_or_else(|| e.g.identity(rows));
                e.g.mul(t.coef, l)
            })
            .collect();
        let s = e.g.sum_of(&parts, Shape::mat(rows, rows));
        (Some(s), terms[0].right)
    } else {
        let cols = xshape.cols.expect("a right factor needs a matrix unknown");
        let parts: Vec<NodeId> = terms
            .iter()
            .map(|t| {
                let r = t.right.unwrap_or_else(|| e.g.identity(cols));
                e.g.mul(t.coef, r)
            })
            .collect();
        let s = e.g.sum_of(&parts, Shape::mat(cols, cols));
        (terms[0].left, Some(s))
    };
    let mut lhs_parts = vec![];
    lhs_parts.extend(lmat);
    lhs_parts.push(e.x);
    lhs_parts.extend(rmat);
    let lhs = e.g.matmul(lhs_parts);
    push_step(e.g, steps, Action::Factor, lhs, rhs);
    let mut parts = vec![];
    for (m, is_rhs) in [(lmat, false), (Some(rhs), true), (rmat, false)] {
        let Some(m) = m else { continue };
        if is_rhs {
            parts.push(m);
            continue;
        }
        check_rank(e.g, m)?;
        parts.push(inverse(e.g, m));
        conditions.push(invertible(e, m));
    }
    Ok(Some(product(e.g, parts)))
}

/// The vec form: vec(L*X*R) = kron(R', L)*vec(X), vec(L*X'*R) = kron(R', L)*K*vec(X) with K
/// the commutation matrix, vec(H.*X) = diag(vec(H))*vec(X); then
/// X = unvec(inv(M)*vec(C), p, q).
fn vectorized(
    e: &mut Expander,
    terms: &[Sandwich],
    elems: &[ElemTerm],
    rhs: NodeId,
    steps: &mut Vec<Step>,
    conditions: &mut Vec<Condition>,
) -> Result<NodeId, SysFail> {
    let xshape = e.xshape;
    let (Some(p), Some(q)) = (xshape.rows, xshape.cols) else {
        return Err(SysFail::Unsupported(rhs, "a vector unknown with transposed terms"));
    };
    // The operator's matrix is read off the linear part by the one implementation of the vec
    // identities (`linear_matrix`, which also gives `matdiff derivative` its Jacobians).
    let mut parts = vec![];
    if !terms.is_empty() {
        parts.push(sandwich_sum(e, terms));
    }
    for t in elems {
        let xb = if t.t { e.g.transpose(e.x) } else { e.x };
        let hx = match t.h {
            Some(h) => e.g.hadamard(h, xb),
            None => xb,
        };
        parts.push(e.g.mul(t.coef, hx));
    }
    let lin = e.g.sum_of(&parts, xshape);
    let m = linear_matrix(e.g, lin, e.x).map_err(|n| SysFail::Unsupported(n, "a term without a vec form"))?;
    let vx = e.g.vectorize(e.x);
    let lhs = e.g.matmul(vec![m, vx]);
    let vrhs = e.g.vectorize(rhs);
    push_step(e.g, steps, Action::Vectorize, lhs, vrhs);
    check_rank(e.g, m)?;
    let inv = inverse(e.g, m);
    conditions.push(invertible(e, m));
    let v = e.g.matmul(vec![inv, vrhs]);
    Ok(e.g.unvec(v, p, q))
}

/// The condition for `m` to be invertible, stated on `m` without its scalar coefficient
/// (`c*I` needs only `c != 0`).
fn invertible(e: &mut Expander, m: NodeId) -> Condition {
    let m = match e.g.op(m) {
        Op::Lin(ts) if ts.len() > 1 && ts.iter().all(|(c, _)| c.get() < 0.0) => e.g.neg(m),
        _ => m,
    };
    let (c, fs) = e.factors(m);
    let core = product(e.g, fs.clone());
    if fs.len() == 1 && matches!(e.g.op(fs[0]), Op::Identity) {
        return Condition::Nonzero(c);
    }
    Condition::Invertible(core)
}

fn is_const(b: &Body) -> bool {
    matches!(b, Body::Const(_)) || matches!(b, Body::Elem { p: 0, .. })
}

/// Like terms collected (coefficients added), zero terms dropped; constant monomials kept apart.
fn merge(e: &mut Expander, monos: Vec<Mono>) -> Vec<Mono> {
    let mut out: Vec<Mono> = vec![];
    for m in monos {
        let m = normalize(e, m);
        if let Body::Const(_) = m.body {
            out.push(m);
            continue;
        }
        match out.iter_mut().find(|o| o.body == m.body) {
            Some(o) => o.coef = e.g.add(o.coef, m.coef),
            None => out.push(m),
        }
    }
    out.retain(|m| {
        e.g.as_const(m.coef) != Some(0.0) && !matches!(m.body, Body::Const(k) if e.g.fill_value(k) == Some(0.0))
    });
    out
}

/// `x.^0` is a constant; a one-atom chain `X` of a scalar-free unknown stays a chain.
fn normalize(e: &mut Expander, m: Mono) -> Mono {
    match m.body {
        Body::Elem { h, p: 0, .. } => {
            let k = h.unwrap_or_else(|| {
                let s = e.xshape;
                e.g.fill(1.0, s)
            });
            Mono { coef: m.coef, body: Body::Const(k) }
        }
        Body::Elem { h: None, p: 1, t } if !e.xshape.is_scalar() => {
            Mono { coef: m.coef, body: Body::Chain(vec![Atom::U { t, inv: false }]) }
        }
        _ => m,
    }
}

/// The node of a monomial.
pub(crate) fn mono_node(e: &mut Expander, m: &Mono) -> NodeId {
    let x = e.x;
    let body = match &m.body {
        Body::Const(k) => *k,
        Body::Chain(atoms) => {
            let fs: Vec<NodeId> = atoms.iter().map(|&a| atom_node(e.g, x, a)).collect();
            product(e.g, fs)
        }
        Body::Elem { h, p, t } => {
            let base = if *t { e.g.transpose(x) } else { x };
            let pw = e.g.pow(base, *p as f64);
            match h {
                None => pw,
                Some(h) if e.xshape.is_scalar() || e.g.shape(*h).is_scalar() => e.g.mul(*h, pw),
                Some(h) => e.g.hadamard(*h, pw),
            }
        }
    };
    e.g.mul(m.coef, body)
}

fn atom_node(g: &mut Graph, x: NodeId, a: Atom) -> NodeId {
    match a {
        Atom::K(k) => k,
        Atom::U { t, inv } => {
            let b = if inv { g.inv(x) } else { x };
            if t {
                g.transpose(b)
            } else {
                b
            }
        }
    }
}

/// A matrix product with adjacent `F*inv(F)` and `inv(F)*F` cancelled (the constructors keep
/// them, since they cannot know F is invertible; here F's inverse occurs, so it is).
pub(super) fn product(g: &mut Graph, factors: Vec<NodeId>) -> NodeId {
    let mut flat: Vec<NodeId> = vec![];
    let mut scalars: Vec<NodeId> = vec![];
    for f in factors {
        if g.shape(f).is_scalar() {
            scalars.push(f);
            continue;
        }
        let (c, fs) = match g.op(f).clone() {
            Op::MatMul(fs) => (None, fs),
            Op::Lin(ts) if ts.len() == 1 => match g.op(ts[0].1).clone() {
                Op::MatMul(fs) => (Some(g.constant(ts[0].0.get())), fs),
                _ => (None, vec![f]),
            },
            _ => (None, vec![f]),
        };
        scalars.extend(c);
        for f in fs {
            let cancels = flat.last().is_some_and(|&l| inverse_pair(g, l, f));
            if cancels {
                flat.pop();
            } else {
                flat.push(f);
            }
        }
    }
    let mut out = match flat.len() {
        0 => return scalars.into_iter().reduce(|a, b| g.mul(a, b)).unwrap_or_else(|| g.constant(1.0)),
        1 => flat[0],
        _ => g.matmul(flat),
    };
    for s in scalars {
        out = g.mul(s, out);
    }
    out
}

fn inverse_pair(g: &Graph, a: NodeId, b: NodeId) -> bool {
    *g.op(a) == Op::Inv(b) || *g.op(b) == Op::Inv(a)
}

/// The sum of the constant monomials.
fn constant_part(e: &mut Expander, monos: &[Mono]) -> NodeId {
    let parts: Vec<NodeId> = monos.iter().filter(|m| is_const(&m.body)).map(|m| mono_node(e, m)).collect();
    let shape = e.xshape;
    let shape = if e.xshape.is_scalar() { Shape::SCALAR } else { shape };
    e.g.sum_of(&parts, shape)
}

/// Record `Σ terms in X = −(constant part)`.
fn push_equation(e: &mut Expander, monos: &[Mono], action: Action, steps: &mut Vec<Step>) {
    let var_parts: Vec<NodeId> = monos.iter().filter(|m| !is_const(&m.body)).map(|m| mono_node(e, m)).collect();
    let shape = e.g.shape(var_parts[0]);
    let lhs = e.g.sum_of(&var_parts, shape);
    let rhs = rhs_of(e, monos);
    push_step(e.g, steps, action, lhs, rhs);
}

/// Record `lhs = rhs`, shown with a positive left side (`-0.5*N*S = -0.5*C` reads better as
/// `0.5*N*S = 0.5*C`).
fn push_step(g: &mut Graph, steps: &mut Vec<Step>, action: Action, lhs: NodeId, rhs: NodeId) {
    let negative = match g.op(lhs) {
        Op::Lin(ts) => ts.iter().all(|(c, _)| c.get() < 0.0),
        _ => false,
    };
    let (lhs, rhs) = if negative { (g.neg(lhs), g.neg(rhs)) } else { (lhs, rhs) };
    steps.push(Step { action, lhs: Some(lhs), rhs });
}

fn needs_clearing(monos: &[Mono]) -> bool {
    monos.iter().any(|m| match &m.body {
        Body::Chain(c) => c.iter().any(|a| matches!(a, Atom::U { inv: true, .. })),
        Body::Elem { p, .. } => *p < 0,
        Body::Const(_) => false,
    })
}

/// Multiply the equation by the unknown until no inverse is left; the monomials and what
/// was done.
fn clear(e: &mut Expander, monos: &[Mono]) -> Result<(Vec<Mono>, Action), SysFail> {
    let elementwise = monos.iter().any(|m| matches!(m.body, Body::Elem { p, .. } if p < 0));
    if elementwise || e.xshape.is_scalar() {
        let k = monos
            .iter()
            .filter_map(|m| if let Body::Elem { p, .. } = m.body { Some(p) } else { None })
            .min()
            .unwrap_or(0);
        let k = -k;
        let mut out = vec![];
        for m in monos {
            let body = match &m.body {
                Body::Const(c) => Body::Elem { h: Some(*c), p: k, t: false },
                Body::Elem { h, p, t: false } => Body::Elem { h: *h, p: p + k, t: false },
                Body::Chain(c) if c.len() == 1 && c[0] == (Atom::U { t: false, inv: false }) => {
                    Body::Elem { h: None, p: 1 + k, t: false }
                }
                _ => {
                    let n = mono_node(e, m);
                    return Err(SysFail::Unsupported(
                        n,
                        "an elementwise power of the unknown next to a matrix product",
                    ));
                }
            };
            out.push(Mono { coef: m.coef, body });
        }
        return Ok((out, Action::MultiplyPower(k)));
    }
    if !e.xshape.is_square() {
        let m = monos.iter().find(|m| !is_const(&m.body)).unwrap();
        let n = mono_node(e, m);
        return Err(SysFail::NotAffine(n));
    }
    let ts: &[bool] = if e.sym { &[false] } else { &[false, true] };
    let mut combos: Vec<(Option<bool>, Option<bool>)> = vec![];
    for &t in ts {
        combos.push((None, Some(t)));
        combos.push((Some(t), None));
    }
    for &a in ts {
        for &b in ts {
            combos.push((Some(a), Some(b)));
        }
    }
    for (l, r) in combos {
        let out = multiply(e, monos, l, r);
        let affine = out.iter().all(|m| match &m.body {
            Body::Chain(c) => {
                !c.iter().any(|a| matches!(a, Atom::U { inv: true, .. }))
                    && c.iter().filter(|a| matches!(a, Atom::U { .. })).count() <= 1
            }
            Body::Const(_) => true,
            Body::Elem { .. } => false,
        });
        if !affine {
            continue;
        }
        // The fewest multiplications that clear every inverse decide: a constant equation
        // then (`I = 0`) has no invertible solution, whatever more multiplying would give.
        return Ok((out, Action::MultiplyUnknown { left: l, right: r }));
    }
    let m = monos
        .iter()
        .find(|m| matches!(&m.body, Body::Chain(c) if c.iter().any(|a| matches!(a, Atom::U { inv: true, .. }))))
        .unwrap();
    let n = mono_node(e, m);
    Err(SysFail::NotAffine(n))
}

/// Every monomial multiplied by op(X) on the left and/or right, `X*inv(X)` cancelled.
fn multiply(e: &mut Expander, monos: &[Mono], left: Option<bool>, right: Option<bool>) -> Vec<Mono> {
    let mut out = vec![];
    for m in monos {
        let mut coef = m.coef;
        let mut atoms = match &m.body {
            Body::Const(k) => {
                let (c, fs) = e.factors(*k);
                coef = e.g.mul(coef, c);
                fs.into_iter().filter(|&f| !matches!(e.g.op(f), Op::Identity)).map(Atom::K).collect()
            }
            Body::Chain(c) => c.clone(),
            Body::Elem { .. } => {
                out.push(m.clone());
                continue;
            }
        };
        if let Some(t) = left {
            if atoms.first() == Some(&Atom::U { t, inv: true }) {
                atoms.remove(0);
            } else {
                atoms.insert(0, Atom::U { t, inv: false });
            }
        }
        if let Some(t) = right {
            if atoms.last() == Some(&Atom::U { t, inv: true }) {
                atoms.pop();
            } else {
                atoms.push(Atom::U { t, inv: false });
            }
        }
        let body = if atoms.iter().any(|a| matches!(a, Atom::U { .. })) {
            Body::Chain(atoms)
        } else {
            let fs: Vec<NodeId> = atoms.iter().map(|a| if let Atom::K(k) = a { *k } else { unreachable!() }).collect();
            let k = if fs.is_empty() {
                let n = e.xshape.rows.unwrap();
                e.g.identity(n)
            } else {
                product(e.g, fs)
            };
            Body::Const(k)
        };
        out.push(Mono { coef, body });
    }
    out
}

/// The monomials as chains of atoms (constants as their factors), with their coefficients.
fn as_chains(e: &mut Expander, monos: &[Mono]) -> Vec<(NodeId, Vec<Atom>, bool)> {
    monos
        .iter()
        .map(|m| match &m.body {
            Body::Const(k) => {
                let (c, fs) = e.factors(*k);
                let fs = fs.into_iter().filter(|&f| !matches!(e.g.op(f), Op::Identity)).map(Atom::K).collect();
                (e.g.mul(m.coef, c), fs, true)
            }
            Body::Chain(c) => (m.coef, c.clone(), false),
            Body::Elem { .. } => unreachable!("elementwise monomials are not chains"),
        })
        .collect()
}

/// Cancel an inverse `inv(F)` that every term has as its first (or last) factor.
fn cancel_common(e: &mut Expander, monos: Vec<Mono>, steps: &mut Vec<Step>) -> Result<Vec<Mono>, SysFail> {
    let mut chains = as_chains(e, &monos);
    let mut changed = false;
    loop {
        let mut progressed = false;
        for left in [true, false] {
            let end = |c: &Vec<Atom>| if left { c.first().copied() } else { c.last().copied() };
            let Some(Atom::K(f)) = end(&chains[0].1) else { continue };
            if !matches!(e.g.op(f), Op::Inv(_)) {
                continue;
            }
            if !chains.iter().all(|(_, c, _)| end(c) == Some(Atom::K(f))) {
                continue;
            }
            for (_, c, _) in chains.iter_mut() {
                if left {
                    c.remove(0);
                } else {
                    c.pop();
                }
            }
            let Op::Inv(inner) = *e.g.op(f) else { unreachable!() };
            let ms = rebuild(e, &chains);
            changed = true;
            progressed = true;
            let action = Action::CancelFactor { factor: inner, left };
            push_equation(e, &ms, action, steps);
        }
        if !progressed {
            break;
        }
    }
    Ok(if changed { rebuild(e, &chains) } else { monos })
}

fn rebuild(e: &mut Expander, chains: &[(NodeId, Vec<Atom>, bool)]) -> Vec<Mono> {
    chains
        .iter()
        .map(|(coef, atoms, is_const)| {
            let body = if *is_const {
                let fs: Vec<NodeId> =
                    atoms.iter().map(|a| if let Atom::K(k) = a { *k } else { unreachable!() }).collect();
                let k = if fs.is_empty() {
                    let n = e.xshape.rows.unwrap();
                    e.g.identity(n)
                } else {
                    product(e.g, fs)
                };
                Body::Const(k)
            } else {
                Body::Chain(atoms.clone())
            };
            Mono { coef: *coef, body }
        })
        .collect()
}

/// The linear terms and the constant part of an affine equation.
fn linear_terms(e: &mut Expander, monos: &[Mono]) -> Result<(Vec<Sandwich>, Vec<ElemTerm>, NodeId), SysFail> {
    let mut sand = vec![];
    let mut elems = vec![];
    for m in monos {
        match &m.body {
            Body::Const(_) => {}
            Body::Elem { h, p: 1, t } => elems.push(ElemTerm { coef: m.coef, h: *h, t: *t }),
            Body::Elem { .. } => return Err(SysFail::NotAffine(mono_node(e, m))),
            Body::Chain(atoms) => {
                let us: Vec<usize> = (0..atoms.len()).filter(|&i| matches!(atoms[i], Atom::U { .. })).collect();
                if us.len() != 1 || matches!(atoms[us[0]], Atom::U { inv: true, .. }) {
                    return Err(SysFail::NotAffine(mono_node(e, m)));
                }
                let i = us[0];
                let Atom::U { t, .. } = atoms[i] else { unreachable!() };
                let ks = |a: &[Atom]| -> Vec<NodeId> {
                    a.iter().map(|a| if let Atom::K(k) = a { *k } else { unreachable!() }).collect()
                };
                let (lf, rf) = (ks(&atoms[..i]), ks(&atoms[i + 1..]));
                let mut coef = m.coef;
                let side = |g: &mut Graph, fs: Vec<NodeId>, coef: &mut NodeId| -> Option<NodeId> {
                    if fs.is_empty() {
                        return None;
                    }
                    let p = product(g, fs);
                    if g.shape(p).is_scalar() {
                        *coef = g.mul(*coef, p);
                        None
                    } else {
                        Some(p)
                    }
                };
                let mut left = side(e.g, lf, &mut coef);
                let mut right = side(e.g, rf, &mut coef);
                let mut t = t;
                if t && e.xshape.is_col() {
                    // P*x'*Q with x'*Q a scalar: P*Q'*x.
                    match (left, right) {
                        (Some(p), Some(q)) if e.g.shape(q).is_col() => {
                            let qt = e.g.transpose(q);
                            left = Some(product(e.g, vec![p, qt]));
                            right = None;
                            t = false;
                        }
                        _ => return Err(SysFail::Unsupported(mono_node(e, m), "a transposed vector unknown")),
                    }
                }
                sand.push(Sandwich { coef, left, t, right });
            }
        }
    }
    let rhs = rhs_of(e, monos);
    Ok((sand, elems, rhs))
}

/// The right-hand side: the constant terms negated, common outer factors taken out
/// (A'*b - A'*c is A'*(b - c)).
fn rhs_of(e: &mut Expander, monos: &[Mono]) -> NodeId {
    let parts: Vec<NodeId> = monos
        .iter()
        .filter(|m| is_const(&m.body))
        .map(|m| {
            let n = mono_node(e, m);
            e.g.neg(n)
        })
        .collect();
    let shape = if e.xshape.is_scalar() { Shape::SCALAR } else { e.xshape };
    factored_sum(e, parts, shape)
}

/// `Σ parts`, with a first (or last) matrix factor common to every part taken out.
fn factored_sum(e: &mut Expander, parts: Vec<NodeId>, shape: Shape) -> NodeId {
    if parts.len() >= 2 {
        let split: Vec<(NodeId, Vec<NodeId>)> = parts.iter().map(|&p| e.factors(p)).collect();
        if split.iter().all(|(_, fs)| fs.len() >= 2) {
            for first in [true, false] {
                let end = |fs: &Vec<NodeId>| if first { fs[0] } else { fs[fs.len() - 1] };
                let f = end(&split[0].1);
                if !split.iter().all(|(_, fs)| end(fs) == f) {
                    continue;
                }
                let rest: Vec<NodeId> = split
                    .iter()
                    .map(|(c, fs)| {
                        let r = if first { fs[1..].to_vec() } else { fs[..fs.len() - 1].to_vec() };
                        let r = product(e.g, r);
                        e.g.mul(*c, r)
                    })
                    .collect();
                let inner_shape = e.g.shape(rest[0]);
                let inner = factored_sum(e, rest, inner_shape);
                return if first { product(e.g, vec![f, inner]) } else { product(e.g, vec![inner, f]) };
            }
        }
    }
    e.g.sum_of(&parts, shape)
}

/// `inv(m)`, with the sign of an all-subtracted sum taken out: `-inv(a + b)`, not `inv(-a - b)`.
fn inverse(g: &mut Graph, m: NodeId) -> NodeId {
    if let Op::Lin(ts) = g.op(m) {
        if ts.len() > 1 && ts.iter().all(|(c, _)| c.get() < 0.0) {
            let pos = g.neg(m);
            let i = g.inv(pos);
            return g.neg(i);
        }
    }
    g.inv(m)
}

fn opt_scale(g: &mut Graph, coef: NodeId, h: Option<NodeId>) -> NodeId {
    match h {
        Some(h) => g.mul(coef, h),
        None => coef,
    }
}

fn sandwich_sum(e: &mut Expander, terms: &[Sandwich]) -> NodeId {
    let x = e.x;
    let parts: Vec<NodeId> = terms
        .iter()
        .map(|t| {
            let xb = if t.t { e.g.transpose(x) } else { x };
            let mut fs = vec![];
            fs.extend(t.left);
            fs.push(xb);
            fs.extend(t.right);
            let p = e.g.matmul(fs);
            e.g.mul(t.coef, p)
        })
        .collect();
    let shape = e.g.shape(parts[0]);
    e.g.sum_of(&parts, shape)
}

/// An upper bound on the rank of a matrix when one is known as a number: outer products (a
/// column times a row has rank one), and literal sizes (`A'*A` with A 2×3 has rank at most 2);
/// `None` when nothing is known.
fn rank_bound(g: &Graph, n: NodeId) -> Option<usize> {
    let literal = |d: Option<matdiff_core::DimId>| match d {
        None => Some(1),
        Some(d) => g.dims().dims()[d as usize].size,
    };
    let shape = g.shape(n);
    let own = match (literal(shape.rows), literal(shape.cols)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let inner = match g.op(n) {
        Op::Fill(_) => Some(1),
        Op::Lin(ts) => ts.iter().map(|&(_, t)| rank_bound(g, t)).sum(),
        Op::Scale(_, x) | Op::Transpose(x) => rank_bound(g, *x),
        Op::MatMul(fs) => {
            let joints = fs.windows(2).filter_map(|w| literal(g.shape(w[0]).cols));
            joints.chain(fs.iter().filter_map(|&f| rank_bound(g, f))).min()
        }
        _ => None,
    };
    match (own, inner) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Refuse a matrix that is singular by structure (rank bounded by a constant below its
/// symbolic size).
fn check_rank(g: &Graph, m: NodeId) -> Result<(), SysFail> {
    let shape = g.shape(m);
    if shape.is_scalar() {
        return Ok(());
    }
    let Some(k) = rank_bound(g, m) else { return Ok(()) };
    let size = shape.rows.and_then(|d| g.dims().dims()[d as usize].size);
    match size {
        Some(s) if s <= k => Ok(()),
        _ => Err(SysFail::Singular(m, k)),
    }
}
