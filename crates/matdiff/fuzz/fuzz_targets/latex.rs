//! Fuzz the LaTeX reader: no input may panic, every span is valid, and every reading prints as
//! plain syntax that reads back as the same tree; readings are then lowered (no panic there
//! either).
#![no_main]

use libfuzzer_sys::fuzz_target;
use matdiff_syntax::{looks_like_latex, parse_expr, parse_latex, to_plain, to_sexpr, Expr, ExprKind};

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

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let _ = looks_like_latex(src);
    match parse_latex(src, &NAMES) {
        Ok(read) => {
            let body = &read.program.body;
            check_spans(src, body);
            let plain = to_plain(body);
            let again = parse_expr(&plain).expect("the plain form re-parses");
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
