//! `matdiff solve`: the stationary point of a scalar objective in one variable, in closed form.

use super::{fail, load, Failure};
use crate::{Emit, ExprArgs, Format};
use matdiff::emit::{emit_update, Source, Update};
use matdiff::report::{solution_check_text, solution_json, solution_text, step_equation};
use matdiff::solve::solve as solve_for;
use matdiff::{latex_name, Style};
use serde_json::Value as Json;

pub fn solve(
    input: &ExprArgs,
    wrt: &str,
    format: Format,
    check: bool,
    steps: bool,
    emit: Option<Emit>,
) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let mut p = load(input)?;
    let wrt = wrt.trim();
    let s = solve_for(&mut p, wrt).map_err(|r| fail(&r.error, expr, decl))?;
    if let Some(lang) = emit {
        let grads = p.gradients(&[wrt]).map_err(|e| fail(&e, expr, decl))?;
        let conditions: Vec<String> = s.conditions.iter().map(|c| c.describe(p.graph(), s.var)).collect();
        let mut summary = format!("{wrt} = {} ({}", p.print(s.node, Style::Plain), s.kind.name());
        if !conditions.is_empty() {
            summary.push_str(&format!("; conditions: {}", conditions.join("; ")));
        }
        summary.push(')');
        let update = Update { var: s.var, node: s.node, summary };
        let src = Source { expr, decls: decl };
        let code = emit_update(&p, &grads, &update, super::emit::lang(lang), src).map_err(|e| fail(&e, expr, decl))?;
        print!("{code}");
        return Ok(0);
    }
    let latex = p.print(s.node, Style::Latex);
    let lname = latex_name(wrt);
    match format {
        Format::Json => {
            let o = solution_json(&p, &s, steps, check).map_err(|e| fail(&e, expr, decl))?;
            println!("{}", serde_json::to_string_pretty(&Json::Object(o)).unwrap());
        }
        Format::Text => print!("{}", solution_text(&p, &s, steps)),
        Format::Latex => {
            if steps {
                println!("\\begin{{aligned}}");
                for st in &s.steps {
                    println!("  & {} \\\\", step_equation(&p, st, wrt, Style::Latex));
                }
                println!("\\end{{aligned}}");
            }
            println!("{lname} = {latex}");
        }
        Format::Markdown => {
            if steps {
                for (i, st) in s.steps.iter().enumerate() {
                    println!("{}. {}:", i + 1, st.action.describe(p.graph(), wrt));
                    println!("   $${}$$", step_equation(&p, st, wrt, Style::Latex));
                }
                println!();
            }
            println!("$${lname} = {latex}$$\n");
            println!("- kind: {}", s.kind.name());
            for c in &s.conditions {
                println!("- condition: `{}`", c.describe(p.graph(), s.var));
            }
        }
    }
    if check {
        eprintln!("{}", solution_check_text(&s));
        if !s.check.passed() {
            return Ok(1);
        }
    }
    Ok(0)
}
