//! The gradient as a sum of per-path contributions, each named by the occurrence it flows
//! through ("the path through W' in W'*W*x"), for "missing one path's term" diagnoses.

use matdiff_core::Backward;
use matdiff_core::{print, Style};
use matdiff_core::{Graph, NodeId, Op};

/// One path's contribution to the gradient.
#[derive(Clone, Debug)]
pub struct PathTerm {
    /// Its value, a node of the problem's graph (same shape as the gradient).
    pub value: NodeId,
    /// "the path through W' in W'*W*x".
    pub label: String,
}

/// Longest context expression shown in a label.
const MAX_CONTEXT: usize = 60;

fn short(g: &Graph, n: NodeId) -> String {
    let s = print(g, n, Style::Plain);
    if s.chars().count() > MAX_CONTEXT {
        let cut: String = s.chars().take(MAX_CONTEXT - 1).collect();
        format!("{cut}…")
    } else {
        s
    }
}

fn ordinal(k: usize) -> String {
    match k {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        _ => format!("{k}th"),
    }
}

/// "W' in W'*W*x", with an ordinal when `child` occurs several times in `parent`.
fn occurrence(g: &Graph, bw: &Backward, parent: NodeId, child: NodeId, nth: usize) -> String {
    let times = bw.pushes.iter().filter(|p| p.parent == parent && p.child == child).count();
    let name = short(g, child);
    if times > 1 {
        format!("the {} {name} in {}", ordinal(nth), short(g, parent))
    } else {
        format!("{name} in {}", short(g, parent))
    }
}

/// The terms whose sum is the adjoint of `var_node`: one per push into it, and pushes that
/// arrive through the variable's transpose are split by where the transpose is used.
pub fn path_terms(g: &mut Graph, bw: &Backward, var_node: NodeId) -> Vec<PathTerm> {
    let mut out = vec![];
    let mut seen: Vec<(NodeId, NodeId)> = vec![];
    let into = |child: NodeId| -> Vec<(NodeId, NodeId)> {
        bw.pushes.iter().filter(|p| p.child == child).map(|p| (p.parent, p.value)).collect()
    };
    for (parent, value) in into(var_node) {
        let through_transpose = *g.op(parent) == Op::Transpose(var_node);
        if through_transpose {
            for (grand, v) in into(parent) {
                let nth = 1 + seen.iter().filter(|s| **s == (grand, parent)).count();
                seen.push((grand, parent));
                let label = format!("the path through {}", occurrence(g, bw, grand, parent, nth));
                let value = g.transpose(v);
                out.push(PathTerm { value, label });
            }
        } else {
            let nth = 1 + seen.iter().filter(|s| **s == (parent, var_node)).count();
            seen.push((parent, var_node));
            let label = format!("the path through {}", occurrence(g, bw, parent, var_node, nth));
            out.push(PathTerm { value, label });
        }
    }
    out
}
