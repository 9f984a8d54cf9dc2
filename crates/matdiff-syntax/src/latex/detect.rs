//! Telling LaTeX from plain syntax, for inputs that may be either.

/// Whether `src` should be read as LaTeX: it has a backslash command (`\frac`, `\|`), braces,
/// bars, `$`, a `^T` transpose, or a character the plain syntax does not have (`ᵀ`, `‖`, `·`).
/// Plain syntax uses none of these, so plain inputs are never misread.
pub fn looks_like_latex(src: &str) -> bool {
    looks_like_latex_with(src, &[])
}

/// [`looks_like_latex`] knowing the declared names: when `T` is one, `^T` is a power in plain
/// syntax and no sign of LaTeX.
pub fn looks_like_latex_with(src: &str, names: &[&str]) -> bool {
    let t_declared = names.contains(&"T");
    // Plain `#` comments may say anything; LaTeX math has no `#`.
    src.lines().any(|line| line_looks_like_latex(line.split('#').next().unwrap_or(""), t_declared))
}

fn line_looks_like_latex(line: &str, t_declared: bool) -> bool {
    const MARKS: [char; 12] =
        ['\\', '{', '}', '|', '$', '\u{1d40}', '\u{2016}', '\u{b7}', '\u{22c5}', '\u{d7}', '\u{2299}', '\u{2218}'];
    if line.contains(MARKS) {
        return true;
    }
    // `^T` (not `^Tx`, a power by a name in plain syntax) is a transpose in LaTeX.
    let bytes = line.as_bytes();
    !t_declared
        && bytes.windows(2).enumerate().any(|(i, w)| {
            w == b"^T" && !bytes.get(i + 2).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'(')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_not_latex() {
        for plain in ["0.5*norm2(W'*W*x - x)^2", "x'*A*x", "a^Tb", "W_1*x", "T^2", "a^T1"] {
            assert!(!looks_like_latex(plain), "{plain}");
        }
    }

    #[test]
    fn latex_is_latex() {
        for latex in ["\\frac{1}{2}x", "x^T x", "xx^T", "x^{T}", "|K|", "\\|x\\|", "W^T W x", "x\u{1d40}y", "$x$"] {
            assert!(looks_like_latex(latex), "{latex}");
        }
    }
}
