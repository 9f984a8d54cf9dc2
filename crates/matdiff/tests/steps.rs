//! Derivations (`grad --steps`): snapshots of the seed models and of the cases in
//! `tests/cases/steps/`, and numeric checks of every step.
//!
//! For each derivation: the final gradient is the very node `Problem::gradients` gives (and it
//! passes central differences), the forward program reproduces the expression's value, and every
//! intermediate adjoint matches the central-difference derivative of the output w.r.t. that
//! node's value (the node is perturbed in the forward program, not only the variables), at two
//! dimension settings. A tampered derivation must fail that check.
//!
//! A case file has `expr:` lines (several are joined by newlines, for definitions), one `decl:`
//! line and one `wrt:` line (comma-separated); `#` starts a comment line.

use matdiff::derivation::{user_names, Derivation, Operand, StepsFormat};
use matdiff::{Problem, EXAMPLES};
use std::path::Path;

/// Build the derivation of `expr` w.r.t. `wrt`, as `grad --steps` does.
fn derive(expr: &str, decls: &str, wrt: &[&str]) -> Derivation {
    let mut p = Problem::new(expr, decls).unwrap_or_else(|e| panic!("{expr}: {}", e.message));
    let grads = p.gradients(wrt).unwrap_or_else(|e| panic!("{expr}: {}", e.message));
    let names = user_names(&p);
    Derivation::with_names(&p, &grads, &names)
}

