//! The front door: text in, a typed problem out; gradients, printing and checks on top.

use matdiff_core::{gradients, Backward};
use matdiff_core::{lower, lower_into, Kind};
use matdiff_core::{print, print_shared, Printed, Style};
use matdiff_core::{Graph, NodeId, Op};
use matdiff_exec::{check_gradients, FdReport};
use matdiff_syntax::{looks_like_latex_with, parse_decls, parse_latex, parse_plain, Decl, PlainMode, Program};
use matdiff_syntax::{Error, ErrorKind, Input, Result, Span};

/// A parsed, shape-checked expression.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The typed DAG of the expression, its claims and derivatives (read with
    /// [`Problem::graph`]; only this crate adds to it).
    pub(crate) graph: Graph,
    /// The expression's node.
    pub output: NodeId,
    /// Undeclared names and the kind each was given.
    pub inferred: Vec<(String, Kind)>,
    /// Length of the expression source, for whole-expression spans.
    source_len: usize,
    /// The declarations, reused for claims.
    decls: Vec<Decl>,
    /// How the expression was read ("read as: ...", "read `xx` as x*x"): LaTeX, and plain
    /// input with products by juxtaposition; empty for explicit plain syntax.
    pub notes: Vec<String>,
    /// The user's definitions (`h = …` lines, plain or LaTeX) with their nodes, in source order.
    definitions: Vec<(String, NodeId)>,
}

/// Gradients of a problem's scalar output w.r.t. some variables, with the backward pass.
#[derive(Clone, Debug)]
pub struct Gradients {
    /// Variable indices (into `graph.vars`), as asked.
    pub vars: Vec<usize>,
    /// Gradient node per variable.
    pub nodes: Vec<NodeId>,
    /// The backward pass the gradients came from (every contribution recorded).
    pub backward: Backward,
}

impl Problem {
    /// The typed DAG of the expression, its claims and derivatives.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    /// The graph, to add nodes to (a claim, a test's variant of a result): new nodes are best
    /// made with the checked [`Graph::apply`]; variables and dimensions cannot be changed.
    pub fn graph_mut(&mut self) -> &mut Graph {
        &mut self.graph
    }
    /// The graph, for a caller that keeps it after the problem (a compiled function).
    pub fn into_graph(self) -> Graph {
        self.graph
    }
    /// Parse and type-check `expr` under `decls` (the `--decl` string, possibly empty).
    /// LaTeX is detected (`looks_like_latex`) and read with `parse_latex`.
    pub fn new(expr: &str, decls: &str) -> Result<Problem> {
        let parsed = parse_decls(decls)?;
        let names: Vec<&str> = parsed.iter().map(|d| d.name.as_str()).collect();
        if looks_like_latex_with(expr, &names) {
            return Problem::new_latex(expr, decls);
        }
        let read = parse_plain(expr, &names, PlainMode::Expression)?;
        let decls = parsed.clone();
        Problem::from_program(&read.program, expr, decls, read.notes)
    }

    /// Like `new`, but `expr` is read as LaTeX whatever it looks like (`--latex`).
    pub fn new_latex(expr: &str, decls: &str) -> Result<Problem> {
        let decls = parse_decls(decls)?;
        let names: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
        let read = parse_latex(expr, &names)?;
        Problem::from_program(&read.program, expr, decls, read.notes)
    }

    fn from_program(program: &Program, expr: &str, decls: Vec<Decl>, notes: Vec<String>) -> Result<Problem> {
        let lowered = lower(program, &decls)?;
        Ok(Problem {
            graph: lowered.graph,
            output: lowered.output,
            inferred: lowered.inferred,
            definitions: lowered.definitions,
            source_len: expr.len(),
            decls,
            notes,
        })
    }

    /// Lower another expression (a claimed answer) into this problem's graph: same variables,
    /// same dimensions. Errors point into `src` (`Input::Claim`). Equal canonical forms get
    /// the same `NodeId`, which is the exact symbolic comparison.
    pub fn claim(&mut self, src: &str) -> Result<NodeId> {
        self.claim_like(src, None)
    }

    /// [`Problem::claim`] of something shaped like `like` (a shape of this graph, e.g. the
    /// gradient's): the claim's free sizes (`vector(1)`, `I`) are taken from it.
    pub fn claim_like(&mut self, src: &str, like: Option<matdiff_core::Shape>) -> Result<NodeId> {
        let mut names: Vec<&str> = self.decls.iter().map(|d| d.name.as_str()).collect();
        names.extend(self.graph.vars().iter().map(|v| v.name.as_str()));
        let program = if looks_like_latex_with(src, &names) {
            parse_latex(src, &names).map_err(|e| e.in_input(Input::Claim))?.program
        } else {
            parse_plain(src, &names, PlainMode::Claim).map_err(|e| e.in_input(Input::Claim))?.program
        };
        matdiff_core::lower_into_like(&program, &self.decls, &mut self.graph, true, like)
            .map_err(|e| e.in_input(Input::Claim))
    }

