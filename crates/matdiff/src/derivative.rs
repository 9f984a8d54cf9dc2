//! Derivatives of any expression (Jacobians in their layouts), Hessians and Hessian-vector
//! products, in closed matrix form, with their numeric checks.
//!
//! One pipeline: a scalar by anything is the reverse-mode gradient; anything by a scalar is the
//! forward-mode directional derivative along 1; every other case is the forward-mode
//! differential along a fresh direction D (`matdiff_core::jvp`), read off as the matrix of a
//! linear map (`matdiff_core::linear_matrix`: vec(L*D*R) = kron(R', L)*vec(D), …). The work is
//! done on a scratch copy of the graph holding D, and only the result comes back, so the
//! problem's variables stay the user's. A Hessian is the derivative of the gradient; a
//! Hessian-vector product is the differential of the gradient along a new variable V, which is
//! plain matrix notation by construction (never a Kronecker product).

use crate::problem::Problem;
use faer::Mat;
use matdiff_core::{jvp, linear_matrix, NodeId, Shape, Style};
use matdiff_exec::{eval, eval_with_error, magnitudes, rounding_error, Env, FdReport};
use matdiff_exec::{fd_step, find_point, richardson, FdComparison, FD_STEP, FD_TOLERANCE};
use matdiff_syntax::{Error, ErrorKind, Input, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// How a derivative's entries are arranged (the `layout` of the JSON contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A scalar by anything: the gradient, shaped like the variable.
    Gradient,
    /// A vector or matrix by a scalar: the entrywise derivative, shaped like the expression.
    Elementwise,
    /// A vector (m) by a vector (n): the m×n Jacobian, `J[i,j] = ∂f_i/∂x_j`.
    Jacobian,
    /// Every other case: ∂vec(f)/∂vec(X)ᵀ, numel(f)×numel(X), vec column-major.
    Vec,
}

impl Layout {
    /// The name in the JSON contract: `gradient`, `elementwise`, `jacobian`, `vec`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Gradient => "gradient",
            Layout::Elementwise => "elementwise",
            Layout::Jacobian => "jacobian",
            Layout::Vec => "vec",
        }
    }
}

/// Which derivative a [`Derivative`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The first derivative of the expression.
    First,
    /// The derivative of the gradient (the expression is scalar).
    Hessian,
    /// The Hessian applied to a direction variable: d/dt ∇f(X + tV) at t = 0.
    Hvp,
}

impl Order {
    /// The JSON field the result goes in: `derivative`, `hessian`, `hvp`.
    pub fn field(self) -> &'static str {
        match self {
            Order::First => "derivative",
            Order::Hessian => "hessian",
            Order::Hvp => "hvp",
        }
    }
}

/// A derivative of a problem's expression, as a node of the problem's graph.
#[derive(Clone, Debug)]
pub struct Derivative {
    /// The result.
    pub root: NodeId,
    /// How its entries are arranged.
    pub layout: Layout,
    /// First derivative, Hessian or Hessian-vector product.
    pub order: Order,
    /// The result's shape (rows/cols as dimensions of the problem's table; products such as
    /// `m*n` for the vec layout).
    pub shape: Shape,
    /// The variable differentiated by (index into `graph.vars`).
    pub var: usize,
    /// What was differentiated: the expression, or its gradient for a Hessian or HVP.
    pub of: NodeId,
    /// The direction variable of an HVP (index into `graph.vars`).
    pub direction: Option<usize>,
}

