//! Fuzz the LaTeX reader: no input may panic, every span is valid, and every reading prints as
//! plain syntax that reads back as the same tree; readings are then lowered (no panic there
//! either).
#![no_main]

use libfuzzer_sys::fuzz_target;
use matdiff_syntax::{looks_like_latex, parse_latex, parse_plain, to_plain, to_sexpr, Expr, ExprKind, PlainMode};

const NAMES: [&str; 8] = ["x", "y", "W", "A", "K", "xy", "alpha", "W1"];
const DECLS: &str = "W: matrix(m,n); x: vector(n); y: vector(n); A: matrix(n,n); K: symmetric(n); alpha: scalar";

fn check_spans(src: &str, e: &Expr) {
    assert!(e.span.start <= e.span.end && e.span.end <= src.len());
    assert!(src.is_char_boundary(e.span.start) && src.is_char_boundary(e.span.end));
    let children: Vec<&Expr> = match &e.kind {
        ExprKind::Num(_) | ExprKind::Name(_) => vec![],
        ExprKind::Neg(a) | ExprKind::Transpose(a) => vec![a],
        ExprKind::Binary(_, a, b) => vec![a, b],
        ExprKind::Call { args, .. } => args.iter().collect(),
    };
    for c in children {
        assert!(e.span.start <= c.span.start && c.span.end <= e.span.end);
        check_spans(src, c);
    }
}

/// Every name the tree uses.
fn collect_names(e: &Expr, out: &mut Vec<String>) {
    let mut todo = vec![e];
    while let Some(e) = todo.pop() {
        match &e.kind {
            ExprKind::Num(_) => {}
            ExprKind::Name(n) => out.push(n.clone()),
            ExprKind::Neg(a) | ExprKind::Transpose(a) => todo.push(a),
            ExprKind::Binary(_, a, b) => todo.extend([&**a, &**b]),
            ExprKind::Call { args, .. } => todo.extend(args.iter()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let _ = looks_like_latex(src);
    match parse_latex(src, &NAMES) {
        Ok(read) => {
            let body = &read.program.body;
            check_spans(src, body);
            let plain = to_plain(body);
            // Read back as a claim is: against the names the reading has (`W_{\text{enc}}` is
            // the name `Wenc`, which undeclared plain text would read as W*e*n*c).
            let mut names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
            collect_names(body, &mut names);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let again = parse_plain(&plain, &names, PlainMode::Expression).expect("the plain form re-parses").program.body;
            assert_eq!(to_sexpr(&again), to_sexpr(body));
            let _ = matdiff::Problem::new_latex(src, DECLS);
        }
        Err(err) => {
            if let Some(span) = err.span {
                assert!(span.start <= span.end && span.end <= src.len());
                assert!(src.is_char_boundary(span.start) && src.is_char_boundary(span.end));
            }
        }
    }
});
