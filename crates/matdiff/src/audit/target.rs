//! Recognizing what an equation's left side states: a gradient (`\nabla_W L`,
//! `\frac{\partial L}{\partial W}`, `\partial L / \partial W`, `dL/dW`) or a single name.

/// A derivative statement: the derivative of `of` with respect to `wrt`, both normalized
/// symbols (`\mathcal{L}_{2}` → `L2`, `\omega` → `omega`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The differentiated symbol (the loss).
    pub of: String,
    /// The variable.
    pub wrt: String,
    /// Written with `\nabla` (rather than a quotient of differentials).
    pub nabla: bool,
}

/// Font wrappers that do not change which symbol is meant.
const WRAPPERS: &[&str] = &[
    "mathcal",
    "mathbf",
    "boldsymbol",
    "mathrm",
    "mathit",
    "bm",
    "mathsf",
    "mathscr",
    "mathbb",
    "pmb",
    "text",
    "operatorname",
];

/// Normalize a symbol as written: drop font wrappers, braces and spaces; Greek letter commands
/// lose their backslash; subscripts join the name as the LaTeX reader joins them (`W_{1}` →
/// `W1`, `\mathcal{L}_2` → `L2`). `None` when what is left is not a plain symbol.
pub fn symbol(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('\\') {
            let cmd: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            if cmd.is_empty() {
                // `\,` and friends.
                rest = r.get(1..).unwrap_or("");
                continue;
            }
            rest = &r[cmd.len()..];
            if WRAPPERS.contains(&cmd.as_str()) {
                continue; // its braced argument is read as ordinary text next
            }
            if matches!(cmd.as_str(), "left" | "right" | "quad" | "qquad") {
                continue;
            }
            out.push_str(&cmd);
            continue;
        }
        let c = rest.chars().next().unwrap();
        rest = &rest[c.len_utf8()..];
        match c {
            '{' | '}' | ' ' | '\t' | '\n' => {}
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
    }
    let valid = out.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !out.ends_with('_')
        && !out.contains("__")
        && out.matches('_').count() <= 1;
    valid.then(|| out.replace('_', ""))
}

/// The two braced arguments of `\frac{a}{b}` at the start of `s`, and the rest.
fn frac_args(s: &str) -> Option<(&str, &str, &str)> {
    let s = s.trim_start();
    let r = ["\\frac", "\\dfrac", "\\tfrac"].iter().find_map(|f| s.strip_prefix(f))?;
    let (a, r) = braced(r)?;
    let (b, r) = braced(r)?;
    Some((a, b, r))
}

/// `{…}` at the start (after spaces): its inside and the rest.
fn braced(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if !s.starts_with('{') {
        return None;
    }
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[1..i], &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// `\partial X`, `dX`, `\mathrm{d}X`, `\text{d} X`, `\delta X`: the X.
fn strip_d(s: &str) -> Option<&str> {
    let mut s = s.trim();
    // `{\partial L}/{\partial W}`: the braces group, nothing more.
    if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        s = inner.trim();
    }
    for p in ["\\partial", "\\mathrm{d}", "\\text{d}", "\\operatorname{d}", "\\delta", "\\mathrm d", "d"] {
        if let Some(r) = s.strip_prefix(p) {
            if p == "d" && r.starts_with(|c: char| c.is_ascii_lowercase()) && r.len() > 1 && !r.starts_with(['x', 'w'])
            {
                continue; // `dot`, `det`: not a differential
            }
            return Some(r);
        }
    }
    None
}

/// Drop a trailing argument list: `L(W)` → `L`.
fn drop_args(s: &str) -> &str {
    let t = s.trim();
    if t.ends_with(')') {
        if let Some(k) = t.find('(') {
            return &t[..k];
        }
    }
    if let Some(r) = t.strip_suffix("\\right)") {
        if let Some(k) = r.find("\\left(") {
            return &r[..k];
        }
    }
    t
}

/// A derivative as written: the numerator's and the denominator's symbols as source text
/// (`\mathcal{I}`, `\omega_{2}`), before normalization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawTarget<'a> {
    pub of: &'a str,
    pub wrt: &'a str,
    pub nabla: bool,
}

impl RawTarget<'_> {
    /// The normalized target (`None` when a side is not a plain symbol, e.g. `W^{T}`).
    pub fn target(&self) -> Option<Target> {
        let wrt = if self.wrt.is_empty() { String::new() } else { symbol(self.wrt)? };
        Some(Target { of: symbol(self.of)?, wrt, nabla: self.nabla })
    }
}