    /// Lower a claim that is already a syntax tree (definitions, then the expression) into
    /// this problem's graph, like [`Problem::claim`]: no text is re-parsed, so callers that read
    /// claims themselves (the auditor) keep their own spans. Errors point into the tree's
    /// source (`Input::Claim`).
    pub fn claim_program(&mut self, program: &Program) -> Result<NodeId> {
        lower_into(program, &self.decls, &mut self.graph).map_err(|e| e.in_input(Input::Claim))
    }

    /// [`Problem::claim_program`] without scalar broadcasting (`C - 5` with C a matrix is a
    /// shape error): for readers of OCR'd text, where an ill-typed reading calls for a repair.
    pub fn claim_program_unbroadcast(&mut self, program: &Program) -> Result<NodeId> {
        matdiff_core::lower_into_with(program, &self.decls, &mut self.graph, false)
            .map_err(|e| e.in_input(Input::Claim))
    }

    /// `claim`, reading `src` as LaTeX whatever it looks like.
    pub fn claim_latex(&mut self, src: &str) -> Result<NodeId> {
        let mut names: Vec<&str> = self.decls.iter().map(|d| d.name.as_str()).collect();
        names.extend(self.graph.vars().iter().map(|v| v.name.as_str()));
        let program = parse_latex(src, &names).map_err(|e| e.in_input(Input::Claim))?.program;
        self.claim_program(&program)
    }

    /// The variable called `name`, or an error listing the ones that exist.
    pub fn var_index(&self, name: &str) -> Result<usize> {
        self.graph.var_id(name).map(|v| v as usize).ok_or_else(|| {
            let names: Vec<String> = self.graph.vars().iter().map(|v| format!("`{}`", v.name)).collect();
            let (message, label) = if name.is_empty() {
                (
                    "no variable named to differentiate with respect to".to_string(),
                    "differentiate this w.r.t. which variable?".to_string(),
                )
            } else {
                (format!("`{name}` does not occur in the expression"), format!("no `{name}` in here"))
            };
            let err = Error::new(Input::Expr, Span::new(0, self.source_len), message)
                .with_kind(ErrorKind::UnknownName)
                .with_label(label);
            if names.is_empty() {
                err.with_note("the expression has no variables, so there is nothing to differentiate")
            } else {
                err.with_note(format!("its variables are: {}", names.join(", ")))
            }
        })
    }

    /// Differentiate the (scalar) output w.r.t. each named variable.
    pub fn gradients(&mut self, wrt: &[&str]) -> Result<Gradients> {
        let shape = self.graph.shape(self.output);
        if !shape.is_scalar() {
            let d = self.graph.dims().describe(shape);
            return Err(Error::new(
                Input::Expr,
                Span::new(0, self.source_len),
                format!("a gradient needs a scalar expression, but this one is {d}"),
            )
            .with_kind(ErrorKind::Shape)
            .with_label(format!("this is {d}"))
            .with_note("wrap it in sum(..), norm2(..)^2 or tr(..) to get a scalar"));
        }
        let vars = wrt.iter().map(|n| self.var_index(n)).collect::<Result<Vec<_>>>()?;
        let var_nodes: Vec<NodeId> = vars.iter().map(|&v| self.graph.var_node(v as u32)).collect();
        let (nodes, backward) = gradients(&mut self.graph, self.output, &var_nodes);
        Ok(Gradients { vars, nodes, backward })
    }

    /// Node `id` in plain syntax or LaTeX, inline.
    pub fn print(&self, id: NodeId, style: Style) -> String {
        print(&self.graph, id, style)
    }
    /// Nodes in plain syntax or LaTeX, subterms used more than once named (`where t0 = …`).
    pub fn print_shared(&self, roots: &[NodeId], style: Style) -> Vec<Printed> {
        print_shared(&self.graph, roots, style)
    }
    /// `print_shared` with the user's definitions (`h = …`) keeping their names.
    pub fn print_shared_named(&self, roots: &[NodeId], style: Style) -> Vec<Printed> {
        matdiff_core::print_shared_named(&self.graph, roots, style, &self.definitions)
    }
    /// Written out in full when that is about as short, else as `print_shared_named`
    /// ([`matdiff_core::print_compact`]): output linear in the size of the graph.
    pub fn print_compact(&self, roots: &[NodeId], style: Style) -> Vec<Printed> {
        matdiff_core::print_compact(&self.graph, roots, style, &self.definitions)
    }
    /// The user's definitions (`h = tanh(W*x)` lines before the expression, plain or LaTeX), in
    /// source order, each with the node it names. Derivations and printing keep these names.
    ///
    /// ```
    /// let p = matdiff::Problem::new("h = tanh(W*x)\nsum(h)", "W: matrix(m,n); x: vector(n)").unwrap();
    /// assert_eq!(p.definitions()[0].0, "h");
    /// ```
    pub fn definitions(&self) -> &[(String, NodeId)] {
        &self.definitions
    }

