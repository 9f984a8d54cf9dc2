//! `matdiff grad`: the gradient in text, LaTeX or JSON (steps and code export hang off it).

use super::{fail, load, Failure};
use crate::{Emit, ExprArgs, Format};
use matdiff::Style;
use serde_json::{json, Map, Value as Json};

/// Largest expression tree (in nodes) printed fully inlined.
const MAX_INLINE_NODES: f64 = 200_000.0;

/// Size of the tree a DAG node expands to when every shared subterm is written out.
fn inline_size(g: &matdiff::Graph, root: matdiff::NodeId) -> f64 {
    let order = g.reachable(&[root]);
    let mut size = std::collections::HashMap::new();
    for n in order {
        let s: f64 = 1.0 + g.op(n).children().iter().map(|c| size[c]).sum::<f64>();
        size.insert(n, s);
    }
    size[&root]
}

pub fn grad(
    input: &ExprArgs,
    wrt: &[String],
    format: Format,
    steps: bool,
    emit: Option<Emit>,
    check: bool,
) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let mut p = load(input)?;
    let names: Vec<&str> = wrt.iter().map(|s| s.trim()).collect();
    let grads = p.gradients(&names).map_err(|e| fail(&e, expr, decl))?;
    if steps {
        return super::steps::steps(&mut p, &grads, expr, format);
    }
    if let Some(lang) = emit {
        return super::emit::emit(&p, &grads, input, lang);
    }
    let report = check.then(|| p.fd_check(&grads, 1, 2));
    let shared = p.print_shared_named(&grads.nodes, Style::Plain, expr);
    match format {
        Format::Json => {
            // The self-contained form repeats shared subterms: refuse rather than print gigabytes.
            if let Some(&g) = grads.nodes.iter().find(|&&g| inline_size(&p.graph, g) > MAX_INLINE_NODES) {
                return Err(format!(
                    "error: the self-contained gradient would repeat shared subterms {:.0e} times over\n  = note: `--format text` prints it compactly with `where` definitions\n",
                    inline_size(&p.graph, g)
                ));
            }
            let items: Vec<Json> = grads
                .nodes
                .iter()
                .zip(&names)
                .zip(&shared)
                .map(|((&g, name), cse)| {
                    let mut o = Map::new();
                    o.insert("wrt".into(), json!(name));
                    o.insert("gradient".into(), json!(p.print(g, Style::Plain)));
                    o.insert("latex".into(), json!(p.print(g, Style::Latex)));
                    o.insert("shape".into(), json!(p.shape_names(g)));
                    let defs: Map<String, Json> = cse.defs.iter().map(|(n, d)| (n.clone(), json!(d))).collect();
                    o.insert("cse".into(), json!(cse.expr));
                    o.insert("where".into(), Json::Object(defs));
                    if let Some(r) = &report {
                        o.insert("check".into(), json!({"max_rel_error": r.max_err, "settings": r.dims.len()}));
                    }
                    Json::Object(o)
                })
                .collect();
            let out = if items.len() == 1 { items.into_iter().next().unwrap() } else { Json::Array(items) };
            println!("{}", serde_json::to_string_pretty(&out).unwrap());
        }
        Format::Latex => {
            for (&g, name) in grads.nodes.iter().zip(&names) {
                let lhs = format!("\\frac{{\\partial f}}{{\\partial {}}}", matdiff::latex_name(name));
                if names.len() == 1 {
                    println!("{}", p.print(g, Style::Latex));
                } else {
                    println!("{lhs} = {}", p.print(g, Style::Latex));
                }
            }
        }
        Format::Markdown => {
            for (&g, name) in grads.nodes.iter().zip(&names) {
                println!(
                    "$$\\frac{{\\partial f}}{{\\partial {}}} = {}$$\n",
                    matdiff::latex_name(name),
                    p.print(g, Style::Latex)
                );
            }
        }
        Format::Text => {
            // Shared subterms are named across all the gradients, so their definitions come once.
            for (cse, name) in shared.iter().zip(&names) {
                if names.len() == 1 {
                    println!("{}", cse.expr);
                } else {
                    println!("{name}: {}", cse.expr);
                }
            }
            for (n, d) in shared.first().map(|c| c.defs.as_slice()).unwrap_or_default() {
                println!("where {n} = {d}");
            }
        }
    }
    if let Some(r) = report {
        eprintln!(
            "numeric check: max relative error {:.1e} against central differences ({} dimension settings)",
            r.max_err,
            r.dims.len()
        );
        if r.max_err > 1e-5 {
            return Ok(1);
        }
    }
    Ok(0)
}
