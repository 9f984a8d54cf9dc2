//! Round trip: a printed gradient (plain syntax, fully inlined) re-parses, against the same
//! declarations, to an expression with the same values; printing that again gives the same
//! text; and the where-clause (CSE) form, read back as definitions, has the same values too.

use crate::common::gen::{case, DECLS};
use crate::common::{case_count, max_diff};
use matdiff::{NodeId, Problem, Style, EXAMPLES};

/// Both sides are the same computation up to association: only rounding may differ.
const TOL: f64 = 1e-10;

/// What happened to one gradient.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// Same values, and printing the re-parsed expression gives the same text.
    Ok,
    /// Same values, but the re-parsed expression prints differently (see `first`, `second`).
    NotIdempotent { first: String, second: String },
    /// The random inputs gave non-finite values (both sides alike): nothing to compare.
    NonFinite,
}

/// Round-trip the gradient node `g` of `p`; `Err` describes a failure of parsing or values.
fn roundtrip(p: &mut Problem, g: NodeId, seed: u64) -> Result<Outcome, String> {
    let text = p.print(g, Style::Plain);
    let c = p.claim(&text).map_err(|e| format!("printed gradient does not parse back: {e}\n  text: {text}"))?;
    let inline = compare(p, g, c, seed).map_err(|m| format!("{m}\n  text: {text}"))?;
    let shared = p.print_shared(&[g], Style::Plain).remove(0);
    if !shared.defs.is_empty() {
        let mut program: String = shared.defs.iter().map(|(n, d)| format!("{n} = {d}\n")).collect();
        program.push_str(&shared.expr);
        let cse =
            p.claim(&program).map_err(|e| format!("where-form does not parse back: {e}\n  program:\n{program}"))?;
        compare(p, g, cse, seed).map_err(|m| format!("where-form: {m}\n  program:\n{program}"))?;
    }
    if inline == Outcome::NonFinite {
        return Ok(inline);
    }
    let again = p.print(c, Style::Plain);
    if again != text {
        return Ok(Outcome::NotIdempotent { first: text, second: again });
    }
    Ok(Outcome::Ok)
}

fn compare(p: &Problem, a: NodeId, b: NodeId, seed: u64) -> Result<Outcome, String> {
    if a == b {
        return Ok(Outcome::Ok);
    }
    // A few random points; a point where the values are not finite says nothing.
    for s in seed..seed + 3 {
        match max_diff(p, a, b, s) {
            Ok(d) if d < TOL => return Ok(Outcome::Ok),
            Ok(d) => return Err(format!("values differ by {d:e}")),
            Err(m) if m.starts_with("non-finite") => continue,
            Err(m) => return Err(m),
        }
    }
    Ok(Outcome::NonFinite)
}

#[test]
fn seed_gradients_round_trip() {
    for (k, ex) in EXAMPLES.iter().enumerate() {
        let mut p = Problem::new(ex.expr, ex.decls).unwrap();
        let grads = p.gradients(ex.wrt).unwrap();
        for (w, &g) in ex.wrt.iter().zip(&grads.nodes) {
            match roundtrip(&mut p, g, 10 * k as u64) {
                Ok(Outcome::Ok) => {}
                Ok(other) => panic!("{} d/d{w}: {other:?}", ex.name),
                Err(m) => panic!("{} d/d{w}: {m}", ex.name),
            }
        }
    }
}

/// Round-trip every gradient of the property corpus; returns the outcomes and the failures.
fn corpus_roundtrip() -> (Vec<Outcome>, Vec<String>) {
    let count = case_count("MATDIFF_ROUNDTRIP_CASES", 3000);
    let seed = case_count("MATDIFF_PROPTEST_SEED", 20240601) as u64;
    let mut outcomes = vec![];
    let mut fails = vec![];
    for i in 0..count {
        let src = case(seed, i);
        let mut p = Problem::new(&src, DECLS).unwrap_or_else(|e| panic!("case {i}: {src}: {e}"));
        let names: Vec<String> = p.graph().vars().iter().map(|v| v.name.clone()).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let grads = p.gradients(&refs).unwrap();
        for (name, &g) in names.iter().zip(&grads.nodes) {
            match roundtrip(&mut p, g, seed.wrapping_add(i as u64)) {
                Ok(o) => outcomes.push(o),
                Err(m) => fails.push(format!("case {i}: {src}\n  d/d{name}: {m}")),
            }
        }
    }
    (outcomes, fails)
}

/// Every printed gradient of the corpus parses back to the same values (inline and where-form);
/// `printing_is_idempotent_on_the_corpus` demands the same text as well.
#[test]
fn property_corpus_gradients_round_trip() {
    let (outcomes, fails) = corpus_roundtrip();
    let n = outcomes.len();
    let nonfinite = outcomes.iter().filter(|o| **o == Outcome::NonFinite).count();
    let idempotent = outcomes.iter().filter(|o| **o == Outcome::Ok).count();
    eprintln!("round trip: {n} gradients same values ({nonfinite} without a finite point), {idempotent} print identically, {} failed", fails.len());
    assert!(
        fails.is_empty(),
        "{} failures:\n{}",
        fails.len(),
        fails.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(nonfinite * 50 < n, "{nonfinite} gradients had no finite point (over 2%)");
    assert!(
        idempotent * 100 >= 85 * n,
        "only {idempotent} of {n} gradients print the same after a round trip (under 85%)"
    );
}

/// Printing is canonical: every gradient of the corpus prints the same after a round trip
/// (print, read back, print). Commutative operands are ordered structurally (`ir/order.rs`),
/// never by node id, and the text reads back to the same canonical form.
#[test]
fn printing_is_idempotent_on_the_corpus() {
    let (outcomes, fails) = corpus_roundtrip();
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    let diffs: Vec<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::NotIdempotent { first, second } => Some(format!("first:  {first}\nsecond: {second}")),
            _ => None,
        })
        .collect();
    assert!(
        diffs.is_empty(),
        "{} of {} print differently:\n{}",
        diffs.len(),
        outcomes.len(),
        diffs.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}
