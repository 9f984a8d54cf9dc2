//! OCR confusions (docs/ocr-confusions.md): the table of what scanners make of each symbol, and
//! the scan of one member that finds the tokens a repair may touch ("suspects"), each with the
//! readings the table and the question allow. Which reading is taken is decided in `read.rs`,
//! by lowering: a repair is taken only when exactly one reading is well-typed.
//!
//! Suspects come in two classes. A token that cannot be read as written (an unknown name or
//! command, `^{\dagger}`, `|_{og}`, a digit where people write names: `6(z)`, `7^{T}`, `6^{2}`)
//! has only its table readings. A token that reads as written (`^{7}`, a `5` or `7` in a number
//! position, the `1` in `1 - v`) keeps that reading first and is repaired only where the step
//! is ill-typed with it, which the lowering's error span says.

use std::fmt;
use std::ops::Range;

/// A repair a reading rests on: the token as the document writes it, and the symbol meant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repair {
    /// The token as written: `\omega`, `^{\dagger}`, `6`, `\mathcal{I}`.
    pub from: String,
    /// The symbol it was read as, in LaTeX: `W`, `^T`, `\sigma`, `\odot`, `L`.
    pub to: String,
    /// The document line where the token is.
    pub line: usize,
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.from, self.to)
    }
}

/// What a misreading stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meant {
    /// σ: the sigmoid (in function position) or a scalar named `sigma` (as the base of a power).
    Sigma,
    /// ⊙, between two operands.
    Hadamard,
    /// ᵀ, as a superscript.
    Transpose,
    /// A variable or defined name of the problem, by its letter (a subscript carries over).
    Symbol(&'static str),
    /// log, before its argument.
    Log,
    /// The loss symbol L, in the numerator of a derivative.
    Loss,
}

/// One row of the table: a symbol and the readings OCR produces for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confusion {
    /// The symbol meant.
    pub meant: Meant,
    /// The readings, as LaTeX source tokens.
    pub readings: &'static [&'static str],
}

/// The confusion table. A reading becomes a repair candidate only for a token that does not
/// otherwise resolve, and only where the question has the symbol meant.
pub const CONFUSIONS: &[Confusion] = &[
    Confusion { meant: Meant::Sigma, readings: &["6", "\\delta", "S", "o"] },
    Confusion { meant: Meant::Hadamard, readings: &["O", "o"] },
    Confusion { meant: Meant::Transpose, readings: &["^{\\dagger}", "^{7}"] },
    Confusion { meant: Meant::Symbol("W"), readings: &["\\omega", "\\psi", "w"] },
    Confusion { meant: Meant::Symbol("w"), readings: &["\\omega", "\\psi"] },
    Confusion { meant: Meant::Symbol("x"), readings: &["\\times", "\\chi", "n"] },
    Confusion { meant: Meant::Symbol("y"), readings: &["7", "\\gamma"] },
    Confusion { meant: Meant::Symbol("Y"), readings: &["7", "\\gamma"] },
    Confusion { meant: Meant::Symbol("K"), readings: &["\\kappa"] },
    Confusion { meant: Meant::Symbol("S"), readings: &["5"] },
    Confusion { meant: Meant::Log, readings: &["|_{og}"] },
    Confusion { meant: Meant::Loss, readings: &["\\mathcal{I}", "\\mathcal{Z}"] },
];

/// The table rows that list `reading`.
fn rows(reading: &str) -> impl Iterator<Item = Meant> + '_ {
    CONFUSIONS.iter().filter(move |c| c.readings.contains(&reading)).map(|c| c.meant)
}

/// What the question offers for repairs to land on.
pub(crate) struct Lexicon<'a> {
    /// Resolve a name (normalized: `W2`, `yhat`) to the variable or defined name it means,
    /// aliases applied; `None` if it does not resolve.
    pub resolve: &'a dyn Fn(&str) -> Option<String>,
    /// Whether the sigmoid belongs to the problem (its loss or definitions use it or Swish).
    pub sigmoid: bool,
    /// Whether `sigma` is a scalar variable of the question.
    pub sigma_var: bool,
}

