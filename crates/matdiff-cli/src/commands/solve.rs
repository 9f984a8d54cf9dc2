//! `matdiff solve`: the stationary point of a scalar objective in one variable, in closed form.

use super::{fail, load, Failure};
use crate::{ExprArgs, Format};
use matdiff::solve::{solve as solve_for, Solution, RESIDUAL_TOL};
use matdiff::{latex_name, Problem, Style};
use serde_json::{json, Map, Value as Json};

pub fn solve(input: &ExprArgs, wrt: &str, format: Format, check: bool, steps: bool) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let mut p = load(input)?;
    let wrt = wrt.trim();
    let s = solve_for(&mut p, wrt).map_err(|r| fail(&r.error, expr, decl))?;
    let conditions: Vec<String> = s.conditions.iter().map(|c| c.describe(&p.graph, s.var)).collect();
    let plain = p.print(s.node, Style::Plain);
    let latex = p.print(s.node, Style::Latex);
    let lname = latex_name(wrt);
    match format {
        Format::Json => {
            let mut o = Map::new();
            o.insert("wrt".into(), json!(wrt));
            o.insert("solution".into(), json!(plain));
            o.insert("latex".into(), json!(latex));
            o.insert("shape".into(), json!(p.graph.dims.shape_names(p.graph.vars[s.var].shape)));
            o.insert("conditions".into(), json!(conditions));
            o.insert("kind".into(), json!(s.kind.name()));
            o.insert("form".into(), json!(s.form.name()));
            o.insert("gradient".into(), json!(p.print(s.gradient, Style::Plain)));
            if steps {
                o.insert("steps".into(), Json::Array(step_list(&p, &s, wrt)));
            }
            if check {
                o.insert(
                    "check".into(),
                    json!({
                        "points": s.check.points,
                        "max_residual": s.check.max_residual,
                        "settings": s.check.dims.len(),
                        "curvature_points": s.check.curvatures.len(),
                        "passed": s.check.passed(),
                    }),
                );
            }
            println!("{}", serde_json::to_string_pretty(&Json::Object(o)).unwrap());
        }
        Format::Text => {
            if steps {
                for (i, st) in s.steps.iter().enumerate() {
                    println!("{}. {}:", i + 1, st.action.describe(&p.graph, wrt));
                    println!("   {}", equation(&p, st.lhs, st.rhs, wrt, Style::Plain));
                }
                println!();
            }
            println!("{wrt} = {plain}");
            println!("kind: {}", s.kind.name());
            if !conditions.is_empty() {
                println!("conditions: {}", conditions.join("; "));
            }
        }
        Format::Latex => {
            if steps {
                println!("\\begin{{aligned}}");
                for st in &s.steps {
                    println!("  & {} \\\\", equation(&p, st.lhs, st.rhs, wrt, Style::Latex));
                }
                println!("\\end{{aligned}}");
            }
            println!("{lname} = {latex}");
        }
        Format::Markdown => {
            if steps {
                for (i, st) in s.steps.iter().enumerate() {
                    println!("{}. {}:", i + 1, st.action.describe(&p.graph, wrt));
                    println!("   $${}$$", equation(&p, st.lhs, st.rhs, wrt, Style::Latex));
                }
                println!();
            }
            println!("$${lname} = {latex}$$\n");
            println!("- kind: {}", s.kind.name());
            for c in &conditions {
                println!("- condition: `{c}`");
            }
        }
    }
    if !check && s.check.points == 0 {
        eprintln!("warning: no random point satisfied the conditions, so this closed form is not checked numerically");
    }
    if check {
        let c = &s.check;
        eprintln!(
            "numeric check: gradient at the solution {:.1e} of its size at a random point (largest, tolerance {:.0e}) over {} random points in {} dimension settings; curvature conclusive at {} points: {}",
            c.max_residual,
            RESIDUAL_TOL,
            c.points,
            c.dims.len(),
            c.curvatures.len(),
            s.kind.name()
        );
        if c.points == 0 {
            eprintln!("error: no random point satisfied the conditions, so nothing was checked");
            return Ok(2);
        }
        if !c.passed() {
            return Ok(1);
        }
    }
    Ok(0)
}

/// `lhs = rhs`, or `∂f/∂X = rhs` for the gradient.
fn equation(p: &Problem, lhs: Option<matdiff::NodeId>, rhs: matdiff::NodeId, wrt: &str, style: Style) -> String {
    let left = match lhs {
        Some(l) => p.print(l, style),
        None if style == Style::Latex => format!("\\frac{{\\partial f}}{{\\partial {}}}", latex_name(wrt)),
        None => format!("df/d{wrt}"),
    };
    format!("{left} = {}", p.print(rhs, style))
}

fn step_list(p: &Problem, s: &Solution, wrt: &str) -> Vec<Json> {
    s.steps
        .iter()
        .map(|st| {
            json!({
                "action": st.action.name(),
                "description": st.action.describe(&p.graph, wrt),
                "equation": equation(p, st.lhs, st.rhs, wrt, Style::Plain),
                "latex": equation(p, st.lhs, st.rhs, wrt, Style::Latex),
            })
        })
        .collect()
}
