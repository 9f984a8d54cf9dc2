//! Linear scaling in the depth of a definitions chain (`h1 = tanh(x)`, `h2 = tanh(h1)`, …):
//! the work of lowering, differentiating and simplifying, and of printing the gradient (text,
//! LaTeX) and the derivation (`--steps` in every format), and the size of every output, grow
//! linearly, and so does the work of the numeric check that `--check` and `--steps` run.
//! Measured as ratios between two depths, of bytes and of work counted by the
//! budget's ticks (every node interned, every node printed, every node walked), so the test
//! does not depend on the machine's speed: quadratic growth gives a ratio of 16 where linear
//! gives 4. The gradient of a short chain of each kind is checked numerically.

use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::syntax::budget;
use matdiff::{Problem, Style};

/// A chain of `depth` definitions ending in a scalar loss, in the input language.
fn chain(kind: &str, depth: usize) -> String {
    let mut lines = vec![];
    for i in 1..=depth {
        let prev = if i == 1 { "x".to_string() } else { format!("h{}", i - 1) };
        lines.push(match kind {
            "tanh" => format!("h{i} = tanh({prev})"),
            // Each definition used twice: sums of paths at every level.
            "residual" => format!("h{i} = tanh({prev}) + 0.5*{prev}"),
            _ => unreachable!(),
        });
    }
    lines.push(format!("sum(h{depth})"));
    lines.join("\n")
}

/// What one depth costs: ticks of work and bytes of output, per phase.
#[derive(Debug)]
struct Cost {
    derive_work: u64,
    print_work: u64,
    steps_work: u64,
    /// `grad --check`'s numeric check (also run by `--steps`): central differences through the
    /// reference evaluator, counted by its ticks.
    check_work: u64,
    check_outcome: matdiff::FdOutcome,
    text_bytes: usize,
    latex_bytes: usize,
    steps_bytes: [usize; 4],
}

fn cost(kind: &str, depth: usize) -> (Cost, Problem, matdiff::Gradients) {
    let src = chain(kind, depth);
    let t0 = budget::ticks();
    let mut p = Problem::new(&src, "x: vector(n)").unwrap_or_else(|e| panic!("{kind} {depth}: {}", e.message));
    let grads = p.gradients(&["x"]).unwrap();
    let t1 = budget::ticks();
    let text = p.print_shared_named(&grads.nodes, Style::Plain).remove(0);
    let latex = p.print_compact(&grads.nodes, Style::Latex).remove(0);
    let t2 = budget::ticks();
    let d = Derivation::with_names(&p, &grads, &user_names(&p));
    let steps_bytes =
        [StepsFormat::Text, StepsFormat::Markdown, StepsFormat::Latex, StepsFormat::Json].map(|f| d.render(f).len());
    let t3 = budget::ticks();
    let check = p.fd_check(&grads, 1, 2);
    let t4 = budget::ticks();
    // Never a false disagreement. (The residual chain's gradient is about 0.5^depth of its
    // loss: rounding swamps the differences and the check honestly says so.)
    assert_ne!(check.outcome(), matdiff::FdOutcome::Disagrees, "{kind} chain of {depth}: {check:?}");
    let bytes = |e: &matdiff::Printed| e.expr.len() + e.defs.iter().map(|(n, d)| n.len() + d.len() + 10).sum::<usize>();
    let cost = Cost {
        derive_work: t1.wrapping_sub(t0) as u64,
        print_work: t2.wrapping_sub(t1) as u64,
        steps_work: t3.wrapping_sub(t2) as u64,
        check_work: t4.wrapping_sub(t3) as u64,
        check_outcome: check.outcome(),
        text_bytes: bytes(&text),
        latex_bytes: bytes(&latex),
        steps_bytes,
    };
    (cost, p, grads)
}