/// The derivative a member states, as written, if it is exactly a derivative of one thing by
/// another (`\nabla_W L`, `\frac{\partial L}{\partial W}`, `\partial L / \partial W`, `dL/dW`).
pub(crate) fn raw_target(member: &str) -> Option<RawTarget<'_>> {
    let m = member.trim();
    // \nabla_{W} L (or `\nabla L` with the variable left out: `wrt` is empty)
    if let Some(r) = m.strip_prefix("\\nabla") {
        let Some(r) = r.trim_start().strip_prefix('_') else {
            let of = drop_args(r);
            return (!of.is_empty() && !of.starts_with('_')).then_some(RawTarget { of, wrt: "", nabla: true });
        };
        let (wrt, rest) = match braced(r) {
            Some((inside, rest)) => (inside, rest),
            None => {
                let r = r.trim_start();
                let n = if let Some(c) = r.strip_prefix('\\') {
                    1 + c.chars().take_while(|c| c.is_ascii_alphabetic()).count()
                } else {
                    r.chars().next()?.len_utf8()
                };
                (&r[..n], &r[n..])
            }
        };
        return Some(RawTarget { of: drop_args(rest), wrt: wrt.trim(), nabla: true });
    }
    // \frac{\partial L}{\partial W}, \frac{\partial}{\partial W} L
    if let Some((num, den, rest)) = frac_args(m) {
        let wrt = strip_d(den)?.trim();
        let top = strip_d(num)?;
        let of = if top.trim().is_empty() {
            drop_args(rest)
        } else if rest.trim().is_empty() {
            top.trim()
        } else {
            return None;
        };
        return Some(RawTarget { of, wrt, nabla: false });
    }
    // \partial L / \partial W
    let parts: Vec<&str> = m.splitn(2, '/').collect();
    if parts.len() == 2 {
        return Some(RawTarget { of: strip_d(parts[0])?.trim(), wrt: strip_d(parts[1])?.trim(), nabla: false });
    }
    None
}

/// The derivative a member states, if it is exactly a derivative of one symbol by another.
pub fn parse_target(member: &str) -> Option<Target> {
    raw_target(member)?.target()
}

/// Bytes of a symbol at the start of `s` (after spaces): a letter, a Greek command or a font
/// wrapper with its argument, and a subscript.
fn symbol_len(s: &str) -> Option<usize> {
    let t = s.trim_start();
    let lead = s.len() - t.len();
    let mut n = if let Some(c) = t.strip_prefix('\\') {
        let name: String = c.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        if name.is_empty() {
            return None;
        }
        let after = &t[1 + name.len()..];
        if WRAPPERS.contains(&name.as_str()) {
            let (_, rest) = braced(after)?;
            t.len() - rest.len()
        } else {
            1 + name.len()
        }
    } else {
        t.chars().next().filter(|c| c.is_ascii_alphabetic())?.len_utf8()
    };
    let rest = &t[n..];
    if let Some(r) = rest.strip_prefix('_') {
        n += 1 + match braced(r) {
            Some((_, after)) => r.len() - after.len(),
            None => r.chars().next().map_or(0, char::len_utf8),
        };
    }
    Some(lead + n)
}

