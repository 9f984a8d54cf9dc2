//! Drawings of the computational graph: the SVG is well-formed XML with a tooltip per node and
//! edge, and stays readable (no two boxes overlap, every label fits in its box, no edge runs
//! through a box) up to graphs of 30+ nodes; DOT declares every node and edge.
//!
//! The geometry is checked on the parsed SVG (what a browser draws), with text measured as the
//! renderer sets it: monospace, 0.6 em per character.

use matdiff::derivation::{user_names, Derivation};
use matdiff::diagram;
use matdiff::{Problem, EXAMPLES};

fn derive(expr: &str, decls: &str, wrt: Option<&[&str]>) -> Derivation {
    let mut p = Problem::new(expr, decls).unwrap_or_else(|e| panic!("{expr}: {}", e.message));
    match wrt {
        Some(w) => {
            let grads = p.gradients(w).unwrap();
            let names = user_names(&p);
            Derivation::with_names(&p, &grads, &names)
        }
        None => Derivation::forward(&p),
    }
}

/// A three-layer network with weight decay and a residual connection: over 30 nodes.
const BIG: (&str, &str) = (
    "h1 = tanh(W1*x + b1)\nh2 = sigmoid(W2*h1 + b2) + h1\nh3 = swish(W3*h2 + b3)\n0.5*norm2(W4*h3 + b4 - t)^2 + lam*(norm2(W1)^2 + norm2(W2)^2 + norm2(W3)^2 + norm2(W4)^2) + sum(exp(W2'*h3))",
    "W1: matrix(n,d); W2: matrix(n,n); W3: matrix(n,n); W4: matrix(c,n); b1: vector(n); b2: vector(n); b3: vector(n); b4: vector(c); x: vector(d); t: vector(c); lam: scalar",
);

#[derive(Debug, Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn overlaps(&self, o: &Rect, gap: f64) -> bool {
        self.x < o.x + o.w + gap
            && o.x < self.x + self.w + gap
            && self.y < o.y + o.h + gap
            && o.y < self.y + self.h + gap
    }
    fn contains_strictly(&self, p: (f64, f64), inset: f64) -> bool {
        p.0 > self.x + inset && p.0 < self.x + self.w - inset && p.1 > self.y + inset && p.1 < self.y + self.h - inset
    }
}

fn attr(n: roxmltree::Node, name: &str) -> f64 {
    n.attribute(name).unwrap_or_else(|| panic!("<{}> without {name}", n.tag_name().name())).parse().unwrap()
}

