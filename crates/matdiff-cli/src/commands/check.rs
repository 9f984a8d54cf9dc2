//! `matdiff check`: is a claimed gradient right? (issue 4).

use super::Failure;
use crate::{ExprArgs, Format};

pub fn check(input: &ExprArgs, wrt: &str, claim: &str, format: Format) -> Result<u8, Failure> {
    let _ = (input, wrt, claim, format);
    Err("error: `check` is not implemented yet\n".into())
}