    /// Dimension names of a node's shape, e.g. `["m","n"]`.
    pub fn shape_names(&self, id: NodeId) -> Vec<String> {
        self.graph.dims().shape_names(self.graph.shape(id))
    }
    /// Check gradients against central differences at random inputs, `settings` dimension settings.
    pub fn fd_check(&self, grads: &Gradients, seed: u64, settings: usize) -> FdReport {
        check_gradients(&self.graph, self.output, &grads.vars, &grads.nodes, seed, settings)
    }
    /// Bind input values to the variables. Values of declared names that the expression does
    /// not use still fix the sizes of their named dimensions (so `vector(1, n)`, the gradient of
    /// `sum(x)`, can be evaluated with the inputs of the original expression).
    pub fn bind(&self, inputs: &std::collections::HashMap<String, matdiff_exec::Value>) -> Result<matdiff_exec::Env> {
        let mut env = matdiff_exec::bind(&self.graph, inputs)?;
        for decl in &self.decls {
            if self.graph.var_id(&decl.name).is_some() {
                continue;
            }
            let Some(value) = inputs.get(&decl.name) else { continue };
            let (rows, cols) = match value {
                matdiff_exec::Value::Scalar(_) => (1, 1),
                matdiff_exec::Value::Vector(v) => (v.len(), 1),
                matdiff_exec::Value::Matrix(r) => (r.len(), r.first().map_or(0, |x| x.len())),
            };
            use matdiff_syntax::{DeclKind, DimSpec};
            let named = |d: &Option<DimSpec>| match d {
                Some(DimSpec::Name(n)) => Some(n.clone()),
                _ => None,
            };
            let pairs = match &decl.kind {
                DeclKind::Scalar => vec![],
                DeclKind::Vector(n) => vec![(named(n), rows)],
                DeclKind::Matrix(m, n) => vec![(named(m), rows), (named(n), cols)],
                DeclKind::Symmetric(n) => vec![(named(n), rows), (named(n), cols)],
            };
            for (name, k) in pairs {
                let Some(d) = name.and_then(|n| self.graph.dims().by_name(&n)) else { continue };
                let slot = &mut env.dims[d as usize];
                if *slot == usize::MAX {
                    *slot = k;
                } else if *slot != k {
                    return Err(Error::unspanned(
                        Input::Values,
                        format!(
                            "dimension {} is {} from the other inputs but {k} from `{}`",
                            self.graph.dims().name(d),
                            *slot,
                            decl.name
                        ),
                    ));
                }
            }
        }
        self.graph.dims().fill_products(&mut env.dims);
        Ok(env)
    }

    /// The span of the whole expression (for errors about it as a whole).
    pub(crate) fn span(&self) -> Span {
        Span::new(0, self.source_len)
    }

    /// What a reader of the result should know about how the input was read: the LaTeX
    /// reading choices, and each undeclared name whose kind its usage decided (front ends show
    /// these as notes).
    pub fn reading_notes(&self) -> Vec<String> {
        let mut out = self.notes.clone();
        out.extend(self.retyping_notes());
        out
    }

    /// One note per undeclared name whose kind its usage decided against its first letter
    /// (``b` is read as a vector …`): results depend on it, so front ends show these with the
    /// result itself (a `note:` line of the text output, `"notes"` in JSON).
    pub fn retyping_notes(&self) -> Vec<String> {
        self.inferred
            .iter()
            .filter(|(name, kind)| *kind != matdiff_core::default_kind(name))
            .map(|(name, kind)| {
                format!("`{name}` is read as a {} (from how it is used); declare it to be sure", kind.word())
            })
            .collect()
    }

    /// The declarations the problem was read with (in the order given), including names the
    /// expression does not use.
    pub fn decls(&self) -> &[Decl] {
        &self.decls
    }

    /// Whether the node is a plain variable (for display).
    pub fn is_var(&self, id: NodeId) -> bool {
        matches!(self.graph.op(id), Op::Var(_))
    }
}