/// The derivative of the problem's expression w.r.t. `wrt`, in the layout its shapes call for.
///
/// ```
/// let mut p = matdiff::Problem::new("A*X*B", "A: matrix(m,n); X: matrix(n,k); B: matrix(k,l)").unwrap();
/// let d = matdiff::derivative::derivative(&mut p, "X").unwrap();
/// assert_eq!(p.print(d.root, matdiff::Style::Plain), "kron(B', A)");
/// assert_eq!(d.layout, matdiff::derivative::Layout::Vec);
/// ```
pub fn derivative(p: &mut Problem, wrt: &str) -> Result<Derivative> {
    let var = p.var_index(wrt)?;
    let of = p.output;
    let (root, layout) = derivative_of(p, of, var)?;
    let root = crate::readable::readable(&mut p.graph, root);
    Ok(Derivative { root, layout, order: Order::First, shape: p.graph.shape(root), var, of, direction: None })
}

/// The Hessian of the (scalar) expression w.r.t. `wrt`: the derivative of the gradient, n×n
/// for a vector, mn×mn w.r.t. vec(X) for an m×n matrix.
///
/// ```
/// let mut p = matdiff::Problem::new("x'*A*x", "A: matrix(n,n); x: vector(n)").unwrap();
/// let h = matdiff::derivative::hessian(&mut p, "x").unwrap();
/// assert_eq!(p.print(h.root, matdiff::Style::Plain), "A + A'");
/// ```
pub fn hessian(p: &mut Problem, wrt: &str) -> Result<Derivative> {
    let (var, grad) = gradient_of(p, wrt, "a Hessian")?;
    let (root, layout) = derivative_of(p, grad, var)?;
    let root = crate::readable::readable(&mut p.graph, root);
    Ok(Derivative { root, layout, order: Order::Hessian, shape: p.graph.shape(root), var, of: grad, direction: None })
}

/// The Hessian-vector product d/dt ∇f(X + tV) at t = 0 with V a new variable called `direction`
/// of `wrt`'s shape (symmetric when `wrt` is): plain matrix notation, shaped like `wrt`.
///
/// ```
/// let mut p = matdiff::Problem::new("x'*A*x", "A: matrix(n,n); x: vector(n)").unwrap();
/// let h = matdiff::derivative::hvp(&mut p, "x", "v").unwrap();
/// assert_eq!(p.print(h.root, matdiff::Style::Plain), "(A + A')*v");
/// ```
pub fn hvp(p: &mut Problem, wrt: &str, direction: &str) -> Result<Derivative> {
    let (var, grad) = gradient_of(p, wrt, "a Hessian-vector product")?;
    let name = direction.trim();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Error::unspanned(Input::None, format!("`{name}` is not a valid name for the direction"))
            .with_kind(ErrorKind::Input)
            .with_note("name the direction like a variable: a letter, then letters, digits or `_`"));
    }
    let clash = p.graph.var_id(name).is_some()
        || p.decls().iter().any(|d| d.name == name)
        || p.definitions().iter().any(|(d, _)| d == name);
    if clash {
        return Err(Error::new(
            Input::Expr,
            p.span(),
            format!("the direction `{name}` would clash with a name the expression already uses"),
        )
        .with_kind(ErrorKind::Input)
        .with_label(format!("`{name}` is used here"))
        .with_note("choose another name with --direction"));
    }
    let xn = p.graph.var_node(var as u32);
    let (v, vn) = p.graph.add_symbol(name, xn, true);
    let v = v as usize;
    let root = jvp(&mut p.graph, &[grad], xn, vn)[0];
    let root = crate::readable::readable(&mut p.graph, root);
    Ok(Derivative {
        root,
        layout: Layout::Gradient,
        order: Order::Hvp,
        shape: p.graph.shape(root),
        var,
        of: grad,
        direction: Some(v),
    })
}

/// The variable and gradient node for a second-order result; a shape error on a non-scalar
/// expression (`what` names the result asked for).
fn gradient_of(p: &mut Problem, wrt: &str, what: &str) -> Result<(usize, NodeId)> {
    let shape = p.graph.shape(p.output);
    if !shape.is_scalar() {
        let d = p.graph.dims().describe(shape);
        return Err(Error::new(
            Input::Expr,
            p.span(),
            format!("{what} needs a scalar expression, but this one is {d}"),
        )
        .with_kind(ErrorKind::Shape)
        .with_label(format!("this is {d}"))
        .with_note("`matdiff derivative` differentiates non-scalar expressions (Jacobians)"));
    }
    let grads = p.gradients(&[wrt])?;
    Ok((grads.vars[0], grads.nodes[0]))
}

