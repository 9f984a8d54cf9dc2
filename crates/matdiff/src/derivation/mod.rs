//! The derivation a student writes by hand: the forward graph with named nodes, the backward
//! pass node by node (rule, contributions, total derivative), and the final gradient.
//!
//! [`Derivation::new`] builds it from a problem and its gradients; renderers turn it into
//! text, Markdown, LaTeX or JSON ([`Derivation::render`]); `diagram` draws its graph. The
//! expressions live in a private copy of the problem's graph in which every forward node has an
//! opaque symbol, so adjoints are simplified and printed in terms of the names (`W*c*x'`).

mod backward;
mod check;
mod forward;
mod render;
mod rules;
pub(crate) mod subst;

pub use check::AdjointCheck;
pub use render::StepsFormat;
pub use rules::{rule_id, rule_latex, rule_words};

use crate::problem::{Gradients, Problem};
use matdiff_core::Rule;
use matdiff_core::Shape;
use matdiff_core::{latex_name, print, Style};
use matdiff_core::{Graph, NodeId};
use matdiff_exec::FdReport;
use std::collections::HashMap;

/// An input variable or an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// An input variable.
    Variable,
    /// An operation on other nodes.
    Operation,
}

/// How a node uses one of its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// Another node (index into [`Derivation::nodes`]), possibly transposed in place (`W'*a`).
    Node {
        /// Index into [`Derivation::nodes`].
        node: usize,
        /// Used as its transpose.
        transposed: bool,
    },
    /// An inline constant (`0.5`, `eye(n)`), a node of [`Derivation::graph`].
    Const(NodeId),
}

/// One node of the forward graph.
#[derive(Clone, Debug)]
pub struct FwdNode {
    /// `W` for a variable; `a`, `b`, … in evaluation order for operations; the output is `L`.
    pub name: String,
    /// Variable or operation.
    pub kind: NodeKind,
    /// Short name of the operation (`matmul`, `sum`, `swish`, …; `variable` for inputs).
    pub op: &'static str,
    /// The node's value as an IR node of the problem (a chain piece for split products).
    pub value: NodeId,
    /// The node's name as a node of [`Derivation::graph`] (for a variable, the variable itself).
    pub symbol: NodeId,
    /// The definition over the operands' symbols (`W'*a`); `None` for variables.
    pub def: Option<NodeId>,
    /// Operands in order (an operand used twice, as in `x*x'`, appears twice).
    pub inputs: Vec<Operand>,
    /// Its shape.
    pub shape: Shape,
    /// Depends on a differentiated variable (so it has an adjoint).
    pub active: bool,
    /// Is a differentiated variable.
    pub wrt: bool,
}

/// One contribution to a node's adjoint, along the edge from one of its users.
#[derive(Clone, Debug)]
pub struct Contribution {
    /// The user (index into [`Derivation::nodes`]).
    pub from: usize,
    /// The local rule applied.
    pub rule: Rule,
    /// The node enters the user transposed, so the rule's result is transposed.
    pub transposed: bool,
    /// The rule instantiated, in terms of the user's adjoint symbol (`W*b̄`).
    pub formula: NodeId,
    /// The same with the user's adjoint substituted and simplified (`W*c`).
    pub value: NodeId,
    /// What the renderers print as the value: `value`, or `formula` when `value` would print
    /// far larger (deep in a definitions chain it holds the whole product of the chain).
    pub shown: NodeId,
}

/// The adjoint of one node: its contributions and their simplified sum.
#[derive(Clone, Debug)]
pub struct AdjointStep {
    /// The node (index into [`Derivation::nodes`]).
    pub node: usize,
    /// ∂L/∂node over the forward names; `1` for the output (the seed).
    pub adjoint: NodeId,
    /// What the renderers print as the adjoint: `adjoint`, or the sum of the contributions as
    /// shown when `adjoint` would print far larger (see [`Contribution::shown`]).
    pub shown: NodeId,
    /// In the order the users were processed (reverse evaluation order).
    pub contributions: Vec<Contribution>,
}

