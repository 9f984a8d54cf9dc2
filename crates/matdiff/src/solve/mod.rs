//! Stationary points in closed form: the value of one variable at which the gradient of a
//! scalar objective vanishes (normal equations, M-steps, maximum likelihood).
//!
//! The gradient is expanded into monomials in the unknown X (`expand`); an equation in X and
//! inv(X) is multiplied by X until it is affine (the change of variable of covariance
//! estimates); common invertible factors cancel; the linear terms `c*L*X*R` (or `h.*X`) are
//! collected and X is isolated — a direct product form when the terms share a side, else the
//! vec form (`system`). Every solution is then checked numerically, and the curvature there
//! gives its kind (`numeric`). No closed form is never a guess: the refusal names the obstacle.

pub(crate) mod expand;
mod numeric;
pub(crate) mod system;

pub use numeric::{Verification, RESIDUAL_TOL};

use crate::problem::Problem;
use expand::{Expander, Fail};
use matdiff_core::{print, Graph, NodeId, Op, Style};
use matdiff_syntax::{Error, ErrorKind, Input};
use system::SysFail;

/// The nature of a stationary point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PointKind {
    /// A minimum (the Hessian is positive definite wherever the conditions hold).
    Minimum,
    /// A maximum (negative definite).
    Maximum,
    /// A saddle point (indefinite).
    Saddle,
    /// Stationary, of a kind that depends on the data (or could not be decided).
    Stationary,
}

impl PointKind {
    /// The name in reports (`minimum`, …).
    pub fn name(self) -> &'static str {
        match self {
            PointKind::Minimum => "minimum",
            PointKind::Maximum => "maximum",
            PointKind::Saddle => "saddle",
            PointKind::Stationary => "stationary",
        }
    }
}

/// How the closed form was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// A product of the data and inverses (`inv(A'*A)*A'*b`, `X*Z'*inv(M)`), or an entrywise division.
    Direct,
    /// `unvec(inv(Σ kron(Rᵢ', Lᵢ))*vec(C), m, n)`: two-sided terms with no common side.
    Vec,
    /// The equation became affine only after multiplying by the unknown (`inv(S)` → `S`).
    ChangeOfVariable,
}

impl Form {
    /// The name in reports (`direct`, `vec`, `change_of_variable`).
    pub fn name(self) -> &'static str {
        match self {
            Form::Direct => "direct",
            Form::Vec => "vec",
            Form::ChangeOfVariable => "change_of_variable",
        }
    }
}

/// What must hold for the solution to be the unique stationary point, and for its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// This matrix (inverted in the solution) is invertible.
    Invertible(NodeId),
    /// This scalar (divided by) is nonzero.
    Nonzero(NodeId),
    /// Every entry of this array (divided by, entrywise) is nonzero.
    NonzeroEntries(NodeId),
    /// The unknown is invertible at the solution (the equation was multiplied by it).
    UnknownInvertible,
    /// A symmetric input assumed positive definite (its conventional role; the kind uses it).
    PositiveDefinite(usize),
    /// A scalar input assumed positive.
    Positive(usize),
    /// A weight vector assumed positive entrywise.
    PositiveEntries(usize),
}

impl Condition {
    /// The condition in words, expressions in plain syntax.
    pub fn describe(&self, g: &Graph, var: usize) -> String {
        let p = |n: NodeId| print(g, n, Style::Plain);
        match *self {
            Condition::Invertible(m) => {
                let hint = match g.op(m) {
                    Op::MatMul(fs) if fs.len() == 2 && *g.op(fs[0]) == Op::Transpose(fs[1]) => {
                        format!(" ({} has full column rank)", p(fs[1]))
                    }
                    Op::MatMul(fs) if fs.len() == 2 && *g.op(fs[1]) == Op::Transpose(fs[0]) => {
                        format!(" ({} has full row rank)", p(fs[0]))
                    }
                    _ => String::new(),
                };
                format!("{} invertible{hint}", p(m))
            }
            Condition::Nonzero(a) => format!("{} != 0", p(a)),
            Condition::NonzeroEntries(a) => format!("{} nonzero entrywise", p(a)),
            Condition::UnknownInvertible => {
                let v = &g.vars()[var];
                if v.shape.is_scalar() {
                    format!("{} != 0 at the solution (the equation was multiplied by it)", v.name)
                } else if v.shape.is_matrix() && v.shape.is_square() {
                    format!("{} invertible at the solution (the equation was multiplied by it)", v.name)
                } else {
                    format!("{} nonzero entrywise at the solution (the equation was multiplied by it)", v.name)
                }
            }
            Condition::PositiveDefinite(v) => format!("{} positive definite", g.vars()[v].name),
            Condition::Positive(v) => format!("{} > 0", g.vars()[v].name),
            Condition::PositiveEntries(v) => format!("{} > 0 elementwise", g.vars()[v].name),
        }
    }
}