/// Check an SVG drawing: parse it, then its geometry. Returns the number of node boxes.
fn check_svg(label: &str, svg: &str, d: &Derivation) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{label}: SVG is not XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    let (width, height) = (attr(root, "width"), attr(root, "height"));
    let groups = |class: &str| -> Vec<roxmltree::Node> {
        root.descendants().filter(|n| n.attribute("class").is_some_and(|c| c.starts_with(class))).collect()
    };
    let nodes = groups("node");
    assert_eq!(nodes.len(), d.nodes.len(), "{label}: one box per node");
    let mut rects = vec![];
    for (g, n) in nodes.iter().zip(&d.nodes) {
        let title = g.children().find(|c| c.has_tag_name("title")).expect("every node has a tooltip");
        let tip = title.text().unwrap_or("");
        assert!(tip.contains(&n.name), "{label}: tooltip {tip:?} names the node");
        if n.active {
            assert!(tip.contains(&format!("∂{}/∂{}", d.output_name, n.name)), "{label}: {tip:?} gives the adjoint");
        }
        let rect = g.children().find(|c| c.has_tag_name("rect")).unwrap();
        let r = Rect { x: attr(rect, "x"), y: attr(rect, "y"), w: attr(rect, "width"), h: attr(rect, "height") };
        assert!(
            r.x >= 0.0 && r.y >= 30.0 && r.x + r.w <= width && r.y + r.h <= height,
            "{label}: box inside the drawing, below the legend"
        );
        for t in g.children().filter(|c| c.has_tag_name("text")) {
            let text = t.text().unwrap_or("");
            let size = attr(t, "font-size");
            let chars = text.chars().filter(|c| !('\u{300}'..='\u{36f}').contains(c)).count() as f64;
            let (cx, base) = (attr(t, "x"), attr(t, "y"));
            let half = chars * 0.6 * size / 2.0;
            assert!(cx - half >= r.x + 2.0 && cx + half <= r.x + r.w - 2.0, "{label}: {text:?} sticks out of its box");
            assert!(
                base - 0.8 * size >= r.y && base + 0.25 * size <= r.y + r.h,
                "{label}: {text:?} sticks out vertically"
            );
        }
        rects.push(r);
    }
    for i in 0..rects.len() {
        for j in 0..i {
            assert!(
                !rects[i].overlaps(&rects[j], 4.0),
                "{label}: boxes of {} and {} overlap",
                d.nodes[i].name,
                d.nodes[j].name
            );
        }
    }
    // Edges: every cubic segment stays out of the boxes it does not connect.
    let layout = diagram::layout(d).unwrap();
    let edges = groups("edge");
    assert_eq!(edges.len(), layout.edges.len());
    for e in &layout.edges {
        for &(x, y) in &e.points {
            assert!(x >= 0.0 && x <= width && y >= 30.0 && y <= height, "{label}: an edge leaves the drawing");
        }
        for seg in e.points.windows(2) {
            let ((x0, y0), (x1, y1)) = (seg[0], seg[1]);
            let my = (y0 + y1) / 2.0;
            for k in 0..=40 {
                let t = k as f64 / 40.0;
                let u = 1.0 - t;
                let x = u * u * u * x0 + 3.0 * u * u * t * x0 + 3.0 * u * t * t * x1 + t * t * t * x1;
                let y = u * u * u * y0 + 3.0 * u * u * t * my + 3.0 * u * t * t * my + t * t * t * y1;
                for (i, r) in rects.iter().enumerate() {
                    if i != e.from && i != e.to {
                        assert!(
                            !r.contains_strictly((x, y), 0.5),
                            "{label}: edge {}→{} runs through {}",
                            d.nodes[e.from].name,
                            d.nodes[e.to].name,
                            d.nodes[i].name
                        );
                    }
                }
            }
        }
    }
    // The layout the test reads is the one the SVG draws.
    for (b, r) in layout.boxes.iter().zip(&rects) {
        assert!((b.x - r.x).abs() < 0.1 && (b.y - r.y).abs() < 0.1);
    }
    rects.len()
}

#[test]
fn seed_models_draw_cleanly() {
    for ex in EXAMPLES {
        for wrt in [None, Some(ex.wrt)] {
            let d = derive(ex.expr, ex.decls, wrt);
            check_svg(ex.name, &diagram::svg(&d).unwrap(), &d);
        }
    }
}

#[test]
fn a_30_node_graph_stays_readable() {
    let d = derive(BIG.0, BIG.1, Some(&["W1", "W2", "b3", "lam"]));
    assert!(d.nodes.len() >= 30, "the big graph has {} nodes", d.nodes.len());
    let boxes = check_svg("big", &diagram::svg(&d).unwrap(), &d);
    assert_eq!(boxes, d.nodes.len());
    let d = derive(BIG.0, BIG.1, None);
    check_svg("big, forward only", &diagram::svg(&d).unwrap(), &d);
}

#[test]
fn inputs_look_different_from_operations() {
    let ex = matdiff::example("mlp").unwrap();
    let d = derive(ex.expr, ex.decls, Some(&["W1"]));
    let svg = diagram::svg(&d).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let fill_of = |class: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .map(|g| g.children().find(|c| c.has_tag_name("rect")).unwrap().attribute("fill").unwrap().to_string())
            .collect()
    };
    let inputs = fill_of("node input");
    let ops = fill_of("node operation");
    assert_eq!(inputs.len(), 6);
    assert!(inputs.iter().all(|f| !ops.contains(f)), "inputs and operations share a colour");
    // The differentiated input stands out from the other inputs.
    let distinct: std::collections::HashSet<&String> = inputs.iter().collect();
    assert_eq!(distinct.len(), 2);
}

