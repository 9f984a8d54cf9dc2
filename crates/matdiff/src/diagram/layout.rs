//! A layered (Sugiyama-style) layout of the computational graph, in pure Rust.
//!
//! Layers by longest path from the inputs (an input sits just above its first user); edges
//! that skip layers get invisible waypoints so they never cut through a box; the order within
//! each layer is improved by barycenter sweeps; horizontal positions are the closest to the
//! neighbours' barycenters that keep boxes apart (isotonic regression, pool-adjacent-violators).
//! Text is measured as monospace (0.6 em per character), which is how the SVG sets it, so a
//! label never leaves its box and boxes never overlap by construction.
//!
//! The work is linear in the number of items laid out (boxes and waypoints), which is bounded
//! by [`MAX_LAYOUT_ITEMS`] before anything is allocated: a value used at every level of a deep
//! chain needs a waypoint on every layer it skips, so such graphs grow quadratically in items
//! (9,000 boxes took over a minute) and are refused with the count instead.

use super::{Label, NodeStyle};
use matdiff_syntax::{Error, ErrorKind, Input as Source, Result};
use std::collections::{HashMap, HashSet};

/// Most items (boxes and edge waypoints) a layout places; larger graphs are refused quickly
/// (a drawing that size is unreadable anyway; DOT output has no such limit).
pub const MAX_LAYOUT_ITEMS: usize = 40_000;

/// Character width of the monospace font, in ems.
pub const CHAR_EM: f64 = 0.6;
const PAD_X: f64 = 10.0;
const PAD_Y: f64 = 6.0;
const GAP_X: f64 = 22.0;
const GAP_Y: f64 = 46.0;
const MARGIN: f64 = 16.0;
const WAYPOINT_W: f64 = 10.0;

/// One line of text, centred at `x`, baseline at `y`.
#[derive(Clone, Debug)]
pub struct TextLine {
    /// The text.
    pub text: String,
    /// Centre.
    pub x: f64,
    /// Baseline.
    pub y: f64,
    /// Font size.
    pub size: f64,
    /// Bold face.
    pub bold: bool,
    /// Estimated advance width (monospace).
    pub width: f64,
}

impl TextLine {
    /// Bounding box `(left, top, right, bottom)`.
    pub fn bbox(&self) -> (f64, f64, f64, f64) {
        (self.x - self.width / 2.0, self.y - self.size * 0.8, self.x + self.width / 2.0, self.y + self.size * 0.25)
    }
}

/// A node's box and its text.
#[derive(Clone, Debug)]
pub struct NodeBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
    /// The text lines, positioned.
    pub lines: Vec<TextLine>,
    /// How the box is drawn.
    pub style: NodeStyle,
    /// Shown on hover.
    pub tooltip: String,
}

/// An edge as a polyline from the user's operand to the user (through waypoints).
#[derive(Clone, Debug)]
pub struct EdgePath {
    /// The operand (index into the boxes).
    pub from: usize,
    /// The user (index into the boxes).
    pub to: usize,
    /// The polyline's points.
    pub points: Vec<(f64, f64)>,
    /// Shown on hover.
    pub tooltip: String,
}

/// The positioned drawing: boxes and routed edges.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Width of the drawing.
    pub width: f64,
    /// Height of the drawing.
    pub height: f64,
    /// Top of the drawing area (below the legend).
    pub top: f64,
    /// One box per label, indexed like the input's labels.
    pub boxes: Vec<NodeBox>,
    /// One path per input edge.
    pub edges: Vec<EdgePath>,
}

/// Width of a string in the monospace font (combining marks take no space).
pub fn text_width(s: &str, size: f64) -> f64 {
    let n = s.chars().filter(|c| !('\u{300}'..='\u{36f}').contains(c)).count();
    n as f64 * size * CHAR_EM
}

/// What the layout needs of the graph: node labels and edges `(from, to, tooltip)`.
pub struct Input<'a> {
    /// One label per node.
    pub labels: &'a [Label],
    /// Edges `(operand, user, tooltip)`.
    pub edges: &'a [(usize, usize, String)],
    /// Where the drawing starts (below the legend).
    pub top: f64,
}

