//! Checking a claimed gradient: exact symbolic comparison (same canonical node), otherwise
//! randomized evaluation over several dimension settings; a wrong claim gets a counterexample
//! and, where one applies, a diagnosis.

mod diagnose;
mod paths;
mod points;

pub use diagnose::{factor_text, Diagnosis};
pub use paths::{path_terms, PathTerm};

use crate::problem::Problem;
use faer::Mat;
use matdiff_core::NodeId;
use matdiff_core::{print, Style};
use matdiff_exec::{eval_with_error, rel_diff, to_value, Value};
use matdiff_syntax::{Error, ErrorKind, Input, Result};
use points::{finite, is_square_matrix, sample_points, symmetrize_square, Point};

/// How hard the numeric comparison looks.
#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// Random dimension settings: sizes 2–3, then pairwise distinct sizes, then 3–5.
    pub settings: usize,
    /// Random input points per setting.
    pub trials: usize,
    /// Largest relative difference beyond rounding (see [`rel_diff`]) still counted as equal.
    /// Relative to the values compared, with no absolute floor: verdicts do not change when
    /// a loss and its claims are multiplied by any constant.
    pub tolerance: f64,
    /// Seed of the random points (fixed, so verdicts and counterexamples are reproducible).
    pub seed: u64,
    /// Decide by canonical form first (same node: right, exactly). Off, every claim is
    /// compared numerically (tests of the numeric comparison use this).
    pub symbolic: bool,
    /// Which gradient w.r.t. a matrix declared `symmetric` is right.
    pub convention: Convention,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            settings: 3,
            trials: 2,
            tolerance: 1e-8,
            seed: 0x5EED_C1A1,
            symbolic: true,
            convention: Convention::Symmetric,
        }
    }
}

/// The gradient w.r.t. a symmetric matrix S, where texts differ. With G the gradient that
/// treats S's entries as independent:
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convention {
    /// G, or anything with the same symmetric part (sym(G) = (G + G')/2): the gradient along
    /// symmetric perturbations. matdiff's default.
    Symmetric,
    /// The Matrix Cookbook's element-wise derivative for a symmetric matrix (its eq. 141):
    /// G_cookbook = 2·sym(G) − diag(diag(G)).
    Cookbook,
}

impl Convention {
    /// `symmetric` or `cookbook`, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Convention::Symmetric => "symmetric",
            Convention::Cookbook => "cookbook",
        }
    }
}

/// The Matrix Cookbook's form of a gradient `g` w.r.t. a symmetric matrix: g + g' − diag(diag(g)).
pub fn cookbook_form(graph: &mut matdiff_core::Graph, g: NodeId) -> NodeId {
    let gt = graph.transpose(g);
    let d = graph.diag_part(g);
    let dd = graph.diag(d);
    graph.lin(vec![(1.0, g), (1.0, gt), (-1.0, dd)])
}

/// The gradient `g` w.r.t. a symmetric matrix as `convention` writes it: sym(G) = (G + G')/2
/// (G itself when it is symmetric already) or the Cookbook's form ([`cookbook_form`]).
pub fn convention_form(graph: &mut matdiff_core::Graph, g: NodeId, convention: Convention) -> NodeId {
    match convention {
        Convention::Symmetric => {
            let gt = graph.transpose(g);
            if gt == g {
                g
            } else {
                graph.lin(vec![(0.5, g), (0.5, gt)])
            }
        }
        Convention::Cookbook => cookbook_form(graph, g),
    }
}

/// Rewrite the gradients w.r.t. variables declared `symmetric` in `convention` (what `grad`
/// prints; the backward pass in `grads.backward` still holds G); the others are unchanged.
pub fn apply_convention(p: &mut Problem, grads: &mut crate::problem::Gradients, convention: Convention) {
    for (node, &var) in grads.nodes.iter_mut().zip(&grads.vars) {
        if p.graph.vars()[var].symmetric {
            *node = convention_form(&mut p.graph, *node, convention);
        }
    }
}

/// How the verdict was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// The same canonical node (or, for a wrong claim, a different shape).
    Symbolic,
    /// Evaluation at random points.
    Numeric,
}

