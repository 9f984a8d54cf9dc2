//! The local derivative rules of reverse mode, and one table of what each is called and says
//! (identifier, words, formula in text and in LaTeX), read by the differentiator's
//! explanations, the derivation renderer and the JSON reports alike.

use crate::ir::Func;

/// The local derivative rule used on an edge, for explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `C = Σ cᵢ·Aᵢ`: each term Aᵢ receives `cᵢ·Ḡ`.
    Sum,
    /// `C = s*X`, to the scalar s: `sum(Ḡ .* X)`.
    ScaleFactor,
    /// `C = s*X`, to X: `s*Ḡ`.
    ScaleArg,
    /// `C = A*B`, to the left factor A: `Ḡ*B'`.
    ProductLeft,
    /// `C = A*B`, to the right factor B: `A'*Ḡ`.
    ProductRight,
    /// `C = A*X*B`, to a middle factor X: `A'*Ḡ*B'`.
    ProductMiddle,
    /// `C = A .* B`, to A: `Ḡ .* B`.
    Hadamard,
    /// `C = A.^p`: `p*A.^(p-1) .* Ḡ`.
    Power,
    /// `C = f(A)` entrywise: `f'(A) .* Ḡ`.
    Elementwise(Func),
    /// `C = A'`: `Ḡ'`.
    Transpose,
    /// `c = sum(A)`: `ḡ` in every entry.
    SumEntries,
    /// `c = norm2(A)^2`: `2*ḡ*A`.
    SqNorm,
    /// `c = norm2(A)`: `ḡ*A/norm2(A)`.
    Norm2,
    /// `c = norm1(A)`: `ḡ*sign(A)`.
    Norm1,
    /// `c = sum(A .* B)`, to A: `ḡ*B`.
    Dot,
    /// `c = tr(A)`: `ḡ*eye(n)`.
    Trace,
    /// `c = det(A)`: `ḡ*det(A)*inv(A)'`.
    Det,
    /// `c = logdet(A)`: `ḡ*inv(A)'`.
    LogDet,
    /// `C = inv(A)`: `-C'*Ḡ*C'`.
    Inverse,
    /// `C = diag(v)`: `diag(Ḡ)` (the diagonal as a vector).
    Diag,
    /// `c = diag(A)` (the diagonal of a matrix): `diag(ḡ)`.
    DiagPart,
    /// C = kron(A, B), to A or to B.
    Kron,
    /// `c = vec(A)`: `unvec(ḡ, m, n)`.
    Vectorize,
    /// `C = unvec(v, m, n)`: `vec(Ḡ)`.
    Unvec,
    /// `p = softmax(z)`: `p .* (ḡ - p'*ḡ)`, the Jacobian `diag(p) - p*p'` applied to ḡ.
    Softmax,
}

/// What a rule is called and says: one row of [`Rule::info`]'s table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// A stable snake_case identifier, for JSON (`product_left`).
    pub id: String,
    /// The rule's name in a few words (`product rule`).
    pub words: String,
    /// The rule in words and symbols, with C̄ the user's adjoint (`product rule for C = A*B: Ā += C̄·Bᵀ`).
    pub text: String,
    /// The rule in LaTeX math on generic names (`C = A B:\ \bar{A} \mathrel{+}= \bar{C} B^\top`).
    pub latex: String,
}