/// The waypoints `(layer, index)` of the edge `from → to`.
type Chain = (usize, usize, Vec<(usize, usize)>);

/// A node or a waypoint (zero height) in a layer.
struct Item {
    w: f64,
    h: f64,
    x: f64,
}

/// Place the nodes in layers (operands above users), order each layer to reduce crossings, and route the edges through waypoints.
/// A graph that needs more than [`MAX_LAYOUT_ITEMS`] boxes and waypoints is refused
/// (`ErrorKind::Limit`, with the counts) before the waypoints are made.
pub fn layout(input: &Input) -> Result<Layout> {
    let n = input.labels.len();
    // Sizes from the text.
    let sizes: Vec<(f64, f64)> = input
        .labels
        .iter()
        .map(|l| {
            let w = l.lines.iter().map(|(t, size, _)| text_width(t, *size)).fold(0.0, f64::max) + 2.0 * PAD_X;
            let h = l.lines.iter().map(|(_, size, _)| size * 1.3).sum::<f64>() + 2.0 * PAD_Y;
            (w.max(40.0), h)
        })
        .collect();
    // Layers: longest path from the inputs; an input sits just above its first user.
    let mut preds: Vec<Vec<usize>> = vec![vec![]; n];
    let mut succs: Vec<Vec<usize>> = vec![vec![]; n];
    let mut seen: HashSet<(usize, usize)> = HashSet::with_capacity(input.edges.len());
    for &(a, b, _) in input.edges {
        if seen.insert((a, b)) {
            preds[b].push(a);
            succs[a].push(b);
        }
    }
    let mut rank = vec![0usize; n];
    for i in 0..n {
        rank[i] = preds[i].iter().map(|&p| rank[p] + 1).max().unwrap_or(0);
    }
    for i in (0..n).rev() {
        if preds[i].is_empty() {
            if let Some(r) = succs[i].iter().map(|&s| rank[s]).min() {
                rank[i] = r - 1;
            }
        }
    }
    // Every edge gets one waypoint per layer it skips: count them before making any.
    let waypoints: usize = (0..n).map(|i| succs[i].iter().map(|&s| rank[s] - rank[i] - 1).sum::<usize>()).sum();
    if n + waypoints > MAX_LAYOUT_ITEMS {
        return Err(Error::unspanned(
            Source::None,
            format!(
                "the graph is too large to lay out: {n} boxes and {waypoints} waypoints for edges that skip layers (at most {MAX_LAYOUT_ITEMS} items in all)"
            ),
        )
        .with_kind(ErrorKind::Limit)
        .with_note("`--format dot` writes the graph without a layout, for Graphviz (`dot -Tsvg`)"));
    }
    let layers_n = rank.iter().max().map_or(0, |r| r + 1);
    let mut layers: Vec<Vec<Item>> = (0..layers_n).map(|_| vec![]).collect();
    let mut slot: Vec<(usize, usize)> = vec![(0, 0); n];
    for i in 0..n {
        slot[i] = (rank[i], layers[rank[i]].len());
        layers[rank[i]].push(Item { w: sizes[i].0, h: sizes[i].1, x: 0.0 });
    }
    // Chains of waypoints for long edges.
    let mut chains: Vec<Chain> = vec![];
    let mut links: Vec<((usize, usize), (usize, usize))> = vec![];
    for i in 0..n {
        for &s in &succs[i] {
            let mut prev = slot[i];
            let mut way = vec![];
            for (r, layer) in layers.iter_mut().enumerate().take(rank[s]).skip(rank[i] + 1) {
                matdiff_syntax::budget::tick();
                layer.push(Item { w: WAYPOINT_W, h: 0.0, x: 0.0 });
                let here = (r, layer.len() - 1);
                links.push((prev, here));
                way.push(here);
                prev = here;
            }
            links.push((prev, slot[s]));
            chains.push((i, s, way));
        }
    }
    // Order within layers: barycenter sweeps. `pos[layer][item]` is the item's place.
    let mut pos: Vec<Vec<f64>> = layers.iter().map(|l| (0..l.len()).map(|k| k as f64).collect()).collect();
    let mut up: Vec<Vec<Vec<(usize, usize)>>> = layers.iter().map(|l| vec![vec![]; l.len()]).collect();
    let mut down: Vec<Vec<Vec<(usize, usize)>>> = layers.iter().map(|l| vec![vec![]; l.len()]).collect();
    for &(a, b) in &links {
        down[a.0][a.1].push(b);
        up[b.0][b.1].push(a);
    }
    for sweep in 0..8 {
        let downward = sweep % 2 == 0;
        let order: Vec<usize> =
            if downward { (1..layers_n).collect() } else { (0..layers_n.saturating_sub(1)).rev().collect() };
        for r in order {
            matdiff_syntax::budget::tick();
            let nbrs = if downward { &up[r] } else { &down[r] };
            let keys: Vec<f64> = (0..layers[r].len())
                .map(|k| {
                    let ns = &nbrs[k];
                    if ns.is_empty() {
                        pos[r][k]
                    } else {
                        ns.iter().map(|&(l, j)| pos[l][j]).sum::<f64>() / ns.len() as f64
                    }
                })
                .collect();
            let mut idx: Vec<usize> = (0..layers[r].len()).collect();
            idx.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(pos[r][a].total_cmp(&pos[r][b])));
            for (p, &k) in idx.iter().enumerate() {
                pos[r][k] = p as f64;
            }
        }
    }
    // Horizontal positions: start packed, then pull towards neighbours without overlap.
    let ordered: Vec<Vec<usize>> = pos
        .iter()
        .map(|p| {
            let mut idx: Vec<usize> = (0..p.len()).collect();
            idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            idx
        })
        .collect();
    for (r, order) in ordered.iter().enumerate() {
        let mut x = 0.0;
        for &k in order {
            layers[r][k].x = x + layers[r][k].w / 2.0;
            x += layers[r][k].w + GAP_X;
        }
    }
    for sweep in 0..12 {
        let downward = sweep % 2 == 0;
        let rs: Vec<usize> = if downward { (0..layers_n).collect() } else { (0..layers_n).rev().collect() };
        for r in rs {
            matdiff_syntax::budget::tick();
            let want: Vec<f64> = ordered[r]
                .iter()
                .map(|&k| {
                    let mut ns: Vec<(usize, usize)> = up[r][k].clone();
                    ns.extend(&down[r][k]);
                    if ns.is_empty() {
                        layers[r][k].x
                    } else {
                        ns.iter().map(|&(l, j)| layers[l][j].x).sum::<f64>() / ns.len() as f64
                    }
                })
                .collect();
            let widths: Vec<f64> = ordered[r].iter().map(|&k| layers[r][k].w).collect();
            let xs = place(&want, &widths);
            for (&k, x) in ordered[r].iter().zip(xs) {
                layers[r][k].x = x;
            }
        }
    }
    // Normalize: leftmost edge at the margin.
    let min_left = layers.iter().flatten().map(|it| it.x - it.w / 2.0).fold(f64::INFINITY, f64::min);
    let shift = if min_left.is_finite() { MARGIN - min_left } else { 0.0 };
    for it in layers.iter_mut().flatten() {
        it.x += shift;
    }
    // Vertical positions: each layer as tall as its tallest box.
    let mut layer_top = vec![0.0; layers_n];
    let mut layer_h = vec![0.0; layers_n];
    let mut y = input.top + MARGIN;
    for r in 0..layers_n {
        layer_top[r] = y;
        layer_h[r] = layers[r].iter().map(|it| it.h).fold(0.0, f64::max);
        y += layer_h[r] + GAP_Y;
    }
    let height = (y - GAP_Y + MARGIN).max(input.top + MARGIN);
    let mut boxes = vec![];
    for (i, &(r, k)) in slot.iter().enumerate() {
        let it = &layers[r][k];
        let (w, h) = (it.w, it.h);
        let (x, top) = (it.x - w / 2.0, layer_top[r] + (layer_h[r] - h) / 2.0);
        let label = &input.labels[i];
        let mut lines = vec![];
        let mut base = top + PAD_Y;
        for (text, size, bold) in &label.lines {
            base += size * 1.3;
            lines.push(TextLine {
                text: text.clone(),
                x: it.x,
                y: base - size * 0.35,
                size: *size,
                bold: *bold,
                width: text_width(text, *size),
            });
        }
        boxes.push(NodeBox { x, y: top, w, h, lines, style: label.style, tooltip: label.tooltip.clone() });
    }
    // Edges: from the bottom of the operand to the top of the user, one port per operand.
    let chain_of: HashMap<(usize, usize), &Vec<(usize, usize)>> = chains.iter().map(|c| ((c.0, c.1), &c.2)).collect();
    let mut drawn: HashSet<(usize, usize)> = HashSet::new();
    let mut edges = vec![];
    for &(a, b, ref tip) in input.edges {
        let Some(&way) = chain_of.get(&(a, b)) else {
            continue;
        };
        if drawn.contains(&(a, b)) {
            continue;
        }
        matdiff_syntax::budget::tick();
        // Ports left to right in the order of the operands' positions, so edges do not cross.
        let mut ins: Vec<usize> = preds[b].clone();
        ins.sort_by(|&p, &q| (boxes[p].x + boxes[p].w / 2.0).total_cmp(&(boxes[q].x + boxes[q].w / 2.0)));
        let k = ins.iter().position(|&p| p == a).unwrap_or(0);
        let (bx, by) = (&boxes[a], &boxes[b]);
        let start = (bx.x + bx.w / 2.0, bx.y + bx.h);
        let end = (by.x + by.w * (k as f64 + 1.0) / (ins.len() as f64 + 1.0), by.y);
        // Straight down to the bottom of the operand's layer and from the top of the user's, so
        // the curves only bend in the gaps between layers, where there are no boxes.
        let (ra, rb) = (rank[a], rank[b]);
        let mut points = vec![start, (start.0, layer_top[ra] + layer_h[ra])];
        for &(r, j) in way {
            let it = &layers[r][j];
            points.push((it.x, layer_top[r]));
            points.push((it.x, layer_top[r] + layer_h[r]));
        }
        points.push((end.0, layer_top[rb]));
        points.push(end);
        points.dedup();
        drawn.insert((a, b));
        edges.push(EdgePath { from: a, to: b, points, tooltip: tip.clone() });
    }
    // Waypoints count too: an edge may route to the right of every box.
    let width = layers.iter().flatten().map(|it| it.x + it.w / 2.0).fold(0.0, f64::max) + MARGIN;
    Ok(Layout { width, height, top: input.top, boxes, edges })
}

/// Centres closest (least squares) to `want` such that consecutive items, of widths `w`, are
/// at least `GAP_X` apart: isotonic regression on `x_i - offset_i` by pool-adjacent-violators.
fn place(want: &[f64], w: &[f64]) -> Vec<f64> {
    let k = want.len();
    let mut offset = vec![0.0; k];
    for i in 1..k {
        offset[i] = offset[i - 1] + (w[i - 1] + w[i]) / 2.0 + GAP_X;
    }
    // Blocks of (sum, count); each block's value is its mean.
    let mut blocks: Vec<(f64, usize)> = vec![];
    for i in 0..k {
        blocks.push((want[i] - offset[i], 1));
        while blocks.len() > 1 {
            let (s2, c2) = blocks[blocks.len() - 1];
            let (s1, c1) = blocks[blocks.len() - 2];
            if s1 / c1 as f64 <= s2 / c2 as f64 {
                break;
            }
            blocks.pop();
            *blocks.last_mut().unwrap() = (s1 + s2, c1 + c2);
        }
    }
    let mut out = Vec::with_capacity(k);
    for (s, c) in blocks {
        for _ in 0..c {
            out.push(s / c as f64 + offset[out.len()]);
        }
    }
    out
}