impl Method {
    /// The name in reports (`symbolic`, `numeric`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Symbolic => "symbolic",
            Method::Numeric => "numeric",
        }
    }
}

const DEFAULT_BASIS: &str = "evaluation at random points";

/// What a verdict rests on.
#[derive(Clone, Debug, PartialEq)]
pub struct Confidence {
    /// Decided without evaluation (identical canonical forms, or different shapes): certain.
    pub exact: bool,
    /// What the verdict rests on, in words.
    pub basis: String,
    /// Dimension settings and points the numeric comparison used.
    pub settings: usize,
    /// Random points compared in all.
    pub points: usize,
    /// The relative tolerance used.
    pub tolerance: f64,
    /// Largest relative difference seen (numeric comparisons only).
    pub max_rel_diff: Option<f64>,
}

impl Confidence {
    /// One line for people: exact, or how many points at what tolerance.
    pub fn describe(&self) -> String {
        if self.exact {
            return format!("exact: {}", self.basis);
        }
        let mut s = format!(
            "numeric: compared at {} random points over {} dimension settings, tolerance {:e} (relative)",
            self.points, self.settings, self.tolerance
        );
        if let Some(d) = self.max_rel_diff {
            s.push_str(&format!(", largest difference {d:.1e}"));
        }
        if self.basis != DEFAULT_BASIS {
            s.push_str(&format!("; {}", self.basis));
        }
        s
    }
}

/// Inputs where a wrong claim and the gradient differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Counterexample {
    /// Each dimension's size.
    pub dims: Vec<(String, usize)>,
    /// Each variable's value.
    pub inputs: Vec<(String, Value)>,
    /// The true gradient's value there.
    pub gradient: Value,
    /// The claim's value (absent when its shape differs and it cannot be compared).
    pub claim: Option<Value>,
    /// Largest entrywise absolute difference.
    pub max_diff: Option<f64>,
}

/// The outcome of checking one claim.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Whether the claim is the gradient.
    pub right: bool,
    /// How it was decided.
    pub method: Method,
    /// What the verdict rests on.
    pub confidence: Confidence,
    /// Inputs where a wrong claim differs (none for a right one).
    pub counterexample: Option<Counterexample>,
    /// Why a wrong claim is wrong, when a known mistake explains it.
    pub diagnoses: Vec<Diagnosis>,
    /// The true gradient, plain syntax.
    pub gradient: String,
    /// The claim as matdiff read it (canonical form, plain syntax).
    pub claim_read_as: String,
}

/// A problem compiled for checking many claims about one gradient: the gradient, its path
/// terms and the sample points are computed once.
#[derive(Clone, Debug)]
pub struct Checker {
    problem: Problem,
    wrt: String,
    var: usize,
    grad: NodeId,
    /// The gradient in the other convention, for a symmetric variable (see [`Convention`]).
    other: Option<NodeId>,
    terms: Vec<PathTerm>,
    points: Vec<Point>,
    opts: CheckOptions,
    /// The target is a Jacobian in numerator layout: a transposed claim is the other layout.
    jacobian: bool,
}

/// Refuse to evaluate a claim with an intermediate bigger than this (sizes are small, so
/// only a literal `eye(100000)` gets here).
const MAX_CLAIM_ENTRIES: usize = 1_000_000;

impl Checker {
    /// Differentiate `problem` w.r.t. `wrt` and prepare the sample points.
    pub fn new(mut problem: Problem, wrt: &str, opts: CheckOptions) -> Result<Checker> {
        let grads = problem.gradients(&[wrt])?;
        let var = grads.vars[0];
        let mut grad = grads.nodes[0];
        let mut other = None;
        if problem.graph.vars()[var].symmetric {
            let cookbook = cookbook_form(&mut problem.graph, grad);
            (grad, other) = match opts.convention {
                Convention::Symmetric => (grad, Some(cookbook)),
                Convention::Cookbook => (cookbook, Some(grad)),
            };
        }
        let var_node = problem.graph.var_node(var as u32);
        let terms = path_terms(&mut problem.graph, &grads.backward, var_node);
        let term_nodes: Vec<NodeId> = terms.iter().map(|t| t.value).collect();
        let points = sample_points(&problem.graph, problem.output, grad, &term_nodes, &opts);
        if points.is_empty() {
            return Err(Error::unspanned(
                Input::Expr,
                "found no inputs where the expression and its gradient are finite",
            )
            .with_kind(ErrorKind::Domain)
            .with_note(
                "claims are compared by evaluating at random inputs, so the expression must be defined somewhere",
            ));
        }
        Ok(Checker { problem, wrt: wrt.to_string(), var, grad, other, terms, points, opts, jacobian: false })
    }