/// Every derivative symbol inside a member (`\frac{\partial L}{\partial z_2}`,
/// `\nabla_{z_2} L`), with its byte range and its parts as written.
pub(crate) fn derivatives_in(text: &str) -> Vec<(std::ops::Range<usize>, RawTarget<'_>)> {
    let mut out = vec![];
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with('\\') {
            if let Some((_, _, after)) = frac_args(rest) {
                let used = rest.len() - after.len();
                if let Some(t) = raw_target(&text[i..i + used]) {
                    out.push((i..i + used, t));
                    i += used;
                    continue;
                }
            }
            if let Some(r) = rest.strip_prefix("\\nabla") {
                if let Some(sub) = r.trim_start().strip_prefix('_') {
                    let sub_len = match braced(sub) {
                        Some((_, after)) => sub.len() - after.len(),
                        None => symbol_len(sub).unwrap_or(0),
                    };
                    let head = rest.len() - sub.len() + sub_len;
                    if let Some(n) = symbol_len(&rest[head..]) {
                        let used = head + n;
                        if let Some(t) = raw_target(&text[i..i + used]) {
                            out.push((i..i + used, t));
                            i += used;
                            continue;
                        }
                    }
                }
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// Derivative notation in a member that cannot be evaluated, quoted; except that a `\delta_{…}` whose name `known` accepts (a backprop
/// error `\delta_1` the document defines) is a name, not a variation.
pub(crate) fn derivative_notation_unless(member: &str, known: &dyn Fn(&str) -> bool) -> Option<String> {
    for key in ["\\partial", "\\nabla", "\\frac{d", "\\frac{\\mathrm{d}", "\\delta_{"] {
        for (k, _) in member.match_indices(key) {
            if key == "\\delta_{" {
                let end = member[k..].find('}').map_or(member.len(), |e| k + e + 1);
                if symbol(&member[k..end]).is_some_and(|n| known(&n)) {
                    continue;
                }
            }
            // Quote the derivative itself where it is a \frac.
            let start = member[..k].rfind("\\frac").filter(|&f| k - f < 8).unwrap_or(k);
            let quoted: String = member[start..].chars().take(48).collect();
            return Some(quoted);
        }
    }
    None
}

/// A single name on an equation's left side (`C`, `K`, `z_2`): the normalized symbol.
pub fn defined_name(member: &str) -> Option<String> {
    let m = member.trim();
    if m.contains('\\') && !m.starts_with("\\mathcal") && !m.starts_with("\\mathbf") && !m.starts_with("\\boldsymbol") {
        // Greek letters are names too.
        let cmd: String = m.trim_start_matches('\\').chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        if !GREEK.contains(&cmd.as_str()) {
            return None;
        }
    }
    if m.contains('^') || m.contains('(') || m.contains('|') {
        return None;
    }
    // One letter or Greek letter, optionally subscripted: `Wx = …` is not a definition.
    let name = symbol(m)?;
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let subscripted = m.contains('_');
    let base = if subscripted { symbol(m.split('_').next().unwrap_or(""))? } else { base.to_string() };
    (base.len() == 1 || GREEK.contains(&base.as_str())).then_some(name)
}

const GREEK: &[&str] = &[
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "varphi",
    "chi",
    "psi",
    "omega",
    "Gamma",
    "Delta",
    "Theta",
    "Lambda",
    "Xi",
    "Pi",
    "Sigma",
    "Phi",
    "Psi",
    "Omega",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |s: &str| parse_target(s).map(|t| (t.of, t.wrt));
        let p = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(t("\\nabla_W L"), p("L", "W"));
        assert_eq!(t("\\nabla_{W} \\mathcal{L}"), p("L", "W"));
        assert_eq!(t("\\nabla_{w_2} \\mathcal{L}"), p("L", "w2"));
        assert_eq!(t("\\frac{\\partial L}{\\partial W}"), p("L", "W"));
        assert_eq!(t("\\frac{\\partial \\mathcal{L}_2}{\\partial x}"), p("L2", "x"));
        assert_eq!(t("\\frac{\\partial L_1}{\\partial x}"), p("L1", "x"));
        assert_eq!(t("\\partial L / \\partial W"), p("L", "W"));
        assert_eq!(t("\\frac{dJ}{d\\omega}"), p("J", "omega"));
        assert_eq!(t("\\frac{\\partial}{\\partial W} L"), p("L", "W"));
        assert_eq!(t("\\frac{\\partial L}{\\partial W^T}"), None);
        assert_eq!(t("{\\partial L}/{\\partial W}"), p("L", "W"));
        assert_eq!(t("\\nabla \\mathcal{L}(W)"), p("L", ""));
        assert_eq!(t("\\frac{\\partial a}{\\partial w} \\cdot \\frac{\\partial L}{\\partial a}"), None);
        assert_eq!(t("W x"), None);
    }

    #[test]
    fn derivatives_found() {
        let text =
            "w_2^T \\frac{\\partial \\mathcal{L}}{\\partial z_2} x^T + \\nabla_{z_{2}} \\mathcal{L}_{1} \\cdot h";
        let found: Vec<(&str, Option<Target>)> =
            derivatives_in(text).into_iter().map(|(r, t)| (&text[r], t.target())).collect();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, "\\frac{\\partial \\mathcal{L}}{\\partial z_2}");
        assert_eq!(found[1].0, "\\nabla_{z_{2}} \\mathcal{L}_{1}");
        let t = found[1].1.clone().unwrap();
        assert_eq!((t.of.as_str(), t.wrt.as_str()), ("L1", "z2"));
        assert!(derivative_notation_unless("\\delta_{1} x", &|n| n == "delta1").is_none());
        assert!(derivative_notation_unless("\\delta_{ij} x", &|n| n == "delta1").is_some());
    }

    #[test]
    fn names() {
        assert_eq!(defined_name("C"), Some("C".into()));
        assert_eq!(defined_name("z_2"), Some("z2".into()));
        assert_eq!(defined_name("L_{1}"), Some("L1".into()));
        assert_eq!(defined_name("\\alpha"), Some("alpha".into()));
        assert_eq!(defined_name("W^T"), None);
        assert_eq!(defined_name("\\frac{a}{b}"), None);
        assert_eq!(defined_name("|K|"), None);
    }
}
