//! The derivation as plain text for a terminal.

use super::super::{Derivation, NodeKind};
use matdiff_core::Style;
use std::fmt::Write;

const P: Style = Style::Plain;

pub(super) fn render(d: &Derivation) -> String {
    let mut out = String::new();
    forward(d, &mut out);
    if !d.gradients.is_empty() {
        out.push('\n');
        backward(d, &mut out);
        out.push('\n');
        gradients(d, &mut out);
    }
    out
}

fn forward(d: &Derivation, out: &mut String) {
    let _ = writeln!(out, "Forward pass: one node per operation, in evaluation order");
    let rows: Vec<(String, String, String)> = (0..d.nodes.len())
        .map(|i| {
            let n = &d.nodes[i];
            let left = match n.kind {
                NodeKind::Variable => format!("{}  input", n.name),
                NodeKind::Operation => d.definition(i, P),
            };
            let notes = d.node_notes(i, false);
            (left, d.shape_text(n.shape), notes.join(", "))
        })
        .collect();
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0).min(48);
    let swidth = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (left, shape, notes) in rows {
        let pad = width.saturating_sub(left.chars().count());
        let line =
            format!("  {left}{}  {shape}{}  {notes}", " ".repeat(pad), " ".repeat(swidth - shape.chars().count()));
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if d.output.is_none() {
        let _ = writeln!(out, "  (the expression is a constant: it has no operations)");
    }
}

fn backward(d: &Derivation, out: &mut String) {
    let l = &d.output_name;
    let _ = writeln!(out, "Backward pass: ū = ∂{l}/∂u for each node u, from the output back to the inputs");
    if d.backward.is_empty() {
        let _ = writeln!(out, "  (the output does not depend on the differentiated variables: every adjoint is zero)");
    }
    for step in &d.backward {
        let i = step.node;
        let bar = d.bar(i, P);
        if Some(i) == d.output {
            let _ = writeln!(out, "  {bar} = 1  (the seed: ∂{l}/∂{l} = 1)");
            continue;
        }
        let _ = writeln!(out, "  {bar} = ∂{l}/∂{}  {}", d.nodes[i].name, d.shape_text(d.nodes[i].shape));
        if step.contributions.is_empty() {
            let _ = writeln!(out, "      {bar} = 0  (every local derivative on the way is zero almost everywhere)");
            continue;
        }
        let several = step.contributions.len() > 1;
        if let Some(s) = d.total_derivative_sentence(step, P) {
            out.push_str(&wrap(&s, "      ", "      "));
        }
        for (k, c) in step.contributions.iter().enumerate() {
            let (lead, indent) =
                if several { (format!("{}. ", k + 1), "         ") } else { (String::new(), "      ") };
            let mut why = format!("from {}: {}", d.definition(c.from, P), c.rule.describe());
            if let Some(t) = d.transposed_note(c, i, P) {
                why.push_str(&format!("; {t}"));
            }
            out.push_str(&wrap(&format!("{lead}{why}"), "      ", indent));
            let formula = d.show(c.formula, P);
            let value = d.show(c.shown, P);
            let op = if several { "+=" } else { "=" };
            let rhs = if formula == value { value } else { format!("{formula} = {value}") };
            let _ = writeln!(out, "{indent}{bar} {op} {rhs}");
        }
        if several {
            let _ = writeln!(out, "      {bar} = {}", d.show(step.shown, P));
        }
    }
}

fn gradients(d: &Derivation, out: &mut String) {
    let l = &d.output_name;
    let _ = writeln!(out, "Gradient");
    for (k, g) in d.gradients.iter().enumerate() {
        let lhs = format!("∂{l}/∂{}", g.name);
        let (expr, defs) = d.direct_form(k, P);
        let pad = " ".repeat(lhs.chars().count());
        let named = d.named_adjoint(k, P);
        match &named {
            Some(named) => {
                let _ = writeln!(out, "  {lhs} = {named}");
                if expr != *named || !defs.is_empty() {
                    let _ = writeln!(out, "  {pad} = {expr}");
                }
            }
            None => {
                let _ = writeln!(out, "  {lhs} = {expr}");
            }
        }
        if named.as_ref() != Some(&expr) || !defs.is_empty() {
            for (n, def) in &defs {
                let _ = writeln!(out, "  {pad}   where {n} = {def}");
            }
        }
        if g.agrees() {
            let _ = writeln!(out, "  {pad}   (the same expression as `matdiff grad` gives)");
        } else {
            let direct = matdiff_core::print(&d.graph, g.direct, P);
            let _ = writeln!(out, "  {pad}   (`matdiff grad` writes it as {direct})");
        }
    }
    if let Some(line) = d.check_line(P) {
        let _ = writeln!(out, "  {line}");
    }
}

/// Word-wrap `text` at 100 columns: `first` before the first line, `rest` before the others.
fn wrap(text: &str, first: &str, rest: &str) -> String {
    const WIDTH: usize = 100;
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}
