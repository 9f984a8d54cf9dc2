//! `matdiff graph`: the computational graph as DOT or SVG (issue 3).

use super::Failure;
use crate::{ExprArgs, GraphFormat};

pub fn graph(input: &ExprArgs, wrt: Option<&str>, format: GraphFormat) -> Result<u8, Failure> {
    let _ = (input, wrt, format);
    Err("error: `graph` is not implemented yet\n".into())
}