/// One way to read a suspect token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reading {
    /// The LaTeX put in place of the token.
    pub text: String,
    /// The OCR repair this reading is (none for a plain reading such as the ones vector).
    pub repair: Option<Repair>,
    /// A note on the reading, when it is not a repair.
    pub note: Option<String>,
}

/// A token a repair may touch, with its readings.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Suspect {
    /// Bytes of the scanned text.
    pub span: Range<usize>,
    /// The token as written is itself a reading, tried first (`^{7}` as a power).
    pub literal: bool,
    /// The other readings, in table order.
    pub readings: Vec<Reading>,
    /// Why the token is suspect, for "no reading" reports.
    pub why: &'static str,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A command other than the ones below, by name (`omega`, `cdot`, `frac`).
    Cmd(String),
    /// A command with a braced argument that is one operand (`\hat{y}`, `\mathbf{1}`,
    /// `\operatorname{Sw}`, `\text{ Swish }`); the argument is inside the span.
    Wrapped(String, String),
    Letter(char),
    Num(String),
    Open,
    Close,
    /// `^…`, with its argument (braces stripped).
    Sup(String),
    /// `_…`, with its argument.
    Sub(String),
    Prime,
    Bar,
    Op(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    span: Range<usize>,
}

/// Commands whose braced argument is read as one symbol, name or function.
const WRAPPED: &[&str] = &[
    "hat",
    "bar",
    "tilde",
    "vec",
    "dot",
    "mathbf",
    "boldsymbol",
    "bm",
    "mathcal",
    "mathrm",
    "mathit",
    "mathsf",
    "mathscr",
    "mathbb",
    "text",
    "operatorname",
    "begin",
    "end",
    "pmb",
];

/// Font commands: around one symbol, the symbol itself.
const FONTS: &[&str] = &["mathbf", "boldsymbol", "bm", "mathit", "mathrm", "mathsf", "pmb", "mathscr", "mathcal"];

/// Commands that are operators between operands.
const OPERATOR_CMDS: &[&str] =
    &["cdot", "times", "odot", "circ", "otimes", "oplus", "ast", "star", "div", "pm", "mp", "cdots", "leq", "geq"];

/// The argument of `^`/`_` at `i` (just after the mark): `{…}` or one token.
fn script_arg(s: &str, i: usize) -> (String, usize) {
    let b = s.as_bytes();
    let mut j = i;
    while j < b.len() && b[j] == b' ' {
        j += 1;
    }
    if j >= b.len() {
        return (String::new(), j);
    }
    if b[j] == b'{' {
        let mut depth = 0;
        for (k, c) in s[j..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return (s[j + 1..j + k].trim().to_string(), j + k + 1);
                    }
                }
                _ => {}
            }
        }
        return (s[j + 1..].to_string(), b.len());
    }
    if b[j] == b'\\' {
        let n = s[j + 1..].bytes().take_while(u8::is_ascii_alphabetic).count().max(1);
        let end = (j + 1 + n).min(b.len());
        return (s[j..end].to_string(), end);
    }
    let c = s[j..].chars().next().unwrap();
    (c.to_string(), j + c.len_utf8())
}

