//! Graphviz DOT output, for users who have Graphviz.

use super::{Label, NodeStyle};
use crate::derivation::Derivation;
use std::fmt::Write;

/// A DOT double-quoted string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn render(d: &Derivation, labels: &[Label], edges: &[(usize, usize, String)]) -> String {
    let mut s = String::from("digraph matdiff {\n");
    s.push_str("  graph [rankdir=TB, nodesep=0.3, ranksep=0.45];\n");
    s.push_str("  node [fontname=\"monospace\", fontsize=11];\n");
    s.push_str("  edge [color=\"#9e9e9e\", fontname=\"monospace\", fontsize=9, fontcolor=\"#616161\"];\n");
    for (i, l) in labels.iter().enumerate() {
        let (shape, style, fill, color) = match l.style {
            NodeStyle::Wrt => ("box", "rounded,filled,bold", "#ffe0b2", "#e65100"),
            NodeStyle::Input => ("box", "rounded,filled", "#eeeeee", "#616161"),
            NodeStyle::Operation => ("box", "filled", "#e3f2fd", "#1565c0"),
            NodeStyle::Constant => ("box", "filled,dashed", "#f5f5f5", "#9e9e9e"),
            NodeStyle::Output => ("box", "filled,bold", "#e8f5e9", "#2e7d32"),
        };
        let text: Vec<&str> = l.lines.iter().map(|(t, _, _)| t.as_str()).collect();
        let _ = writeln!(
            s,
            "  n{i} [label={}, shape={shape}, style={}, fillcolor={}, color={}, tooltip={}];",
            quote(&text.join("\n")),
            quote(style),
            quote(fill),
            quote(color),
            quote(&l.tooltip)
        );
    }
    for (a, b, tip) in edges {
        // With a backward pass, the contribution pushed back along the edge labels it.
        let pushed: Vec<&str> = tip.lines().skip(1).collect();
        let label = if pushed.is_empty() { String::new() } else { format!(", label={}", quote(&pushed.join("\n"))) };
        let _ = writeln!(s, "  n{a} -> n{b} [tooltip={}{label}];", quote(tip));
    }
    let _ = d;
    s.push_str("}\n");
    s
}
