//! What LaTeX commands and words mean: Greek letters, functions, wrappers, operators, refusals.

use crate::ast::BinOp;

/// A Greek letter command (without the backslash) to the variable name it stands for.
/// The `var` forms read as their plain letters, so `\varepsilon` and `\epsilon` are one name.
pub(crate) fn greek(cmd: &str) -> Option<&'static str> {
    Some(match cmd {
        "alpha" => "alpha",
        "beta" => "beta",
        "gamma" => "gamma",
        "delta" => "delta",
        "epsilon" | "varepsilon" => "epsilon",
        "zeta" => "zeta",
        "eta" => "eta",
        "theta" | "vartheta" => "theta",
        "iota" => "iota",
        "kappa" | "varkappa" => "kappa",
        "lambda" => "lambda",
        "mu" => "mu",
        "nu" => "nu",
        "xi" => "xi",
        "pi" | "varpi" => "pi",
        "rho" | "varrho" => "rho",
        "sigma" | "varsigma" => "sigma",
        "tau" => "tau",
        "upsilon" => "upsilon",
        "phi" | "varphi" => "phi",
        "chi" => "chi",
        "psi" => "psi",
        "omega" => "omega",
        "Gamma" => "Gamma",
        "Delta" => "Delta",
        "Theta" => "Theta",
        "Lambda" => "Lambda",
        "Xi" => "Xi",
        "Pi" => "Pi",
        "Sigma" => "Sigma",
        "Upsilon" => "Upsilon",
        "Phi" => "Phi",
        "Psi" => "Psi",
        "Omega" => "Omega",
        "ell" => "ell",
        _ => return None,
    })
}

/// Greek letters typed as Unicode (OCR output often has them).
pub(super) fn greek_char(c: char) -> Option<&'static str> {
    const LOWER: &str = "αβγδεζηθικλμνξπρστυφχψω";
    const NAMES: [&str; 23] = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu",
        "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    ];
    match c {
        'ϵ' => Some("epsilon"),
        'ϕ' => Some("phi"),
        'Σ' => Some("Sigma"),
        'Λ' => Some("Lambda"),
        'Ω' => Some("Omega"),
        'Φ' => Some("Phi"),
        'Ψ' => Some("Psi"),
        'Θ' => Some("Theta"),
        'Γ' => Some("Gamma"),
        'Δ' => Some("Delta"),
        _ => LOWER.chars().position(|g| g == c).map(|i| NAMES[i]),
    }
}

/// A function name (a command such as `\log`, or a word inside `\operatorname{..}` or before
/// `(`) to the plain function it is. Case does not matter: `\mathrm{Tr}`, `\text{Swish}`.
pub(super) fn function(word: &str) -> Option<&'static str> {
    if word.len() > 12 {
        return None;
    }
    Some(match word.to_ascii_lowercase().as_str() {
        "log" | "ln" => "log",
        "exp" => "exp",
        "det" => "det",
        "tr" | "trace" => "tr",
        "logdet" => "logdet",
        "sin" => "sin",
        "cos" => "cos",
        "tan" => "tan",
        "tanh" => "tanh",
        "sqrt" => "sqrt",
        "abs" => "abs",
        "sign" | "sgn" => "sign",
        "relu" => "relu",
        "sigmoid" => "sigmoid",
        "softplus" => "softplus",
        "swish" => "swish",
        "step" => "step",
        "sum" => "sum",
        "norm1" => "norm1",
        "norm2" => "norm2",
        "diag" => "diag",
        "inv" => "inv",
        "vec" => "vec",
        "unvec" => "unvec",
        "kron" => "kron",
        "commutation" => "commutation",
        "softmax" => "softmax",
        _ => return None,
    })
}

/// Commands whose `{argument}` is the thing itself: `\mathbf{W}` is `W`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Wrapper {
    /// `\text`, `\operatorname`, `\mathrm`: upright words, which may name functions.
    Text,
    /// `\mathbf`, `\boldsymbol`, `\bm`, `\mathbb`: bold, where `\mathbf{1}` is a vector of ones.
    Bold,
    /// `\mathcal`, `\mathit`, ...: only the letter shape changes.
    Style,
}

pub(super) fn wrapper(cmd: &str) -> Option<Wrapper> {
    Some(match cmd {
        "text" | "textrm" | "textit" | "textbf" | "textsf" | "textnormal" | "mbox" | "operatorname" | "mathop"
        | "mathrm" => Wrapper::Text,
        "mathbf" | "boldsymbol" | "bm" | "mathbb" | "mathbbm" | "pmb" | "bf" => Wrapper::Bold,
        "mathcal" | "mathit" | "mathsf" | "mathtt" | "mathscr" | "mathfrak" | "mathnormal" | "vec" | "rm" | "it"
        | "cal" => Wrapper::Style,
        _ => return None,
    })
}

