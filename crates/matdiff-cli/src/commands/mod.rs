//! One module per subcommand; shared helpers (loading a problem, JSON values) live here.

pub mod audit;
pub mod check;
pub mod demo;
pub mod derivative;
pub mod emit;
pub mod eval;
pub mod grad;
pub mod grade;
pub mod graph;
pub mod serve;
pub mod solve;
pub mod steps;

use crate::ExprArgs;
use matdiff::render::{render, Sources};
use matdiff::Problem;

/// A rendered error message; the process exits 2.
pub type Failure = String;

pub fn fail(e: &matdiff::Error, expr: &str, decl: &str) -> Failure {
    render(e, &Sources { expr, decl, claim: "" })
}

/// Parse and type-check an expression, noting on stderr any name whose kind usage decided.
pub fn load(input: &ExprArgs) -> Result<Problem, Failure> {
    let p = load_quiet(input)?;
    p.retyping_notes().iter().for_each(|n| eprintln!("note: {n}"));
    Ok(p)
}

/// [`load`] for commands that show the retyping notes with their result (`grad`): only how the
/// input was read goes to stderr.
pub fn load_quiet(input: &ExprArgs) -> Result<Problem, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let p = if input.latex { Problem::new_latex(expr, decl) } else { Problem::new(expr, decl) }
        .map_err(|e| fail(&e, expr, decl))?;
    p.notes.iter().for_each(|n| eprintln!("note: {n}"));
    Ok(p)
}

/// The exit code of a numeric gradient check: 0 agrees, 1 disagrees, 2 nothing was checked
/// (a check that evaluated no point is never a pass).
pub fn fd_exit_code(r: &matdiff::FdReport) -> u8 {
    match r.outcome() {
        matdiff::FdOutcome::Agrees => 0,
        matdiff::FdOutcome::Disagrees => 1,
        matdiff::FdOutcome::Unchecked(_) => 2,
    }
}
