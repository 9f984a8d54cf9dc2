//! The backward pass over the forward graph: each node's adjoint from its users' adjoints.
//!
//! The local rules are the differentiator's own (`diff::local_pushes`), applied to each node's
//! definition over symbols with the user's adjoint as an opaque symbol `ū`. That gives each
//! contribution twice: as the rule instantiated (`W*b̄`) and with `b̄` replaced by its value
//! (`W*c`). Both are rewritten so that any forward definition they contain reads as its name.

use super::subst::subst;
use super::{AdjointStep, Contribution, FwdNode, NodeKind, Operand};
use matdiff_core::local_pushes;
use matdiff_core::{Graph, NodeId, Op, Var};
use std::collections::HashMap;

pub(super) struct Backward {
    pub steps: Vec<AdjointStep>,
    /// Adjoint (over forward names) of each active node.
    pub adjoints: Vec<Option<NodeId>>,
    /// The symbol `ū` of each node whose adjoint is used in a formula, by placeholder variable.
    pub bars: HashMap<u32, usize>,
}

/// Placeholder name of the adjoint symbol of node `i`; renderers replace it with `ū` / `\bar{u}`.
pub(super) fn bar_placeholder(i: usize) -> String {
    format!("§{i}§")
}

pub(super) fn run(g: &mut Graph, nodes: &[FwdNode], output: usize) -> Backward {
    // Any forward definition inside an expression is written as its name.
    let names: HashMap<NodeId, NodeId> =
        nodes.iter().filter_map(|n| n.def.filter(|d| !matches!(g.op(*d), Op::Var(_))).map(|d| (d, n.symbol))).collect();
    let mut incoming: Vec<Vec<Contribution>> = vec![vec![]; nodes.len()];
    let mut adjoints: Vec<Option<NodeId>> = vec![None; nodes.len()];
    let mut steps = vec![];
    let mut bars = HashMap::new();
    // Operations from the output back; then the inputs (whose adjoints are complete by then) in
    // the order the problem lists them.
    let ops = (0..nodes.len()).rev().filter(|&i| nodes[i].kind == NodeKind::Operation);
    let inputs = (0..nodes.len()).filter(|&i| nodes[i].kind == NodeKind::Variable);
    for i in ops.chain(inputs) {
        let node = &nodes[i];
        if !node.active {
            continue;
        }
        let contributions = std::mem::take(&mut incoming[i]);
        let adjoint = if i == output {
            g.constant(1.0)
        } else {
            let values: Vec<NodeId> = contributions.iter().map(|c| c.value).collect();
            g.sum_of(&values, node.shape)
        };
        adjoints[i] = Some(adjoint);
        steps.push(AdjointStep { node: i, adjoint, contributions });
        let (Some(def), NodeKind::Operation) = (node.def, node.kind) else {
            continue;
        };
        // The user's adjoint as an opaque symbol, for the rule as written.
        g.vars.push(Var { name: bar_placeholder(i), shape: node.shape, symmetric: false });
        let var = (g.vars.len() - 1) as u32;
        bars.insert(var, i);
        let bar = g.var_node(var);
        let operands: Vec<(Operand, NodeId)> = node
            .inputs
            .iter()
            .map(|&o| {
                let e = match o {
                    Operand::Const(c) => c,
                    Operand::Node { node, transposed } => {
                        let s = nodes[node].symbol;
                        if transposed {
                            g.transpose(s)
                        } else {
                            s
                        }
                    }
                };
                (o, e)
            })
            .collect();
        let by_bar: HashMap<NodeId, NodeId> = [(bar, adjoint)].into_iter().collect();
        for (child, push, rule) in local_pushes(g, def, bar) {
            let Some(&(Operand::Node { node: j, transposed }, _)) = operands.iter().find(|(_, e)| *e == child) else {
                continue;
            };
            if !nodes[j].active {
                continue;
            }
            let formula = if transposed { g.transpose(push) } else { push };
            let formula = subst(g, formula, &names);
            let value = subst(g, formula, &by_bar);
            let value = subst(g, value, &names);
            incoming[j].push(Contribution { from: i, rule, transposed, formula, value });
        }
    }
    Backward { steps, adjoints, bars }
}
