//! What is wrong with a wrong claim: transposed, off by a constant factor, missing paths,
//! wrong shape, correct only for symmetric matrices.

use faer::Mat;

/// One explanation of why a claim differs from the gradient.
#[derive(Clone, Debug, PartialEq)]
pub enum Diagnosis {
    /// The claim's shape differs from the gradient's (both described, e.g. `matrix(n,m)`).
    Shape {
        /// The claim's shape.
        claim: String,
        /// The gradient's shape.
        gradient: String,
    },
    /// The claim is the transpose of the gradient.
    Transposed,
    /// The claim is the transpose of the numerator-layout Jacobian (`J[i,j] = ∂f_i/∂x_j`, or
    /// ∂vec(f)/∂vec(X)ᵀ): the denominator layout.
    Layout,
    /// The claim is `factor` times the gradient (2, -1, 0.5, 0, …).
    Factor {
        /// The claim divided by the gradient.
        factor: f64,
    },
    /// The claim is `factor` times the sum of some paths' terms; the others are missing.
    MissingPaths {
        /// The factor on the kept terms.
        factor: f64,
        /// The terms the claim has, plain syntax.
        kept: Vec<String>,
        /// The terms it lacks, plain syntax.
        missing: Vec<String>,
    },
    /// The claim equals the gradient when these square matrices are symmetric, not otherwise.
    SymmetricOnly {
        /// The matrices assumed symmetric.
        matrices: Vec<String>,
    },
    /// The claim is not finite (e.g. a singular inverse) where the gradient is.
    Undefined,
    /// The claim is the gradient w.r.t. a symmetric matrix in the other convention.
    Convention {
        /// The convention the claim follows.
        convention: super::Convention,
    },
}

impl Diagnosis {
    /// A short machine-readable name: `shape`, `transposed`, `layout`, `factor`,
    /// `missing_path`, `symmetric_only`, `undefined`, `convention`.
    pub fn kind(&self) -> &'static str {
        match self {
            Diagnosis::Shape { .. } => "shape",
            Diagnosis::Transposed => "transposed",
            Diagnosis::Layout => "layout",
            Diagnosis::Factor { .. } => "factor",
            Diagnosis::MissingPaths { .. } => "missing_path",
            Diagnosis::SymmetricOnly { .. } => "symmetric_only",
            Diagnosis::Undefined => "undefined",
            Diagnosis::Convention { .. } => "convention",
        }
    }

    /// The diagnosis in one sentence.
    pub fn message(&self) -> String {
        match self {
            Diagnosis::Shape { claim, gradient } => {
                format!("wrong shape: the claim is {claim} but the gradient is {gradient}")
            }
            Diagnosis::Transposed => "the claim is the transpose of the gradient".into(),
            Diagnosis::Layout => "layout: the claim is the transpose of the numerator-layout Jacobian \
                                  (J[i,j] = ∂f_i/∂x_j), i.e. the denominator layout"
                .into(),
            Diagnosis::Factor { factor } if *factor == 0.0 => "the claim is zero, the gradient is not".into(),
            Diagnosis::Factor { factor } if *factor == -1.0 => {
                "off by a constant factor of -1: the sign is flipped".into()
            }
            Diagnosis::Factor { factor } => {
                format!("off by a constant factor: the claim is {} times the gradient", factor_text(*factor))
            }
            Diagnosis::MissingPaths { factor, kept, missing } => {
                let kept_s = kept.join(" + ");
                let miss = missing.join(" and ");
                if *factor == 1.0 {
                    format!("missing a path's term: the claim is only {kept_s}; it misses {miss}")
                } else {
                    format!("the claim is {} times {kept_s} alone; it misses {miss}", factor_text(*factor))
                }
            }
            Diagnosis::SymmetricOnly { matrices } => {
                let names: Vec<String> = matrices.iter().map(|m| format!("`{m}`")).collect();
                format!(
                    "correct only for symmetric matrices: it equals the gradient when {} {} symmetric, not otherwise",
                    names.join(", "),
                    if names.len() == 1 { "is" } else { "are" }
                )
            }
            Diagnosis::Undefined => "the claim is not defined (not finite) at inputs where the gradient is".into(),
            Diagnosis::Convention { convention: super::Convention::Cookbook } => {
                "the claim follows the Matrix Cookbook's \
                 convention for a symmetric matrix, G_cookbook = 2·sym(G) − diag(diag(G)) with G the gradient of \
                 independent entries; it is right with --convention cookbook"
                    .into()
            }
            Diagnosis::Convention { convention: super::Convention::Symmetric } => "the claim is the gradient along \
                 symmetric perturbations, sym(G), not the Matrix Cookbook's G_cookbook = 2·sym(G) − diag(diag(G)); \
                 it is right with --convention symmetric (the default)"
                .into(),
        }
    }

    /// The constant factor, where the diagnosis has one.
    pub fn factor(&self) -> Option<f64> {
        match self {
            Diagnosis::Factor { factor } | Diagnosis::MissingPaths { factor, .. } => Some(*factor),
            _ => None,
        }
    }
}

/// `2`, `-1`, `0.5`, `1/3`, or four significant digits.
pub fn factor_text(c: f64) -> String {
    if (c - c.round()).abs() < 1e-9 {
        return format!("{}", c.round() as i64);
    }
    for q in 2..=12i64 {
        let p = c * q as f64;
        if (p - p.round()).abs() < 1e-7 {
            let p = p.round() as i64;
            // Terminating decimals read better as decimals (0.5, 0.25, -1.5).
            let dec = p as f64 / q as f64;
            return if matches!(q, 2 | 4 | 5 | 8 | 10) { format!("{dec}") } else { format!("{p}/{q}") };
        }
    }
    format!("{c:.4}")
}

/// Snap a fitted factor to a small fraction when it is one (up to rounding noise).
pub(crate) fn snap(c: f64) -> f64 {
    for q in 1..=12i64 {
        let p = c * q as f64;
        if (p - p.round()).abs() < 1e-7 * q as f64 * (1.0 + c.abs()) {
            return p.round() / q as f64;
        }
    }
    c
}

pub(crate) fn dot(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let mut s = 0.0;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            s += a[(i, j)] * b[(i, j)];
        }
    }
    s
}

/// Best constant `c` with `claim ≈ c·base` over all points, if the fit is within `tol` everywhere
/// (relative, beyond rounding: `claim_errs` and `base_errs` are each point's rounding errors).
pub(crate) fn fit_factor(
    claims: &[Mat<f64>],
    bases: &[Mat<f64>],
    claim_errs: &[f64],
    base_errs: &[f64],
    tol: f64,
) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for (c, b) in claims.iter().zip(bases) {
        num += dot(c, b);
        den += dot(b, b);
    }
    if den == 0.0 || !den.is_finite() || !num.is_finite() {
        return None;
    }
    let c = snap(num / den);
    let ok = claims.iter().zip(bases).zip(claim_errs.iter().zip(base_errs)).all(|((cl, b), (ce, be))| {
        let scaled = Mat::from_fn(b.nrows(), b.ncols(), |i, j| c * b[(i, j)]);
        matdiff_exec::rel_diff(cl, &scaled, ce + c.abs() * be) <= tol
    });
    ok.then_some(c)
}
