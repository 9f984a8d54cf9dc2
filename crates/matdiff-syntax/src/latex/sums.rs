//! Index sums (`\sum_i x_i^2`, `\sum_{i,j} X_{ij}`): the summand, read with its indexed
//! entries marked, rewritten as one expression over whole arrays inside `sum(..)`.
//!
//! An entry `x_i` stands for all of `x`, so a product of two indexed factors is entrywise
//! (`x_i y_i` is `x.*y`), as are powers and quotients of them; `X_{ji}` in a sum whose first
//! entry was `X_{ij}` is `X'`, and `A_{ii}` in a sum over `i` is `diag(A)`. Anything the
//! indices do not fit (`\sum_{i,j} x_i`, a reduction of an entry, an unused index) is a
//! spanned error rather than a guess.

use crate::ast::{BinOp, Expr, ExprKind};
use crate::error::{Error, Input, Span};

/// The first character of the internal call marking an indexed entry while the summand is
/// read (`x_i` is `#i(x)`, `X_{ji}` is `#ji(X)`): never the name of a real function.
pub(super) const INDEXED: char = '#';

/// Functions applied entry by entry, which an indexed entry may pass through
/// (`\log(1 + e^{z_i})`).
const ENTRYWISE: &[&str] =
    &["exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "sign", "relu", "sigmoid", "softplus", "swish", "step"];

/// The summand of a sum binding `indices` (written at `sum`), with every mark resolved.
pub(super) fn resolve(summand: Expr, indices: &[char], sum: Span) -> Result<Expr, Error> {
    let mut r = Resolver { indices, reference: None, used: vec![] };
    let (expr, carries) = r.walk(summand)?;
    let unused: Vec<String> = indices.iter().filter(|c| !r.used.contains(c)).map(|c| format!("`{c}`")).collect();
    if !carries || !unused.is_empty() {
        let which = if unused.is_empty() { indices.iter().map(|c| format!("`{c}`")).collect() } else { unused };
        return Err(Error::new(Input::Expr, sum, format!("the summand does not use the index {}", which.join(", ")))
            .with_label("this sum's index is not used")
            .with_note("a sum runs over every entry of what its indices pick: `\\sum_i x_i^2`, `\\sum_{i,j} X_{ij}`"));
    }
    Ok(expr)
}

struct Resolver<'a> {
    indices: &'a [char],
    /// The index order of the first two-index entry: `X_{ij}` then `Y_{ji}` is `X.*Y'`.
    reference: Option<Vec<char>>,
    used: Vec<char>,
}