/// The gradient w.r.t. one asked variable.
#[derive(Clone, Debug)]
pub struct FinalGradient {
    /// The variable's name.
    pub name: String,
    /// The variable's node, `None` when the output does not depend on it.
    pub node: Option<usize>,
    /// Over the forward names (`W*c*x' + a*c'`); zero when independent.
    pub adjoint: NodeId,
    /// With every name replaced by its definition, re-simplified (an IR node of the problem).
    pub expanded: NodeId,
    /// What `Problem::gradients` (and so `matdiff grad`) computed.
    pub direct: NodeId,
}

impl FinalGradient {
    /// The derivation's expanded gradient is the very node `grad` prints.
    pub fn agrees(&self) -> bool {
        self.expanded == self.direct
    }
}

/// A derivation of gradients, ready to render.
#[derive(Clone, Debug)]
pub struct Derivation {
    /// A copy of the problem's graph, extended with one symbol per forward node.
    pub graph: Graph,
    /// Forward nodes in evaluation order (an operand comes before its users).
    pub nodes: Vec<FwdNode>,
    /// The output node; `None` when the expression is a constant.
    pub output: Option<usize>,
    /// The output's name (`L`, or `f` when a variable is called L).
    pub output_name: String,
    /// Adjoints in reverse evaluation order (active nodes only; empty without `wrt`).
    pub backward: Vec<AdjointStep>,
    /// The gradient w.r.t. each asked variable.
    pub gradients: Vec<FinalGradient>,
    /// Central-difference check of the final gradients.
    pub check: Option<FdReport>,
    /// Original problem's output and variable count, for numeric checks.
    problem_output: NodeId,
    /// Node → its index in `backward`, so looking a step up is O(1).
    step_index: HashMap<usize, usize>,
}

impl Derivation {
    /// The forward graph only (for drawing an expression without differentiating).
    pub fn forward(p: &Problem) -> Derivation {
        Derivation::forward_with_names(p, &[])
    }

    /// The forward graph only, naming the nodes the user named (see [`user_names`]).
    pub fn forward_with_names(p: &Problem, names: &[(String, NodeId)]) -> Derivation {
        let mut graph = p.graph.clone();
        let fwd = forward::build(&mut graph, p.output, &[], names);
        Derivation {
            graph,
            nodes: fwd.nodes,
            output: fwd.output,
            output_name: fwd.output_name,
            backward: vec![],
            gradients: vec![],
            check: None,
            problem_output: p.output,
            step_index: HashMap::new(),
        }
    }

    /// The full derivation of `grads` (from `p.gradients(..)`), with a numeric check of the result
    /// at random inputs (seed 1, two dimension settings).
    pub fn new(p: &Problem, grads: &Gradients) -> Derivation {
        Derivation::with_names(p, grads, &[])
    }

    /// Like [`Derivation::new`], naming the nodes the user named (see [`user_names`]).
    pub fn with_names(p: &Problem, grads: &Gradients, names: &[(String, NodeId)]) -> Derivation {
        let mut graph = p.graph.clone();
        let fwd = forward::build(&mut graph, p.output, &grads.vars, names);
        let mut output_name = fwd.output_name;
        if let Some(o) = fwd.output.filter(|&o| fwd.nodes[o].kind == NodeKind::Variable) {
            output_name = fwd.nodes[o].name.clone();
        }
        let (steps, adjoints) = match fwd.output {
            Some(o) => {
                let b = backward::run(&mut graph, &fwd.nodes, o);
                (b.steps, b.adjoints)
            }
            None => (vec![], vec![None; fwd.nodes.len()]),
        };
        // Names back to definitions, for the expanded gradient.
        let defs: HashMap<NodeId, NodeId> =
            fwd.nodes.iter().filter(|n| n.kind == NodeKind::Operation).map(|n| (n.symbol, n.value)).collect();
        let mut gradients = vec![];
        for (k, &v) in grads.vars.iter().enumerate() {
            let var_node = graph.var_node(v as u32);
            let node = fwd.nodes.iter().position(|n| n.kind == NodeKind::Variable && n.value == var_node);
            let shape = graph.shape(var_node);
            let adjoint = match node.and_then(|i| adjoints[i]) {
                Some(a) => a,
                None => graph.zero(shape),
            };
            let expanded = subst::subst(&mut graph, adjoint, &defs);
            gradients.push(FinalGradient {
                name: graph.vars()[v].name.clone(),
                node,
                adjoint,
                expanded,
                direct: grads.nodes[k],
            });
        }
        let check = Some(p.fd_check(grads, 1, 2));
        let step_index = steps.iter().enumerate().map(|(k, s)| (s.node, k)).collect();
        Derivation {
            graph,
            nodes: fwd.nodes,
            output: fwd.output,
            output_name,
            backward: steps,
            gradients,
            check,
            problem_output: p.output,
            step_index,
        }
    }

