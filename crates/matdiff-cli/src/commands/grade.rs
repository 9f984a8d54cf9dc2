//! `matdiff grade`: audit many submissions in parallel (issue 4).

use super::Failure;
use crate::TableFormat;
use std::path::{Path, PathBuf};

pub fn grade(problem: &Path, paths: &[PathBuf], jobs: Option<usize>, format: TableFormat) -> Result<u8, Failure> {
    let _ = (problem, paths, jobs, format);
    Err("error: `grade` is not implemented yet\n".into())
}
