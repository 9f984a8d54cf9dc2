//! Renderers of a derivation, and the wording they share.

mod json;
mod latex;
mod markdown;
mod text;

use super::{AdjointStep, Contribution, Derivation};
use crate::derivation::NodeKind;
use matdiff_core::Shape;
use matdiff_core::{latex_name, num, print_shared, Style};
use matdiff_exec::FdOutcome;

/// Output format of `grad --steps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepsFormat {
    /// Plain text for a terminal (expressions in the input syntax, adjoints written `ū`).
    Text,
    /// Markdown with `$…$` LaTeX math, to paste into homework or a notebook.
    Markdown,
    /// A LaTeX fragment (amsmath `align*` blocks).
    Latex,
    /// The same derivation as data, for the web page.
    ///
    /// Schema (every expression comes as `{"text": plain syntax, "latex": LaTeX}`; adjoint symbols
    /// are written `ū` in text and `\bar{u}` in LaTeX):
    ///
    /// ```text
    /// {
    ///   "output": "L",                        // the output's name
    ///   "wrt": ["W"],                         // differentiated variables
    ///   "nodes": [                            // evaluation order; index = "id"
    ///     { "id": 0, "name": "W", "kind": "variable" | "operation",
    ///       "op": "variable" | "matmul" | "sum" | "swish" | …,
    ///       "definition": expr | null,        // "W'*a" (right-hand side, over names)
    ///       "shape": ["m","n"],               // [] scalar, ["n"] vector, ["1","n"] row vector
    ///       "shape_text": "(m×n)",
    ///       "inputs": [{"node": 3, "transposed": true} | {"constant": expr}, …],
    ///       "active": true,                   // depends on a differentiated variable
    ///       "wrt": true, "output": false,
    ///       "adjoint": expr | null }          // ∂L/∂node over names (null when inactive)
    ///   ],
    ///   "edges": [{"from": 0, "to": 3, "transposed": true}],   // one per operand use
    ///   "steps": [                            // the backward pass, in order
    ///     { "node": 5, "adjoint_symbol": expr, "seed": false,
    ///       "contributions": [
    ///         { "from": 6, "rule": "product_left", "rule_text": "product rule for C = A*B: …",
    ///           "rule_latex": "C = A B:\\ …", "transposed": false,
    ///           "formula": expr,              // in terms of the user's adjoint symbol
    ///           "value": expr }               // simplified, over names (the formula again
    ///                                         // when that would be far larger: deep chains)
    ///       ],
    ///       "total_derivative": "sentence" | null,   // when several contributions add up
    ///       "adjoint": expr }                 // the sum of the values as shown when far larger
    ///   ],
    ///   "gradients": [
    ///     { "wrt": "W", "node": 0 | null, "adjoint": expr,   // over names (the expanded
    ///                                         // form again when that would be far larger)
    ///       "expanded": expr, "where": [{"name": "t0", "text": …, "latex": …}],
    ///       "agrees_with_grad": true }
    ///   ],
    ///   "check": { "verdict": "agrees" | "disagrees" | "unchecked", "reason": "…" (unchecked only),
    ///              "max_rel_error": 3.3e-11, "settings": [{"m": 4, "n": 4}], "skipped": 0,
    ///              "unresolved": 0 } | null
    /// }
    /// ```
    Json,
}

pub(super) use json::to_json;

pub(super) fn render(d: &Derivation, format: StepsFormat) -> String {
    match format {
        StepsFormat::Text => text::render(d),
        StepsFormat::Markdown => markdown::render(d),
        StepsFormat::Latex => latex::render(d),
        StepsFormat::Json => json::render(d),
    }
}