/// One algebraic step of the derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The gradient (`rhs`; no left side).
    Gradient,
    /// The gradient set to zero.
    SetToZero,
    /// For a symmetric unknown: the symmetric part of the gradient vanishes.
    SymmetricPart,
    /// Expanded, terms in the unknown collected on the left.
    Collect,
    /// Multiplied by op(X) on the left and/or right (`Some(true)`: by X'), cancelling `X*inv(X)`.
    MultiplyUnknown {
        /// On the left: `Some(false)` by X, `Some(true)` by X', `None`: not.
        left: Option<bool>,
        /// On the right, likewise.
        right: Option<bool>,
    },
    /// Multiplied entrywise by X.^k.
    MultiplyPower(i32),
    /// Multiplied by `factor` on the left (or right), cancelling its inverse in every term.
    CancelFactor {
        /// The factor multiplied by.
        factor: NodeId,
        /// On the left (else on the right).
        left: bool,
    },
    /// Transposed (every term held X').
    Transpose,
    /// The terms factored around the unknown.
    Factor,
    /// Vectorized: vec(L*X*R) = kron(R', L)*vec(X).
    Vectorize,
    /// The unknown's coefficient divided out.
    Isolate,
    /// The closed form.
    Solution,
}

impl Action {
    /// A stable identifier (JSON).
    pub fn name(self) -> &'static str {
        match self {
            Action::Gradient => "gradient",
            Action::SetToZero => "set_to_zero",
            Action::SymmetricPart => "symmetric_part",
            Action::Collect => "collect",
            Action::MultiplyUnknown { .. } => "multiply_by_unknown",
            Action::MultiplyPower(_) => "multiply_by_power",
            Action::CancelFactor { .. } => "cancel_factor",
            Action::Transpose => "transpose",
            Action::Factor => "factor",
            Action::Vectorize => "vectorize",
            Action::Isolate => "isolate",
            Action::Solution => "solution",
        }
    }

    /// What the step does, in words (`name`: the unknown).
    pub fn describe(&self, g: &Graph, name: &str) -> String {
        let side = |t: bool| if t { format!("{name}'") } else { name.to_string() };
        match *self {
            Action::Gradient => format!("the gradient with respect to {name}"),
            Action::SetToZero => "set it to zero".into(),
            Action::SymmetricPart => format!("{name} is symmetric: the symmetric part of the gradient vanishes"),
            Action::Collect => format!("expand and collect the terms in {name}"),
            Action::MultiplyUnknown { left, right } => {
                let what = match (left, right) {
                    (Some(l), Some(r)) => format!("on the left by {} and on the right by {}", side(l), side(r)),
                    (Some(l), None) => format!("on the left by {}", side(l)),
                    (None, Some(r)) => format!("on the right by {}", side(r)),
                    (None, None) => String::new(),
                };
                format!("multiply {what} ({name} is invertible where the objective is defined): affine in {name}")
            }
            Action::MultiplyPower(k) => {
                let pw = if k == 1 { name.to_string() } else { format!("{name}^{k}") };
                format!("multiply by {pw} (entrywise; nonzero where the objective is defined): affine in {name}")
            }
            Action::CancelFactor { factor, left } => {
                let f = print(g, factor, Style::Plain);
                format!("multiply on the {} by {f}, cancelling inv({f})", if left { "left" } else { "right" })
            }
            Action::Transpose => format!("transpose (every term holds {name}')"),
            Action::Factor => format!("factor out {name}"),
            Action::Vectorize => "vectorize: vec(L*X*R) = kron(R', L)*vec(X)".into(),
            Action::Isolate => format!("isolate {name}"),
            Action::Solution => "solve".into(),
        }
    }
}

/// One step: `lhs = rhs` (no `lhs` for the gradient itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// What was done.
    pub action: Action,
    /// The left side (`None`: the gradient).
    pub lhs: Option<NodeId>,
    /// The right side.
    pub rhs: NodeId,
}

