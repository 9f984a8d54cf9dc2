//! SVG output of a layout: boxes, text, edges with arrowheads, tooltips in `<title>`.

use super::layout::{text_width, Layout, NodeBox};
use super::NodeStyle;
use std::fmt::Write;

const FONT: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";

/// (fill, stroke, corner radius as a fraction of the height, dashed)
fn look(style: NodeStyle) -> (&'static str, &'static str, f64, bool) {
    match style {
        NodeStyle::Wrt => ("#ffe0b2", "#e65100", 0.5, false),
        NodeStyle::Input => ("#eeeeee", "#616161", 0.5, false),
        NodeStyle::Operation => ("#e3f2fd", "#1565c0", 0.12, false),
        NodeStyle::Constant => ("#f5f5f5", "#9e9e9e", 0.12, true),
        NodeStyle::Output => ("#e8f5e9", "#2e7d32", 0.12, false),
    }
}

const LEGEND: [(NodeStyle, &str); 5] = [
    (NodeStyle::Wrt, "differentiated input"),
    (NodeStyle::Input, "input"),
    (NodeStyle::Operation, "operation"),
    (NodeStyle::Constant, "constant here"),
    (NodeStyle::Output, "output"),
];
const LEGEND_SIZE: f64 = 11.0;
const SWATCH: f64 = 14.0;

/// Width the legend needs.
pub const LEGEND_W: f64 =
    16.0 + 5.0 * (SWATCH + 6.0 + 16.0) + (20.0 + 5.0 + 9.0 + 13.0 + 6.0) * LEGEND_SIZE * super::layout::CHAR_EM;

/// Escape text for XML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(l: &Layout) -> String {
    let (w, h) = (l.width.ceil(), l.height.ceil());
    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}">"#
    );
    s.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#757575\"/></marker></defs>\n",
    );
    let _ = writeln!(s, r##"<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>"##);
    legend(&mut s);
    for e in &l.edges {
        let _ = writeln!(
            s,
            r##"<g class="edge"><title>{}</title><path d="{}" fill="none" stroke="#9e9e9e" stroke-width="1.3" marker-end="url(#arrow)"/></g>"##,
            escape(&e.tooltip),
            path(&e.points)
        );
    }
    for b in &l.boxes {
        node(&mut s, b);
    }
    s.push_str("</svg>\n");
    s
}

fn legend(s: &mut String) {
    let mut x = 16.0;
    let y = 10.0;
    s.push_str("<g class=\"legend\">");
    for (style, text) in LEGEND {
        let (fill, stroke, r, dashed) = look(style);
        let dash = if dashed { r#" stroke-dasharray="4 3""# } else { "" };
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{SWATCH}" height="{SWATCH}" rx="{:.1}" fill="{fill}" stroke="{stroke}"{dash}/>"#,
            r * SWATCH
        );
        x += SWATCH + 6.0;
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{:.1}" font-size="{LEGEND_SIZE}" fill="#424242">{}</text>"##,
            y + SWATCH - 3.0,
            escape(text)
        );
        x += text_width(text, LEGEND_SIZE) + 16.0;
    }
    s.push_str("</g>\n");
}

/// A smooth path through the points: vertical tangents at each end of every segment.
fn path(points: &[(f64, f64)]) -> String {
    let mut d = format!("M{:.1},{:.1}", points[0].0, points[0].1);
    for pair in points.windows(2) {
        let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
        let my = (y0 + y1) / 2.0;
        let _ = write!(d, " C{x0:.1},{my:.1} {x1:.1},{my:.1} {x1:.1},{y1:.1}");
    }
    d
}

fn node(s: &mut String, b: &NodeBox) {
    let (fill, stroke, r, dashed) = look(b.style);
    let width = if b.style == NodeStyle::Output { 2.0 } else { 1.2 };
    let dash = if dashed { r#" stroke-dasharray="4 3""# } else { "" };
    let class = match b.style {
        NodeStyle::Wrt | NodeStyle::Input => "node input",
        _ => "node operation",
    };
    let _ = write!(
        s,
        r#"<g class="{class}"><title>{}</title><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="{:.1}" fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>"#,
        escape(&b.tooltip),
        b.x,
        b.y,
        b.w,
        b.h,
        (r * b.h).min(b.w / 2.0)
    );
    for t in &b.lines {
        let weight = if t.bold { r#" font-weight="bold""# } else { "" };
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="{}" text-anchor="middle" fill="#212121"{weight}>{}</text>"##,
            t.x,
            t.y,
            t.size,
            escape(&t.text)
        );
    }
    s.push_str("</g>\n");
}
