//! Cooperative cancellation: every long-running feature stops soon after its budget is spent
//! (the checkpoints in interning, the backward pass, printing, evaluation, finite differences,
//! layouts and audits are reached), and work within its budget gives the same answer as
//! without one.

use matdiff::check::{CheckOptions, Checker};
use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::syntax::budget::{self, Budget, Cancelled};
use matdiff::{diagram, ErrorKind, Problem};
use std::time::{Duration, Instant};

fn wall() -> Duration {
    thread_local!(static T0: Instant = Instant::now());
    T0.with(|t| t.elapsed())
}

/// `h1 = tanh(A*h0 + h0)`, … `depth` layers: quick to differentiate, but its derivation, graph
/// with adjoints and claim check take minutes (their expanded forms grow with the depth).
fn deep(depth: usize) -> String {
    let mut lines = vec!["h0 = x".to_string()];
    for i in 1..depth {
        lines.push(format!("h{i} = tanh(A*h{} + h{})", i - 1, i - 1));
    }
    lines.push(format!("sum(h{})", depth - 1));
    lines.join("\n")
}

const DECL: &str = "A: matrix(n,n); x: vector(n)";

/// Run `work` under a budget of `limit`; it must be stopped, and within `max` of wall time.
fn stopped(what: &str, limit: Duration, max: Duration, work: impl FnOnce()) {
    let b = Budget::new(limit, wall);
    let t = Instant::now();
    let r = budget::run(&b, work);
    let took = t.elapsed();
    assert_eq!(r, Err(Cancelled), "{what}: finished within {limit:?}, the case is not heavy enough");
    assert!(took < max, "{what}: stopped only after {took:?} (budget {limit:?})");
}

#[test]
fn heavy_work_is_stopped_in_every_phase() {
    let expr = deep(200);
    let (limit, max) = (Duration::from_millis(150), Duration::from_secs(3));
    // Parsed and differentiated outside the budget, so that each case stops in its own phase.
    let mut p = Problem::new(&expr, DECL).unwrap();
    let g = p.gradients(&["A"]).unwrap();
    let names = user_names(&p);
    stopped("derivation", limit, max, || {
        let d = Derivation::with_names(&p, &g, &names);
        let _ = d.render(StepsFormat::Json);
    });
    // The graph of the 200-level chain is refused before any layout work (`A` is used at every
    // level: its edges need a waypoint on each layer they skip); a 160-level one is laid out
    // (~0.1 s in the test build), slowly enough for the layout's own checkpoints to stop it.
    let refused = diagram::svg(&Derivation::forward_with_names(&p, &names)).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::Limit, "{}", refused.message);
    let shallower = Problem::new(&deep(160), DECL).unwrap();
    let forward = Derivation::forward_with_names(&shallower, &user_names(&shallower));
    stopped("graph without adjoints (layout, SVG)", Duration::from_millis(5), max, || {
        if let Err(e) = diagram::svg(&forward) {
            panic!("the 160-level graph is within the layout limit: {}", e.message);
        }
    });
    stopped("finite differences", Duration::from_millis(20), max, || {
        let _ = p.fd_check(&g, 1, 2);
    });
    stopped("claim check", limit, max, || {
        let mut c = Checker::new(p.clone(), "A", CheckOptions::default()).unwrap();
        let _ = c.check("A");
    });
    stopped("parsing, lowering, differentiation", Duration::from_millis(1), max, || {
        let mut p = Problem::new(&expr, DECL).unwrap();
        let _ = p.gradients(&["A"]).unwrap();
    });
    // Many equations: the audit's own loop (each step read, lowered and compared).
    let doc: String = (0..400).map(|i| format!("$$\\frac{{\\partial L}}{{\\partial W}} = {i} W x x^T$$\n")).collect();
    let problem = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../problems/autoencoder.toml"))
        .expect("problems/autoencoder.toml");
    let auditor = matdiff::audit::auditor(&problem).unwrap();
    stopped("audit", Duration::from_millis(20), max, || {
        let _ = auditor.audit(&doc);
    });
}

#[test]
fn work_within_its_budget_gives_the_same_answer() {
    let ex = matdiff::example("mlp").unwrap();
    let plain = || {
        let mut p = Problem::new(ex.expr, ex.decls).unwrap();
        let g = p.gradients(ex.wrt).unwrap();
        let report = p.fd_check(&g, 3, 2);
        assert!(report.max_err < 1e-6, "{}", report.max_err);
        matdiff::report::gradients_json(&mut p, &g, ex.wrt, None, matdiff::check::Convention::Symmetric).unwrap()
    };
    let b = Budget::new(Duration::from_secs(600), wall);
    assert_eq!(budget::run(&b, plain), Ok(plain()));
}
