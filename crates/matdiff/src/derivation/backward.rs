//! The backward pass over the forward graph: each node's adjoint from its users' adjoints.
//!
//! The local rules are the differentiator's own (`diff::local_pushes`), applied to each node's
//! definition over symbols with the user's adjoint as an opaque symbol `ū`. That gives each
//! contribution twice: as the rule instantiated (`W*b̄`) and with `b̄` replaced by its value
//! (`W*c`). Both are rewritten so that any forward definition they contain reads as its name.

use super::subst::{subst, subst_memo};
use super::{AdjointStep, Contribution, FwdNode, NodeKind, Operand};
use matdiff_core::local_pushes;
use matdiff_core::{Graph, NodeId, Op};
use std::collections::HashMap;

pub(super) struct Backward {
    pub steps: Vec<AdjointStep>,
    /// Adjoint (over forward names) of each active node.
    pub adjoints: Vec<Option<NodeId>>,
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
    // Substitutions of `names` found so far: each adjoint contains its users' adjoints, so
    // without the memo every step would walk the whole expression again (quadratic in depth).
    let mut named_memo = HashMap::new();
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
        let (adjoint, shown) = if i == output {
            let one = g.constant(1.0);
            (one, one)
        } else {
            let values: Vec<NodeId> = contributions.iter().map(|c| c.value).collect();
            let adjoint = g.sum_of(&values, node.shape);
            let shown: Vec<NodeId> = contributions.iter().map(|c| c.shown).collect();
            let budget = shown.iter().map(|&e| tree_size(g, e, MAX_SHOWN)).sum::<usize>();
            let shown = if compact(g, adjoint, budget) { adjoint } else { g.sum_of(&shown, node.shape) };
            (adjoint, shown)
        };
        adjoints[i] = Some(adjoint);
        steps.push(AdjointStep { node: i, adjoint, shown, contributions });
        let (Some(def), NodeKind::Operation) = (node.def, node.kind) else {
            continue;
        };
        // The user's adjoint as an opaque symbol, for the rule as written.
        let (_, bar) = g.add_symbol(bar_placeholder(i), node.symbol, false);
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
            let value = subst_memo(g, value, &names, &mut named_memo);
            let shown = if compact(g, value, tree_size(g, formula, MAX_SHOWN)) { value } else { formula };
            incoming[j].push(Contribution { from: i, rule, transposed, formula, value, shown });
        }
    }
    Backward { steps, adjoints }
}

/// The most tree nodes a substituted value may print as before the derivation shows the
/// rule's formula (in the user's adjoint symbol) instead; see [`compact`].
const MAX_SHOWN: usize = 1_000;

/// Whether `value` prints small enough to show next to a formula of `budget` tree nodes: at
/// most three times as large, or 48 nodes. Along a definitions chain the substituted values
/// grow by a factor at every step, so showing them all would make the derivation quadratic in
/// its depth; with this bound each step's text is a constant times its formula's.
fn compact(g: &Graph, value: NodeId, budget: usize) -> bool {
    let limit = (3 * budget).max(48);
    tree_size(g, value, limit) <= limit
}

/// The number of nodes `root` prints as (a subterm used twice counted twice), counted only up
/// to just past `cap`, so that the answer costs O(cap) however large the tree.
fn tree_size(g: &Graph, root: NodeId, cap: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        count += 1;
        if count > cap {
            break;
        }
        stack.extend(g.op(n).children());
    }
    count
}
