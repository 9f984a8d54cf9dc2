//! matdiff: symbolic gradients of scalar matrix expressions, in closed matrix form.

mod error;
pub mod syntax;

pub use error::{Error, Input, Result, Span};
