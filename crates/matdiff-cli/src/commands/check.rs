//! `matdiff check`: is a claimed gradient right? Exit 0 right, 1 wrong, 2 user error.

use super::{load, Failure};
use crate::{ExprArgs, Format};
use matdiff::check::{CheckOptions, Checker};
use matdiff::render::{render, Sources};
use matdiff::report::{verdict_json, verdict_text};

pub fn check(input: &ExprArgs, wrt: &str, claim: &str, format: Format) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let fail = |e: &matdiff::Error| render(e, &Sources { expr, decl, claim });
    if matches!(format, Format::Latex | Format::Markdown) {
        return Err("error: `check` prints `--format text` or `--format json`\n".into());
    }
    let problem = load(input)?;
    let mut checker = Checker::new(problem, wrt.trim(), CheckOptions::default()).map_err(|e| fail(&e))?;
    let verdict = checker.check(claim).map_err(|e| fail(&e))?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&verdict_json(&verdict)).unwrap()),
        _ => print!("{}", verdict_text(&verdict, wrt.trim())),
    }
    Ok(if verdict.right { 0 } else { 1 })
}
