//! The derivation as a LaTeX fragment (amsmath `align*` blocks) for a document.

use super::super::Derivation;
use super::{latex_or_plain, rule_sentence};
use matdiff_core::{latex_name, Style};
use std::fmt::Write;

const X: Style = Style::Latex;

pub(super) fn render(d: &Derivation) -> String {
    let mut out = String::from("% Derivation by matdiff; needs \\usepackage{amsmath,amssymb}\n");
    forward(d, &mut out);
    if !d.gradients.is_empty() {
        backward(d, &mut out);
        gradients(d, &mut out);
    }
    out
}

fn forward(d: &Derivation, out: &mut String) {
    let _ = writeln!(out, "\\paragraph{{Forward pass}} One node per operation, in evaluation order.");
    if d.nodes.is_empty() {
        let _ = writeln!(out, "The expression is a constant: it has no operations.");
        return;
    }
    let _ = writeln!(out, "\\begin{{align*}}");
    let lines: Vec<String> = d
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let shape = d.shape_latex(n.shape);
            let notes = d.node_notes(i, true);
            let notes = if notes.is_empty() { String::new() } else { format!(" && \\text{{{}}}", notes.join(", ")) };
            match n.def {
                None => format!("  {} &\\in {shape}{notes}", d.name(i, X)),
                Some(def) => format!("  {} &= {} \\in {shape}{notes}", d.name(i, X), d.show(def, X)),
            }
        })
        .collect();
    let _ = writeln!(out, "{}", lines.join(" \\\\\n"));
    let _ = writeln!(out, "\\end{{align*}}");
}

fn backward(d: &Derivation, out: &mut String) {
    let l = latex_or_plain(&d.output_name, X);
    let _ = writeln!(
        out,
        "\\paragraph{{Backward pass}} $\\bar{{u}} = \\partial {l} / \\partial u$ for each node $u$, from the output back to the inputs."
    );
    if d.backward.is_empty() {
        let _ = writeln!(out, "The output does not depend on the differentiated variables: every adjoint is zero.");
        return;
    }
    let _ = writeln!(out, "\\begin{{align*}}");
    let mut lines: Vec<String> = vec![];
    for step in &d.backward {
        let i = step.node;
        let bar = d.bar(i, X);
        if Some(i) == d.output {
            lines.push(format!("  {bar} &= 1 && \\text{{the seed}}"));
            continue;
        }
        if step.contributions.is_empty() {
            lines.push(format!("  {bar} &= 0 && \\text{{local derivatives zero almost everywhere}}"));
            continue;
        }
        let several = step.contributions.len() > 1;
        if let Some(s) = d.total_derivative_sentence(step, X) {
            lines.push(format!("  \\intertext{{{s}}}"));
        }
        for c in &step.contributions {
            let f = d.show(c.formula, X);
            let v = d.show(c.shown, X);
            let rhs = if f == v { v } else { format!("{f} = {v}") };
            let op = if several { "\\mathrel{+}=" } else { "=" };
            let why = rule_sentence(d, c, i, X);
            lines.push(format!("  \\intertext{{{}{}:}}", why[..1].to_uppercase(), &why[1..]));
            lines.push(format!("  {bar} &{op} {rhs}"));
        }
        if several {
            lines.push(format!("  {bar} &= {}", d.show(step.shown, X)));
        }
    }
    // \intertext lines end with no `\\`; the math lines do (except the last).
    let mut body = String::new();
    for (k, line) in lines.iter().enumerate() {
        body.push_str(line);
        let last = k + 1 == lines.len();
        if !line.trim_start().starts_with("\\intertext") && !last {
            body.push_str(" \\\\");
        }
        body.push('\n');
    }
    out.push_str(&body);
    let _ = writeln!(out, "\\end{{align*}}");
}

fn gradients(d: &Derivation, out: &mut String) {
    let l = latex_or_plain(&d.output_name, X);
    let _ = writeln!(out, "\\paragraph{{Gradient}}");
    let _ = writeln!(out, "\\begin{{align*}}");
    let mut lines = vec![];
    for (k, g) in d.gradients.iter().enumerate() {
        let lhs = format!("\\frac{{\\partial {l}}}{{\\partial {}}}", latex_name(&g.name));
        let (expr, defs) = d.direct_form(k, X);
        match d.named_adjoint(k, X) {
            Some(named) => {
                lines.push(format!("  {lhs} &= {named}"));
                if expr != named || !defs.is_empty() {
                    lines.push(format!("  &= {expr}"));
                }
            }
            None => lines.push(format!("  {lhs} &= {expr}")),
        }
        for (n, def) in &defs {
            lines.push(format!("  &\\quad \\text{{where }} {n} = {def}"));
        }
    }
    let _ = writeln!(out, "{}", lines.join(" \\\\\n"));
    let _ = writeln!(out, "\\end{{align*}}");
    if let Some(line) = d.check_line(X) {
        let _ = writeln!(out, "{}{}.", line[..1].to_uppercase(), &line[1..]);
    }
}