impl Derivation {
    /// What the forward pass says about node `i`: input, differentiated, output, constant here
    /// ("input" only when `with_input`, for layouts that do not show it elsewhere).
    fn node_notes(&self, i: usize, with_input: bool) -> Vec<&'static str> {
        let n = &self.nodes[i];
        let mut notes = vec![];
        if with_input && n.kind == NodeKind::Variable {
            notes.push("input");
        }
        if n.wrt {
            notes.push("differentiated");
        }
        if Some(i) == self.output {
            notes.push("output");
        }
        if !self.gradients.is_empty() && !n.active && n.kind == NodeKind::Operation {
            notes.push("constant here");
        }
        notes
    }

    /// A shape as `(m)`, `(m×n)`, `(1×n)` or `(scalar)`.
    pub fn shape_text(&self, s: Shape) -> String {
        let name = |d: u32| self.graph.dims().name(d).to_string();
        match (s.rows, s.cols) {
            (None, None) => "(scalar)".into(),
            (Some(m), None) => format!("({})", name(m)),
            (None, Some(n)) => format!("(1×{})", name(n)),
            (Some(m), Some(n)) => format!("({}×{})", name(m), name(n)),
        }
    }

    /// A shape as a LaTeX set: `\mathbb{R}^{m \times n}`.
    pub fn shape_latex(&self, s: Shape) -> String {
        let name = |d: u32| latex_name(self.graph.dims().name(d));
        match (s.rows, s.cols) {
            (None, None) => "\\mathbb{R}".into(),
            (Some(m), None) => format!("\\mathbb{{R}}^{{{}}}", name(m)),
            (None, Some(n)) => format!("\\mathbb{{R}}^{{1 \\times {}}}", name(n)),
            (Some(m), Some(n)) => format!("\\mathbb{{R}}^{{{} \\times {}}}", name(m), name(n)),
        }
    }

    /// `a = W*x` (an operation) or `W` (a variable).
    pub fn definition(&self, i: usize, style: Style) -> String {
        let n = &self.nodes[i];
        match n.def {
            Some(def) => format!("{} = {}", self.name(i, style), self.show(def, style)),
            None => self.name(i, style),
        }
    }

    /// Distinct users of node `i` that pushed a contribution, in the order they did.
    fn contributors(&self, step: &AdjointStep) -> Vec<usize> {
        let mut users = vec![];
        for c in &step.contributions {
            if !users.contains(&c.from) {
                users.push(c.from);
            }
        }
        users
    }

    /// The sentence explaining a sum of several contributions (total derivative), or `None`.
    pub fn total_derivative_sentence(&self, step: &AdjointStep, style: Style) -> Option<String> {
        let k = step.contributions.len();
        if k < 2 {
            return None;
        }
        let m = |s: String| match style {
            Style::Plain => s,
            Style::Latex => format!("${s}$"),
        };
        let name = m(self.name(step.node, style));
        let out = m(latex_or_plain(&self.output_name, style));
        let users = self.contributors(step);
        let bar = m(self.bar(step.node, style));
        if users.len() == 1 {
            let user = m(self.name(users[0], style));
            return Some(format!(
                "{name} appears {k} times in {user}: each occurrence is a path to {out}, and by the rule of total derivatives (the multivariable chain rule) {bar} is the sum of the {k} contributions:"
            ));
        }
        let list = join_and(users.iter().map(|&u| m(self.name(u, style))).collect());
        Some(format!(
            "{name} is used by {list}, so it reaches {out} along {k} paths; by the rule of total derivatives (the multivariable chain rule) {bar} is the sum of the contributions along each path:"
        ))
    }

    /// Why a contribution's formula has the shape it has: the rule, and a transpose if any.
    fn transposed_note(&self, c: &Contribution, node: usize, style: Style) -> Option<String> {
        if !c.transposed {
            return None;
        }
        let (n, t) = match style {
            Style::Plain => (self.name(node, style), format!("{}'", self.name(node, style))),
            Style::Latex => (format!("${}$", self.name(node, style)), format!("${}^\\top$", self.name(node, style))),
        };
        Some(format!("{n} enters as {t}, so the rule's result is transposed"))
    }

    /// The one-line numeric check of the final gradients.
    pub fn check_line(&self, style: Style) -> Option<String> {
        let r = self.check.as_ref()?;
        let settings: Vec<String> = r
            .dims
            .iter()
            .map(|dims| {
                let used: Vec<String> = self
                    .graph
                    .dims()
                    .dims()
                    .iter()
                    .zip(dims)
                    .filter(|(d, _)| d.size.is_none())
                    .map(|(d, k)| match style {
                        Style::Plain => format!("{}={k}", d.name),
                        Style::Latex => format!("${}={k}$", latex_name(&d.name)),
                    })
                    .collect();
                if used.is_empty() {
                    "fixed sizes".to_string()
                } else {
                    used.join(", ")
                }
            })
            .collect();
        // With nothing but fixed sizes, every setting reads the same: say it once.
        let mut settings = settings;
        if settings.iter().all(|s| s == "fixed sizes") {
            settings.dedup();
        }
        let err = match style {
            Style::Plain => format!("{:.1e}", r.max_err),
            Style::Latex => sci_latex(r.max_err),
        };
        let verdict = match r.outcome() {
            FdOutcome::Agrees => "agrees",
            FdOutcome::Disagrees => "DISAGREES",
            // A check that compared nothing is said so, never a pass.
            FdOutcome::Unchecked(why) => return Some(format!("numeric check: NOT DONE, {why}")),
        };
        let mut line = format!(
            "numeric check: max relative error {err} against central differences at random inputs ({}); the gradient {verdict}",
            settings.join("; ")
        );
        if r.skipped > 0 {
            line.push_str(&format!(" ({} setting(s) skipped: no point where the expression is finite)", r.skipped));
        }
        if r.unresolved > 0 {
            line.push_str(&format!(" ({} setting(s) skipped: rounding error swamped the differences)", r.unresolved));
        }
        Some(line)
    }

    /// The final gradient over the forward names (`a*c' + W*c*x'`), when written out it is about
    /// as short as the shared form; `None` when it would be far larger (a residual chain's
    /// adjoint mentions each name along every path: exponentially many times).
    fn named_adjoint(&self, k: usize, style: Style) -> Option<String> {
        let g = &self.gradients[k];
        let compact = matdiff_core::print_compact(&self.graph, &[g.adjoint], style, &[]).pop()?;
        compact.defs.is_empty().then(|| self.show(g.adjoint, style))
    }

    /// The final gradient as `grad` prints it (names `t0`, … for shared subterms), one line
    /// per definition: `(expr, [(name, def)])`.
    fn direct_form(&self, k: usize, style: Style) -> (String, Vec<(String, String)>) {
        let g = &self.gradients[k];
        let node = if g.agrees() { g.direct } else { g.expanded };
        let p = print_shared(&self.graph, &[node], style).pop().unwrap();
        (p.expr, p.defs)
    }
}

fn latex_or_plain(name: &str, style: Style) -> String {
    match style {
        Style::Plain => name.to_string(),
        Style::Latex => latex_name(name),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: Vec<String>) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// `3.2 \times 10^{-10}` for LaTeX.
fn sci_latex(x: f64) -> String {
    if x == 0.0 {
        return "$0$".into();
    }
    if !x.is_finite() {
        return format!("{x}");
    }
    let s = format!("{x:.1e}");
    match s.split_once('e') {
        Some((m, e)) => format!("${m} \\times 10^{{{e}}}$"),
        None => format!("${}$", num(x)),
    }
}

/// "from `user`, by the product rule (`symbols`)", with the transpose note when there is one.
fn rule_sentence(d: &Derivation, c: &Contribution, node: usize, style: Style) -> String {
    let mut s = match style {
        Style::Plain => format!("from {}: {}", d.definition(c.from, style), c.rule.describe()),
        Style::Latex => format!(
            "from ${}$ by the {} (${}$)",
            d.definition(c.from, style),
            super::rules::rule_words(c.rule),
            super::rules::rule_latex(c.rule)
        ),
    };
    if let Some(t) = d.transposed_note(c, node, style) {
        s.push_str(&format!("; {t}"));
    }
    s
}