#[test]
fn dot_declares_every_node_and_edge() {
    for ex in EXAMPLES {
        let d = derive(ex.expr, ex.decls, Some(ex.wrt));
        let dot = diagram::dot(&d);
        assert!(dot.starts_with("digraph matdiff {") && dot.trim_end().ends_with('}'));
        for i in 0..d.nodes.len() {
            assert!(dot.contains(&format!("\n  n{i} [label=\"")), "{}: node {i} missing", ex.name);
        }
        let layout = diagram::layout(&d).unwrap();
        assert_eq!(dot.matches(" -> ").count(), layout.edges.len());
        // Quotes balance on every line (escaped quotes aside).
        for line in dot.lines() {
            assert_eq!(line.replace("\\\"", "").matches('"').count() % 2, 0, "{line}");
        }
        // With a backward pass, the contributions label the edges.
        assert!(dot.contains("label=\"") && dot.contains(" += "));
    }
    let ex = matdiff::example("autoencoder").unwrap();
    insta::assert_snapshot!("autoencoder_dot", diagram::dot(&derive(ex.expr, ex.decls, Some(ex.wrt))));
}

#[test]
fn svg_escapes_text() {
    // Transposes put apostrophes in labels; they must be escaped in the XML.
    let d = derive("x'*A*x", "A: matrix(n,n); x: vector(n)", Some(&["A"]));
    let svg = diagram::svg(&d).unwrap();
    assert!(svg.contains("&apos;"));
    roxmltree::Document::parse(&svg).unwrap();
}

/// Layouts stay near-linear: a value used at every level of a deep chain needs a waypoint on
/// every layer its edges skip (quadratically many), so such a graph is refused quickly with the
/// counts and the limit (it took over a minute at ~9,000 boxes), while a deep chain whose edges
/// are short is still drawn. The work is counted in budget ticks, not timed.
#[test]
fn large_layouts_are_bounded() {
    use matdiff::syntax::budget;
    let chain = |depth: usize, extra: &str| {
        let mut s = String::from("h1 = tanh(x)\n");
        for i in 2..=depth {
            s.push_str(&format!("h{i} = tanh(h{}){extra}\n", i - 1));
        }
        s.push_str(&format!("sum(h{depth})"));
        s
    };
    // The gradient of the residual chain is right (checked numerically at a small depth).
    let mut p = Problem::new(&chain(5, " + x"), "x: vector(n)").unwrap();
    let grads = p.gradients(&["x"]).unwrap();
    assert_eq!(crate::common::fd_two_settings(&p, &grads, 1).outcome(), matdiff::FdOutcome::Agrees);
    let d = derive(&chain(1500, " + x"), "x: vector(n)", Some(&["x"]));
    let t0 = budget::ticks();
    let e = diagram::svg(&d).unwrap_err();
    assert_eq!(e.kind, matdiff::ErrorKind::Limit);
    assert!(e.message.contains("too large to lay out") && e.message.contains("40000"), "{}", e.message);
    assert!(e.notes.iter().any(|n| n.contains("--format dot")), "{:?}", e.notes);
    // Refused after counting, before any waypoint was made (one tick each, and the
    // message says how many: over two million here).
    let waypoints: usize =
        e.message.split(" boxes and ").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
    let spent = budget::ticks().wrapping_sub(t0) as usize;
    assert!(spent * 10 < waypoints, "the refusal did the layout's work first: {spent} ticks for {waypoints} waypoints");
    // DOT is still written.
    assert!(diagram::dot(&d).starts_with("digraph"));
    // A plain chain of the same depth has short edges: drawn, in work linear in its size.
    let work = |depth: usize| {
        let d = derive(&chain(depth, ""), "x: vector(n)", Some(&["x"]));
        let t0 = budget::ticks();
        let svg = diagram::svg(&d).unwrap();
        assert!(roxmltree::Document::parse(&svg).is_ok());
        budget::ticks().wrapping_sub(t0) as f64
    };
    let (small, large) = (work(300), work(1200));
    assert!(large / small < 6.0, "layout work grew {:.1}x for 4x the depth", large / small);
}