impl Rule {
    /// The table: one row per rule.
    ///
    /// ```
    /// use matdiff_core::Rule;
    ///
    /// let info = Rule::ProductLeft.info();
    /// assert_eq!(info.id, "product_left");
    /// assert_eq!(info.words, "product rule");
    /// ```
    pub fn info(self) -> RuleInfo {
        let pe = r"\mathrel{+}=";
        match self {
            Rule::Sum => RuleInfo {
                id: "sum".into(),
                words: "sum rule".into(),
                text: "sum rule for C = Σ cᵢ·Aᵢ: Āᵢ += cᵢ·C̄".into(),
                latex: format!(r"C = \sum_i c_i A_i:\ \bar{{A}}_i {pe} c_i \bar{{C}}"),
            },
            Rule::ScaleFactor => RuleInfo {
                id: "scale_factor".into(),
                words: "scaling rule, for the scalar factor".into(),
                text: "scaling C = s·A, w.r.t. the scalar s: s̄ += ⟨C̄, A⟩".into(),
                latex: format!(r"C = s A:\ \bar{{s}} {pe} \langle \bar{{C}}, A \rangle"),
            },
            Rule::ScaleArg => RuleInfo {
                id: "scale".into(),
                words: "scaling rule".into(),
                text: "scaling C = s·A: Ā += s·C̄".into(),
                latex: format!(r"C = s A:\ \bar{{A}} {pe} s \bar{{C}}"),
            },
            Rule::ProductLeft => RuleInfo {
                id: "product_left".into(),
                words: "product rule".into(),
                text: "product rule for C = A*B: Ā += C̄·Bᵀ".into(),
                latex: format!(r"C = A B:\ \bar{{A}} {pe} \bar{{C}} B^\top"),
            },
            Rule::ProductRight => RuleInfo {
                id: "product_right".into(),
                words: "product rule".into(),
                text: "product rule for C = A*B: B̄ += Aᵀ·C̄".into(),
                latex: format!(r"C = A B:\ \bar{{B}} {pe} A^\top \bar{{C}}"),
            },
            Rule::ProductMiddle => RuleInfo {
                id: "product_middle".into(),
                words: "product rule".into(),
                text: "product rule for C = A*X*B: X̄ += Aᵀ·C̄·Bᵀ".into(),
                latex: format!(r"C = A X B:\ \bar{{X}} {pe} A^\top \bar{{C}} B^\top"),
            },
            Rule::Hadamard => RuleInfo {
                id: "hadamard".into(),
                words: "elementwise product rule".into(),
                text: "elementwise product C = A.*B: Ā += C̄.*B".into(),
                latex: format!(r"C = A \odot B:\ \bar{{A}} {pe} \bar{{C}} \odot B"),
            },
            Rule::Power => RuleInfo {
                id: "power".into(),
                words: "power rule".into(),
                text: "power rule for C = A.^p: Ā += p·C̄.*A.^(p-1)".into(),
                latex: { format!(r"C = A^{{\circ p}}:\ \bar{{A}} {pe} p\, \bar{{C}} \odot A^{{\circ (p-1)}}") },
            },
            Rule::Elementwise(f) => RuleInfo {
                id: format!("elementwise_{}", f.name()),
                words: format!("chain rule through {} entrywise", f.name()),
                text: format!("chain rule for C = {}(A) entrywise: Ā += C̄.*{}'(A)", f.name(), f.name()),
                latex: {
                    let name = func_latex(f);
                    format!(r"C = {name}(A):\ \bar{{A}} {pe} \bar{{C}} \odot {name}'(A)")
                },
            },
            Rule::Transpose => RuleInfo {
                id: "transpose".into(),
                words: "transpose rule".into(),
                text: "transpose C = Aᵀ: Ā += C̄ᵀ".into(),
                latex: format!(r"C = A^\top:\ \bar{{A}} {pe} \bar{{C}}^\top"),
            },
            Rule::SumEntries => RuleInfo {
                id: "sum_entries".into(),
                words: "sum of entries".into(),
                text: "c = sum(A): Ā += c̄·1".into(),
                latex: { format!(r"c = \operatorname{{sum}}(A):\ \bar{{A}} {pe} \bar{{c}}\, \mathbf{{1}}") },
            },
            Rule::SqNorm => RuleInfo {
                id: "squared_norm".into(),
                words: "squared norm".into(),
                text: "c = ‖A‖²: Ā += 2·c̄·A".into(),
                latex: format!(r"c = \|A\|^2:\ \bar{{A}} {pe} 2 \bar{{c}} A"),
            },
            Rule::Norm2 => RuleInfo {
                id: "norm2".into(),
                words: "norm".into(),
                text: "c = ‖A‖: Ā += c̄·A/‖A‖".into(),
                latex: format!(r"c = \|A\|:\ \bar{{A}} {pe} \bar{{c}}\, A / \|A\|"),
            },
            Rule::Norm1 => RuleInfo {
                id: "norm1".into(),
                words: "1-norm".into(),
                text: "c = ‖A‖₁: Ā += c̄·sign(A)".into(),
                latex: format!(r"c = \|A\|_1:\ \bar{{A}} {pe} \bar{{c}} \operatorname{{sign}}(A)"),
            },
            Rule::Dot => RuleInfo {
                id: "inner_product".into(),
                words: "inner product".into(),
                text: "inner product c = ⟨A, B⟩: Ā += c̄·B".into(),
                latex: format!(r"c = \langle A, B \rangle:\ \bar{{A}} {pe} \bar{{c}} B"),
            },
            Rule::Trace => RuleInfo {
                id: "trace".into(),
                words: "trace".into(),
                text: "c = tr(A): Ā += c̄·I".into(),
                latex: format!(r"c = \operatorname{{tr}}(A):\ \bar{{A}} {pe} \bar{{c}} I"),
            },
            Rule::Det => RuleInfo {
                id: "det".into(),
                words: "determinant".into(),
                text: "c = det(A): Ā += c̄·det(A)·A⁻ᵀ".into(),
                latex: format!(r"c = \det A:\ \bar{{A}} {pe} \bar{{c}} \det(A)\, A^{{-\top}}"),
            },
            Rule::LogDet => RuleInfo {
                id: "logdet".into(),
                words: "log-determinant".into(),
                text: "c = log det(A): Ā += c̄·A⁻ᵀ".into(),
                latex: format!(r"c = \log\det A:\ \bar{{A}} {pe} \bar{{c}} A^{{-\top}}"),
            },
            Rule::Inverse => RuleInfo {
                id: "inverse".into(),
                words: "inverse".into(),
                text: "C = A⁻¹: Ā += −A⁻ᵀ·C̄·A⁻ᵀ".into(),
                latex: { format!(r"C = A^{{-1}}:\ \bar{{A}} {pe} -A^{{-\top}} \bar{{C}} A^{{-\top}}") },
            },
            Rule::Diag => RuleInfo {
                id: "diag".into(),
                words: "diagonal matrix".into(),
                text: "C = diag(v): v̄ += diag(C̄)".into(),
                latex: format!(r"C = \operatorname{{diag}}(v):\ \bar{{v}} {pe} \operatorname{{diag}}(\bar{{C}})"),
            },
            Rule::DiagPart => RuleInfo {
                id: "diagonal".into(),
                words: "diagonal of a matrix".into(),
                text: "c = diag(A): Ā += diag(c̄)".into(),
                latex: format!(r"c = \operatorname{{diag}}(A):\ \bar{{A}} {pe} \operatorname{{diag}}(\bar{{c}})"),
            },
            Rule::Kron => RuleInfo {
                id: "kron".into(),
                words: "Kronecker product rule".into(),
                text: "C = A⊗B: Āᵢⱼ += ⟨C̄ᵢⱼ, B⟩ (blocks C̄ᵢⱼ of C̄), B̄ += Σᵢⱼ Aᵢⱼ·C̄ᵢⱼ".into(),
                latex: format!(
                    r"C = A \otimes B:\ \bar{{A}}_{{ij}} {pe} \langle \bar{{C}}_{{ij}}, B \rangle,\ \bar{{B}} {pe} \textstyle\sum_{{ij}} A_{{ij}} \bar{{C}}_{{ij}}"
                ),
            },
            Rule::Vectorize => RuleInfo {
                id: "vec".into(),
                words: "vectorization".into(),
                text: "c = vec(A): Ā += unvec(c̄)".into(),
                latex: format!(r"c = \operatorname{{vec}}(A):\ \bar{{A}} {pe} \operatorname{{unvec}}(\bar{{c}})"),
            },
            Rule::Unvec => RuleInfo {
                id: "unvec".into(),
                words: "reshape of a vector".into(),
                text: "C = unvec(v): v̄ += vec(C̄)".into(),
                latex: format!(r"C = \operatorname{{unvec}}(v):\ \bar{{v}} {pe} \operatorname{{vec}}(\bar{{C}})"),
            },
            Rule::Softmax => RuleInfo {
                id: "softmax".into(),
                words: "softmax rule".into(),
                text: "p = softmax(z): z̄ += p ⊙ (p̄ − pᵀp̄), the Jacobian diag(p) − p·pᵀ applied to p̄".into(),
                latex: format!(
                    r"p = \operatorname{{softmax}}(z):\ \bar{{z}} {pe} p \odot \left(\bar{{p}} - p^\top \bar{{p}}\right)"
                ),
            },
        }
    }

    /// The rule in words and symbols (the `text` of [`Rule::info`]).
    pub fn describe(self) -> String {
        self.info().text
    }
}

/// A function's name in LaTeX (`\sigma` for the sigmoid).
fn func_latex(f: Func) -> String {
    match f {
        Func::Exp => r"\exp".into(),
        Func::Log => r"\log".into(),
        Func::Sin => r"\sin".into(),
        Func::Cos => r"\cos".into(),
        Func::Tan => r"\tan".into(),
        Func::Tanh => r"\tanh".into(),
        Func::Sigmoid => r"\sigma".into(),
        other => format!(r"\operatorname{{{}}}", other.name()),
    }
}