/// Why no closed form was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Obstacle {
    /// The expression or the unknown was refused before solving (not a scalar, no such variable).
    Input,
    /// The gradient does not depend on the unknown: a linear objective.
    ConstantGradient,
    /// Once the equation is cleared of inverses no term in the unknown is left (`logdet(S)`).
    NeverVanishes,
    /// The stationarity equation is not affine in the unknown (`exp`, `sigmoid`, `sign`, powers).
    NotAffine,
    /// Affine, but singular by structure (a rank-one operator): no unique stationary point.
    Singular,
    /// A form of equation this solver does not handle.
    Unsupported,
    /// Too many terms once multiplied out.
    TooLarge,
    /// The closed form did not pass its numeric check (a bug: reported, never returned silently).
    CheckFailed,
    /// No random input satisfied the closed form's conditions (an inverted matrix was singular
    /// at every draw), so it could not be checked: it is not given.
    Unverified,
}

/// A refusal: the obstacle, and the error to show.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// Why.
    pub obstacle: Obstacle,
    /// The error to show, with its kind and span.
    pub error: Error,
}

/// A stationary point in closed form.
#[derive(Clone, Debug)]
pub struct Solution {
    /// The unknown (index into `graph.vars`).
    pub var: usize,
    /// The gradient of the objective with respect to it.
    pub gradient: NodeId,
    /// The closed form, free of the unknown.
    pub node: NodeId,
    /// Which kind of closed form.
    pub form: Form,
    /// Conditions under which it holds (an inverted matrix is invertible, …).
    pub conditions: Vec<Condition>,
    /// Minimum, maximum, saddle or undecided.
    pub kind: PointKind,
    /// The derivation, equation by equation.
    pub steps: Vec<Step>,
    /// The numeric check (always run; `check.passed()` holds for every returned solution).
    pub check: Verification,
}

