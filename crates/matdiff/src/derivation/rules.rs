//! The local derivative rules' identifiers, words and LaTeX, from the one table in
//! [`matdiff_core::Rule::info`].

use matdiff_core::Rule;

/// A stable snake_case identifier, for JSON.
pub fn rule_id(rule: Rule) -> String {
    rule.info().id
}

/// The rule's name in a few words ("product rule").
pub fn rule_words(rule: Rule) -> String {
    rule.info().words
}

/// The rule in LaTeX math, on generic names (`C = A B:\ \bar{A} \mathrel{+}= \bar{C} B^\top`).
pub fn rule_latex(rule: Rule) -> String {
    rule.info().latex
}
