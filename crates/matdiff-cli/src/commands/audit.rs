//! `matdiff audit`: follow a derivation in a document step by step (issue 4).

use super::Failure;
use crate::Format;
use std::path::Path;

pub fn audit(file: &Path, problem: &Path, format: Format) -> Result<u8, Failure> {
    let _ = (file, problem, format);
    Err("error: `audit` is not implemented yet\n".into())
}
