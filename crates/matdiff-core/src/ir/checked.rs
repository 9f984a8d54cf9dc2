//! Checked construction: building IR from operands that are not already known to fit.
//!
//! The canonicalizing constructors in `build.rs` (`Graph::matmul`, `Graph::trace`, …) assume
//! well-shaped operands: lowering has already checked every shape against the syntax tree, with
//! spans, and the differentiator and simplifier only combine nodes whose shapes they derived.
//! A caller building a graph by hand — a library user, a test, a generator of random
//! expressions — goes through [`Graph::apply`] instead. It checks that every operand exists,
//! that the operand count is right and that the shapes fit, and returns an
//! [`ErrorKind::Shape`] (or [`ErrorKind::Input`]) error naming the shapes: never a panic, never
//! an ill-shaped node that fails later.

use super::{Func, Graph, NodeId};
use crate::shape::{DimId, Shape};
use matdiff_syntax::{Error, ErrorKind, Input, Result};

/// An operation for [`Graph::apply`], with its constant parameters.
///
/// ```
/// use matdiff_core::{Build, DimTable, Graph, Shape, Var};
///
/// let mut dims = DimTable::default();
/// let n = dims.add("n");
/// let mut g = Graph::new(dims);
/// let a = g.add_var(Var { name: "A".into(), shape: Shape::mat(n, n), symmetric: false })?;
/// let x = g.add_var(Var { name: "x".into(), shape: Shape::col(n), symmetric: false })?;
/// let ax = g.apply(Build::Mul, &[a, x])?;
/// let q = g.apply(Build::Dot, &[x, ax])?; // x'*A*x
/// assert!(g.shape(q).is_scalar());
/// // A shape error, not a panic:
/// let err = g.apply(Build::Mul, &[x, a]).unwrap_err();
/// assert_eq!(err.kind, matdiff_syntax::ErrorKind::Shape);
/// # Ok::<(), matdiff_syntax::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Build {
    /// `a + b`, same shapes.
    Add,
    /// `a - b`, same shapes.
    Sub,
    /// `-a`.
    Neg,
    /// `c*a` for a constant `c`.
    Times(f64),
    /// `a*b`: a matrix product (inner dimensions equal), or scaling when one side is a scalar.
    Mul,
    /// `a .* b`, same shapes.
    Hadamard,
    /// `a.^p` entrywise.
    Pow(f64),
    /// `f(a)` entrywise.
    Map(Func),
    /// `a'`.
    Transpose,
    /// `sum(a)`: the sum of all entries.
    Sum,
    /// `norm2(a)^2`.
    SqNorm,
    /// `norm2(a)`.
    Norm2,
    /// `norm1(a)`.
    Norm1,
    /// `sum(a .* b)`, same shapes.
    Dot,
    /// `tr(a)`, a square.
    Trace,
    /// `det(a)`, a square.
    Det,
    /// `logdet(a)`, a square.
    LogDet,
    /// `inv(a)`, a square.
    Inv,
    /// `diag(v)`: a column vector to a diagonal matrix.
    Diag,
    /// `diag(A)`: the diagonal of a square matrix as a vector.
    DiagPart,
    /// `kron(a, b)`, both non-scalar.
    Kron,
    /// `vec(a)`: the columns stacked.
    Vec,
    /// `softmax(z)` of a column vector.
    Softmax,
}

impl Build {
    /// How many operands the operation takes.
    pub fn arity(self) -> usize {
        match self {
            Build::Add | Build::Sub | Build::Mul | Build::Hadamard | Build::Dot | Build::Kron => 2,
            _ => 1,
        }
    }
}

