//! The derivation as JSON, for the web page (the same structure as the text, as data).
//!
//! The schema is documented on [`StepsFormat::Json`](super::StepsFormat::Json).

use super::super::{Derivation, NodeKind, Operand};
use matdiff_core::NodeId;
use matdiff_core::Style;
use matdiff_exec::FdOutcome;
use serde_json::{json, Map, Value};

pub(super) fn render(d: &Derivation) -> String {
    let mut s = serde_json::to_string_pretty(&to_json(d)).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

fn expr(d: &Derivation, id: NodeId) -> Value {
    json!({"text": d.show(id, Style::Plain), "latex": d.show(id, Style::Latex)})
}

/// The derivation as a JSON value (see the module documentation for the schema).
pub(crate) fn to_json(d: &Derivation) -> Value {
    let adjoint_of = |i: usize| d.step_of(i).map(|s| s.shown);
    let nodes: Vec<Value> = d
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let inputs: Vec<Value> = n
                .inputs
                .iter()
                .map(|o| match *o {
                    Operand::Node { node, transposed } => {
                        json!({"node": node, "transposed": transposed})
                    }
                    Operand::Const(c) => json!({"constant": expr(d, c)}),
                })
                .collect();
            json!({
                "id": i,
                "name": n.name,
                "kind": if n.kind == NodeKind::Variable { "variable" } else { "operation" },
                "op": n.op,
                "definition": n.def.map(|e| expr(d, e)),
                "shape": d.graph.dims().shape_names(n.shape),
                "shape_text": d.shape_text(n.shape),
                "inputs": inputs,
                "active": n.active,
                "wrt": n.wrt,
                "output": Some(i) == d.output,
                "adjoint": adjoint_of(i).map(|a| expr(d, a)),
            })
        })
        .collect();
    let edges: Vec<Value> = d
        .nodes
        .iter()
        .enumerate()
        .flat_map(|(to, n)| {
            n.inputs.iter().filter_map(move |o| match *o {
                Operand::Node { node, transposed } => Some(json!({"from": node, "to": to, "transposed": transposed})),
                Operand::Const(_) => None,
            })
        })
        .collect();
    let steps: Vec<Value> = d
        .backward
        .iter()
        .map(|st| {
            let contributions: Vec<Value> = st
                .contributions
                .iter()
                .map(|c| {
                    json!({
                        "from": c.from,
                        "rule": super::super::rule_id(c.rule),
                        "rule_text": c.rule.describe(),
                        "rule_latex": super::super::rule_latex(c.rule),
                        "transposed": c.transposed,
                        "formula": expr(d, c.formula),
                        "value": expr(d, c.shown),
                    })
                })
                .collect();
            json!({
                "node": st.node,
                "adjoint_symbol": {"text": d.bar(st.node, Style::Plain), "latex": d.bar(st.node, Style::Latex)},
                "seed": Some(st.node) == d.output,
                "contributions": contributions,
                "total_derivative": d.total_derivative_sentence(st, Style::Plain),
                "adjoint": expr(d, st.shown),
            })
        })
        .collect();
    let gradients: Vec<Value> = d
        .gradients
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let (text, defs) = d.direct_form(k, Style::Plain);
            let (latex, ldefs) = d.direct_form(k, Style::Latex);
            let wh: Vec<Value> =
                defs.iter().zip(&ldefs).map(|((n, t), (_, l))| json!({"name": n, "text": t, "latex": l})).collect();
            json!({
                "wrt": g.name,
                "node": g.node,
                // Over the names when that is about as short; else the expanded form again.
                "adjoint": match (d.named_adjoint(k, Style::Plain), d.named_adjoint(k, Style::Latex)) {
                    (Some(t), Some(l)) => json!({"text": t, "latex": l}),
                    _ => json!({"text": text, "latex": latex}),
                },
                "expanded": {"text": text, "latex": latex},
                "where": wh,
                "agrees_with_grad": g.agrees(),
            })
        })
        .collect();
    let check = d.check.as_ref().map(|r| {
        let settings: Vec<Value> = r
            .dims
            .iter()
            .map(|dims| {
                let m: Map<String, Value> = d
                    .graph
                    .dims()
                    .dims()
                    .iter()
                    .zip(dims)
                    .filter(|(dim, _)| dim.size.is_none())
                    .map(|(dim, k)| (dim.name.clone(), json!(k)))
                    .collect();
                Value::Object(m)
            })
            .collect();
        let mut o = json!({"verdict": "agrees", "max_rel_error": r.max_err, "settings": settings, "skipped": r.skipped, "unresolved": r.unresolved});
        match r.outcome() {
            FdOutcome::Agrees => {}
            FdOutcome::Disagrees => o["verdict"] = json!("disagrees"),
            FdOutcome::Unchecked(why) => {
                o["verdict"] = json!("unchecked");
                o["reason"] = json!(why);
            }
        }
        o
    });
    json!({
        "output": d.output_name,
        "wrt": d.gradients.iter().map(|g| g.name.clone()).collect::<Vec<_>>(),
        "nodes": nodes,
        "edges": edges,
        "steps": steps,
        "gradients": gradients,
        "check": check,
    })
}