/// The end of a braced group starting at `i` (which holds `{`), or `None`.
fn group_end(s: &str, i: usize) -> Option<usize> {
    let mut depth = 0;
    for (k, c) in s[i..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + k + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn tokenize(s: &str) -> Vec<Token> {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = match c {
            b'\\' => {
                let n = s[i + 1..].bytes().take_while(u8::is_ascii_alphabetic).count();
                if n == 0 {
                    // `\|`, `\{`, `\,`: a delimiter or spacing.
                    let ch = s[i + 1..].chars().next().map_or(0, char::len_utf8);
                    i += 1 + ch;
                    match s.as_bytes().get(start + 1) {
                        Some(b'{') => Tok::Open,
                        Some(b'}') => Tok::Close,
                        Some(b'|') => Tok::Bar,
                        _ => continue,
                    }
                } else {
                    let name = s[i + 1..i + 1 + n].to_string();
                    i += 1 + n;
                    match name.as_str() {
                        "left" | "right" | "bigl" | "bigr" | "Bigl" | "Bigr" | "big" | "Big" | "bigg" | "Bigg" => {
                            let open = name.ends_with('l') || name == "left";
                            // The delimiter that follows.
                            while i < b.len() && b[i] == b' ' {
                                i += 1;
                            }
                            if i < b.len() {
                                if b[i] == b'\\' {
                                    let m = s[i + 1..].bytes().take_while(u8::is_ascii_alphabetic).count().max(1);
                                    i = (i + 1 + m).min(b.len());
                                } else {
                                    i += s[i..].chars().next().map_or(1, char::len_utf8);
                                }
                            }
                            let d = &s[start..i];
                            let open = if name == "left" || name == "right" {
                                name == "left"
                            } else if d.ends_with('(') || d.ends_with('[') {
                                true
                            } else if d.ends_with(')') || d.ends_with(']') {
                                false
                            } else {
                                open
                            };
                            if d.ends_with('|') {
                                Tok::Bar
                            } else if open {
                                Tok::Open
                            } else {
                                Tok::Close
                            }
                        }
                        "quad" | "qquad" | "displaystyle" => continue,
                        w if WRAPPED.contains(&w) => {
                            let mut j = i;
                            while j < b.len() && b[j] == b' ' {
                                j += 1;
                            }
                            match (b.get(j), b.get(j).and_then(|_| group_end(s, j))) {
                                (Some(b'{'), Some(end)) => {
                                    let arg = s[j + 1..end - 1].to_string();
                                    i = end;
                                    // A font around one letter or Greek letter is that symbol
                                    // (`\boldsymbol{\omega}` is ω): its token, at its place.
                                    let inner = arg.trim();
                                    let at = j + 1 + (arg.len() - arg.trim_start().len());
                                    let greek = inner
                                        .strip_prefix('\\')
                                        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphabetic()));
                                    let letter = inner.len() == 1 && inner.as_bytes()[0].is_ascii_alphabetic();
                                    if FONTS.contains(&name.as_str()) && (greek.is_some() || letter) {
                                        let span = at..at + inner.len();
                                        let tok = match greek {
                                            Some(g) => Tok::Cmd(g.to_string()),
                                            None => Tok::Letter(inner.as_bytes()[0] as char),
                                        };
                                        out.push(Token { tok, span });
                                        continue;
                                    }
                                    Tok::Wrapped(name, arg)
                                }
                                _ => Tok::Cmd(name),
                            }
                        }
                        _ => Tok::Cmd(name),
                    }
                }
            }
            b'^' | b'_' => {
                let (arg, end) = script_arg(s, i + 1);
                i = end;
                if c == b'^' {
                    Tok::Sup(arg)
                } else {
                    Tok::Sub(arg)
                }
            }
            b'0'..=b'9' | b'.' if c != b'.' || b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let n = s[i..].bytes().take_while(|c| c.is_ascii_digit() || *c == b'.').count();
                i += n;
                Tok::Num(s[start..i].to_string())
            }
            b'(' | b'[' | b'{' => {
                i += 1;
                Tok::Open
            }
            b')' | b']' | b'}' => {
                i += 1;
                Tok::Close
            }
            b'|' => {
                i += 1;
                Tok::Bar
            }
            b'\'' => {
                i += 1;
                Tok::Prime
            }
            c if c.is_ascii_alphabetic() => {
                i += 1;
                Tok::Letter(c as char)
            }
            c if c.is_ascii_whitespace() || c == b'&' || c == b'~' => {
                i += 1;
                continue;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap();
                i += ch.len_utf8();
                Tok::Op(ch)
            }
        };
        out.push(Token { tok, span: start..i });
    }
    out
}

/// Whether a token ends an operand (so that what follows is juxtaposed to it).
fn ends_operand(t: &Tok) -> bool {
    match t {
        Tok::Letter(_) | Tok::Num(_) | Tok::Close | Tok::Sup(_) | Tok::Sub(_) | Tok::Prime => true,
        Tok::Wrapped(w, _) => !matches!(w.as_str(), "begin" | "end" | "operatorname" | "text"),
        Tok::Cmd(c) => !OPERATOR_CMDS.contains(&c.as_str()) && !matches!(c.as_str(), "frac" | "dfrac" | "sqrt"),
        _ => false,
    }
}