/// The derivative of node `of` w.r.t. variable `var`, and its layout.
fn derivative_of(p: &mut Problem, of: NodeId, var: usize) -> Result<(NodeId, Layout)> {
    let span = p.span();
    let g = &mut p.graph;
    let (fs, xs) = (g.shape(of), g.vars()[var].shape);
    let xn = g.var_node(var as u32);
    if fs.is_scalar() {
        let (grads, _) = matdiff_core::gradients(g, of, &[xn]);
        return Ok((grads[0], Layout::Gradient));
    }
    if xs.is_scalar() {
        let one = g.constant(1.0);
        return Ok((jvp(g, &[of], xn, one)[0], Layout::Elementwise));
    }
    let layout = if fs.is_col() && xs.is_col() { Layout::Jacobian } else { Layout::Vec };
    // The direction lives only in a scratch copy (a variable of the problem would have to be
    // given a value by every evaluation); the matrix no longer mentions it.
    let mut scratch = g.clone();
    let (_, d) = scratch.add_symbol("\u{3b4}", xn, false);
    let t = jvp(&mut scratch, &[of], xn, d)[0];
    if layout == Layout::Vec {
        if let Some(m) = expanded_matrix(&scratch, t, d) {
            return Ok((g.import_roots(&m.graph, &[m.output])[0], layout));
        }
    }
    let m = linear_matrix(&mut scratch, t, d).map_err(|n| {
        let what = matdiff_core::print(&scratch, n, matdiff_core::Style::Plain);
        Error::new(Input::Expr, span, format!("no matrix form for the derivative through `{what}`"))
            .with_kind(ErrorKind::Internal)
            .with_note("the differential is not linear in the direction there (a bug: please report it)")
    })?;
    let root = g.import_roots(&scratch, &[m])[0];
    Ok((root, layout))
}

/// Most monomials a differential may expand to before [`expanded_matrix`] keeps the factored
/// form (each becomes one Kronecker term).
const MAX_EXPANDED_TERMS: usize = 12;

/// The vec-layout matrix of the differential `t` (linear in `d`) read off its monomials: `t`
/// multiplied out into terms `c*L*D*R` (or `L*D'*R`, `H.*D`), each one Kronecker product
/// (`kron(R', L)`, times the commutation matrix for `D'`), common factors then pulled out by
/// `readable` (`kron(x*r' + r*x', eye(m))`, `(kron(W', u*x') + kron(x*u', W))*commutation(m, n)`).
/// Read off the factored differential instead, the autoencoder's Hessian in W is products of
/// Kronecker sums nested in each other. A graph whose `output` is the matrix, when this form is
/// the shorter one when printed; `None` when the differential does not expand (a function of a
/// scalar that depends on `d`) or expands to more than [`MAX_EXPANDED_TERMS`] terms.
fn expanded_matrix(scratch: &matdiff_core::Graph, t: NodeId, d: NodeId) -> Option<ExpandedGraph> {
    use crate::solve::expand::Expander;
    let mut g = scratch.clone();
    let monos = {
        let mut e = Expander::new(&mut g, d);
        let monos = e.expand(t).ok()?;
        if monos.len() > MAX_EXPANDED_TERMS {
            return None;
        }
        monos.iter().map(|m| crate::solve::system::mono_node(&mut e, m)).collect::<Vec<_>>()
    };
    let mut terms = vec![];
    for n in monos {
        terms.push((1.0, linear_matrix(&mut g, n, d).ok()?));
    }
    let expanded = g.lin(terms);
    let expanded = crate::readable::readable(&mut g, expanded);
    let mut factored = scratch.clone();
    let plain = linear_matrix(&mut factored, t, d).ok()?;
    let plain = crate::readable::readable(&mut factored, plain);
    let len = |g: &matdiff_core::Graph, n: NodeId| {
        let p = matdiff_core::print_shared(g, &[n], Style::Plain).remove(0);
        p.expr.len() + p.defs.iter().map(|(a, b)| a.len() + b.len()).sum::<usize>()
    };
    (len(&g, expanded) < len(&factored, plain)).then_some(ExpandedGraph { graph: g, output: expanded })
}

