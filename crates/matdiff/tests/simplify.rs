//! The simplifier, rule by rule (as egg's `tests/math.rs`): each case of
//! `cases/simplify/rules.toml` gives an input and the canonical form the IR's constructors must
//! build from it. Every case is checked three ways: the printed form is the expected one, the
//! expected form lowers to the very same node (canonical forms are fixed points), and the value
//! agrees with a naive evaluation of the input as written (`common::oracle`) at random inputs
//! and two dimension settings.

use crate::common::oracle::eval_tree;
use crate::common::{finite, two_dim_settings};
use matdiff::{magnitudes, print, random_env, rel_diff, rounding_error, Problem, Style};
use rand::rngs::StdRng;
use rand::SeedableRng;

struct Rule {
    name: String,
    decl: String,
    input: String,
    canonical: String,
}

fn rules() -> Vec<Rule> {
    let table: toml::Table = include_str!("cases/simplify/rules.toml").parse().expect("rules.toml");
    let text = |c: &toml::Value, k: &str| c[k].as_str().unwrap_or_else(|| panic!("`{k}` must be a string")).to_string();
    table["rule"]
        .as_array()
        .expect("[[rule]] tables")
        .iter()
        .map(|c| Rule {
            name: text(c, "name"),
            decl: text(c, "decl"),
            input: text(c, "input"),
            canonical: text(c, "canonical"),
        })
        .collect()
}

/// Checks one rule; `Err` says what went wrong.
fn check(rule: &Rule, seed: u64) -> Result<(), String> {
    let mut p = Problem::new(&rule.input, &rule.decl).map_err(|e| format!("input: {}", e.message))?;
    let printed = print(p.graph(), p.output, Style::Plain);
    if printed != rule.canonical {
        return Err(format!("prints as `{printed}`, expected `{}`", rule.canonical));
    }
    let again = p.claim(&rule.canonical).map_err(|e| format!("canonical: {}", e.message))?;
    if again != p.output {
        let second = print(p.graph(), again, Style::Plain);
        return Err(format!("`{}` lowers to another node (`{second}`): not a fixed point", rule.canonical));
    }
    let tree = matdiff::syntax::parse_expr(&rule.input).map_err(|e| e.message)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let settings = two_dim_settings(p.graph(), &mut rng);
    let mut points = 0;
    for dims in settings {
        let env = random_env(p.graph(), p.output, dims, &mut rng);
        let naive = eval_tree(&tree, p.graph(), &env)?;
        let value = &matdiff::eval(p.graph(), &[p.output], &env)[0];
        if !(finite(&naive) && finite(value)) {
            continue;
        }
        points += 1;
        // Both round: the naive tree and the canonical graph, each within its rounding error.
        let noise = 2.0 * rounding_error(&magnitudes(p.graph(), &[p.output], &env)[0]);
        let err = rel_diff(&naive, value, noise);
        if err > 1e-9 {
            return Err(format!("value differs from the naive evaluation by {err:.1e} at dims {:?}", env.dims));
        }
    }
    if points < 2 {
        return Err(format!("only {points} of 2 points were finite: the numeric check did not run"));
    }
    Ok(())
}

#[test]
fn every_rule_builds_its_canonical_form() {
    let rules = rules();
    assert!(rules.len() >= 40, "the table lost cases");
    let failures: Vec<String> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| check(r, 7 + i as u64).err().map(|e| format!("{}: {e}", r.name)))
        .collect();
    assert!(failures.is_empty(), "{} of {} rules failed:\n{}", failures.len(), rules.len(), failures.join("\n"));
}

#[test]
fn rule_names_are_unique() {
    let mut names: Vec<String> = rules().into_iter().map(|r| r.name).collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
}
