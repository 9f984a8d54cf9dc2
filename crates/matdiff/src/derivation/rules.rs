//! The local derivative rules in words, in LaTeX, and as stable identifiers.

use matdiff_core::Func;
use matdiff_core::Rule;

/// A stable snake_case identifier, for JSON.
pub fn rule_id(rule: Rule) -> String {
    match rule {
        Rule::Sum => "sum".into(),
        Rule::ScaleFactor => "scale_factor".into(),
        Rule::ScaleArg => "scale".into(),
        Rule::ProductLeft => "product_left".into(),
        Rule::ProductRight => "product_right".into(),
        Rule::ProductMiddle => "product_middle".into(),
        Rule::Hadamard => "hadamard".into(),
        Rule::Power => "power".into(),
        Rule::Elementwise(f) => format!("elementwise_{}", f.name()),
        Rule::Transpose => "transpose".into(),
        Rule::SumEntries => "sum_entries".into(),
        Rule::SqNorm => "squared_norm".into(),
        Rule::Norm2 => "norm2".into(),
        Rule::Norm1 => "norm1".into(),
        Rule::Dot => "inner_product".into(),
        Rule::Trace => "trace".into(),
        Rule::Det => "det".into(),
        Rule::LogDet => "logdet".into(),
        Rule::Inverse => "inverse".into(),
        Rule::Diag => "diag".into(),
        Rule::DiagPart => "diagonal".into(),
        Rule::Kron => "kron".into(),
        Rule::Vectorize => "vec".into(),
        Rule::Unvec => "unvec".into(),
    }
}

/// The rule's name in a few words ("product rule").
pub fn rule_words(rule: Rule) -> String {
    match rule {
        Rule::Sum => "sum rule".into(),
        Rule::ScaleFactor => "scaling rule, for the scalar factor".into(),
        Rule::ScaleArg => "scaling rule".into(),
        Rule::ProductLeft | Rule::ProductRight | Rule::ProductMiddle => "product rule".into(),
        Rule::Hadamard => "elementwise product rule".into(),
        Rule::Power => "power rule".into(),
        Rule::Elementwise(f) => format!("chain rule through {} entrywise", f.name()),
        Rule::Transpose => "transpose rule".into(),
        Rule::SumEntries => "sum of entries".into(),
        Rule::SqNorm => "squared norm".into(),
        Rule::Norm2 => "norm".into(),
        Rule::Norm1 => "1-norm".into(),
        Rule::Dot => "inner product".into(),
        Rule::Trace => "trace".into(),
        Rule::Det => "determinant".into(),
        Rule::LogDet => "log-determinant".into(),
        Rule::Inverse => "inverse".into(),
        Rule::Diag => "diagonal matrix".into(),
        Rule::DiagPart => "diagonal of a matrix".into(),
        Rule::Kron => "Kronecker product rule".into(),
        Rule::Vectorize => "vectorization".into(),
        Rule::Unvec => "reshape of a vector".into(),
    }
}

/// The rule in LaTeX math, on generic names (`C = A B:\ \bar{A} \mathrel{+}= \bar{C} B^\top`).
pub fn rule_latex(rule: Rule) -> String {
    let pe = r"\mathrel{+}=";
    match rule {
        Rule::Sum => format!(r"C = \sum_i c_i A_i:\ \bar{{A}}_i {pe} c_i \bar{{C}}"),
        Rule::ScaleFactor => format!(r"C = s A:\ \bar{{s}} {pe} \langle \bar{{C}}, A \rangle"),
        Rule::ScaleArg => format!(r"C = s A:\ \bar{{A}} {pe} s \bar{{C}}"),
        Rule::ProductLeft => format!(r"C = A B:\ \bar{{A}} {pe} \bar{{C}} B^\top"),
        Rule::ProductRight => format!(r"C = A B:\ \bar{{B}} {pe} A^\top \bar{{C}}"),
        Rule::ProductMiddle => format!(r"C = A X B:\ \bar{{X}} {pe} A^\top \bar{{C}} B^\top"),
        Rule::Hadamard => format!(r"C = A \odot B:\ \bar{{A}} {pe} \bar{{C}} \odot B"),
        Rule::Power => {
            format!(r"C = A^{{\circ p}}:\ \bar{{A}} {pe} p\, \bar{{C}} \odot A^{{\circ (p-1)}}")
        }
        Rule::Elementwise(f) => {
            let name = func_latex(f);
            format!(r"C = {name}(A):\ \bar{{A}} {pe} \bar{{C}} \odot {name}'(A)")
        }
        Rule::Transpose => format!(r"C = A^\top:\ \bar{{A}} {pe} \bar{{C}}^\top"),
        Rule::SumEntries => {
            format!(r"c = \operatorname{{sum}}(A):\ \bar{{A}} {pe} \bar{{c}}\, \mathbf{{1}}")
        }
        Rule::SqNorm => format!(r"c = \|A\|^2:\ \bar{{A}} {pe} 2 \bar{{c}} A"),
        Rule::Norm2 => format!(r"c = \|A\|:\ \bar{{A}} {pe} \bar{{c}}\, A / \|A\|"),
        Rule::Norm1 => format!(r"c = \|A\|_1:\ \bar{{A}} {pe} \bar{{c}} \operatorname{{sign}}(A)"),
        Rule::Dot => format!(r"c = \langle A, B \rangle:\ \bar{{A}} {pe} \bar{{c}} B"),
        Rule::Trace => format!(r"c = \operatorname{{tr}}(A):\ \bar{{A}} {pe} \bar{{c}} I"),
        Rule::Det => format!(r"c = \det A:\ \bar{{A}} {pe} \bar{{c}} \det(A)\, A^{{-\top}}"),
        Rule::LogDet => format!(r"c = \log\det A:\ \bar{{A}} {pe} \bar{{c}} A^{{-\top}}"),
        Rule::Inverse => {
            format!(r"C = A^{{-1}}:\ \bar{{A}} {pe} -A^{{-\top}} \bar{{C}} A^{{-\top}}")
        }
        Rule::Diag => format!(r"C = \operatorname{{diag}}(v):\ \bar{{v}} {pe} \operatorname{{diag}}(\bar{{C}})"),
        Rule::DiagPart => format!(r"c = \operatorname{{diag}}(A):\ \bar{{A}} {pe} \operatorname{{diag}}(\bar{{c}})"),
        Rule::Kron => format!(
            r"C = A \otimes B:\ \bar{{A}}_{{ij}} {pe} \langle \bar{{C}}_{{ij}}, B \rangle,\ \bar{{B}} {pe} \textstyle\sum_{{ij}} A_{{ij}} \bar{{C}}_{{ij}}"
        ),
        Rule::Vectorize => format!(r"c = \operatorname{{vec}}(A):\ \bar{{A}} {pe} \operatorname{{unvec}}(\bar{{c}})"),
        Rule::Unvec => format!(r"C = \operatorname{{unvec}}(v):\ \bar{{v}} {pe} \operatorname{{vec}}(\bar{{C}})"),
    }
}

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