    /// Prepare to check claims about another node of the problem than the gradient: a
    /// derivative, Hessian or Hessian-vector product of [`crate::derivative`] (`target` its
    /// root, `jacobian` when it is a Jacobian in numerator layout, so that a transposed claim
    /// is diagnosed as the other layout). There are no path terms to diagnose missing paths.
    pub fn for_target(
        problem: Problem,
        wrt: &str,
        target: NodeId,
        jacobian: bool,
        opts: CheckOptions,
    ) -> Result<Checker> {
        let var = problem.var_index(wrt)?;
        let points = sample_points(&problem.graph, problem.output, target, &[], &opts);
        if points.is_empty() {
            return Err(Error::unspanned(
                Input::Expr,
                "found no inputs where the expression and its derivative are finite",
            )
            .with_kind(ErrorKind::Domain)
            .with_note(
                "claims are compared by evaluating at random inputs, so the expression must be defined somewhere",
            ));
        }
        Ok(Checker {
            problem,
            wrt: wrt.to_string(),
            var,
            grad: target,
            other: None,
            terms: vec![],
            points,
            opts,
            jacobian,
        })
    }

    /// The problem the claims are checked against.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
    /// The problem, to lower more expressions into its graph.
    pub fn problem_mut(&mut self) -> &mut Problem {
        &mut self.problem
    }
    /// The variable the gradient is taken with respect to.
    pub fn wrt(&self) -> &str {
        &self.wrt
    }
    /// The gradient's node.
    pub fn gradient(&self) -> NodeId {
        self.grad
    }
    /// The gradient's terms, one per path from the output to the variable.
    pub fn terms(&self) -> &[PathTerm] {
        &self.terms
    }
    /// The options this checker was built with.
    pub fn options(&self) -> CheckOptions {
        self.opts
    }

    /// Parse a claim (an error points into it) and check it.
    pub fn check(&mut self, claim: &str) -> Result<Verdict> {
        let like = self.problem.graph.shape(self.grad);
        let node = self.problem.claim_like(claim, Some(like))?;
        self.check_node(node)
    }

    /// Values of `node` at every sample point, with their rounding errors, growing the points'
    /// dimension lists when the node brought new dimensions.
    fn values_at(&mut self, node: NodeId) -> Result<Vec<(Mat<f64>, f64)>> {
        let g = &self.problem.graph;
        let nd = g.dims().dims().len();
        for p in &mut self.points {
            p.env.dims.resize(nd, 2);
            // A product dimension (`m*n`) a claim brought is its factors' product.
            g.dims().fill_products(&mut p.env.dims);
        }
        let first = &self.points[0].env;
        for n in g.reachable(&[node]) {
            let (r, c) = first.size(g.shape(n));
            if r.saturating_mul(c) > MAX_CLAIM_ENTRIES {
                return Err(Error::unspanned(
                    Input::Claim,
                    format!("the claim has a {r}×{c} intermediate, too large to evaluate"),
                )
                .with_kind(ErrorKind::Limit));
            }
        }
        Ok(self
            .points
            .iter()
            .map(|p| {
                let (mut v, e) = eval_with_error(g, &[node], &p.env);
                (v.pop().unwrap(), e[0])
            })
            .collect())
    }