/// Solve ∇f = 0 for the variable `wrt` of the problem's scalar objective.
pub fn solve(p: &mut Problem, wrt: &str) -> Result<Solution, Refusal> {
    let input = |error: Error| Refusal { obstacle: Obstacle::Input, error };
    let grads = p.gradients(&[wrt]).map_err(input)?;
    let (var, gradient) = (grads.vars[0], grads.nodes[0]);
    let span = p.span();
    let refuse = |obstacle: Obstacle, message: String, note: Option<String>| {
        let kind = match obstacle {
            Obstacle::TooLarge => ErrorKind::Limit,
            Obstacle::CheckFailed => ErrorKind::Internal,
            Obstacle::ConstantGradient | Obstacle::NeverVanishes | Obstacle::Singular | Obstacle::Unverified => {
                ErrorKind::Domain
            }
            Obstacle::Input | Obstacle::NotAffine | Obstacle::Unsupported => ErrorKind::Unsupported,
        };
        let mut error =
            Error::new(Input::Expr, span, message).with_kind(kind).with_label(format!("solving for {wrt} here"));
        if let Some(n) = note {
            error = error.with_note(n);
        }
        Refusal { obstacle, error }
    };
    let g = &mut p.graph;
    let x = g.var_node(var as u32);
    let shape = g.shape(x);
    let mut steps = vec![Step { action: Action::Gradient, lhs: None, rhs: gradient }];
    let zero = g.zero(shape);
    steps.push(Step { action: Action::SetToZero, lhs: Some(gradient), rhs: zero });
    let mut eq = gradient;
    if g.node(x).symmetric && !g.node(gradient).symmetric {
        let t = g.transpose(gradient);
        eq = g.add(gradient, t);
        steps.push(Step { action: Action::SymmetricPart, lhs: Some(eq), rhs: zero });
    }
    let solved = {
        let mut e = Expander::new(g, x);
        system::solve_equation(&mut e, eq, &mut steps)
    };
    let pr = |g: &Graph, n: NodeId| print(g, n, Style::Plain);
    let solved = match solved {
        Ok(s) => s,
        Err(f) => {
            let g = &p.graph;
            return Err(match f {
                SysFail::Constant(b) => refuse(
                    Obstacle::ConstantGradient,
                    format!("no stationary point: the gradient does not depend on {wrt} (the objective is linear in {wrt})"),
                    Some(format!(
                        "the gradient is the constant {}: it vanishes nowhere unless it is zero, and then at every {wrt}",
                        pr(g, b)
                    )),
                ),
                SysFail::NeverVanishes(b, action) => refuse(
                    Obstacle::NeverVanishes,
                    format!("no stationary point: the gradient never vanishes (no solution for {wrt})"),
                    Some(format!(
                        "after the step \"{}\", the equation reads {} = 0, which holds for no {wrt}",
                        action.describe(g, wrt),
                        pr(g, b)
                    )),
                ),
                SysFail::NotAffine(t) | SysFail::Expand(Fail::NotPolynomial(t)) => refuse(
                    Obstacle::NotAffine,
                    format!("no closed form: the stationarity equation is not affine in {wrt} (nonlinear)"),
                    Some(format!("it involves {}", pr(g, t))),
                ),
                SysFail::Singular(m, k) => refuse(
                    Obstacle::Singular,
                    format!("no unique stationary point: the equation is affine in {wrt} but singular"),
                    Some(format!(
                        "its matrix {} has rank at most {k}, so it is not invertible: a whole family of {wrt} is stationary, and inv(..) would be a guess",
                        pr(g, m)
                    )),
                ),
                SysFail::Unsupported(n, what) | SysFail::Expand(Fail::Unsupported(n, what)) => refuse(
                    Obstacle::Unsupported,
                    format!("no closed form found for {wrt}: the stationarity equation has {what}"),
                    Some(format!("the term: {}", pr(g, n))),
                ),
                SysFail::Expand(Fail::TooLarge) => refuse(
                    Obstacle::TooLarge,
                    format!("no closed form: the gradient expands into too many terms in {wrt}"),
                    None,
                ),
            });
        }
    };
    let check = numeric::verify(&p.graph, p.output, var, gradient, solved.node, 16);
    if check.points > 0 && !check.passed() {
        return Err(refuse(
            Obstacle::CheckFailed,
            format!(
                "internal error: the closed form {} = {} does not make the gradient vanish (relative residual {:.1e})",
                wrt,
                pr(&p.graph, solved.node),
                check.max_residual
            ),
            Some("this is a bug in matdiff's solver; please report it".into()),
        ));
    }
    if check.points == 0 {
        return Err(refuse(
            Obstacle::Unverified,
            format!(
                "no unique stationary point found: the candidate {wrt} = {} needs an inverse that was singular at every random input",
                pr(&p.graph, solved.node)
            ),
            Some("the matrices it inverts are probably singular for these sizes (rank deficient)".into()),
        ));
    }
    let kind = numeric::kind(&check.curvatures);
    let assumed = assumptions(&p.graph, var, &[solved.node, gradient]);
    let mut conditions = vec![];
    for c in solved.conditions {
        conditions.extend(simplify(&mut p.graph, c, &assumed));
    }
    conditions.extend(assumed);
    let mut seen = std::collections::HashSet::new();
    conditions.retain(|c| seen.insert(*c));
    // Steps that did not change the equation are not shown twice.
    steps.dedup_by(|b, a| (a.lhs, a.rhs) == (b.lhs, b.rhs));
    Ok(Solution { var, gradient, node: solved.node, form: solved.form, conditions, kind, steps, check })
}

/// The sign assumptions the numeric check draws under, for the inputs the solution and the
/// curvature depend on.
fn assumptions(g: &Graph, var: usize, roots: &[NodeId]) -> Vec<Condition> {
    let mut out = vec![];
    let mut weights = vec![false; g.vars().len()];
    let reach = g.reachable(roots);
    for &n in &reach {
        let args: Vec<NodeId> = match g.op(n) {
            Op::Diag(a) => vec![*a],
            Op::Hadamard(a, b) => vec![*a, *b],
            _ => vec![],
        };
        for a in args {
            if let Op::Var(v) = g.op(a) {
                weights[*v as usize] = g.vars()[*v as usize].shape.is_col() || g.vars()[*v as usize].shape.is_row();
            }
        }
    }
    for &n in &reach {
        let Op::Var(v) = *g.op(n) else { continue };
        let v = v as usize;
        if v == var {
            continue;
        }
        let info = &g.vars()[v];
        if info.symmetric {
            out.push(Condition::PositiveDefinite(v));
        } else if info.shape.is_scalar() {
            out.push(Condition::Positive(v));
        } else if weights[v] {
            out.push(Condition::PositiveEntries(v));
        }
    }
    out
}

