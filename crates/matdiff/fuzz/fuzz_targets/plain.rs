//! Fuzz the plain reader: no input may panic; every span (of the tree or of an error) lies in
//! the text on character boundaries; a program that reads is lowered with declarations, and
//! when it lowers, differentiated and printed (no panic anywhere on that path either).
#![no_main]

use libfuzzer_sys::fuzz_target;
use matdiff_syntax::{parse_program, Expr, ExprKind};

const DECLS: &str = "W: matrix(m,n); x: vector(n); y: vector(m); A: matrix(n,n); S: symmetric(n); a: scalar";

fn check_span(src: &str, start: usize, end: usize) {
    assert!(start <= end && end <= src.len(), "span {start}..{end} outside {} bytes", src.len());
    assert!(src.is_char_boundary(start) && src.is_char_boundary(end));
}

fn check_spans(src: &str, e: &Expr) {
    // An explicit stack: the tree may be as deep as the parser allows.
    let mut todo = vec![e];
    while let Some(e) = todo.pop() {
        check_span(src, e.span.start, e.span.end);
        match &e.kind {
            ExprKind::Num(_) | ExprKind::Name(_) => {}
            ExprKind::Neg(a) | ExprKind::Transpose(a) => todo.push(a),
            ExprKind::Binary(_, a, b) => todo.extend([&**a, &**b]),
            ExprKind::Call { args, .. } => todo.extend(args.iter()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    match parse_program(src) {
        Ok(program) => {
            check_spans(src, &program.body);
            for decls in [DECLS, ""] {
                let Ok(mut p) = matdiff::Problem::new(src, decls) else { continue };
                let names: Vec<String> = p.graph().vars().iter().map(|v| v.name.clone()).collect();
                let wrt: Vec<&str> = names.iter().map(String::as_str).collect();
                if let Ok(grads) = p.gradients(&wrt) {
                    let _ = p.print_shared_named(&grads.nodes, matdiff::Style::Plain);
                }
            }
        }
        Err(err) => {
            if let Some(span) = err.span {
                check_span(src, span.start, span.end);
            }
        }
    }
});