/// The numbers of the numeric check vary in the last digits between machines: mask them.
fn mask_errors(s: &str) -> String {
    s.lines()
        .map(|line| match line.find("max relative error ") {
            Some(i) => {
                let start = i + "max relative error ".len();
                let rest = &line[start..];
                let end = rest.find(" against").unwrap_or(rest.len());
                format!("{}<err>{}", &line[..start], &rest[end..])
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything that must hold of a derivation, numerically and structurally. `strict`: the
/// expanded gradient must be the very node `grad` prints; otherwise (the simplifier is not
/// confluent, so a derivation through named steps can land on another form) it must be equal
/// numerically and the text must show `grad`'s form next to it.
fn verify(label: &str, d: &Derivation, strict: bool) {
    let text = d.render(StepsFormat::Text);
    for g in &d.gradients {
        assert!(
            g.agrees() || (!strict && text.contains("`matdiff grad` writes it as")),
            "{label}: the derivation's ∂/∂{} differs from `grad`'s",
            g.name
        );
    }
    let check = d.check.as_ref().expect("a derivation has a numeric check");
    assert_eq!(check.dims.len(), 2, "{label}: both dimension settings were checked");
    assert!(check.max_err < 1e-6, "{label}: final gradient error {}", check.max_err);
    // Every active node has exactly one adjoint step; every contribution comes from a user.
    for (i, n) in d.nodes.iter().enumerate() {
        let steps = d.backward.iter().filter(|s| s.node == i).count();
        assert_eq!(steps, usize::from(n.active), "{label}: node {} has {steps} adjoint steps", n.name);
    }
    for s in &d.backward {
        for c in &s.contributions {
            assert!(d.users(s.node).contains(&c.from), "{label}: {} pushes to a non-operand", d.nodes[c.from].name);
        }
    }
    let report = d.check_adjoints(11, 2);
    assert_eq!(report.settings, 2, "{label}: no finite random point");
    assert!(
        report.forward_err < 1e-10,
        "{label}: forward program differs from the expression ({})",
        report.forward_err
    );
    assert!(
        report.expanded_err < 1e-9,
        "{label}: the expanded gradient differs from `grad`'s by {:.1e}",
        report.expanded_err
    );
    assert_eq!(report.nodes.len(), d.backward.len());
    for c in &report.nodes {
        assert!(
            c.max_err < 1e-5,
            "{label}: adjoint of {} is off by {:.1e} vs central differences\n{}",
            d.nodes[c.node].name,
            c.max_err,
            d.render(StepsFormat::Text)
        );
    }
}

#[test]
fn seed_models() {
    for ex in EXAMPLES {
        let d = derive(ex.expr, ex.decls, ex.wrt);
        verify(ex.name, &d, true);
        insta::assert_snapshot!(format!("{}_text", ex.name), mask_errors(&d.render(StepsFormat::Text)));
        insta::assert_snapshot!(format!("{}_markdown", ex.name), mask_errors(&d.render(StepsFormat::Markdown)));
    }
}

struct Case {
    expr: String,
    decl: String,
    wrt: Vec<String>,
}

fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let mut case = Case { expr: String::new(), decl: String::new(), wrt: vec![] };
    for line in text.lines() {
        if let Some(e) = line.strip_prefix("expr:") {
            if !case.expr.is_empty() {
                case.expr.push('\n');
            }
            case.expr.push_str(e.trim());
        } else if let Some(d) = line.strip_prefix("decl:") {
            case.decl = d.trim().to_string();
        } else if let Some(w) = line.strip_prefix("wrt:") {
            case.wrt = w.split(',').map(|s| s.trim().to_string()).collect();
        } else if !line.trim().is_empty() && !line.starts_with('#') {
            panic!("{}: unexpected line {line:?}", path.display());
        }
    }
    case
}

/// One fixture of `tests/cases/steps/ok/`: the derivation is verified numerically node by
/// node, and its text snapshotted.
fn run_case(path: &Path) {
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let case = read_case(path);
    let wrt: Vec<&str> = case.wrt.iter().map(|s| s.as_str()).collect();
    let d = derive(&case.expr, &case.decl, &wrt);
    verify(&name, &d, false);
    insta::assert_snapshot!(format!("case_{name}"), mask_errors(&d.render(StepsFormat::Text)));
}

// One `#[test]` per fixture, generated by build.rs.
include!(concat!(env!("OUT_DIR"), "/fixtures_steps.rs"));

#[test]
fn the_fixtures_are_there() {
    let n = crate::common::fixture_files("steps");
    assert!(n >= 10, "the steps cases are in tests/cases/steps/ok");
    assert_eq!(FIXTURE_COUNT, n, "a test per fixture (rebuild if fixtures were added)");
}

/// The per-node check is not vacuous: a wrong intermediate adjoint is caught even when it is
/// not a variable's, and even when the final gradient is untouched.
#[test]
fn a_wrong_step_is_caught() {
    let ex = matdiff::example("autoencoder").unwrap();
    let good = derive(ex.expr, ex.decls, ex.wrt);
    for k in 0..good.backward.len() {
        let node = good.backward[k].node;
        if Some(node) == good.output {
            continue;
        }
        let mut bad = good.clone();
        let adj = bad.backward[k].adjoint;
        bad.backward[k].adjoint = bad.graph.times(2.0, adj);
        let report = bad.check_adjoints(11, 1);
        let err = report.nodes.iter().find(|c| c.node == node).unwrap().max_err;
        assert!(err > 1e-3, "doubling the adjoint of {} went unnoticed", good.nodes[node].name);
        let others = report.nodes.iter().filter(|c| c.node != node).map(|c| c.max_err).fold(0.0, f64::max);
        assert!(others < 1e-5, "only the tampered node is flagged");
    }
}

/// The autoencoder reads like the seed homework: binary products in the cheapest order, the
/// transposed use of W, and the two paths of W summed.
#[test]
fn autoencoder_reads_like_the_homework() {
    let ex = matdiff::example("autoencoder").unwrap();
    let d = derive(ex.expr, ex.decls, ex.wrt);
    let text = d.render(StepsFormat::Text);
    for needle in [
        "a = W*x",
        "b = W'*a",
        "c = b - x",
        "W is used by b and a, so it reaches L along 2 paths",
        "total derivatives",
        "W̄ += a*b̄' = a*c'",
        "W̄ += a\u{304}*x' = W*c*x'",
        "W̄ = a*c' + W*c*x'",
        "(the same expression as `matdiff grad` gives)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

/// Definitions keep the user's names (`h`, `y` in the residual block).
#[test]
fn user_names_are_kept() {
    let ex = matdiff::example("residual").unwrap();
    let d = derive(ex.expr, ex.decls, ex.wrt);
    let names: Vec<&str> = d.nodes.iter().map(|n| n.name.as_str()).collect();
    assert!(names.contains(&"h") && names.contains(&"y"), "{names:?}");
    let h = d.nodes.iter().position(|n| n.name == "h").unwrap();
    assert_eq!(d.definition(h, matdiff::Style::Plain), "h = x + e");
}

/// JSON holds the same structure: nodes, edges (one per operand use), steps, gradients, check.
#[test]
fn json_structure() {
    for ex in EXAMPLES {
        let d = derive(ex.expr, ex.decls, ex.wrt);
        let v: serde_json::Value = serde_json::from_str(&d.render(StepsFormat::Json)).unwrap();
        let nodes = v["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), d.nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            assert_eq!(n["id"], i);
            assert_eq!(n["name"], d.nodes[i].name);
            assert_eq!(n["adjoint"].is_null(), !d.nodes[i].active, "{}", ex.name);
        }
        let uses: usize =
            d.nodes.iter().map(|n| n.inputs.iter().filter(|o| matches!(o, Operand::Node { .. })).count()).sum();
        assert_eq!(v["edges"].as_array().unwrap().len(), uses);
        for e in v["edges"].as_array().unwrap() {
            assert!(e["from"].as_u64().unwrap() < e["to"].as_u64().unwrap(), "edges go forward");
        }
        assert_eq!(v["steps"].as_array().unwrap().len(), d.backward.len());
        assert_eq!(v["steps"][0]["seed"], true);
        assert_eq!(v["gradients"].as_array().unwrap().len(), ex.wrt.len());
        for g in v["gradients"].as_array().unwrap() {
            assert_eq!(g["agrees_with_grad"], true);
            assert!(g["expanded"]["latex"].is_string());
        }
        assert!(v["check"]["max_rel_error"].as_f64().unwrap() < 1e-6);
        let sums = v["steps"].as_array().unwrap().iter().filter(|s| s["total_derivative"].is_string()).count();
        let multi = d.backward.iter().filter(|s| s.contributions.len() > 1).count();
        assert_eq!(sums, multi);
    }
}

/// LaTeX output is balanced (braces, environments) and uses no plain-text notation.
#[test]
fn latex_is_balanced() {
    for ex in EXAMPLES {
        let d = derive(ex.expr, ex.decls, ex.wrt);
        for text in [d.render(StepsFormat::Latex), d.render(StepsFormat::Markdown)] {
            let mut depth = 0i64;
            let mut prev = ' ';
            for ch in text.chars() {
                if prev != '\\' {
                    match ch {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                assert!(depth >= 0, "{}: unbalanced braces", ex.name);
                prev = if prev == '\\' && ch == '\\' { ' ' } else { ch };
            }
            assert_eq!(depth, 0, "{}: unbalanced braces", ex.name);
            assert_eq!(text.matches("\\begin{").count(), text.matches("\\end{").count());
            assert!(!text.contains('§'), "{}: an adjoint placeholder leaked", ex.name);
            assert!(!text.contains("\\mathrm{§"), "{}", ex.name);
        }
        let md = d.render(StepsFormat::Markdown);
        assert_eq!(md.matches('$').count() % 2, 0, "{}: unpaired $", ex.name);
    }
}

// ----- random expressions ---------------------------------------------------------------------

use proptest::prelude::*;

/// Random well-typed expressions over A, B (n×n), C (n×m), x, y (n), s (scalar), built from smooth
/// operations, by shape. Leaves are shared names, so subexpressions and variables recur.
fn matrix(depth: u32) -> BoxedStrategy<String> {
    let leaf =
        prop_oneof![Just("A".to_string()), Just("B".to_string()), Just("A'".to_string()), Just("C*C'".to_string())];
    if depth == 0 {
        return leaf.boxed();
    }
    let m = || matrix(depth - 1);
    prop_oneof![
        leaf,
        (m(), m()).prop_map(|(a, b)| format!("({a})*({b})")),
        (m(), m()).prop_map(|(a, b)| format!("({a}) + ({b})")),
        (m(), m()).prop_map(|(a, b)| format!("({a}) - 2*({b})")),
        (m(), m()).prop_map(|(a, b)| format!("({a}).*({b})")),
        (scalar(depth - 1), m()).prop_map(|(s, a)| format!("({s})*({a})")),
        m().prop_map(|a| format!("tanh({a})")),
        m().prop_map(|a| format!("({a})'")),
        (vector(depth - 1), vector(depth - 1)).prop_map(|(u, v)| format!("({u})*({v})'")),
    ]
    .boxed()
}

fn vector(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![Just("x".to_string()), Just("y".to_string())];
    if depth == 0 {
        return leaf.boxed();
    }
    let v = || vector(depth - 1);
    prop_oneof![
        leaf,
        (matrix(depth - 1), v()).prop_map(|(a, u)| format!("({a})*({u})")),
        (v(), v()).prop_map(|(u, w)| format!("({u}) + ({w})")),
        (v(), v()).prop_map(|(u, w)| format!("({u}).*({w})")),
        (scalar(depth - 1), v()).prop_map(|(s, u)| format!("({s})*({u})")),
        v().prop_map(|u| format!("sigmoid({u})")),
        v().prop_map(|u| format!("sin({u})")),
    ]
    .boxed()
}

fn scalar(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![Just("s".to_string()), Just("x'*y".to_string())];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        leaf,
        vector(depth - 1).prop_map(|u| format!("sum({u})")),
        vector(depth - 1).prop_map(|u| format!("norm2({u})^2")),
        matrix(depth - 1).prop_map(|a| format!("tr({a})")),
        (vector(depth - 1), matrix(depth - 1), vector(depth - 1)).prop_map(|(u, a, w)| format!("({u})'*({a})*({w})")),
        (scalar(depth - 1), scalar(depth - 1)).prop_map(|(a, b)| format!("({a})*({b}) + 0.5*({a})")),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any expression: the derivation builds and renders in every format, its gradient is the
    /// node `grad` computes, and every step passes the central-difference check.
    #[test]
    fn random_expressions_derive_correctly(expr in scalar(3)) {
        let decls = "A: matrix(n,n); B: matrix(n,n); C: matrix(n,m); x: vector(n); y: vector(n); s: scalar";
        let p = Problem::new(&expr, decls).unwrap();
        let wrt: Vec<String> = p.graph().vars().iter().map(|v| v.name.clone()).filter(|v| expr.contains(v.as_str())).collect();
        let wrt: Vec<&str> = wrt.iter().map(|s| s.as_str()).collect();
        let d = derive(&expr, decls, &wrt);
        for f in [StepsFormat::Text, StepsFormat::Markdown, StepsFormat::Latex, StepsFormat::Json] {
            let out = d.render(f);
            prop_assert!(!out.contains('§'), "{expr}: placeholder in\n{out}");
        }
        // The expanded gradient is `grad`'s node, or (the simplifier not being confluent) an
        // equal expression that the text then shows next to `grad`'s.
        let report = d.check_adjoints(5, 1);
        prop_assert!(report.expanded_err < 1e-9, "{expr}: the expanded gradient differs from grad's by {:.1e}", report.expanded_err);
        for g in d.gradients.iter().filter(|g| !g.agrees()) {
            prop_assert!(d.render(StepsFormat::Text).contains("`matdiff grad` writes it as"), "{expr}: ∂/∂{}", g.name);
        }
        prop_assert!(report.forward_err < 1e-9, "{expr}: forward program differs");
        for c in &report.nodes {
            prop_assert!(c.max_err < 1e-4, "{expr}: adjoint of {} off by {:.1e}\n{}", d.nodes[c.node].name, c.max_err, d.render(StepsFormat::Text));
        }
        let svg = matdiff::diagram::svg(&d).unwrap();
        prop_assert!(roxmltree::Document::parse(&svg).is_ok());
    }
}

/// A definitions chain thousands of levels deep: the forward graph is built without recursing
/// once per level (it overflowed the stack at about 2,000 levels, killing the CLI or the
/// server), in a test thread's small stack; names follow evaluation order.
#[test]
fn a_deep_chain_does_not_overflow_the_stack() {
    let depth = 5000;
    let mut src: Vec<String> = vec!["h0 = x".into()];
    src.extend((1..depth).map(|i| format!("h{i} = tanh(A*h{} + h{})", i - 1, i - 1)));
    src.push(format!("sum(h{})", depth - 1));
    let p = Problem::new(&src.join("\n"), "A: matrix(n,n); x: vector(n)").unwrap();
    let names = user_names(&p);
    let d = Derivation::forward_with_names(&p, &names);
    // A and x, then per level a product, a sum and the tanh (h_i), then the output.
    assert!(d.nodes.len() >= 3 * (depth - 1), "{} nodes", d.nodes.len());
    let pos = |n: &str| d.nodes.iter().position(|f| f.name == n).unwrap_or_else(|| panic!("no node {n}"));
    assert!(pos("h1") < pos("h2") && pos("h2") < pos(&format!("h{}", depth - 1)));
}