    /// Whether the claim equals the gradient at every point once the variables `which` (square
    /// matrices) are replaced by their symmetric parts.
    fn equal_when_symmetric(&mut self, claim: NodeId, which: &[usize]) -> Result<bool> {
        self.values_at(claim)?; // grows the dimension lists, checks sizes
        let g = &self.problem.graph;
        let tol = self.opts.tolerance;
        let mut any = false;
        for p in &self.points {
            let env = symmetrize_square(g, &p.env, which);
            let (mut vals, errs) = eval_with_error(g, &[self.grad, claim], &env);
            let c = vals.pop().unwrap();
            let gv = vals.pop().unwrap();
            if !finite(&gv) || !errs[0].is_finite() {
                continue;
            }
            any = true;
            if rel_diff(&c, &gv, errs[0] + errs[1]) > tol {
                return Ok(false);
            }
        }
        Ok(any)
    }

    /// Whether two nodes of the problem's graph are equal: same node, or equal values at every
    /// sample point. `None` when their shapes differ.
    pub fn same_value(&mut self, a: NodeId, b: NodeId) -> Result<Option<bool>> {
        if a == b {
            return Ok(Some(true));
        }
        if self.problem.graph.shape(a) != self.problem.graph.shape(b) {
            return Ok(None);
        }
        let va = self.values_at(a)?;
        let vb = self.values_at(b)?;
        let tol = self.opts.tolerance;
        Ok(Some(va.iter().zip(&vb).all(|((x, ex), (y, ey))| finite(x) && finite(y) && rel_diff(x, y, ex + ey) <= tol)))
    }

    /// Compare a claim (a node of the problem's graph) with the gradient.
    pub fn check_node(&mut self, claim: NodeId) -> Result<Verdict> {
        let g = &self.problem.graph;
        let gradient = print(g, self.grad, Style::Plain);
        let claim_read_as = print(g, claim, Style::Plain);
        let settings = self.points.iter().map(|p| p.setting).max().map_or(0, |s| s + 1);
        let mut confidence = Confidence {
            exact: false,
            basis: DEFAULT_BASIS.into(),
            settings,
            points: self.points.len(),
            tolerance: self.opts.tolerance,
            max_rel_diff: None,
        };
        let verdict = |right, method, confidence, counterexample, diagnoses| Verdict {
            right,
            method,
            confidence,
            counterexample,
            diagnoses,
            gradient: gradient.clone(),
            claim_read_as: claim_read_as.clone(),
        };
        if claim == self.grad && self.opts.symbolic {
            confidence.exact = true;
            confidence.basis = "the claim simplifies to the same canonical form as the gradient".into();
            return Ok(verdict(true, Method::Symbolic, confidence, None, vec![]));
        }
        let (gs, cs) = (g.shape(self.grad), g.shape(claim));
        if gs != cs {
            let mut diags = vec![Diagnosis::Shape { claim: g.dims().describe(cs), gradient: g.dims().describe(gs) }];
            let mut claim_val = None;
            if cs == gs.t() {
                let vals = self.values_at(claim)?;
                let tol = self.opts.tolerance;
                let transposed = |(p, (v, e)): (&Point, &(Mat<f64>, f64))| {
                    rel_diff(v, &p.grad.transpose().to_owned(), e + p.grad_err) <= tol
                };
                if self.points.iter().zip(&vals).all(transposed) {
                    diags.push(if self.jacobian { Diagnosis::Layout } else { Diagnosis::Transposed });
                }
                claim_val = vals.into_iter().next().map(|v| v.0);
            }
            let cx = self.counterexample(0, claim_val.as_ref(), cs, false);
            confidence.exact = true;
            confidence.basis = "the claim and the gradient have different shapes".into();
            return Ok(verdict(false, Method::Symbolic, confidence, Some(cx), diags));
        }
        let vals = self.values_at(claim)?;
        let sym_var = self.problem.graph.vars()[self.var].symmetric;
        if sym_var {
            confidence.basis = format!("symmetric parts compared (`{}` is declared symmetric)", self.wrt);
        }
        let errs: Vec<f64> = self
            .points
            .iter()
            .zip(&vals)
            .map(|(p, (v, e))| {
                let noise = e + p.grad_err;
                if sym_var {
                    rel_diff(&sym_part(v), &sym_part(&p.grad), noise)
                } else {
                    rel_diff(v, &p.grad, noise)
                }
            })
            .collect();
        let max_err = errs.iter().cloned().fold(0.0, f64::max);
        confidence.max_rel_diff = Some(max_err);
        let tol = self.opts.tolerance;
        if max_err <= tol {
            return Ok(verdict(true, Method::Numeric, confidence, None, vec![]));
        }
        let diags = self.diagnose(claim, &vals)?;
        let bad = errs.iter().position(|&e| e > tol).unwrap_or(0);
        let cx = self.counterexample(bad, Some(&vals[bad].0), cs, true);
        Ok(verdict(false, Method::Numeric, confidence, Some(cx), diags))
    }

