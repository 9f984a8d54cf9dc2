//! Compact S-expression rendering of syntax trees, for tests and debugging.

use super::ast::{Expr, ExprKind};
use super::latex::number;

/// `x'*A*x` renders as `(* (* (' x) A) x)`; calls as `(call f a b)`, negation as `(neg a)`.
pub fn to_sexpr(expr: &Expr) -> String {
    let mut out = String::new();
    write_sexpr(expr, &mut out);
    out
}

fn write_sexpr(expr: &Expr, out: &mut String) {
    match &expr.kind {
        ExprKind::Num(v) => out.push_str(&number(*v)),
        ExprKind::Name(name) => out.push_str(name),
        ExprKind::Neg(a) => write_list(out, "neg", &[a.as_ref()]),
        ExprKind::Transpose(a) => write_list(out, "'", &[a.as_ref()]),
        ExprKind::Binary(op, a, b) => write_list(out, op.symbol(), &[a.as_ref(), b.as_ref()]),
        ExprKind::Call { func, args, .. } => {
            let args: Vec<&Expr> = args.iter().collect();
            write_list(out, &format!("call {func}"), &args);
        }
    }
}

fn write_list(out: &mut String, head: &str, items: &[&Expr]) {
    out.push('(');
    out.push_str(head);
    for item in items {
        out.push(' ');
        write_sexpr(item, out);
    }
    out.push(')');
}