/// A result built in a graph of its own ([`expanded_matrix`]).
struct ExpandedGraph {
    graph: matdiff_core::Graph,
    output: NodeId,
}

/// How many entries a shape has at the sizes `env.dims`.
fn numel(env: &Env, s: Shape) -> usize {
    let (r, c) = env.size(s);
    r * c
}

/// The perturbation directions of a variable's entries, as lists of vec indices (column-major):
/// one entry, or both (i,j) and (j,i) for a symmetric variable (perturbed symmetrically).
fn entry_directions(rows: usize, cols: usize, symmetric: bool) -> Vec<Vec<usize>> {
    let mut out = vec![];
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

/// `x` moved by `h` along the vec indices `dir`.
fn moved(x: &Mat<f64>, dir: &[usize], h: f64) -> Mat<f64> {
    let mut y = x.clone();
    let r = x.nrows();
    for &k in dir {
        y[(k % r, k / r)] += h;
    }
    y
}

/// The value of node `f` at `env` with variable `var` set to `x`, as a column (vec).
fn vec_at(p: &Problem, f: NodeId, env: &Env, var: usize, x: &Mat<f64>) -> Vec<f64> {
    let mut e = env.clone();
    e.vars[var] = x.clone();
    let m = eval(&p.graph, &[f], &e).remove(0);
    let (r, c) = (m.nrows(), m.ncols());
    (0..r * c).map(|k| m[(k % r, k / r)]).collect()
}

/// Check a derivative against finite differences at random inputs for `settings` dimension
/// settings (sizes 2–3, then 4–5: never the same twice when a dimension is free): central differences of the expression for a first
/// derivative, second differences of the expression for a Hessian and for an HVP (along the
/// direction and each entry). The verdict is [`FdReport::outcome`]: never a pass when nothing
/// was compared.
pub fn check(p: &Problem, d: &Derivative, seed: u64, settings: usize) -> FdReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = FdReport::new();
    let f = p.output;
    let roots = [f, d.root];
    for s in 0..settings {
        let range = if s % 2 == 0 { (2, 3) } else { (4, 5) };
        let mut swamped = false;
        let found = find_point(&p.graph, f, &roots, &mut rng, range, |env| {
            let (vals, errs) = eval_with_error(&p.graph, &roots, env);
            if !vals.iter().all(|m| (0..m.nrows()).all(|i| (0..m.ncols()).all(|j| m[(i, j)].is_finite()))) {
                return None;
            }
            let (fd, fd_error, claimed, claimed_error) = match d.order {
                Order::First => first_differences(p, d, env, &vals[1], errs[1]),
                Order::Hessian | Order::Hvp => second_differences(p, d, env, &vals[1], errs[1]),
            };
            let cmp = FdComparison::new(&fd, fd_error, &claimed, claimed_error);
            if cmp.err > FD_TOLERANCE || cmp.resolved(&claimed) {
                Some(cmp.err)
            } else {
                swamped = true;
                None
            }
        });
        match found {
            Some((env, err)) => {
                report.max_err = report.max_err.max(err);
                report.dims.push(env.dims.clone());
            }
            None if swamped => report.unresolved += 1,
            None => report.skipped += 1,
        }
    }
    report
}

