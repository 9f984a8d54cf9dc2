//! `matdiff grad --steps`: the derivation (forward graph, backward pass, check) in any format.

use super::Failure;
use crate::Format;
use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::{Gradients, Problem};

/// Print the derivation of `grads` for the expression `src`; exit 1 when the numeric check
/// disagrees.
pub fn steps(p: &mut Problem, grads: &Gradients, format: Format) -> Result<u8, Failure> {
    let names = user_names(p);
    let d = Derivation::with_names(p, grads, &names);
    let format = match format {
        Format::Text => StepsFormat::Text,
        Format::Markdown => StepsFormat::Markdown,
        Format::Latex => StepsFormat::Latex,
        Format::Json => StepsFormat::Json,
    };
    print!("{}", d.render(format));
    // The check line says why when nothing was checked; that is exit 2, not a pass.
    let code = d.check.as_ref().map_or(0, super::fd_exit_code);
    if let Some(matdiff::FdOutcome::Unchecked(why)) = d.check.as_ref().map(|r| r.outcome()) {
        eprintln!("error: numeric check: {why}");
    }
    Ok(code)
}
