//! `matdiff grad --steps`: the derivation (forward graph, backward pass, check) in any format.

use super::Failure;
use crate::Format;
use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::{Gradients, Problem};

/// Print the derivation of `grads` for the expression `src`; exit 1 when the numeric check
/// disagrees.
pub fn steps(p: &mut Problem, grads: &Gradients, src: &str, format: Format) -> Result<u8, Failure> {
    let names = user_names(p, src);
    let d = Derivation::with_names(p, grads, &names);
    let format = match format {
        Format::Text => StepsFormat::Text,
        Format::Markdown => StepsFormat::Markdown,
        Format::Latex => StepsFormat::Latex,
        Format::Json => StepsFormat::Json,
    };
    print!("{}", d.render(format));
    // A NaN error is a failure too.
    let failed = d.check.as_ref().is_some_and(|r| r.max_err.is_nan() || r.max_err > 1e-5);
    Ok(u8::from(failed))
}
