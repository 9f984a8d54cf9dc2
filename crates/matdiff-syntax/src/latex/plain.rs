//! Printing a syntax tree back as plain syntax, with only the parentheses it needs.

use crate::ast::{BinOp, Expr, ExprKind};

/// Plain syntax for a tree, such that `parse_expr(to_plain(e))` gives the same tree (up to
/// spans): `\frac{1}{2}\|W^T W x - x\|^2` prints as `1/2*norm2(W'*W*x - x)^2`.
pub fn to_plain(expr: &Expr) -> String {
    let mut out = String::new();
    write(expr, 0, usize::MAX, &mut out);
    out
}

/// [`to_plain`] cut after about `max_chars` characters (then ending in `…`), for quoting a part
/// of the input in a message: printing stops once the text is long enough, so a huge
/// expression costs little.
///
/// ```
/// use matdiff_syntax::{parse_expr, to_plain_snippet};
/// let e = parse_expr("x'*A*x + b'*x").unwrap();
/// assert_eq!(to_plain_snippet(&e, 100), "x'*A*x + b'*x");
/// assert_eq!(to_plain_snippet(&e, 5), "x'*A*…");
/// ```
pub fn to_plain_snippet(expr: &Expr, max_chars: usize) -> String {
    let mut out = String::new();
    write(expr, 0, max_chars, &mut out);
    if out.chars().count() > max_chars {
        out = out.chars().take(max_chars).collect::<String>() + "…";
    }
    out
}

// Precedence levels of the plain grammar: sums < products < prefix minus < powers < postfix `'`
// < atoms. A child printed where a higher level is needed gets parentheses.
const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const PREFIX: u8 = 3;
const POWER: u8 = 4;
const POSTFIX: u8 = 5;
const ATOM: u8 = 6;

fn level(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Num(_) | ExprKind::Name(_) | ExprKind::Call { .. } | ExprKind::Binary(BinOp::Kron, ..) => ATOM,
        ExprKind::Transpose(_) => POSTFIX,
        ExprKind::Neg(_) => PREFIX,
        ExprKind::Binary(op, _, _) => match op {
            BinOp::Add | BinOp::Sub => SUM,
            BinOp::Mul | BinOp::Div | BinOp::EMul | BinOp::EDiv => PRODUCT,
            BinOp::Pow | BinOp::EPow => POWER,
            BinOp::Kron => ATOM,
        },
    }
}

/// Write `e` where at least level `need` is required (lower levels get parentheses); stop
/// once `out` holds more than `limit` bytes.
fn write(e: &Expr, need: u8, limit: usize, out: &mut String) {
    if out.len() > limit {
        return;
    }
    if level(e) < need {
        out.push('(');
        write(e, 0, limit, out);
        out.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Num(v) => out.push_str(&number(*v)),
        ExprKind::Name(n) => out.push_str(n),
        ExprKind::Neg(a) => {
            out.push('-');
            write(a, PREFIX, limit, out);
        }
        ExprKind::Transpose(a) => {
            write(a, POSTFIX, limit, out);
            out.push('\'');
        }
        ExprKind::Binary(BinOp::Kron, a, b) => {
            out.push_str("kron(");
            write(a, 0, limit, out);
            out.push_str(", ");
            write(b, 0, limit, out);
            out.push(')');
        }
        ExprKind::Binary(op, a, b) => {
            let (left, right, sep) = match op {
                BinOp::Add | BinOp::Sub => (SUM, PRODUCT, true),
                BinOp::Mul | BinOp::Div | BinOp::EMul | BinOp::EDiv => (PRODUCT, PREFIX, false),
                // Right-associative; the exponent may be negative (`A^-1`).
                BinOp::Pow | BinOp::EPow => (POSTFIX, PREFIX, false),
                BinOp::Kron => unreachable!("written as a call above"),
            };
            write(a, left, limit, out);
            if sep {
                out.push(' ');
                out.push_str(op.symbol());
                out.push(' ');
            } else {
                out.push_str(op.symbol());
            }
            write(b, right, limit, out);
        }
        ExprKind::Call { func, args, .. } => {
            out.push_str(func);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(a, 0, limit, out);
            }
            out.push(')');
        }
    }
}

/// Decimals for everyday magnitudes, scientific notation for the extremes (which the plain
/// lexer reads back exactly; plain `Display` would spell `1e300` with 301 digits).
pub(crate) fn number(v: f64) -> String {
    if v != 0.0 && !(1e-6..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}