fn assert_linear(kind: &str) {
    // The gradient of a short chain of the kind is right (at two dimension settings); deep in
    // the chain central differences drown in rounding error (the loss barely moves).
    let (_, p, grads) = cost(kind, 6);
    let report = crate::common::fd_two_settings(&p, &grads, 1);
    assert_eq!(report.outcome(), matdiff::FdOutcome::Agrees, "{kind} chain of 6: {report:?}");
    // Past the 64 factors up to which like bases are merged (MAX_MERGED_FACTORS).
    let (small, _, _) = cost(kind, 100);
    let (large, _, _) = cost(kind, 400);
    // The same outcome at both depths, so the check's work compares like with like (one that
    // searched all its points at one depth and judged the first at the other would not).
    assert_eq!(small.check_outcome, large.check_outcome, "{kind}: the numeric check at depths 100 and 400");
    let ratio = |a: f64, b: f64| b / a.max(1.0);
    let mut checks = vec![
        (
            "lowering, differentiation and simplification (work)",
            ratio(small.derive_work as f64, large.derive_work as f64),
        ),
        ("printing the gradient (work)", ratio(small.print_work as f64, large.print_work as f64)),
        ("the derivation, built and rendered (work)", ratio(small.steps_work as f64, large.steps_work as f64)),
        ("the numeric check of --check and --steps (work)", ratio(small.check_work as f64, large.check_work as f64)),
        ("text (bytes)", ratio(small.text_bytes as f64, large.text_bytes as f64)),
        ("LaTeX (bytes)", ratio(small.latex_bytes as f64, large.latex_bytes as f64)),
    ];
    for (k, name) in ["--steps text", "--steps markdown", "--steps latex", "--steps json"].iter().enumerate() {
        checks.push((name, ratio(small.steps_bytes[k] as f64, large.steps_bytes[k] as f64)));
    }
    // 4 times deeper: linear growth gives about 4, quadratic 16.
    let bad: Vec<String> =
        checks.iter().filter(|c| c.1 > 6.0).map(|(what, r)| format!("{what}: grew {r:.1}x for 4x the depth")).collect();
    assert!(bad.is_empty(), "{kind} chain, depth 100 → 400, not linear:\n{}\n{small:?}\n{large:?}", bad.join("\n"));
    // LaTeX and the derivation stay within a small constant of the text output.
    assert!(large.latex_bytes <= 4 * large.text_bytes, "{kind}: LaTeX {large:?}");
    // (`--steps` writes every node, every contribution and the gradient again; JSON gives each
    // expression as text and LaTeX.)
    for (k, b) in large.steps_bytes.iter().enumerate() {
        let factor = if k == 3 { 60 } else { 20 };
        assert!(*b <= factor * large.text_bytes, "{kind}: --steps format {k}: {b} bytes against {large:?}");
    }
}

#[test]
fn tanh_chain_scales_linearly() {
    assert_linear("tanh");
}

#[test]
fn residual_chain_scales_linearly() {
    assert_linear("residual");
}

/// `grad --check` (and `--steps`, which runs the same check) on a deep chain: the right
/// gradient agrees, a gradient off by a factor 1.001 or missing a term disagrees. The
/// tolerance follows the differences' own error (Richardson's correction between the steps h
/// and h/2, and a first-order rounding bound): the rounding bound of the chain's gradient, a
/// product of `depth` factors, used to compound into infinity, and any difference then
/// counted as a disagreement (false "DISAGREES" from depth ~200 on).
fn deep_chain_is_judged(depth: usize) {
    use matdiff::FdOutcome;
    // A small quadratic term, so that a gradient can miss it.
    let src = chain("tanh", depth).replace(&format!("sum(h{depth})"), &format!("sum(h{depth}) + 0.0005*x'*x"));
    let mut p = Problem::new(&src, "x: vector(n)").unwrap();
    let grads = p.gradients(&["x"]).unwrap();
    let right = crate::common::fd_two_settings(&p, &grads, 1);
    assert_eq!(right.outcome(), FdOutcome::Agrees, "depth {depth}: the right gradient: {right:?}");
    let scaled = p.graph_mut().times(1.001, grads.nodes[0]);
    let x = p.graph_mut().var_node(grads.vars[0] as u32);
    let term = p.graph_mut().times(0.001, x);
    let missing = p.graph_mut().sub(grads.nodes[0], term);
    for (what, node) in [("times 1.001", scaled), ("without the 0.0005·x'x term", missing)] {
        let mut wrong = grads.clone();
        wrong.nodes[0] = node;
        let report = p.fd_check(&wrong, 1, 2);
        assert_eq!(report.outcome(), FdOutcome::Disagrees, "depth {depth}: the gradient {what} passed: {report:?}");
    }
}

#[test]
fn deep_chain_200_is_judged() {
    deep_chain_is_judged(200);
}

#[test]
fn deep_chain_1000_is_judged() {
    deep_chain_is_judged(1000);
}

/// The derivation's own check (every adjoint against central differences of the output
/// w.r.t. that node's value) on a 200-deep chain: every right adjoint agrees, and one scaled by
/// 1.001 deep in the chain is flagged, and only it.
#[test]
fn deep_chain_adjoints_are_judged() {
    let mut p = Problem::new(&chain("tanh", 200), "x: vector(n)").unwrap();
    let grads = p.gradients(&["x"]).unwrap();
    let d = Derivation::with_names(&p, &grads, &user_names(&p));
    let report = d.check_adjoints(3, 2);
    assert_eq!(report.settings, 2);
    let worst = report.nodes.iter().map(|c| c.max_err).fold(0.0, f64::max);
    assert!(worst <= matdiff::FD_TOLERANCE, "a right adjoint of the chain flagged: {worst:e}");
    let k = d.backward.len() / 2;
    let mut bad = d.clone();
    bad.backward[k].adjoint = bad.graph.times(1.001, d.backward[k].adjoint);
    let report = bad.check_adjoints(3, 1);
    for c in &report.nodes {
        if c.node == d.backward[k].node {
            assert!(c.max_err > matdiff::FD_TOLERANCE, "the adjoint of {} times 1.001 passed", d.nodes[c.node].name);
        } else {
            assert!(c.max_err <= matdiff::FD_TOLERANCE, "{} flagged", d.nodes[c.node].name);
        }
    }
}