    fn diagnose(&mut self, claim: NodeId, vals: &[(Mat<f64>, f64)]) -> Result<Vec<Diagnosis>> {
        let tol = self.opts.tolerance;
        if vals.iter().any(|v| !finite(&v.0)) {
            return Ok(vec![Diagnosis::Undefined]);
        }
        // W.r.t. a declared-symmetric variable only symmetric parts are compared.
        let sym_var = self.problem.graph.vars()[self.var].symmetric;
        let view = |m: &Mat<f64>| if sym_var { sym_part(m) } else { m.clone() };
        let grads: Vec<Mat<f64>> = self.points.iter().map(|p| view(&p.grad)).collect();
        let claim_errs: Vec<f64> = vals.iter().map(|v| v.1).collect();
        let grad_errs: Vec<f64> = self.points.iter().map(|p| p.grad_err).collect();
        let vals: &[Mat<f64>] = &vals.iter().map(|v| view(&v.0)).collect::<Vec<_>>();
        let mut diags = vec![];
        let shape = self.problem.graph.shape(self.grad);
        if shape.is_matrix() && shape.is_square() && !sym_var {
            let ok = vals
                .iter()
                .zip(&grads)
                .zip(claim_errs.iter().zip(&grad_errs))
                .all(|((v, gm), (ce, ge))| rel_diff(v, &gm.transpose().to_owned(), ce + ge) <= tol);
            if ok {
                diags.push(if self.jacobian { Diagnosis::Layout } else { Diagnosis::Transposed });
            }
        }
        if let Some(c) = diagnose::fit_factor(vals, &grads, &claim_errs, &grad_errs, tol) {
            diags.push(Diagnosis::Factor { factor: c });
        }
        if let Some(d) = self.missing_paths(vals, &claim_errs) {
            // "c × some paths" with c ≠ 1 only restates a constant factor already found.
            let restates = d.factor() != Some(1.0) && diags.iter().any(|x| matches!(x, Diagnosis::Factor { .. }));
            if !restates {
                diags.push(d);
            }
        }
        if let Some(other) = self.other {
            if self.same_value(claim, other)? == Some(true) {
                let convention = match self.opts.convention {
                    Convention::Symmetric => Convention::Cookbook,
                    Convention::Cookbook => Convention::Symmetric,
                };
                return Ok(vec![Diagnosis::Convention { convention }]);
            }
        }
        let square: Vec<usize> = (0..self.problem.graph.vars().len())
            .filter(|&i| is_square_matrix(&self.problem.graph, &self.problem.graph.vars()[i]))
            .collect();
        if !square.is_empty() && self.equal_when_symmetric(claim, &square)? {
            // Name only the matrices whose symmetry matters, where one alone suffices.
            let mut which = vec![];
            for &i in &square {
                if square.len() > 1 && self.equal_when_symmetric(claim, &[i])? {
                    which.push(i);
                }
            }
            if which.is_empty() {
                which = square;
            }
            let matrices = which.iter().map(|&i| self.problem.graph.vars()[i].name.clone()).collect();
            // The more pertinent reading: drop "c × some paths" fits it explains.
            diags.retain(|d| !matches!(d, Diagnosis::MissingPaths { factor, .. } if *factor != 1.0));
            let at = usize::from(matches!(diags.first(), Some(Diagnosis::Transposed | Diagnosis::Layout)));
            diags.insert(at, Diagnosis::SymmetricOnly { matrices });
        }
        Ok(diags)
    }

