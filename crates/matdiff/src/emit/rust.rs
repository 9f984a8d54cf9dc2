//! Rust target (placeholder while the Python targets settle).

use super::Source;
use crate::error::{Error, Input, Result};
use crate::problem::{Gradients, Problem};

pub(crate) fn emit(_p: &Problem, _grads: &Gradients, _src: &Source) -> Result<String> {
    Err(Error::unspanned(
        Input::None,
        "--emit rust is not implemented yet",
    ))
}