/// Accents that make a new name: `\hat{y}` is the variable `yhat`.
pub(super) fn accent(cmd: &str) -> Option<&'static str> {
    Some(match cmd {
        "hat" | "widehat" => "hat",
        "bar" | "overline" => "bar",
        "tilde" | "widetilde" => "tilde",
        "dot" => "dot",
        "ddot" => "ddot",
        "check" => "check",
        _ => return None,
    })
}

/// Commands that only change spacing or size: skipped like whitespace.
pub(super) fn is_spacing(cmd: &str) -> bool {
    matches!(
        cmd,
        "quad"
            | "qquad"
            | "enspace"
            | "enskip"
            | "thinspace"
            | "medspace"
            | "thickspace"
            | "negthinspace"
            | "negmedspace"
            | "negthickspace"
            | "displaystyle"
            | "textstyle"
            | "scriptstyle"
            | "scriptscriptstyle"
            | "limits"
            | "nolimits"
            | "nonumber"
            | "notag"
    )
}

/// Delimiter sizes (`\big(`, `\Bigl|`): skipped, but `l`/`r` forms say which side a bar is.
pub(super) fn sizing(cmd: &str) -> Option<Side> {
    let side = match cmd.strip_prefix("big").or_else(|| cmd.strip_prefix("Big")) {
        Some(rest) => rest.strip_prefix('g').unwrap_or(rest),
        None => return None,
    };
    match side {
        "" | "m" => Some(Side::Either),
        "l" => Some(Side::Open),
        "r" => Some(Side::Close),
        _ => None,
    }
}

/// Which side of a `|..|` pair a bar is on, when the source says so (`\left|`, `\rVert`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    Open,
    Close,
    Either,
}

/// Binary operator commands.
pub(super) fn operator(cmd: &str) -> Option<BinOp> {
    Some(match cmd {
        "cdot" | "times" | "ast" => BinOp::Mul,
        "div" => BinOp::Div,
        "odot" | "circ" => BinOp::EMul,
        "oslash" => BinOp::EDiv,
        "otimes" => BinOp::Kron,
        _ => return None,
    })
}

/// Commands that cannot be part of an expression, with the reason given to the user.
pub(super) fn refusal(cmd: &str) -> Option<(&'static str, &'static str)> {
    const RELATION: (&str, &str) = ("a relation is not part of an expression", "give only one side of the equation");
    Some(match cmd {
        "approx" | "equiv" | "neq" | "ne" | "le" | "leq" | "ge" | "geq" | "lt" | "gt" | "sim" | "simeq" | "propto"
        | "coloneqq" | "eqqcolon" | "triangleq" | "doteq" | "cong" | "ll" | "gg" | "leqslant" | "geqslant" => RELATION,
        "to" | "rightarrow" | "Rightarrow" | "longrightarrow" | "Longrightarrow" | "implies" | "leftarrow"
        | "Leftarrow" | "iff" | "Leftrightarrow" | "leftrightarrow" | "mapsto" => {
            ("an arrow is not part of an expression", "give only the expression on one side of the arrow")
        }
        "in" | "notin" | "subset" | "subseteq" | "forall" | "exists" => (
            "a set statement is not an expression",
            "declare shapes with --decl (e.g. \"W: matrix(m,n)\") instead of `\\in \\mathbb{R}^{..}`",
        ),
        "partial" | "nabla" => (
            "a derivative symbol is not an expression",
            "give the expression to differentiate, and the variable with --wrt",
        ),
        "begin" | "end" => (
            "LaTeX environments are not expressions",
            "give one expression; matrix literals and aligned blocks are not read here",
        ),
        "prod" | "int" | "oint" | "lim" | "max" | "min" | "sup" | "inf" | "argmin" | "argmax" => (
            "products over indices, integrals, limits and optimization are not supported",
            "write the expression in matrix form; sums are read (`\\sum_i x_i^2` is sum(x.^2))",
        ),
        "oplus" => ("direct sums are not supported", "use `\\otimes` for the Kronecker product"),
        "infty" => ("infinity is not a value", "use a number"),
        "ldots" | "cdots" | "vdots" | "ddots" | "dots" => {
            ("ellipses are not part of an expression", "write the expression in matrix form")
        }
        "lfloor" | "rfloor" | "lceil" | "rceil" => {
            ("floor and ceiling are not supported", "see docs/latex.md for what is accepted")
        }
        "binom" | "choose" | "over" | "atop" => ("this fraction form is not supported", "write `\\frac{a}{b}`"),
        _ => return None,
    })
}

/// Commands spelling a transpose inside a superscript: `^\top`, `^{\intercal}`.
pub(super) fn is_transpose_mark(cmd: &str) -> bool {
    matches!(cmd, "top" | "intercal" | "prime")
}