/// A condition without what the assumptions already give: `-0.5*N != 0` is `N != 0`, and
/// implied by `N > 0`; `A invertible` is implied by `A positive definite`.
fn simplify(g: &mut Graph, c: Condition, assumed: &[Condition]) -> Option<Condition> {
    match c {
        Condition::Nonzero(a) | Condition::NonzeroEntries(a) => {
            let core = strip_coefficient(g, a);
            if g.as_const(core).is_some() || sign(g, core, assumed) == Sign::Positive {
                return None;
            }
            Some(if matches!(c, Condition::Nonzero(_)) {
                Condition::Nonzero(core)
            } else {
                Condition::NonzeroEntries(core)
            })
        }
        Condition::Invertible(m) => match g.op(m) {
            Op::Var(v) if assumed.contains(&Condition::PositiveDefinite(*v as usize)) => None,
            _ => Some(c),
        },
        other => Some(other),
    }
}

/// `a` without its constant factor (and sign).
fn strip_coefficient(g: &mut Graph, a: NodeId) -> NodeId {
    match g.op(a).clone() {
        Op::Lin(ts) if ts.len() == 1 => strip_coefficient(g, ts[0].1),
        Op::Lin(ts) if ts.iter().all(|(c, _)| c.get() < 0.0) => g.neg(a),
        _ => a,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sign {
    Positive,
    NonNegative,
    Unknown,
}

/// What is known of the sign of the scalar (or, entrywise, array) `n` under the assumptions.
fn sign(g: &Graph, n: NodeId, assumed: &[Condition]) -> Sign {
    use Sign::*;
    let both = |a: Sign, b: Sign| match (a, b) {
        (Positive, Positive) => Positive,
        (Unknown, _) | (_, Unknown) => Unknown,
        _ => NonNegative,
    };
    let var_pd = |m: NodeId| match g.op(m) {
        Op::Var(v) => assumed.contains(&Condition::PositiveDefinite(*v as usize)),
        Op::Identity => true,
        Op::Diag(d) => sign(g, *d, assumed) == Positive,
        _ => false,
    };
    let nonzero_fill = |m: NodeId| match g.op(m) {
        Op::Fill(c) => c.get() != 0.0,
        Op::Transpose(f) => matches!(g.op(*f), Op::Fill(c) if c.get() != 0.0),
        _ => false,
    };
    match g.op(n) {
        Op::Const(c) | Op::Fill(c) => match c.get() {
            x if x > 0.0 => Positive,
            0.0 => NonNegative,
            _ => Unknown,
        },
        Op::Var(v) => {
            let v = *v as usize;
            if assumed.contains(&Condition::Positive(v)) || assumed.contains(&Condition::PositiveEntries(v)) {
                Positive
            } else {
                Unknown
            }
        }
        Op::Pow(b, p) => match sign(g, *b, assumed) {
            Positive => Positive,
            _ if p.get() % 2.0 == 0.0 => NonNegative,
            _ => Unknown,
        },
        Op::Scale(a, b) | Op::Hadamard(a, b) => both(sign(g, *a, assumed), sign(g, *b, assumed)),
        Op::Lin(ts) => {
            let mut out = NonNegative;
            for (c, t) in ts {
                let s = if c.get() > 0.0 { sign(g, *t, assumed) } else { Unknown };
                match s {
                    Unknown => return Unknown,
                    Positive => out = Positive,
                    NonNegative => {}
                }
            }
            out
        }
        Op::Sum(a) => sign(g, *a, assumed),
        Op::SqNorm(_) | Op::Norm1(_) | Op::Norm2(_) => NonNegative,
        Op::Trace(m) if var_pd(*m) => Positive,
        // u'*D*u with D positive definite: positive when u is a nonzero constant vector,
        // nonnegative otherwise.
        Op::MatMul(fs) if g.shape(n).is_scalar() && fs.len() >= 2 => {
            let (first, last) = (fs[0], fs[fs.len() - 1]);
            let fills = matches!((g.op(first), g.op(last)), (Op::Fill(a), Op::Fill(b)) if a == b);
            let mirrored = fills || *g.op(first) == Op::Transpose(last) || *g.op(last) == Op::Transpose(first);
            if !mirrored || !fs[1..fs.len() - 1].iter().all(|&m| var_pd(m)) {
                return Unknown;
            }
            if nonzero_fill(first) {
                Positive
            } else {
                NonNegative
            }
        }
        _ => Unknown,
    }
}
