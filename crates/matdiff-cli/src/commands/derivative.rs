//! `matdiff derivative` and `matdiff hessian`: Jacobians in their layouts, Hessians and
//! Hessian-vector products, in text, LaTeX, Markdown or JSON, with the numeric check.

use super::{fail, load, Failure};
use crate::{Emit, ExprArgs, Format};
use matdiff::derivative::{self, Derivative, Layout, Order};
use matdiff::report::derivative_json;
use matdiff::{FdOutcome, Problem, Style};

/// What to compute: the first derivative, the Hessian, or the Hessian along a direction.
pub enum Ask<'a> {
    /// `matdiff derivative`.
    First,
    /// `matdiff hessian`, with the `--direction` name for an HVP.
    Hessian(Option<&'a str>),
}

pub fn derivative(
    input: &ExprArgs,
    wrt: &str,
    ask: Ask,
    format: Format,
    check: bool,
    steps: bool,
    emit: Option<Emit>,
) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let mut p = load(input)?;
    let wrt = wrt.trim();
    let d = match ask {
        Ask::First => derivative::derivative(&mut p, wrt),
        Ask::Hessian(None) => derivative::hessian(&mut p, wrt),
        Ask::Hessian(Some(v)) => derivative::hvp(&mut p, wrt, v),
    }
    .map_err(|e| fail(&e, expr, decl))?;
    if let Some(lang) = emit {
        return super::emit::emit_derivative(&p, &d, input, lang);
    }
    let chain = steps.then(|| derivative::chain_steps(&mut p, &d));
    if let (Some((heading, steps)), false) = (&chain, format == Format::Json) {
        println!("{heading}:");
        for s in steps {
            println!("  {} = {}\n      {} = {}", s.name, s.definition, s.lhs, s.derivative);
        }
    }
    let report = check.then(|| derivative::check(&p, &d, 1, 2));
    match format {
        Format::Json => {
            let mut o = derivative_json(&p, &d, report.as_ref()).map_err(|e| fail(&e, expr, decl))?;
            if let Some((heading, steps)) = chain {
                let steps: Vec<serde_json::Value> = steps
                    .iter()
                    .map(|s| {
                        serde_json::json!({"name": s.name, "definition": s.definition, "lhs": s.lhs, "derivative": s.derivative})
                    })
                    .collect();
                o.insert("steps".into(), serde_json::json!({"heading": heading, "steps": steps}));
            }
            println!("{}", serde_json::to_string_pretty(&o).unwrap());
        }
        Format::Latex => println!("{}", p.print(d.root, Style::Latex)),
        Format::Markdown => println!("$$\n{} = {}\n$$", lhs_latex(&p, &d), p.print(d.root, Style::Latex)),
        Format::Text => {
            // Diagonal weights get a name (`A'*diag(w)*A`); otherwise shared subterms do.
            for line in derivative::text_lines(&p, d.root) {
                println!("{line}");
            }
            println!("({})", describe(&p, &d));
        }
    }
    if let Some(r) = report {
        let what = match d.order {
            Order::First => "central differences",
            Order::Hessian | Order::Hvp => "second differences",
        };
        match r.outcome() {
            FdOutcome::Unchecked(why) => eprintln!("error: numeric check: {why}"),
            _ => eprintln!(
                "numeric check: max relative error {:.1e} against {what} ({} dimension setting{})",
                r.max_err,
                r.dims.len(),
                if r.dims.len() == 1 { "" } else { "s" }
            ),
        }
        return Ok(super::fd_exit_code(&r));
    }
    Ok(0)
}

/// The layout in words, with the result's size.
fn describe(p: &Problem, d: &Derivative) -> String {
    let x = &p.graph().vars()[d.var].name;
    let size = p.shape_names(d.root).join("×");
    let size = if size.is_empty() { "scalar".to_string() } else { size };
    let what = match (d.order, d.layout) {
        (Order::Hvp, _) => {
            let v = d.direction.map_or("V", |v| p.graph().vars()[v].name.as_str());
            format!("Hessian-vector product d/dt ∇f({x} + t·{v}) at t = 0")
        }
        (Order::Hessian, Layout::Gradient) => "second derivative".to_string(),
        (Order::Hessian, _) => {
            format!("Hessian w.r.t. {}", if d.layout == Layout::Vec { format!("vec({x})") } else { x.clone() })
        }
        (_, Layout::Gradient) => format!("gradient w.r.t. {x}"),
        (_, Layout::Elementwise) => format!("entrywise derivative by {x}"),
        (_, Layout::Jacobian) => format!("Jacobian J[i,j] = ∂f_i/∂{x}_j"),
        (_, Layout::Vec) => format!("∂vec(f)/∂vec({x})ᵀ"),
    };
    format!("{what}; layout {}, {size}", d.layout.name())
}

/// The left side for Markdown output.
fn lhs_latex(p: &Problem, d: &Derivative) -> String {
    let x = matdiff::latex_name(&p.graph().vars()[d.var].name);
    match (d.order, d.layout) {
        (Order::Hvp, _) => {
            let v = matdiff::latex_name(d.direction.map_or("V", |v| p.graph().vars()[v].name.as_str()));
            format!("\\nabla^2 f \\, {v}")
        }
        (Order::Hessian, Layout::Vec) => format!("\\frac{{\\partial^2 f}}{{\\partial \\operatorname{{vec}}({x}) \\, \\partial \\operatorname{{vec}}({x})^\\top}}"),
        (Order::Hessian, _) => format!("\\frac{{\\partial^2 f}}{{\\partial {x} \\, \\partial {x}^\\top}}"),
        (_, Layout::Vec) => format!("\\frac{{\\partial \\operatorname{{vec}}(f)}}{{\\partial \\operatorname{{vec}}({x})^\\top}}"),
        _ => format!("\\frac{{\\partial f}}{{\\partial {x}}}"),
    }
}
