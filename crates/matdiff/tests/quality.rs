//! Output quality: the seed gradients' text (with where-lines) and LaTeX are snapshotted, and
//! no printed gradient (seeds and the property corpus) contains a needless form: a factor or
//! power of 1, a term 0, a double transpose, a doubled sign, a product with an identity.

use crate::common::gen::{case, DECLS};
use crate::common::{case_count, max_diff};
use matdiff::{Op, Printed, Problem, Style, EXAMPLES};
use std::fmt::Write as _;

fn render(printed: &Printed) -> String {
    let mut out = printed.expr.clone();
    for (name, def) in &printed.defs {
        let _ = write!(out, "\n  where {name} = {def}");
    }
    out
}

/// The seed gradients, each in plain text and LaTeX, with shared subterms named.
#[test]
fn seed_gradient_snapshots() {
    for ex in EXAMPLES {
        let mut p = Problem::new(ex.expr, ex.decls).unwrap();
        let grads = p.gradients(ex.wrt).unwrap();
        let mut out = format!("expr: {}\ndecl: {}\n", ex.expr.replace('\n', "; "), ex.decls);
        for (w, &g) in ex.wrt.iter().zip(&grads.nodes) {
            let plain = p.print_shared(&[g], Style::Plain).remove(0);
            let latex = p.print_shared(&[g], Style::Latex).remove(0);
            let _ = write!(out, "\nd/d{w}:\n{}\nlatex:\n{}\n", render(&plain), render(&latex));
        }
        insta::assert_snapshot!(ex.name, out);
    }
}

/// Needless forms in plain text: each is (what it is, the check).
fn defects(s: &str) -> Vec<&'static str> {
    let b = s.as_bytes();
    let mut out = vec![];
    let is_num = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'_';
    // A standalone number token `tok` at byte i (not part of a longer number or name).
    let standalone =
        |i: usize, len: usize| (i == 0 || !is_num(b[i - 1])) && (i + len >= b.len() || !is_num(b[i + len]));
    for (i, _) in s.match_indices('1') {
        if !standalone(i, 1) {
            continue;
        }
        let before = if i == 0 { None } else { Some(b[i - 1]) };
        let after = b.get(i + 1).copied();
        if after == Some(b'*') && matches!(before, None | Some(b'(' | b' ' | b'-' | b',')) {
            out.push("a factor 1 (`1*`)");
        }
        if before == Some(b'*') {
            out.push("a factor 1 (`*1`)");
        }
        if before == Some(b'^') {
            out.push("a power 1");
        }
        if before == Some(b'/') {
            out.push("a division by 1");
        }
    }
    for (i, _) in s.match_indices('0') {
        if standalone(i, 1) {
            let around = (&s[..i], &s[i + 1..]);
            if around.0.ends_with("+ ")
                || around.0.ends_with("- ")
                || around.1.starts_with(" +")
                || around.1.starts_with(" -")
            {
                out.push("a term 0");
            }
            if around.0.ends_with('*') || around.1.starts_with('*') {
                out.push("a factor 0");
            }
        }
    }
    let patterns: &[(&str, &'static str)] = &[
        ("''", "a double transpose"),
        ("--", "a double minus"),
        ("-(-", "a double minus"),
        ("+ -", "`+ -`"),
        ("- -", "`- -`"),
        ("*I*", "a product with I"),
        ("*I)", "a product with I"),
        ("(I*", "a product with I"),
    ];
    for (pat, what) in patterns {
        if s.contains(pat) {
            out.push(what);
        }
    }
    // A left factor eye(n) is a product with an identity (a scalar would be printed first);
    // `s*eye(n)` on its own is a scaled identity, which is fine.
    for (i, _) in s.match_indices("eye(") {
        let close = s[i..].find(')').map_or(s.len(), |j| i + j + 1);
        if s[close..].starts_with('*') {
            out.push("a product with an identity");
        }
    }
    // A zero array is a fine gradient on its own, but not as a part of one.
    let zero_fills = ["matrix(0,", "vector(0,", "matrix(0)", "vector(0)"];
    let whole = zero_fills.iter().any(|z| s.starts_with(z)) && s.ends_with(')') && s.matches('(').count() == 1;
    if zero_fills.iter().any(|z| s.contains(z)) && !whole {
        out.push("a zero array inside an expression");
    }
    if s.starts_with("I*") || s.ends_with("*I") {
        out.push("a product with I");
    }
    out
}

#[test]
fn defect_checker_finds_what_it_looks_for() {
    for bad in [
        "1*x",
        "x*1",
        "2*(x*1)",
        "x^1",
        "x + 0",
        "0 + x",
        "x''",
        "--x",
        "a + -b",
        "eye(n)*x",
        "x/1",
        "x - 0*y",
        "a*1/b",
        "x./1",
        "x + vector(0, n)",
        "I*x",
        "a + -3",
    ] {
        assert!(!defects(bad).is_empty(), "{bad} not flagged");
    }
    for good in [
        "10*x",
        "x*10",
        "0.1*x",
        "x + 0.5",
        "x.^0.5",
        "1/a",
        "x./(x.^2 + vector(1))",
        "eye(n) + x*x'",
        "x' + 1",
        "t1*x",
        "x*t1",
        "W1*x",
        "matrix(0, n, m)",
        "a*eye(n)",
        "vector(0.5, n)*x'",
        "-0.5*inv(U*U' + s*eye(d))",
    ] {
        assert!(defects(good).is_empty(), "{good} flagged: {:?}", defects(good));
    }
}