impl Graph {
    /// Build `op` over `args`, checking that they exist and that their shapes fit.
    ///
    /// The result is the same canonical node the unchecked constructor would return (so
    /// `apply(Build::Mul, [A, x])` is `matmul([A, x])`); see [`Build`] for an example.
    pub fn apply(&mut self, op: Build, args: &[NodeId]) -> Result<NodeId> {
        if args.len() != op.arity() {
            return Err(input_error(format!("{op:?} takes {} operand(s), got {}", op.arity(), args.len())));
        }
        if let Some(bad) = args.iter().find(|a| a.index() >= self.len()) {
            return Err(input_error(format!("node {} does not exist (the graph has {} nodes)", bad.0, self.len())));
        }
        let s: Vec<Shape> = args.iter().map(|&a| self.shape(a)).collect();
        let same = |g: &Graph| {
            if s[0] == s[1] {
                Ok(())
            } else {
                Err(g.shape_error(op, &s, "both operands must have the same shape"))
            }
        };
        let square = |g: &Graph| {
            if s[0].is_matrix() && s[0].is_square() {
                Ok(())
            } else {
                Err(g.shape_error(op, &s, "the operand must be a square matrix"))
            }
        };
        let a = args[0];
        Ok(match op {
            Build::Add => {
                same(self)?;
                self.add(a, args[1])
            }
            Build::Sub => {
                same(self)?;
                self.sub(a, args[1])
            }
            Build::Hadamard => {
                same(self)?;
                self.hadamard(a, args[1])
            }
            Build::Dot => {
                same(self)?;
                self.dot(a, args[1])
            }
            Build::Mul => {
                if !s[0].is_scalar() && !s[1].is_scalar() && s[0].cols != s[1].rows {
                    return Err(self.shape_error(op, &s, "the inner dimensions differ"));
                }
                self.mul(a, args[1])
            }
            Build::Kron => {
                if s[0].is_scalar() || s[1].is_scalar() {
                    return Err(self.shape_error(op, &s, "both operands must be vectors or matrices"));
                }
                self.kron(a, args[1])
            }
            Build::Neg => self.neg(a),
            Build::Times(c) => self.times(c, a),
            Build::Pow(p) => self.pow(a, p),
            Build::Map(f) => self.map(f, a),
            Build::Transpose => self.transpose(a),
            Build::Sum => self.sum(a),
            Build::SqNorm => self.sqnorm(a),
            Build::Norm2 => self.norm2(a),
            Build::Norm1 => self.norm1(a),
            Build::Trace => {
                square(self)?;
                self.trace(a)
            }
            Build::Det => {
                square(self)?;
                self.det(a)
            }
            Build::LogDet => {
                square(self)?;
                self.logdet(a)
            }
            Build::Inv => {
                square(self)?;
                self.inv(a)
            }
            Build::Diag => {
                if !s[0].is_col() {
                    return Err(self.shape_error(op, &s, "the operand must be a column vector"));
                }
                self.diag(a)
            }
            Build::Softmax => {
                if !s[0].is_col() {
                    return Err(self.shape_error(op, &s, "softmax takes a column vector"));
                }
                self.softmax(a)
            }
            Build::DiagPart => {
                square(self)?;
                self.diag_part(a)
            }
            Build::Vec => {
                if s[0].is_scalar() {
                    return Err(self.shape_error(op, &s, "the operand must be a vector or a matrix"));
                }
                self.vectorize(a)
            }
        })
    }

    /// Add an input variable (its dimensions must exist; a symmetric one must be square) and
    /// return its node.
    pub fn add_var(&mut self, var: super::Var) -> Result<NodeId> {
        let known = |d: Option<DimId>| d.is_none_or(|d| (d as usize) < self.dims.dims.len());
        if !known(var.shape.rows) || !known(var.shape.cols) {
            return Err(input_error(format!("variable {} uses a dimension the graph does not have", var.name)));
        }
        if var.symmetric && !(var.shape.is_matrix() && var.shape.is_square()) {
            return Err(Error::unspanned(
                Input::None,
                format!("symmetric variable {} is not a square matrix", var.name),
            )
            .with_kind(ErrorKind::Shape));
        }
        if self.var_id(&var.name).is_some() {
            return Err(input_error(format!("a variable called {} exists already", var.name)));
        }
        self.vars.push(var);
        Ok(self.var_node(self.vars.len() as u32 - 1))
    }

    /// Add a variable that stands for the value of an existing node `like` (a derivation's
    /// symbol for a node, a direction shaped like a variable): its shape is `like`'s, so it is
    /// valid by construction; it is symmetric when `like` is and `keep_symmetry` is set.
    /// Returns the variable's index and node. The name is for display and is not checked for
    /// uniqueness ([`Graph::var_id`] finds the first variable of a name).
    pub fn add_symbol(&mut self, name: impl Into<String>, like: NodeId, keep_symmetry: bool) -> (u32, NodeId) {
        let node = self.node(like);
        let var = super::Var { name: name.into(), shape: node.shape, symmetric: keep_symmetry && node.symmetric };
        self.vars.push(var);
        let index = self.vars.len() as u32 - 1;
        (index, self.var_node(index))
    }

    /// Rename variable `var` (for display: a derivation names its output `L` or `f`).
    pub fn rename_var(&mut self, var: u32, name: impl Into<String>) {
        self.vars[var as usize].name = name.into();
    }

    fn shape_error(&self, op: Build, shapes: &[Shape], why: &str) -> Error {
        let shapes: Vec<String> = shapes.iter().map(|&s| self.dims.describe(s)).collect();
        Error::unspanned(Input::None, format!("cannot build {op:?} of {}: {why}", shapes.join(" and ")))
            .with_kind(ErrorKind::Shape)
    }
}

fn input_error(message: String) -> Error {
    Error::unspanned(Input::None, message).with_kind(ErrorKind::Input)
}