/// Central differences of vec(f) along each entry direction of the variable, as the columns of
/// a numel(f)×(directions) matrix, next to the derivative's value arranged the same way.
fn first_differences(
    p: &Problem,
    d: &Derivative,
    env: &Env,
    val: &Mat<f64>,
    err: f64,
) -> (Mat<f64>, f64, Mat<f64>, f64) {
    let g = &p.graph;
    let x0 = env.vars[d.var].clone();
    let dirs = entry_directions(x0.nrows(), x0.ncols(), g.vars()[d.var].symmetric);
    let nf = numel(env, g.shape(d.of));
    let f_error = rounding_error(&magnitudes(g, &[d.of], env)[0]);
    // The derivative as ∂vec(f)/∂vec(X)ᵀ whatever its layout.
    let jac = |i: usize, k: usize| -> f64 {
        match d.layout {
            Layout::Gradient => val[(k % val.nrows(), k / val.nrows())],
            Layout::Elementwise => val[(i % val.nrows(), i / val.nrows())],
            Layout::Jacobian | Layout::Vec => val[(i, k)],
        }
    };
    let mut fd = Mat::<f64>::zeros(nf, dirs.len());
    let mut claimed = Mat::<f64>::zeros(nf, dirs.len());
    let mut h_min = f64::INFINITY;
    let mut correction: f64 = 0.0;
    for (c, dir) in dirs.iter().enumerate() {
        matdiff_syntax::budget::check();
        let k0 = dir[0];
        let h = fd_step(&x0, k0 % x0.nrows(), k0 / x0.nrows());
        h_min = h_min.min(h);
        let at = |t: f64| vec_at(p, d.of, env, d.var, &moved(&x0, dir, t));
        let (plus, minus, plus2, minus2) = (at(h), at(-h), at(h / 2.0), at(-h / 2.0));
        for i in 0..nf {
            // Steps h and h/2, extrapolated: the same error estimate as `central_differences`.
            let (q, e) = richardson((plus[i] - minus[i]) / (2.0 * h), (plus2[i] - minus2[i]) / h);
            fd[(i, c)] = q;
            if !e.is_nan() {
                correction = correction.max(e);
            }
            claimed[(i, c)] = dir.iter().map(|&k| jac(i, k)).sum();
        }
    }
    // Rounding of the extrapolated quotient: (8 + 1)/3 · f_error / h (see `central_differences`).
    (fd, 3.0 * f_error / h_min + correction, claimed, 2.0 * err)
}

