//! Drawings of the computational graph of a derivation: Graphviz DOT, and SVG laid out in
//! pure Rust (so it works with nothing installed).
//!
//! Nodes are labelled with their definition, operation and shape; inputs are pill-shaped and
//! grey (orange when differentiated), operations are blue boxes, the output is green, and
//! operations that do not depend on a differentiated variable are dashed. With a backward pass,
//! each node also shows its adjoint, and the tooltips (`<title>`) give the full adjoint of each
//! node and the contribution pushed back along each edge.

mod dot;
pub mod layout;
mod svg;

use crate::derivation::{Derivation, NodeKind, Operand};
pub use layout::{EdgePath, Layout, NodeBox, TextLine};
use matdiff_core::Style;

/// How a node is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStyle {
    /// An input that is differentiated.
    Wrt,
    /// An input that is not differentiated.
    Input,
    /// An operation that depends on a differentiated variable.
    Operation,
    /// An operation that does not depend on a differentiated variable.
    Constant,
    /// The expression's value.
    Output,
}

/// The text of a node: lines `(text, font size, bold)`, and a tooltip.
#[derive(Clone, Debug)]
pub struct Label {
    /// Lines `(text, font size, bold)`.
    pub lines: Vec<(String, f64, bool)>,
    /// How the node is drawn.
    pub style: NodeStyle,
    /// Shown on hover.
    pub tooltip: String,
}

/// Longest label line, in characters; longer expressions are cut (the tooltip has them whole).
const MAX_CHARS: usize = 44;

fn cut(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let visible = chars.iter().filter(|c| !('\u{300}'..='\u{36f}').contains(*c)).count();
    if visible <= MAX_CHARS {
        return s.to_string();
    }
    let mut out = String::new();
    let mut n = 0;
    for c in chars {
        if !('\u{300}'..='\u{36f}').contains(&c) {
            if n == MAX_CHARS - 1 {
                break;
            }
            n += 1;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// Labels of every node of the derivation, in node order.
pub fn labels(d: &Derivation) -> Vec<Label> {
    let l = &d.output_name;
    (0..d.nodes.len())
        .map(|i| {
            let n = &d.nodes[i];
            let shape = d.shape_text(n.shape);
            let style = match n.kind {
                NodeKind::Variable if n.wrt => NodeStyle::Wrt,
                NodeKind::Variable => NodeStyle::Input,
                _ if Some(i) == d.output => NodeStyle::Output,
                _ if !d.backward.is_empty() && !n.active => NodeStyle::Constant,
                _ => NodeStyle::Operation,
            };
            let def = d.definition(i, Style::Plain);
            let (first, second) = match n.kind {
                NodeKind::Variable => (n.name.clone(), format!("input {shape}")),
                NodeKind::Operation => (def.clone(), format!("{} {shape}", n.op)),
            };
            let mut lines = vec![(cut(&first), 13.0, true), (cut(&second), 11.0, false)];
            let mut tooltip = match n.kind {
                NodeKind::Variable => format!("{}: input {shape}", n.name),
                NodeKind::Operation => format!("{def}: {} {shape}", n.op),
            };
            if let Some(step) = d.step_of(i) {
                let adj = d.show(step.shown, Style::Plain);
                lines.push((cut(&format!("{} = {adj}", d.bar(i, Style::Plain))), 11.0, false));
                tooltip.push_str(&format!("\nadjoint {} = ∂{l}/∂{} = {adj}", d.bar(i, Style::Plain), n.name));
            } else if !d.backward.is_empty() && n.kind == NodeKind::Operation {
                tooltip.push_str(&format!(
                    "\ndoes not depend on {}",
                    d.gradients.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            Label { lines, style, tooltip }
        })
        .collect()
}

/// Edges `(operand, user, tooltip)`, one per distinct pair; with a backward pass the tooltip is
/// the contribution pushed back along the edge.
pub fn edges(d: &Derivation) -> Vec<(usize, usize, String)> {
    let mut out: Vec<(usize, usize, String)> = vec![];
    // A set, not a scan of `out`: a deep graph has as many edges as nodes.
    let mut seen = std::collections::HashSet::new();
    for (to, n) in d.nodes.iter().enumerate() {
        for o in &n.inputs {
            let Operand::Node { node: from, transposed } = *o else {
                continue;
            };
            if !seen.insert((from, to)) {
                continue;
            }
            let use_ = if transposed {
                format!("{}' in {}", d.nodes[from].name, n.name)
            } else {
                format!("{} in {}", d.nodes[from].name, n.name)
            };
            let pushed: Vec<String> = d
                .step_of(from)
                .map(|s| {
                    s.contributions
                        .iter()
                        .filter(|c| c.from == to)
                        .map(|c| format!("{} += {}", d.bar(from, Style::Plain), d.show(c.shown, Style::Plain)))
                        .collect()
                })
                .unwrap_or_default();
            let tip = if pushed.is_empty() { use_ } else { format!("{use_}\n{}", pushed.join("\n")) };
            out.push((from, to, tip));
        }
    }
    out
}

/// Height of the legend band above the graph in the SVG.
const LEGEND_H: f64 = 30.0;

/// Lay the graph out (what the SVG draws; exposed so tests can check the geometry). A graph
/// too large to lay out is an `ErrorKind::Limit` error (see [`layout::MAX_LAYOUT_ITEMS`]).
pub fn layout(d: &Derivation) -> matdiff_syntax::Result<Layout> {
    let labels = labels(d);
    let edges = edges(d);
    let mut l = layout::layout(&layout::Input { labels: &labels, edges: &edges, top: LEGEND_H })?;
    l.width = l.width.max(svg::LEGEND_W);
    Ok(l)
}

/// The graph in Graphviz DOT.
pub fn dot(d: &Derivation) -> String {
    dot::render(d, &labels(d), &edges(d))
}

/// The graph as a standalone SVG document; a graph too large to lay out is an
/// `ErrorKind::Limit` error (DOT has no such limit).
pub fn svg(d: &Derivation) -> matdiff_syntax::Result<String> {
    Ok(svg::render(&layout(d)?))
}