/// Whether a token starts an operand.
fn starts_operand(t: &Tok) -> bool {
    match t {
        Tok::Letter(_) | Tok::Num(_) | Tok::Open | Tok::Wrapped(..) => true,
        Tok::Cmd(c) => !OPERATOR_CMDS.contains(&c.as_str()),
        _ => false,
    }
}

/// The normalized subscript of a name (`{2}` → `2`, `{i j}` → `ij`), if it is a plain one.
fn sub_suffix(arg: &str) -> Option<String> {
    let s: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric())).then_some(s)
}

/// The letter runs' greedy split against known names, as the LaTeX reader splits `xx`:
/// for each letter token, whether it starts a multi-letter known name (and how many letters).
fn multi_letter_names(toks: &[Token], text: &str, known: &dyn Fn(&str) -> bool) -> Vec<usize> {
    let mut cover = vec![0; toks.len()];
    let mut k = 0;
    while k < toks.len() {
        if !matches!(toks[k].tok, Tok::Letter(_)) {
            k += 1;
            continue;
        }
        // The run of adjacent letters (no space between).
        let mut end = k + 1;
        while end < toks.len()
            && matches!(toks[end].tok, Tok::Letter(_))
            && toks[end].span.start == toks[end - 1].span.end
        {
            end += 1;
        }
        let mut i = k;
        while i < end {
            let mut best = 1;
            for j in (i + 2..=end).rev() {
                if known(&text[toks[i].span.start..toks[j - 1].span.end]) {
                    best = j - i;
                    break;
                }
            }
            cover[i] = best;
            i += best;
        }
        k = end;
    }
    cover
}