    /// Render in one of the formats.
    pub fn render(&self, format: StepsFormat) -> String {
        render::render(self, format)
    }

    /// The derivation as a JSON value (the schema of [`StepsFormat::Json`]), for front ends
    /// that send it on without printing it.
    pub fn to_json(&self) -> serde_json::Value {
        render::to_json(self)
    }

    /// An expression of the derivation graph, with adjoint symbols written `ū` (or `\bar{u}`).
    pub fn show(&self, id: NodeId, style: Style) -> String {
        let s = print(&self.graph, id, style);
        if !s.contains('§') {
            return s;
        }
        // Placeholders `§i§` (in LaTeX `\mathrm{§i§}`, as `latex_name` writes a long name)
        // replaced in one pass over the text: one `replace` per symbol would make every line
        // cost as much as the whole derivation.
        let mut out = String::with_capacity(s.len());
        let mut rest = s.as_str();
        while let Some(start) = rest.find('§') {
            let after = &rest[start + '§'.len_utf8()..];
            let parsed = after.find('§').and_then(|end| Some((after[..end].parse::<usize>().ok()?, end)));
            let Some((node, end)) = parsed.filter(|&(node, _)| node < self.nodes.len()) else {
                out.push_str(&rest[..start + '§'.len_utf8()]);
                rest = after;
                continue;
            };
            let (mut head, mut tail) = (&rest[..start], &after[end + '§'.len_utf8()..]);
            if style == Style::Latex {
                if let (Some(h), Some(t)) = (head.strip_suffix("\\mathrm{"), tail.strip_prefix('}')) {
                    (head, tail) = (h, t);
                }
            }
            out.push_str(head);
            out.push_str(&self.bar(node, style));
            rest = tail;
        }
        out.push_str(rest);
        out
    }

    /// The adjoint symbol of node `i`: `ū` in plain text, `\bar{u}` in LaTeX.
    pub fn bar(&self, i: usize, style: Style) -> String {
        bar_name(&self.nodes[i].name, style)
    }

    /// A node's name in the style (`W1` or `W_{1}`).
    pub fn name(&self, i: usize, style: Style) -> String {
        match style {
            Style::Plain => self.nodes[i].name.clone(),
            Style::Latex => latex_name(&self.nodes[i].name),
        }
    }

    /// The adjoint step of node `i`, if it is active.
    pub fn step_of(&self, i: usize) -> Option<&AdjointStep> {
        self.step_index.get(&i).map(|&k| &self.backward[k])
    }

    /// Nodes that use node `i`, in evaluation order, without repeats.
    pub fn users(&self, i: usize) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&j| self.nodes[j].inputs.iter().any(|o| matches!(o, Operand::Node { node, .. } if *node == i)))
            .collect()
    }
}

/// The subexpressions the user named with definitions (`h = relu(W*x + b) + x` before the
/// expression), as nodes of the problem's graph, so that the derivation can call those nodes by
/// the user's names: [`Problem::definitions`], kept from lowering (plain or LaTeX input alike).
pub fn user_names(p: &Problem) -> Vec<(String, NodeId)> {
    p.definitions().to_vec()
}

/// `ū` for a name: a combining macron on the first letter (`W̄1` for W1); in LaTeX `\bar{W}_{1}`.
pub fn bar_name(name: &str, style: Style) -> String {
    match style {
        Style::Plain => {
            let mut cs = name.chars();
            let first = cs.next().unwrap_or('?');
            format!("{first}\u{304}{}", cs.as_str())
        }
        Style::Latex => {
            let l = latex_name(name);
            match l.find("_{") {
                Some(i) => format!("\\bar{{{}}}{}", &l[..i], &l[i..]),
                None if name.chars().count() == 1 => format!("\\bar{{{l}}}"),
                None => format!("\\overline{{{l}}}"),
            }
        }
    }
}