/// Second differences of the scalar expression: for a Hessian, along every pair of entry
/// directions (a, b): (f(+a+b) − f(+a−b) − f(−a+b) + f(−a−b))/(4·hₐ·h_b); for an HVP, along each
/// entry direction and the direction V. Next to them the result arranged the same way.
fn second_differences(
    p: &Problem,
    d: &Derivative,
    env: &Env,
    val: &Mat<f64>,
    err: f64,
) -> (Mat<f64>, f64, Mat<f64>, f64) {
    let g = &p.graph;
    let x0 = env.vars[d.var].clone();
    let r = x0.nrows();
    let dirs = entry_directions(r, x0.ncols(), g.vars()[d.var].symmetric);
    let f_error = rounding_error(&magnitudes(g, &[p.output], env)[0]);
    // A larger step than for first differences: the error of a second difference is
    // truncation h² against rounding ε/h².
    let step = |k: usize| 100.0 * fd_step(&x0, k % r, k / r);
    let f_at = |x: &Mat<f64>| vec_at(p, p.output, env, d.var, x)[0];
    // Richardson extrapolation of the steps h and h/2 cancels the h² term of the truncation
    // error, so curved functions (tanh, exp) are judged at the tolerance of first differences.
    let second = |a: &dyn Fn(f64) -> Mat<f64>, ha: f64, b: &[usize], hb: f64| {
        let quotient = |ha: f64, hb: f64| {
            let at = |s: f64, t: f64| f_at(&moved(&a(s * ha), b, t * hb));
            (at(1.0, 1.0) - at(1.0, -1.0) - at(-1.0, 1.0) + at(-1.0, -1.0)) / (4.0 * ha * hb)
        };
        // The extrapolation's own correction bounds its error (conservatively): it counts as
        // noise, so a function too curved for these steps is not judged at that point
        // instead of failing a right result.
        richardson(quotient(ha, hb), quotient(ha / 2.0, hb / 2.0))
    };
    // The rounding error of the extrapolated quotient: four values off by f_error over
    // (h/2)², weighed 4/3 — about 5.3·f_error/h², rounded up to 6.
    let mut h_min = f64::INFINITY;
    let mut truncation: f64 = 0.0;
    match d.order {
        Order::Hvp => {
            let v = &env.vars[d.direction.expect("an HVP has a direction")];
            // The step along V is relative to X's scale as measured against V's.
            let hv = 100.0 * FD_STEP * rms(&x0) / rms(v);
            let along_v = |t: f64| {
                let mut y = x0.clone();
                for j in 0..y.ncols() {
                    for i in 0..y.nrows() {
                        y[(i, j)] += t * v[(i, j)];
                    }
                }
                y
            };
            let mut fd = Mat::<f64>::zeros(dirs.len(), 1);
            let mut claimed = Mat::<f64>::zeros(dirs.len(), 1);
            for (c, dir) in dirs.iter().enumerate() {
                matdiff_syntax::budget::check();
                let hb = step(dir[0]);
                h_min = h_min.min(hb * hv);
                let (q, e) = second(&along_v, hv, dir, hb);
                fd[(c, 0)] = q;
                truncation = truncation.max(e);
                claimed[(c, 0)] = dir.iter().map(|&k| val[(k % r, k / r)]).sum();
            }
            (fd, 6.0 * f_error / h_min + truncation, claimed, 2.0 * err)
        }
        _ => {
            let n = dirs.len();
            let mut fd = Mat::<f64>::zeros(n, n);
            let mut claimed = Mat::<f64>::zeros(n, n);
            let hess = |k: usize, l: usize| -> f64 {
                match d.layout {
                    // A scalar variable: the Hessian is 1×1.
                    Layout::Gradient | Layout::Elementwise => val[(0, 0)],
                    Layout::Jacobian | Layout::Vec => val[(k, l)],
                }
            };
            for (a, da) in dirs.iter().enumerate() {
                for (b, db) in dirs.iter().enumerate() {
                    matdiff_syntax::budget::check();
                    let (ha, hb) = (step(da[0]), step(db[0]));
                    h_min = h_min.min(ha * hb);
                    let move_a = |t: f64| moved(&x0, da, t);
                    let (q, e) = second(&move_a, ha, db, hb);
                    fd[(a, b)] = q;
                    truncation = truncation.max(e);
                    claimed[(a, b)] =
                        da.iter().flat_map(|&k| db.iter().map(move |&l| (k, l))).map(|(k, l)| hess(k, l)).sum();
                }
            }
            (fd, 6.0 * f_error / h_min + truncation, claimed, 4.0 * err)
        }
    }
}

/// Root mean square of the entries (1 for an all-zero value).
fn rms(m: &Mat<f64>) -> f64 {
    let n = (m.nrows() * m.ncols()).max(1) as f64;
    let s: f64 = (0..m.ncols()).flat_map(|j| (0..m.nrows()).map(move |i| (i, j))).map(|(i, j)| m[(i, j)].powi(2)).sum();
    let r = (s / n).sqrt();
    if r > 0.0 && r.is_finite() {
        r
    } else {
        1.0
    }
}

/// Largest number of steps `steps_text` writes out (a long gradient graph is summarized).
const MAX_STEPS: usize = 60;