    /// The claim is `c` × (a proper subset of the path terms): name the kept and missing paths.
    fn missing_paths(&self, vals: &[Mat<f64>], claim_errs: &[f64]) -> Option<Diagnosis> {
        let k = self.terms.len();
        if !(2..=10).contains(&k) {
            return None;
        }
        let tol = self.opts.tolerance;
        let full = (1u32 << k) - 1;
        let mut subsets: Vec<u32> = (1..full).collect();
        // Missing as few paths as possible first, and a factor of 1 before other factors.
        subsets.sort_by_key(|s| std::cmp::Reverse(s.count_ones()));
        let mut fallback = None;
        for s in subsets {
            let bases: Vec<Mat<f64>> = self
                .points
                .iter()
                .map(|p| {
                    let mut acc = Mat::<f64>::zeros(p.grad.nrows(), p.grad.ncols());
                    for (i, t) in p.terms.iter().enumerate() {
                        if s & (1 << i) != 0 {
                            acc += t;
                        }
                    }
                    if self.problem.graph.vars()[self.var].symmetric {
                        sym_part(&acc)
                    } else {
                        acc
                    }
                })
                .collect();
            let base_errs: Vec<f64> = self
                .points
                .iter()
                .map(|p| (0..k).filter(|i| s & (1 << i) != 0).map(|i| p.term_errs[i]).sum())
                .collect();
            if let Some(c) = diagnose::fit_factor(vals, &bases, claim_errs, &base_errs, tol) {
                if c == 0.0 {
                    continue;
                }
                let pick = |keep: bool| -> Vec<String> {
                    (0..k).filter(|i| (s & (1 << i) != 0) == keep).map(|i| self.terms[i].label.clone()).collect()
                };
                let d = Diagnosis::MissingPaths { factor: c, kept: pick(true), missing: pick(false) };
                if c == 1.0 {
                    return Some(d);
                }
                fallback.get_or_insert(d);
            }
        }
        fallback
    }

    fn counterexample(
        &self,
        i: usize,
        claim: Option<&Mat<f64>>,
        claim_shape: matdiff_core::Shape,
        comparable: bool,
    ) -> Counterexample {
        let g = &self.problem.graph;
        let p = &self.points[i];
        let used: Vec<usize> = {
            let mut u: Vec<usize> =
                g.vars().iter().flat_map(|v| [v.shape.rows, v.shape.cols]).flatten().map(|d| d as usize).collect();
            u.sort();
            u.dedup();
            u
        };
        let dims = used.iter().map(|&d| (g.dims().dims()[d].name.clone(), p.env.dims[d])).collect();
        let inputs = g.vars().iter().zip(&p.env.vars).map(|(v, m)| (v.name.clone(), to_value(m, v.shape))).collect();
        let gshape = g.shape(self.grad);
        let max_diff = match claim {
            Some(c) if comparable => Some(max_abs_diff(c, &p.grad)),
            _ => None,
        };
        Counterexample {
            dims,
            inputs,
            gradient: to_value(&p.grad, gshape),
            claim: claim.map(|c| to_value(c, claim_shape)),
            max_diff,
        }
    }
}

fn sym_part(m: &Mat<f64>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| 0.5 * (m[(i, j)] + m[(j, i)]))
}

fn max_abs_diff(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let mut d: f64 = 0.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let x = (a[(i, j)] - b[(i, j)]).abs();
            d = if x.is_nan() { f64::INFINITY } else { d.max(x) };
        }
    }
    d
}

/// A value printed compactly: `1.5`, `[0.12, -1.3]`, `[[1, 0], [0, 1]]`; at most four
/// significant digits.
pub fn compact(v: &Value) -> String {
    let f = |x: f64| {
        if x == 0.0 {
            "0".to_string()
        } else if x.abs() >= 1e-3 && x.abs() < 1e5 {
            // Four significant digits, trailing zeros dropped.
            let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
            let s = format!("{x:.decimals$}");
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            }
        } else {
            format!("{x:.3e}")
        }
    };
    match v {
        Value::Scalar(x) => f(*x),
        Value::Vector(xs) => format!("[{}]", xs.iter().map(|x| f(*x)).collect::<Vec<_>>().join(", ")),
        Value::Matrix(rows) => format!(
            "[{}]",
            rows.iter()
                .map(|r| format!("[{}]", r.iter().map(|x| f(*x)).collect::<Vec<_>>().join(", ")))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
