//! The derivation as Markdown with `$…$` LaTeX math, to paste into homework or a notebook.

use super::super::{Derivation, NodeKind};
use super::{latex_or_plain, rule_sentence};
use matdiff_core::Style;
use std::fmt::Write;

const X: Style = Style::Latex;

pub(super) fn render(d: &Derivation) -> String {
    let mut out = String::new();
    forward(d, &mut out);
    if !d.gradients.is_empty() {
        backward(d, &mut out);
        gradients(d, &mut out);
    }
    out
}

fn forward(d: &Derivation, out: &mut String) {
    let _ = writeln!(out, "**Forward pass** — one node per operation, in evaluation order:\n");
    for (i, n) in d.nodes.iter().enumerate() {
        let shape = d.shape_latex(n.shape);
        let notes = d.node_notes(i, true);
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join(", ")) };
        let _ = match n.kind {
            NodeKind::Variable => writeln!(out, "- ${} \\in {shape}${notes}", d.name(i, X)),
            NodeKind::Operation => {
                writeln!(out, "- ${}, \\quad {} \\in {shape}${notes}", d.definition(i, X), d.name(i, X))
            }
        };
    }
    if d.output.is_none() {
        let _ = writeln!(out, "- the expression is a constant: it has no operations");
    }
    out.push('\n');
}

fn backward(d: &Derivation, out: &mut String) {
    let l = latex_or_plain(&d.output_name, X);
    let _ = writeln!(
        out,
        "**Backward pass** — $\\bar{{u}} = \\partial {l} / \\partial u$ for each node $u$, from the output back to the inputs:\n"
    );
    if d.backward.is_empty() {
        let _ = writeln!(out, "The output does not depend on the differentiated variables: every adjoint is zero.");
    }
    for (k, step) in d.backward.iter().enumerate() {
        let i = step.node;
        let bar = d.bar(i, X);
        let item = format!("{}. ", k + 1);
        let indent = " ".repeat(item.len());
        if Some(i) == d.output {
            let _ = writeln!(out, "{item}${bar} = 1$ (the seed: $\\partial {l} / \\partial {l} = 1$)");
            continue;
        }
        if step.contributions.is_empty() {
            let _ = writeln!(out, "{item}${bar} = 0$ (every local derivative on the way is zero almost everywhere)");
            continue;
        }
        if step.contributions.len() == 1 {
            let c = &step.contributions[0];
            let _ = writeln!(out, "{item}${bar} = {}$ — {}", rhs(d, c), rule_sentence(d, c, i, X));
            continue;
        }
        let _ = writeln!(out, "{item}${bar}$: {}", d.total_derivative_sentence(step, X).unwrap_or_default());
        for c in &step.contributions {
            let _ = writeln!(out, "{indent}- ${bar} \\mathrel{{+}}= {}$ — {}", rhs(d, c), rule_sentence(d, c, i, X));
        }
        let _ = writeln!(out, "\n{indent}so ${bar} = {}$", d.show(step.shown, X));
    }
    out.push('\n');
}

/// `formula = value`, or just the value when they read the same.
fn rhs(d: &Derivation, c: &super::super::Contribution) -> String {
    let f = d.show(c.formula, X);
    let v = d.show(c.shown, X);
    if f == v {
        v
    } else {
        format!("{f} = {v}")
    }
}

fn gradients(d: &Derivation, out: &mut String) {
    let l = latex_or_plain(&d.output_name, X);
    let _ = writeln!(out, "**Gradient**\n");
    for (k, g) in d.gradients.iter().enumerate() {
        let lhs = format!("\\frac{{\\partial {l}}}{{\\partial {}}}", matdiff_core::latex_name(&g.name));
        let (expr, defs) = d.direct_form(k, X);
        let mut line = match d.named_adjoint(k, X) {
            Some(named) if expr != named || !defs.is_empty() => format!("{lhs} = {named} = {expr}"),
            Some(named) => format!("{lhs} = {named}"),
            None => format!("{lhs} = {expr}"),
        };
        if !defs.is_empty() {
            let wh: Vec<String> = defs.iter().map(|(n, def)| format!("{n} = {def}")).collect();
            line.push_str(&format!(", \\quad \\text{{where }} {}", wh.join(", \\ ")));
        }
        let _ = writeln!(out, "$${line}$$\n");
        if !g.agrees() {
            let direct = matdiff_core::print(&d.graph, g.direct, X);
            let _ = writeln!(out, "(`matdiff grad` writes it as ${direct}$.)\n");
        }
    }
    if let Some(line) = d.check_line(X) {
        let mut line = line;
        if let Some(r) = line.get_mut(0..1) {
            r.make_ascii_uppercase();
        }
        let _ = writeln!(out, "{line}.");
    }
}
