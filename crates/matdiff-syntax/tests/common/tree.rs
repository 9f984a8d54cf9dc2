//! Syntax-tree helpers shared by the parser case tests (plain and LaTeX): an indented dump
//! with spans, and span sanity checks. `matdiff`'s `latex_cases` includes this file too.

use matdiff_syntax::{Expr, ExprKind, Span};
use std::fmt::Write as _;

/// `@3..5 \`a+\`` with the covered text.
pub fn show_span(src: &str, span: Span) -> String {
    let text = src.get(span.start..span.end).expect("span on char boundaries");
    format!("@{}..{} `{}`", span.start, span.end, text.replace('\n', "\\n"))
}

pub fn render_tree(src: &str, e: &Expr, level: usize, out: &mut String) {
    let pad = "  ".repeat(level);
    let head = match &e.kind {
        ExprKind::Num(v) => format!("Num {v:?}"),
        ExprKind::Name(n) => format!("Name {n}"),
        ExprKind::Neg(_) => "Neg".to_string(),
        ExprKind::Transpose(_) => "Transpose".to_string(),
        ExprKind::Binary(op, _, _) => format!("Binary {}", op.symbol()),
        ExprKind::Call { func, func_span, .. } => format!("Call {func} (name {})", show_span(src, *func_span)),
    };
    let _ = writeln!(out, "{pad}{head} {}", show_span(src, e.span));
    for child in children(e) {
        render_tree(src, child, level + 1, out);
    }
}

pub fn children(e: &Expr) -> Vec<&Expr> {
    match &e.kind {
        ExprKind::Num(_) | ExprKind::Name(_) => vec![],
        ExprKind::Neg(a) | ExprKind::Transpose(a) => vec![a],
        ExprKind::Binary(_, a, b) => vec![a, b],
        ExprKind::Call { args, .. } => args.iter().collect(),
    }
}

pub fn assert_valid_span(src: &str, span: Span) {
    assert!(span.start <= span.end && span.end <= src.len(), "span {span:?} out of range in {src:?}");
    assert!(src.is_char_boundary(span.start) && src.is_char_boundary(span.end), "span {span:?} splits a char");
}

/// Every span is valid and covers its children's.
pub fn check_spans(src: &str, e: &Expr) {
    assert_valid_span(src, e.span);
    for child in children(e) {
        assert!(e.span.start <= child.span.start && child.span.end <= e.span.end, "{e:?} does not cover {child:?}");
        check_spans(src, child);
    }
}
