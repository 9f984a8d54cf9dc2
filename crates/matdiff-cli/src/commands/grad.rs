//! `matdiff grad`: the gradient in text, LaTeX or JSON (steps and code export hang off it).

use super::{fail, load_quiet, Failure};
use crate::{ConventionArg, Emit, ExprArgs, Format};
use matdiff::check::{apply_convention, Convention};
use matdiff::report::gradient_json;
use matdiff::{FdOutcome, Style};
use serde_json::Value as Json;

pub fn grad(
    input: &ExprArgs,
    wrt: &[String],
    format: Format,
    steps: bool,
    emit: Option<Emit>,
    check: bool,
    convention: ConventionArg,
) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let mut p = load_quiet(input)?;
    let retyped = p.retyping_notes();
    // Text and JSON gradients carry these notes themselves; elsewhere they go to stderr.
    if steps || emit.is_some() || (format != Format::Text && format != Format::Json) {
        retyped.iter().for_each(|n| eprintln!("note: {n}"));
    }
    let names: Vec<&str> = wrt.iter().map(|s| s.trim()).collect();
    let mut grads = p.gradients(&names).map_err(|e| fail(&e, expr, decl))?;
    if steps {
        return super::steps::steps(&mut p, &grads, format);
    }
    if let Some(lang) = emit {
        return super::emit::emit(&p, &grads, input, lang);
    }
    // The numeric check is of the gradient computed (the Cookbook's form is not a gradient
    // along symmetric perturbations); the results printed follow the convention.
    let report = check.then(|| p.fd_check(&grads, 1, 2));
    let convention: Convention = convention.into();
    apply_convention(&mut p, &mut grads, convention);
    let shared = p.print_shared_named(&grads.nodes, Style::Plain);
    match format {
        Format::Json => {
            let items: Vec<Json> = grads
                .nodes
                .iter()
                .zip(&names)
                .zip(&shared)
                .map(|((&g, name), cse)| gradient_json(&p, g, name, cse, report.as_ref(), convention).map(Json::Object))
                .collect::<Result<_, _>>()
                .map_err(|e| fail(&e, expr, decl))?;
            let out = if items.len() == 1 { items.into_iter().next().unwrap() } else { Json::Array(items) };
            println!("{}", serde_json::to_string_pretty(&out).unwrap());
        }
        // Written out in full when that is about as short as the shared form; otherwise with
        // `where` lines, so the output stays linear in the size of the result.
        Format::Latex => {
            let compact = p.print_compact(&grads.nodes, Style::Latex);
            for (c, name) in compact.iter().zip(&names) {
                if names.len() == 1 {
                    println!("{}", c.expr);
                } else {
                    let lhs = format!("\\frac{{\\partial f}}{{\\partial {}}}", matdiff::latex_name(name));
                    println!("{lhs} = {}", c.expr);
                }
            }
            for (n, d) in compact.first().map(|c| c.defs.as_slice()).unwrap_or_default() {
                println!("\\text{{where }} {n} = {d}");
            }
        }
        Format::Markdown => {
            let compact = p.print_compact(&grads.nodes, Style::Latex);
            for (c, name) in compact.iter().zip(&names) {
                println!("$$\\frac{{\\partial f}}{{\\partial {}}} = {}$$\n", matdiff::latex_name(name), c.expr);
            }
            for (n, d) in compact.first().map(|c| c.defs.as_slice()).unwrap_or_default() {
                println!("where ${n} = {d}$\n");
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
            for n in &retyped {
                println!("note: {n}");
            }
        }
    }
    if let Some(r) = report {
        match r.outcome() {
            FdOutcome::Unchecked(why) => eprintln!("error: numeric check: {why}"),
            _ => eprintln!(
                "numeric check: max relative error {:.1e} against central differences ({} dimension setting{})",
                r.max_err,
                r.dims.len(),
                if r.dims.len() == 1 { "" } else { "s" }
            ),
        }
        return Ok(super::fd_exit_code(&r));
    }
    Ok(0)
}
