//! The built-in functions of the input language: a closed set, each named once.
//!
//! Lowering dispatches on [`Builtin`] (so a function cannot be known by name and missing from
//! the dispatch), and the "unknown function" suggestions read the same table.

use crate::ir::Func;

/// A function the input language knows.
///
/// ```
/// use matdiff_core::{Builtin, Func};
///
/// assert_eq!(Builtin::from_name("trace"), Some(Builtin::Trace));
/// assert_eq!(Builtin::from_name("sigmoid"), Some(Builtin::Entrywise(Func::Sigmoid)));
/// assert_eq!(Builtin::from_name("foo"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// An entrywise function (`exp`, `log`, `sigmoid`, …).
    Entrywise(Func),
    /// `sum(A)`: the sum of all entries.
    Sum,
    /// `norm1(A)`: the sum of absolute values.
    Norm1,
    /// `norm2(A)`: the Euclidean (Frobenius) norm.
    Norm2,
    /// `tr(A)` or `trace(A)`.
    Trace,
    /// `det(A)`.
    Det,
    /// `logdet(A)`; `log(det(A))` is read as this too.
    LogDet,
    /// `inv(A)`.
    Inv,
    /// `diag(v)` (a diagonal matrix) or `diag(A)` (the diagonal of a square matrix).
    Diag,
    /// `eye(n)`, `eye(3)` or `eye`: the identity.
    Eye,
    /// `vector(c)`, `vector(c, n)`: every entry c.
    Vector,
    /// `matrix(c)`, `matrix(c, m, n)`: every entry c.
    Matrix,
    /// `transpose(A)`, the same as `A'`.
    Transpose,
    /// `kron(A, B)`: the Kronecker product.
    Kron,
    /// `vec(A)`: the columns stacked.
    Vec,
    /// `unvec(v, m, n)`: the m×n matrix whose stacked columns are v.
    Unvec,
    /// `commutation(m, n)`: the mn×mn matrix K with `K*vec(A) = vec(A')`.
    Commutation,
    /// `softmax(z)` of a column vector: `exp(z - max(z)) / sum(exp(z - max(z)))`. Not
    /// entrywise (every entry depends on all of z), so not a [`Func`]; a matrix argument is
    /// refused ("softmax takes a vector") rather than read column by column.
    Softmax,
}

/// Every name the language accepts, with what it means (`tr` and `trace` are one function).
const NAMES: &[(&str, Builtin)] = &[
    ("sum", Builtin::Sum),
    ("norm1", Builtin::Norm1),
    ("norm2", Builtin::Norm2),
    ("tr", Builtin::Trace),
    ("trace", Builtin::Trace),
    ("det", Builtin::Det),
    ("logdet", Builtin::LogDet),
    ("inv", Builtin::Inv),
    ("diag", Builtin::Diag),
    ("eye", Builtin::Eye),
    ("vector", Builtin::Vector),
    ("matrix", Builtin::Matrix),
    ("transpose", Builtin::Transpose),
    ("kron", Builtin::Kron),
    ("vec", Builtin::Vec),
    ("unvec", Builtin::Unvec),
    ("commutation", Builtin::Commutation),
    ("softmax", Builtin::Softmax),
];

impl Builtin {
    /// The function called `name`, if the language knows one.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Func::from_name(name)
            .map(Builtin::Entrywise)
            .or_else(|| NAMES.iter().find(|(n, _)| *n == name).map(|&(_, b)| b))
    }

    /// Every accepted name, entrywise functions first.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Func::ALL.iter().map(|f| f.name()).chain(NAMES.iter().map(|&(n, _)| n))
    }

    /// How the function is called, for error notes.
    pub fn usage(self) -> &'static str {
        match self {
            Builtin::Kron => "kron(A, B): the Kronecker product of two arrays",
            Builtin::Unvec => "unvec(v, m, n): the m×n matrix whose columns, stacked, are the vector v of length m*n",
            Builtin::Commutation => "commutation(m, n): the mn×mn matrix K with K*vec(A) = vec(A') for A m×n",
            Builtin::Eye => "eye(n) or eye(3): the identity matrix",
            Builtin::Vector => "vector(c) or vector(c, n): the vector with every entry c",
            Builtin::Matrix => "matrix(c) or matrix(c, m, n): the matrix with every entry c",
            Builtin::Softmax => "softmax(z): exp(z)/sum(exp(z)) of a column vector z",
            _ => "f(A): one argument",
        }
    }
}

#[cfg(test)]
mod syntax_agrees {
    use super::Builtin;

    /// The parser tells a call `f(x)` from a product `A(x)` by `matdiff_syntax::FUNCTIONS`
    /// (the syntax crate cannot see this enum): the two must name the same functions.
    #[test]
    fn the_parser_knows_every_builtin_name() {
        let mut here: Vec<&str> = Builtin::names().collect();
        let mut there: Vec<&str> = matdiff_syntax::FUNCTIONS.to_vec();
        here.sort_unstable();
        there.sort_unstable();
        assert_eq!(here, there);
    }
}