/// One step of the chain rule: a node, named and defined over earlier names, with its
/// derivative by the variable (in its own layout) or, for an HVP, its directional derivative.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainStep {
    /// The node's name (`a`, `b`, …; the user's definitions keep theirs; `f` the expression,
    /// `g` its gradient).
    pub name: String,
    /// Its definition over earlier names, plain syntax.
    pub definition: String,
    /// The left side: `∂a/∂x`, or `da` for an HVP.
    pub lhs: String,
    /// Its derivative, plain syntax over the names (or why there is no matrix form).
    pub derivative: String,
}

/// The chain rule of Jacobians node by node: each node of what was differentiated (the
/// expression, or its gradient for a Hessian or HVP) that depends on the variable, in
/// evaluation order (the last 60), with its derivative by the variable — or, for an
/// HVP, its directional derivative along the direction. Returns the heading and the steps.
pub fn chain_steps(p: &mut Problem, d: &Derivative) -> (String, Vec<ChainStep>) {
    let var = d.var;
    let x = p.graph.var_node(var as u32);
    let xname = p.graph.vars()[var].name.clone();
    let order = p.graph.reachable(&[d.of]);
    let mut dep = vec![false; p.graph.len()];
    let mut active = vec![];
    for &n in &order {
        dep[n.index()] = n == x || p.graph.op(n).children().iter().any(|c| dep[c.index()]);
        if dep[n.index()] && n != x && !matches!(p.graph.op(n), matdiff_core::Op::Transpose(_)) {
            active.push(n);
        }
    }
    let mut taken: Vec<String> = p.graph.vars().iter().map(|v| v.name.clone()).collect();
    taken.extend(p.graph.dims().dims().iter().map(|dd| dd.name.clone()));
    let user: Vec<(String, NodeId)> = p.definitions().to_vec();
    let mut names: Vec<(String, NodeId)> = vec![];
    let mut next = 0usize;
    let of_name = match d.order {
        Order::First => "f",
        Order::Hessian | Order::Hvp => "g",
    };
    let heading = match d.order {
        Order::First => format!("Chain rule of Jacobians by {xname}, node by node (f the expression)"),
        Order::Hessian => format!("Chain rule of Jacobians by {xname} through the gradient g = ∇f, node by node"),
        Order::Hvp => {
            "Directional derivatives along the direction through the gradient g = ∇f, node by node".to_string()
        }
    };
    let skipped = active.len().saturating_sub(MAX_STEPS);
    let mut steps = vec![];
    for (i, &n) in active.iter().enumerate() {
        let name = if n == d.of {
            of_name.to_string()
        } else if let Some((u, _)) = user.iter().find(|u| u.1 == n) {
            u.clone()
        } else {
            loop {
                let letter = ((b'a' + (next % 26) as u8) as char).to_string();
                let cand = if next >= 26 { format!("{letter}{}", next / 26) } else { letter };
                next += 1;
                if !taken.contains(&cand) && cand != "f" && cand != "g" {
                    break cand;
                }
            }
        };
        taken.push(name.clone());
        let def = (i >= skipped).then(|| matdiff_core::print_with_names(&p.graph, n, Style::Plain, &names));
        // The node's own name is used in its derivative (`diag(1 - h.^2)` for h = tanh(a)).
        names.push((name.clone(), n));
        let Some(definition) = def else { continue };
        let result = match d.order {
            Order::Hvp => {
                let v = p.graph.var_node(d.direction.expect("an HVP has a direction") as u32);
                let t = jvp(&mut p.graph, &[n], x, v)[0];
                Ok(crate::readable::readable(&mut p.graph, t))
            }
            _ => derivative_of(p, n, var).map(|r| crate::readable::readable(&mut p.graph, r.0)),
        };
        let lhs = match d.order {
            Order::Hvp => format!("d{name}"),
            _ => format!("∂{name}/∂{xname}"),
        };
        let derivative = match result {
            Ok(r) => matdiff_core::print_with_names(&p.graph, r, Style::Plain, &names),
            Err(e) => format!("(not in matrix form: {})", e.message),
        };
        steps.push(ChainStep { name, definition, lhs, derivative });
    }
    let heading = if skipped > 0 { format!("{heading} (the last {MAX_STEPS} of {})", active.len()) } else { heading };
    (heading, steps)
}