/// Scan a member (after forced edits) for suspects. `line` is the member's document line,
/// for the repairs' records.
pub(crate) fn suspects(text: &str, line: usize, lex: &Lexicon<'_>) -> Vec<Suspect> {
    let toks = tokenize(text);
    let known = |n: &str| (lex.resolve)(n).is_some();
    let cover = multi_letter_names(&toks, text, &known);
    let mut out: Vec<Suspect> = vec![];
    // `|_{og}`: log.
    let mut skip = vec![false; toks.len()];
    for k in 0..toks.len().saturating_sub(1) {
        if toks[k].tok == Tok::Bar {
            if let Tok::Sub(a) = &toks[k + 1].tok {
                if a.chars().filter(|c| !c.is_whitespace()).collect::<String>() == "og" {
                    let span = toks[k].span.start..toks[k + 1].span.end;
                    out.push(Suspect {
                        span: span.clone(),
                        literal: false,
                        readings: vec![Reading {
                            text: "\\log ".into(),
                            repair: Some(Repair { from: text[span].to_string(), to: "\\log".into(), line }),
                            note: None,
                        }],
                        why: "`|_{og}` does not read",
                    });
                    skip[k] = true;
                    skip[k + 1] = true;
                }
            }
        }
    }
    let prev = |k: usize| (0..k).rev().find(|&j| !skip[j]).map(|j| &toks[j].tok);
    let next = |k: usize| toks.get(k + 1).map(|t| &t.tok);
    let function_pos = |k: usize| {
        matches!(next(k), Some(Tok::Open)) && {
            let after = toks[k + 1].span.start;
            text[after..].starts_with('(')
                || text[after..].starts_with("\\left(")
                || text[after..].starts_with("\\left (")
        }
    };
    let power_pos = |k: usize| matches!(next(k), Some(Tok::Sup(a)) if !is_transpose_mark(a));
    let between = |k: usize| prev(k).is_some_and(ends_operand) && next(k).is_some_and(starts_operand);
    // Readings of a token meaning a symbol of the question, with its subscript.
    let symbol_readings = |from: &str, sub: &str, sigma_ok: (bool, bool), between_ok: bool| -> Vec<Reading> {
        let mut r: Vec<Reading> = vec![];
        let mut seen: Vec<String> = vec![];
        for meant in rows(from) {
            let (text_, to) = match meant {
                Meant::Symbol(s) => match (lex.resolve)(&format!("{s}{sub}")) {
                    Some(target) if !seen.contains(&target) => {
                        seen.push(target);
                        (format!(" {s}"), s.to_string())
                    }
                    _ => continue,
                },
                Meant::Sigma if sigma_ok.0 && lex.sigmoid => (" \\operatorname{sigmoid}".into(), "\\sigma".into()),
                Meant::Sigma if sigma_ok.1 && lex.sigma_var && sub.is_empty() => (" \\sigma".into(), "\\sigma".into()),
                Meant::Hadamard if between_ok => (" \\odot ".into(), "\\odot".into()),
                _ => continue,
            };
            r.push(Reading { text: text_, repair: Some(Repair { from: from.to_string(), to, line }), note: None });
        }
        r
    };
    for k in 0..toks.len() {
        if skip[k] {
            continue;
        }
        let t = &toks[k];
        let sub = match next(k) {
            Some(Tok::Sub(a)) => sub_suffix(a).unwrap_or_default(),
            _ => String::new(),
        };
        match &t.tok {
            Tok::Cmd(c) if matches!(c.as_str(), "omega" | "psi" | "chi" | "kappa" | "gamma" | "delta") => {
                if known(&format!("{c}{sub}")) || (sub.is_empty() && known(c)) {
                    continue;
                }
                let from = format!("\\{c}");
                let readings = symbol_readings(&from, &sub, (function_pos(k), power_pos(k)), false);
                out.push(Suspect { span: t.span.clone(), literal: false, readings, why: "an unknown name" });
            }
            Tok::Cmd(c) if c == "times" => {
                // `\times` is a product between two operands, and x elsewhere.
                let operand = !prev(k).is_some_and(ends_operand) || !next(k).is_some_and(starts_operand);
                if operand {
                    let readings = symbol_readings("\\times", &sub, (false, false), false);
                    out.push(Suspect {
                        span: t.span.clone(),
                        literal: false,
                        readings,
                        why: "`\\times` where an operand is expected",
                    });
                }
            }
            Tok::Letter(ch) if matches!(ch, 'O' | 'o' | 'n' | 'w' | 'S') && cover[k] == 1 => {
                let name = format!("{ch}{sub}");
                if known(&name) {
                    continue;
                }
                let from = ch.to_string();
                let readings = symbol_readings(&from, &sub, (function_pos(k), power_pos(k)), between(k));
                out.push(Suspect { span: t.span.clone(), literal: false, readings, why: "an unknown name" });
            }
            Tok::Num(n) if matches!(n.as_str(), "5" | "6" | "7") => {
                let p = prev(k);
                let nx = next(k);
                let scripted = matches!(nx, Some(Tok::Sup(_) | Tok::Sub(_) | Tok::Prime));
                let function = n == "6" && lex.sigmoid && function_pos(k);
                let after_factor = p.is_some_and(|p| ends_operand(p) && !matches!(p, Tok::Num(_)));
                let beside_number = matches!(p, Some(Tok::Num(_))) || matches!(nx, Some(Tok::Num(_)));
                let name_pos = scripted || function || after_factor || beside_number;
                let readings = symbol_readings(n, &sub, (function, power_pos(k)), false);
                if name_pos {
                    out.push(Suspect {
                        span: t.span.clone(),
                        literal: false,
                        readings,
                        why: "a digit where a name is expected",
                    });
                } else if !readings.is_empty() {
                    out.push(Suspect { span: t.span.clone(), literal: true, readings, why: "a number" });
                }
            }
            Tok::Num(n) if n == "1" => {
                let pm = |t: Option<&Tok>| matches!(t, Some(Tok::Op('+' | '-')));
                if pm(prev(k)) || pm(next(k)) {
                    out.push(Suspect {
                        span: t.span.clone(),
                        literal: true,
                        readings: vec![Reading {
                            text: "\\mathbf{1}".into(),
                            repair: None,
                            note: Some("read `1` as the vector of ones (it is added to a vector)".into()),
                        }],
                        why: "a number",
                    });
                }
            }
            Tok::Sup(a) => {
                let a: String = a.chars().filter(|c| !c.is_whitespace()).collect();
                let from = text[t.span.clone()].to_string();
                let reading = |note| Reading {
                    text: "^{T}".into(),
                    repair: Some(Repair { from: from.clone(), to: "^T".into(), line }),
                    note,
                };
                if a == "\\dagger" {
                    out.push(Suspect {
                        span: t.span.clone(),
                        literal: false,
                        readings: vec![reading(None)],
                        why: "`\\dagger`",
                    });
                } else if a == "7" {
                    out.push(Suspect {
                        span: t.span.clone(),
                        literal: true,
                        readings: vec![reading(None)],
                        why: "a power",
                    });
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|s| s.span.start);
    out
}

/// Superscripts that already mean the transpose (read by the LaTeX reader) or a prime.
fn is_transpose_mark(a: &str) -> bool {
    let a: String = a.chars().filter(|c| !c.is_whitespace()).collect();
    matches!(
        a.as_str(),
        "T" | "\\top" | "\\mathsf{T}" | "\\intercal" | "\\mathrm{T}" | "\\dagger" | "7" | "\\prime" | "'" | "\\star"
    )
}

/// The loss symbol a derivative's numerator means through the table (`\mathcal{Z}_1` → `L1`),
/// with the token as written.
pub(crate) fn loss_reading(raw: &str) -> Option<(String, String)> {
    let t = raw.trim();
    for r in ["\\mathcal{I}", "\\mathcal{Z}", "\\mathcal I", "\\mathcal Z"] {
        if let Some(rest) = t.strip_prefix(r) {
            let rest = rest.trim();
            let sub = match rest.strip_prefix('_') {
                Some(s) => sub_suffix(s.trim().trim_start_matches('{').trim_end_matches('}'))?,
                None if rest.is_empty() => String::new(),
                None => return None,
            };
            let from = if r.contains('{') { r.to_string() } else { format!("\\mathcal{{{}}}", &r[9..]) };
            return Some((format!("L{sub}"), from));
        }
    }
    None
}

/// The symbols a variable token in a derivative's denominator may mean through the table
/// (`\omega_2` → `W2`, `w2`), with the token as written (`\omega`).
pub(crate) fn symbol_readings(raw: &str) -> Vec<(String, String, &'static str)> {
    let t = raw.trim();
    let (base, sub) = match t.find('_') {
        Some(k) => (t[..k].trim(), sub_suffix(t[k + 1..].trim().trim_start_matches('{').trim_end_matches('}'))),
        None => (t, Some(String::new())),
    };
    let Some(sub) = sub else { return vec![] };
    // A font around the symbol does not change it (`\boldsymbol{\omega}`).
    let base = FONTS
        .iter()
        .find_map(|f| base.strip_prefix('\\')?.strip_prefix(f)?.trim().strip_prefix('{')?.strip_suffix('}'))
        .map_or(base, str::trim);
    rows(base)
        .filter_map(|m| match m {
            Meant::Symbol(s) => Some((format!("{s}{sub}"), base.to_string(), s)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Resolve = Box<dyn Fn(&str) -> Option<String>>;

    fn lex_with(names: &'static [&'static str], sigmoid: bool) -> (Resolve, bool) {
        (Box::new(move |n: &str| names.contains(&n).then(|| n.to_string())), sigmoid)
    }

    fn scan(
        text: &str,
        names: &'static [&'static str],
        sigmoid: bool,
        sigma_var: bool,
    ) -> Vec<(String, bool, Vec<String>)> {
        let (resolve, sigmoid) = lex_with(names, sigmoid);
        let lex = Lexicon { resolve: &*resolve, sigmoid, sigma_var };
        suspects(text, 1, &lex)
            .into_iter()
            .map(|s| {
                (
                    text[s.span].to_string(),
                    s.literal,
                    s.readings.iter().map(|r| r.repair.as_ref().map_or(r.text.clone(), |r| r.to_string())).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn table_readings_in_context() {
        let mlp: &[&str] = &["W1", "W2", "x", "b1", "z1", "h1", "g"];
        let got = scan("z_{1} O 6\\left(z_{1}\\right)", mlp, true, false);
        assert_eq!(got[0], ("O".into(), false, vec!["O -> \\odot".into()]));
        assert_eq!(got[1], ("6".into(), false, vec!["6 -> \\sigma".into()]));
        // `2(…)`: 2 has no table entry; `6(…)` without a sigmoid in the problem is a number.
        assert!(scan("2\\left(x\\right)", mlp, true, false).is_empty());
        assert!(scan("6\\left(x\\right)", mlp, false, false).iter().all(|s| s.2.is_empty() && !s.1));
        // A defined δ₂ resolves; an undefined δ(…) is σ.
        let d: &[&str] = &["delta2", "z1"];
        assert!(scan("\\delta_{2} x", d, true, false).is_empty());
        assert_eq!(scan("\\delta\\left(z_{1}\\right)", d, true, false)[0].2, vec!["\\delta -> \\sigma".to_string()]);
        // o: σ before `(`, ⊙ between operands, both in `(1-y) o(…)`.
        let lr: &[&str] = &["w", "x", "b", "y"];
        assert_eq!(scan("1-o(w^T x)", lr, true, false)[1].2, vec!["o -> \\sigma".to_string()]);
        assert_eq!(scan("(1-y) o(w^T x)", lr, true, false)[1].2.len(), 2);
        // Digits in name positions: transposed, beside a number, after a factor, raised to a power.
        let gp: &[&str] = &["y", "K", "x"];
        let got = scan("K^{-1}\\left(7 7^{7}\\right) K^{-1} x", gp, false, false);
        let shown: Vec<(&str, bool)> = got.iter().map(|s| (s.0.as_str(), s.1)).collect();
        assert_eq!(shown, vec![("7", false), ("7", false), ("^{7}", true)]);
        let pp: &[&str] = &["U", "S", "sigma"];
        assert_eq!(scan("U U^T + 6^{2} I", pp, false, true)[0].2, vec!["6 -> \\sigma".to_string()]);
        // A number position keeps its literal reading first.
        assert_eq!(scan("(C-5) U", pp, false, true)[0], ("5".into(), true, vec!["5 -> S".into()]));
        // `\times` between operands is a product; at an operand's place it is x.
        let ae: &[&str] = &["W", "x"];
        assert!(scan("W \\times W", ae, false, false).is_empty());
        assert_eq!(scan("W \\times^{T}", ae, false, false)[0].2, vec!["\\times -> x".to_string()]);
        assert_eq!(scan("W \\times+b", ae, false, false)[0].2, vec!["\\times -> x".to_string()]);
        // Readable tokens are never suspects.
        assert!(scan("W x x^{T} + \\sigma", ae, false, false).is_empty());
        assert_eq!(scan("a |_{og}|K|", ae, false, false)[0].2, vec!["|_{og} -> \\log".to_string()]);
        // Inside a font command, the symbol is what counts.
        let got = scan("\\boldsymbol{\\omega} \\mathbf{x}^{\\dagger}", ae, false, false);
        assert_eq!(got[0], ("\\omega".into(), false, vec!["\\omega -> W".into()]));
        assert_eq!(got[1].0, "^{\\dagger}");
    }

    #[test]
    fn target_symbols() {
        assert_eq!(loss_reading("\\mathcal{Z}"), Some(("L".into(), "\\mathcal{Z}".into())));
        assert_eq!(loss_reading("\\mathcal{I}_{2}"), Some(("L2".into(), "\\mathcal{I}".into())));
        assert_eq!(loss_reading("\\mathcal{L}"), None);
        let w: Vec<String> = symbol_readings("\\omega_{2}").into_iter().map(|r| r.0).collect();
        assert_eq!(w, vec!["W2", "w2"]);
        assert!(symbol_readings("W_{1}").is_empty());
        assert_eq!(symbol_readings("\\boldsymbol{\\chi}")[0].0, "x");
    }
}