impl Resolver<'_> {
    /// The expression with marks resolved, and whether it depends on the indices (then
    /// products with another such factor are entrywise).
    fn walk(&mut self, e: Expr) -> Result<(Expr, bool), Error> {
        let span = e.span;
        Ok(match e.into_kind() {
            kind @ (ExprKind::Num(_) | ExprKind::Name(_)) => (Expr { kind, span }, false),
            ExprKind::Neg(a) => {
                let (a, c) = self.walk(*a)?;
                (Expr { kind: ExprKind::Neg(Box::new(a)), span }, c)
            }
            ExprKind::Transpose(a) => {
                let (a, c) = self.walk(*a)?;
                if c {
                    return Err(Error::new(Input::Expr, span, "a transpose of an entry of a sum is not read")
                        .with_label("an indexed entry is a number")
                        .with_note("write the sum over entries without `^T`, e.g. `\\sum_i x_i y_i`"));
                }
                (Expr { kind: ExprKind::Transpose(Box::new(a)), span }, false)
            }
            ExprKind::Binary(op, a, b) => {
                let (a, ca) = self.walk(*a)?;
                let (b, cb) = self.walk(*b)?;
                let op = match op {
                    BinOp::Mul if ca && cb => BinOp::EMul,
                    BinOp::Div if cb => BinOp::EDiv,
                    BinOp::Pow if ca || cb => BinOp::EPow,
                    BinOp::Kron if ca || cb => {
                        return Err(Error::new(Input::Expr, span, "a Kronecker product of entries is not read")
                            .with_label("inside a sum over indices")
                            .with_note("write `\\otimes` outside the sum"));
                    }
                    op => op,
                };
                (Expr { kind: ExprKind::Binary(op, Box::new(a), Box::new(b)), span }, ca || cb)
            }
            ExprKind::Call { func, func_span, args } => {
                if let Some(tuple) = func.strip_prefix(INDEXED) {
                    let tuple: Vec<char> = tuple.chars().collect();
                    let base = args.into_iter().next().expect("a mark has its entry");
                    return self.entry(base, &tuple, span, func_span).map(|e| (e, true));
                }
                let mut out = Vec::with_capacity(args.len());
                let mut carries = false;
                for a in args {
                    let (a, c) = self.walk(a)?;
                    carries |= c;
                    out.push(a);
                }
                if carries && !ENTRYWISE.contains(&func.as_str()) {
                    return Err(Error::new(Input::Expr, func_span, format!("`{func}` of an entry of a sum is not read"))
                        .with_label("not a function applied entry by entry")
                        .with_note("inside `\\sum_i` only entrywise functions (exp, log, tanh, ...) apply to indexed entries; write the whole-array form, e.g. `\\operatorname{tr}(A)`"));
                }
                (Expr { kind: ExprKind::Call { func, func_span, args: out }, span }, carries)
            }
        })
    }

    /// The array an entry `base_{tuple}` stands for.
    fn entry(&mut self, base: Expr, tuple: &[char], span: Span, script: Span) -> Result<Expr, Error> {
        let (base, nested) = self.walk(base)?;
        if nested {
            return Err(Error::new(Input::Expr, script, "an index on an expression that already has one")
                .with_label("the entries inside are indexed already")
                .with_note("index each array once: `\\sum_i (x_i + y_i)^2` or `\\sum_i (x + y)_i^2`"));
        }
        if let Some(c) = tuple.iter().find(|c| !self.indices.contains(c)) {
            return Err(Error::new(Input::Expr, script, format!("the index `{c}` belongs to an outer sum"))
                .with_label("used inside an inner sum")
                .with_note("write `\\sum_{i,j}` (or `\\sum_i \\sum_j` directly) for a sum over two indices"));
        }
        for &c in tuple {
            if !self.used.contains(&c) {
                self.used.push(c);
            }
        }
        let wrap = |kind: ExprKind| Expr { kind, span };
        match (self.indices.len(), tuple) {
            (1, [_]) => Ok(base),
            (1, [a, b]) if a == b => {
                Ok(wrap(ExprKind::Call { func: "diag".into(), func_span: script, args: vec![base] }))
            }
            (2, [a, b]) if a != b => {
                let reference = self.reference.get_or_insert_with(|| tuple.to_vec());
                if reference.as_slice() == tuple {
                    Ok(base)
                } else {
                    Ok(wrap(ExprKind::Transpose(Box::new(base))))
                }
            }
            (n, _) => {
                let all: Vec<String> = self.indices.iter().map(|c| c.to_string()).collect();
                Err(Error::new(
                    Input::Expr,
                    script,
                    format!("indices used inconsistently: this entry has {} but the sum runs over {}", shown(tuple), all.join(", ")),
                )
                .with_label(format!("expected {n} distinct ind{}", if n == 1 { "ex" } else { "ices" }))
                .with_note("every entry of the summand uses all the sum's indices: `\\sum_i x_i y_i`, `\\sum_{i,j} A_{ij} B_{ij}`, `\\sum_i A_{ii}`"))
            }
        }
    }
}

fn shown(tuple: &[char]) -> String {
    let s: Vec<String> = tuple.iter().map(|c| c.to_string()).collect();
    format!("`{}`", s.join(","))
}