/// [`chain_steps`] as text: the heading, then each step as `name = definition` and its
/// derivative below it.
pub fn steps_text(p: &mut Problem, d: &Derivative) -> String {
    let (heading, steps) = chain_steps(p, d);
    let mut out = format!("{heading}:\n");
    for s in steps {
        out.push_str(&format!("  {} = {}\n      {} = {}\n", s.name, s.definition, s.lhs, s.derivative));
    }
    out
}

/// The diagonal factors of a result worth a name when printed: `A'*diag(w)*A` with
/// `w = sigmoid(A*x).*(1 - sigmoid(A*x))`. A weight that is also the factor of an outer product
/// (`e*e'/s^2` with `e/s` the weight) is named `p`, so that the log-sum-exp Hessian and the
/// softmax Jacobian read `diag(p) - p*p'` with `p = exp(x)/sum(exp(x))`; a `softmax(z)` weight
/// (a probability vector) is named `p` too (`diag(p) - p*p'` with `p = softmax(z)`). Returns `(name, node)`
/// pairs for [`matdiff_core::print_with_names`] (`w`, `w2`, …, `p`, `p2`, … skipping names in use).
pub fn named_weights(p: &Problem, root: NodeId) -> Vec<(String, NodeId)> {
    use matdiff_core::Op;
    let g = &p.graph;
    let mut taken: Vec<String> = g.vars().iter().map(|v| v.name.clone()).collect();
    taken.extend(p.definitions().iter().map(|d| d.0.clone()));
    taken.extend(g.dims().dims().iter().map(|d| d.name.clone()));
    let order = g.reachable(&[root]);
    let outer: Vec<NodeId> = order
        .iter()
        .filter_map(|&n| match *g.op(n) {
            Op::Scale(s, x) => matdiff_core::scaled_outer_factors(g, s, x),
            _ => None,
        })
        .flat_map(|(u, w)| [u, w])
        .collect();
    let mut out: Vec<(String, NodeId)> = vec![];
    for n in order {
        let Op::Diag(h) = *g.op(n) else { continue };
        if matches!(g.op(h), Op::Var(_)) || out.iter().any(|o| o.1 == h) {
            continue;
        }
        let stem = if outer.contains(&h) || matches!(g.op(h), Op::Softmax(_)) { "p" } else { "w" };
        let name = (1..)
            .map(|k| if k == 1 { stem.to_string() } else { format!("{stem}{k}") })
            .find(|c| !taken.contains(c) && !out.iter().any(|o| &o.0 == c))
            .unwrap();
        out.push((name, h));
    }
    out
}

/// The text form of a result: the expression with its diagonal weights named
/// ([`named_weights`]: `A'*diag(w)*A`, `diag(p) - p*p'`), else with shared subterms named
/// (`t0`, …), then one `where name = definition` line per name. What `matdiff derivative` and
/// `matdiff hessian` print.
pub fn text_lines(p: &Problem, root: NodeId) -> Vec<String> {
    let weights = named_weights(p, root);
    if weights.is_empty() {
        let shared = p.print_shared_named(&[root], Style::Plain).remove(0);
        std::iter::once(shared.expr).chain(shared.defs.iter().map(|(n, d)| format!("where {n} = {d}"))).collect()
    } else {
        std::iter::once(matdiff_core::print_with_names(&p.graph, root, Style::Plain, &weights))
            .chain(weights.iter().map(|(n, h)| format!("where {n} = {}", p.print(*h, Style::Plain))))
            .collect()
    }
}
