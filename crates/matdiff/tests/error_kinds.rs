//! Every failing input reports the [`ErrorKind`] a caller branches on (exit codes, HTTP
//! statuses, Python exception classes), with a span inside the input it points into. Cases as
//! data: `cases/error_kinds/cases.toml`.

use matdiff::{ErrorKind, Problem};

struct Case {
    expr: String,
    decl: String,
    kind: String,
    spanned: bool,
}

fn cases() -> Vec<Case> {
    let table: toml::Table = include_str!("cases/error_kinds/cases.toml").parse().expect("cases.toml");
    let text = |c: &toml::Value, k: &str| c[k].as_str().unwrap_or_else(|| panic!("`{k}` must be a string")).to_string();
    table["case"]
        .as_array()
        .expect("[[case]] tables")
        .iter()
        .map(|c| Case {
            expr: text(c, "expr"),
            decl: text(c, "decl"),
            kind: text(c, "kind"),
            spanned: c["spanned"].as_bool().expect("`spanned` must be a boolean"),
        })
        .collect()
}

fn kind_named(name: &str) -> ErrorKind {
    *ErrorKind::ALL.iter().find(|k| k.as_str() == name).unwrap_or_else(|| panic!("no error kind `{name}`"))
}

#[test]
fn each_case_has_its_kind_and_span() {
    let cases = cases();
    assert!(cases.len() >= 10);
    let mut failures = vec![];
    for c in &cases {
        let want = kind_named(&c.kind);
        let read = if matdiff::syntax::looks_like_latex(&c.expr) {
            Problem::new_latex(&c.expr, &c.decl)
        } else {
            Problem::new(&c.expr, &c.decl)
        };
        match read {
            Ok(_) => failures.push(format!("`{}`: accepted, expected a {} error", c.expr, c.kind)),
            Err(e) => {
                if e.kind != want {
                    failures.push(format!("`{}`: kind {}, expected {} ({})", c.expr, e.kind, c.kind, e.message));
                }
                if c.spanned {
                    let len = match e.input {
                        matdiff::Input::Decl => c.decl.len(),
                        _ => c.expr.len(),
                    };
                    match e.span {
                        Some(s) if s.start <= s.end && s.end <= len => {}
                        other => failures.push(format!("`{}`: span {other:?} not inside the input", c.expr)),
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn nesting_beyond_the_limit_is_a_limit_error() {
    let depth = 10_000;
    let expr = format!("{}x'*x{}", "(".repeat(depth), ")".repeat(depth));
    let e = Problem::new(&expr, "x: vector(n)").expect_err("nested 10,000 deep");
    assert_eq!(e.kind, ErrorKind::Limit, "{}", e.message);
}

#[test]
fn kind_names_are_distinct() {
    let mut names: Vec<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), ErrorKind::ALL.len());
}