fn check_text(text: &str, what: &str, fails: &mut Vec<String>) {
    let d = defects(text);
    if !d.is_empty() {
        fails.push(format!("{what}: {d:?}\n  {text}"));
    }
}

#[test]
fn seed_gradients_are_compact() {
    let mut fails = vec![];
    for ex in EXAMPLES {
        let mut p = Problem::new(ex.expr, ex.decls).unwrap();
        let grads = p.gradients(ex.wrt).unwrap();
        for (w, &g) in ex.wrt.iter().zip(&grads.nodes) {
            let what = format!("{} d/d{w}", ex.name);
            check_text(&p.print(g, Style::Plain), &what, &mut fails);
            let shared = p.print_shared(&[g], Style::Plain).remove(0);
            check_text(&shared.expr, &what, &mut fails);
            for (_, d) in &shared.defs {
                check_text(d, &what, &mut fails);
            }
            // A repeated call (`inv(...)`, `sigmoid(...)`) in the where-form is a shared
            // subterm that was not shared.
            let lines: Vec<&str> =
                std::iter::once(shared.expr.as_str()).chain(shared.defs.iter().map(|d| d.1.as_str())).collect();
            let mut calls = vec![];
            for l in &lines {
                calls.extend(call_texts(l));
            }
            calls.sort();
            for w2 in calls.windows(2) {
                if w2[0] == w2[1] && w2[0].len() > 8 {
                    fails.push(format!("{what}: `{}` repeated in the where-form", w2[0]));
                }
            }
        }
    }
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

/// Every `name(...)` call in a line, with its balanced argument text.
fn call_texts(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut out = vec![];
    for (i, &c) in b.iter().enumerate() {
        if c != b'(' || i == 0 || !b[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        let start = (0..i).rev().take_while(|&j| b[j].is_ascii_alphanumeric()).last().unwrap_or(i);
        let mut depth = 0;
        for (j, &d) in b.iter().enumerate().skip(i) {
            depth += match d {
                b'(' => 1,
                b')' => -1,
                _ => 0,
            };
            if depth == 0 {
                out.push(line[start..=j].to_string());
                break;
            }
        }
    }
    out
}

/// W reaches the autoencoder's loss along two paths (W*x and W'): one term per path, summed.
#[test]
fn autoencoder_gradient_has_one_term_per_path() {
    for name in ["autoencoder", "autoencoder-batched"] {
        let ex = matdiff::example(name).unwrap();
        let mut p = Problem::new(ex.expr, ex.decls).unwrap();
        let g = p.gradients(&["W"]).unwrap().nodes[0];
        let Op::Lin(terms) = p.graph().op(g).clone() else {
            panic!("{name}: the gradient is not a sum: {}", p.print(g, Style::Plain))
        };
        assert_eq!(terms.len(), 2, "{name}: {}", p.print(g, Style::Plain));
        let wi = p.var_index("W").unwrap() as u32;
        let w = p.graph_mut().var_node(wi);
        for (c, t) in &terms {
            assert_eq!(c.get(), 1.0);
            assert!(p.graph().reachable(&[*t]).contains(&w), "{name}: a term without W");
        }
        let text = p.print(g, Style::Plain);
        assert_eq!(text.matches(" + ").count(), 1, "{text}");
        // Each path's term alone is half of the gradient's job: neither equals the whole.
        for (_, t) in &terms {
            assert!(max_diff(&p, g, *t, 5).unwrap() > 1e-3);
        }
    }
}

/// LaTeX is well formed: braces and \left/\right pairs balance.
fn latex_balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        depth += match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        };
        if depth < 0 {
            return false;
        }
    }
    depth == 0 && s.matches("\\left").count() == s.matches("\\right").count()
}

#[test]
fn property_corpus_gradients_are_compact() {
    let count = case_count("MATDIFF_QUALITY_CASES", 3000);
    let seed = case_count("MATDIFF_PROPTEST_SEED", 20240601) as u64;
    let mut fails = vec![];
    let mut checked = 0;
    for i in 0..count {
        let src = case(seed, i);
        let mut p = Problem::new(&src, DECLS).unwrap();
        let names: Vec<String> = p.graph().vars().iter().map(|v| v.name.clone()).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let grads = p.gradients(&refs).unwrap();
        for (name, &g) in names.iter().zip(&grads.nodes) {
            checked += 1;
            let what = format!("case {i}: {src}\n  d/d{name}");
            check_text(&p.print(g, Style::Plain), &what, &mut fails);
            let shared = p.print_shared(&[g], Style::Plain).remove(0);
            for line in std::iter::once(&shared.expr).chain(shared.defs.iter().map(|d| &d.1)) {
                check_text(line, &what, &mut fails);
            }
            let latex = p.print(g, Style::Latex);
            if !latex_balanced(&latex) {
                fails.push(format!("{what}: unbalanced LaTeX\n  {latex}"));
            }
        }
    }
    eprintln!("quality: {checked} gradients, {} with defects", fails.len());
    assert!(
        fails.is_empty(),
        "{} defects:\n{}",
        fails.len(),
        fails.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}
