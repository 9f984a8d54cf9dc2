//! Reading a Markdown document's math: `$…$`, `$$…$$`, `\[…\]` and bare environments, split
//! into equations (`A = B = C`), with aligned rows (`&=`), lines broken after an operator,
//! and `= …` lines that continue the equation before them.

/// One equation of the document: its members, split at top-level `=`.
#[derive(Clone, Debug, PartialEq)]
pub struct Equation {
    /// 1-based line where the equation starts.
    pub line: usize,
    /// The members, cleaned of labels, arrows and end marks: `["\nabla_W L", "W x x^T"]`.
    pub members: Vec<String>,
    /// The line each member starts on (continuation rows have their own).
    pub member_lines: Vec<usize>,
    /// The equation as written (joined rows), for reports.
    pub text: String,
}

/// A piece of math and where it starts.
struct Segment<'a> {
    start: usize,
    text: &'a str,
}

/// Environments whose `\\` and `&` separate rows of equations (others, like `bmatrix`, are
/// kept whole).
const ALIGN_ENVS: &[&str] = &[
    "aligned",
    "align",
    "align*",
    "alignat",
    "alignat*",
    "split",
    "gathered",
    "gather",
    "gather*",
    "eqnarray",
    "eqnarray*",
    "equation",
    "equation*",
    "multline",
    "multline*",
    "flalign",
    "flalign*",
];

fn line_of(doc: &str, at: usize) -> usize {
    doc[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Math segments in document order.
fn segments(doc: &str) -> Vec<Segment<'_>> {
    let b = doc.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let rest = &doc[i..];
        if b[i] == b'\\' && rest.starts_with("\\$") {
            i += 2;
        } else if rest.starts_with("$$") {
            match doc[i + 2..].find("$$") {
                Some(k) => {
                    out.push(Segment { start: i + 2, text: &doc[i + 2..i + 2 + k] });
                    i += k + 4;
                }
                None => {
                    out.push(Segment { start: i + 2, text: &doc[i + 2..] });
                    i = b.len();
                }
            }
        } else if rest.starts_with("\\[") {
            match doc[i + 2..].find("\\]") {
                Some(k) => {
                    out.push(Segment { start: i + 2, text: &doc[i + 2..i + 2 + k] });
                    i += k + 4;
                }
                None => i += 2,
            }
        } else if rest.starts_with("\\begin{") && ALIGN_ENVS.iter().any(|e| rest[7..].starts_with(&format!("{e}}}"))) {
            let name = &rest[7..7 + rest[7..].find('}').unwrap_or(0)];
            let end = format!("\\end{{{name}}}");
            let k = rest.find(&end).map_or(rest.len(), |k| k + end.len());
            out.push(Segment { start: i, text: &doc[i..i + k] });
            i += k.max(1);
        } else if b[i] == b'$' {
            // Inline math ends at the next `$` in the same paragraph.
            let tail = &doc[i + 1..];
            let stop = tail.find("\n\n").unwrap_or(tail.len());
            match tail[..stop].find('$') {
                Some(k) => {
                    out.push(Segment { start: i + 1, text: &tail[..k] });
                    i += k + 2;
                }
                None => i += 1,
            }
        } else {
            i += rest.chars().next().map_or(1, |c| c.len_utf8());
        }
    }
    out
}

/// Split a segment into rows at top-level `\\` (outside braces and non-alignment
/// environments), dropping alignment `&` and the alignment environments' markers.
fn rows(text: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    let mut cur = String::new();
    // Where the row's first visible character is in `text` (not an alignment marker).
    let mut cur_start: Option<usize> = None;
    let mut depth = 0i32;
    let mut envs: Vec<bool> = vec![]; // true: an alignment environment
    let mut i = 0;
    let b = text.as_bytes();
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("\\begin{") || rest.starts_with("\\end{") {
            let open = rest.starts_with("\\begin{");
            let skip = if open { 7 } else { 5 };
            let close = rest[skip..].find('}').map_or(rest.len(), |k| skip + k + 1);
            let name = rest.get(skip..close.saturating_sub(1)).unwrap_or("");
            let align = ALIGN_ENVS.contains(&name);
            if open {
                envs.push(align);
            } else {
                envs.pop();
            }
            if !align {
                cur_start.get_or_insert(i);
                cur.push_str(&rest[..close]);
            } else {
                cur.push(' ');
            }
            i += close;
            continue;
        }
        let top = depth == 0 && envs.iter().all(|&a| a);
        if rest.starts_with("\\\\") {
            if top {
                out.push((cur_start.take().unwrap_or(i), std::mem::take(&mut cur)));
                i += 2;
                // An optional spacing argument: `\\[2pt]`.
                if text[i..].starts_with('[') {
                    if let Some(k) = text[i..].find(']') {
                        i += k + 1;
                    }
                }
            } else {
                cur.push_str("\\\\");
                i += 2;
            }
            continue;
        }
        if let Some(after) = rest.strip_prefix('\\') {
            // A command: copy it whole so `\{` and `\&` do not count as delimiters.
            let n = after.chars().next().map_or(0, |c| c.len_utf8());
            let letters = after.bytes().take_while(|c| c.is_ascii_alphabetic()).count();
            let len = 1 + if letters > 0 { letters } else { n };
            cur_start.get_or_insert(i);
            cur.push_str(&rest[..len]);
            i += len;
            continue;
        }
        let c = rest.chars().next().unwrap();
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == '&' && top {
            cur.push(' ');
        } else {
            if !c.is_whitespace() {
                cur_start.get_or_insert(i);
            }
            cur.push(c);
        }
        i += c.len_utf8();
    }
    out.push((cur_start.unwrap_or(0), cur));
    out
}

/// Leading words that are not part of the mathematics: arrows, `\quad`, item labels.
const LEADING: &[&str] = &[
    "\\Longrightarrow",
    "\\longrightarrow",
    "\\Rightarrow",
    "\\rightarrow",
    "\\implies",
    "\\therefore",
    "\\to",
    "\\quad",
    "\\qquad",
    "\\,",
    "\\;",
    "\\!",
    "\\:",
    "\\displaystyle",
    "\\text{Then}",
    "\\text{then}",
];

/// Strip labels (`b)`, `(c)`, `1.`), arrows and end marks (`//`, `(*)`, trailing `.`).
pub fn clean(s: &str) -> String {
    let mut s = s.trim();
    loop {
        let before = s;
        for w in LEADING {
            if let Some(r) = s.strip_prefix(w) {
                if !r.starts_with(|c: char| c.is_ascii_alphabetic()) || !w.ends_with(|c: char| c.is_ascii_alphabetic())
                {
                    s = r.trim_start();
                }
            }
        }
        s = strip_label(s);
        s = strip_text_words(s);
        if s == before {
            break;
        }
    }
    loop {
        let before = s;
        for end in ["//", "/ /", "(*)", "\\quad", "\\qquad", "\\\\", "\\,", "\\;", "\\!"] {
            if let Some(r) = s.strip_suffix(end) {
                s = r.trim_end();
            }
        }
        s = s.trim_end_matches(['.', ',', ';', ' ']);
        if s == before {
            break;
        }
    }
    s.to_string()
}

/// A leading `\text{…}` of prose or a label (`\text{Let }`, `\text { d) }`) before mathematics.
fn strip_text_words(s: &str) -> &str {
    for w in ["\\text", "\\textrm", "\\mbox", "\\textit"] {
        let Some(r) = s.strip_prefix(w) else { continue };
        let r = r.trim_start();
        if !r.starts_with('{') {
            continue;
        }
        let Some(k) = r.find('}') else { continue };
        let inner = r[1..k].trim();
        let rest = r[k + 1..].trim_start();
        let words = inner.split_whitespace().all(|w| w.len() >= 2 || w.ends_with([')', '.']));
        let label = strip_label(&format!("{inner} ")).trim().is_empty();
        let function = TEXT_FUNCTIONS.contains(&inner.to_ascii_lowercase().as_str());
        if !inner.is_empty() && !rest.is_empty() && !function && (label || words) {
            return rest;
        }
    }
    s
}

/// `b)`, `(c)`, `(H)`, `(H x D)`, `1.`, `a.)` at the start, followed by a space.
fn strip_label(s: &str) -> &str {
    let b = s.as_bytes();
    let paren = b.first() == Some(&b'(');
    let start = usize::from(paren);
    let mut k = start;
    while k < b.len() && k - start < 8 && (b[k].is_ascii_alphanumeric() || (paren && b[k] == b' ')) {
        k += 1;
    }
    let word = &s[start..k];
    if word.is_empty() || word.trim().is_empty() {
        return s;
    }
    let short = word.len() <= 2 || (paren && word.chars().all(|c| c.is_ascii_uppercase() || c == ' ' || c == 'x'));
    let mut end = k;
    if paren {
        if b.get(k) != Some(&b')') {
            return s;
        }
        end += 1;
    } else if b.get(k) == Some(&b')') || (b.get(k) == Some(&b'.') && b.get(k + 1) == Some(&b')')) {
        end += if b[k] == b')' { 1 } else { 2 };
    } else if b.get(k) == Some(&b'.')
        && word.len() <= 2
        && word.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    {
        end += 1;
    } else {
        return s;
    }
    // A label is followed by a space (or the end); `(W)x` is mathematics.
    if !short || !(end == b.len() || b[end] == b' ') {
        return s;
    }
    s[end..].trim_start()
}

/// Split at top-level occurrences of `sep` (outside braces, parentheses and brackets), with
/// each part's byte offset in `s`.
fn split_top_at(s: &str, sep: char) -> Vec<(usize, String)> {
    let mut start = 0;
    let mut parts = vec![];
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut chars = s.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                // Commands are copied whole; `\{`, `\}` are not delimiters.
                if let Some(&(_, n)) = chars.peek() {
                    if !n.is_ascii_alphabetic() {
                        cur.push(n);
                        chars.next();
                    }
                }
                continue;
            }
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            _ => {}
        }
        if c == sep && depth == 0 {
            parts.push((start, std::mem::take(&mut cur)));
            start = at + c.len_utf8();
        } else {
            cur.push(c);
        }
    }
    parts.push((start, cur));
    parts
}

/// Whether a row ends with an operator that wants a right operand (so the next row continues it).
fn ends_open(s: &str) -> bool {
    let t = s.trim_end();
    t.ends_with(['+', '-', '(', '='])
        || t.ends_with("\\cdot")
        || t.ends_with("\\times")
        || t.ends_with("\\left(")
        || t.ends_with("\\left[")
}

/// Cut `\in \mathbb{R}^{n}` and similar trailing set statements off a member.
fn cut_membership(s: &str) -> &str {
    for w in ["\\in ", "\\in\\", "\\in{", "\\quad\\text", "\\text{ for", "\\text{where", "\\text{ where"] {
        if let Some(k) = s.find(w) {
            return s[..k].trim_end();
        }
    }
    s
}

/// All equations of a document, in order.
pub fn equations(doc: &str) -> Vec<Equation> {
    // Rows as (line, text, first row of its segment).
    let mut all_rows: Vec<(usize, String, bool)> = vec![];
    for seg in segments(doc) {
        for (k, (off, row)) in rows(seg.text).into_iter().enumerate() {
            // The row's line is where its first character is (not the `$$` line before it).
            let row = clean(&row);
            if !row.is_empty() {
                all_rows.push((line_of(doc, seg.start + off.min(seg.text.len())), row, k == 0));
            }
        }
    }
    // `:=`, `\coloneqq`, `\triangleq` define as `=` does.
    for r in &mut all_rows {
        for d in [":=", "\\coloneqq", "\\triangleq", "\\equiv", "\\stackrel{\\text{def}}{=}"] {
            if r.1.contains(d) {
                r.1 = r.1.replace(d, "=");
            }
        }
    }
    // Join rows into logical equations, remembering where each row starts (offset, line).
    let mut logical: Vec<(String, Vec<(usize, usize)>)> = vec![];
    let mut open_prev = false;
    for (line, row, first_in_segment) in all_rows {
        let continues = row.starts_with('=');
        // A row left open by a trailing operator continues on the next one, even in the next
        // display (a formula broken across displays or a page break).
        let joins = open_prev || (!first_in_segment && (row.starts_with(['+', '-']) || row.starts_with("\\cdot")));
        match logical.last_mut() {
            Some(last) if continues || joins => {
                last.0.push(' ');
                last.1.push((last.0.len(), line));
                last.0.push_str(&row);
            }
            _ => logical.push((row.clone(), vec![(0, line)])),
        }
        open_prev = ends_open(&row);
    }
    let mut out = vec![];
    for (text, starts) in logical {
        let line_at = |off: usize| starts.iter().rev().find(|(o, _)| *o <= off).map_or(starts[0].1, |s| s.1);
        // `a = b, c = d`, `K^T = K \Rightarrow \nabla L = …`: several equations on one line.
        let mut parts: Vec<(usize, String)> = vec![];
        for (at, piece) in split_statements(&text) {
            let pieces = split_top_at(&piece, ',');
            let with_eq = pieces.iter().filter(|p| p.1.contains('=')).count();
            if with_eq >= 2 {
                parts.extend(pieces.into_iter().filter(|p| p.1.contains('=')).map(|(k, p)| (at + k, p)));
            } else {
                parts.push((at, piece));
            }
        }
        for (base, part) in parts {
            let split = split_top_at(&part, '=');
            let members: Vec<String> = split.iter().map(|m| clean(cut_membership(m.1.trim()))).collect();
            // A member's line is where its first non-blank character is.
            let member_lines: Vec<usize> =
                split.iter().map(|m| line_at(base + m.0 + (m.1.len() - m.1.trim_start().len()))).collect();
            if members.len() >= 2 {
                out.push(Equation { line: member_lines[0], members, member_lines, text: part.trim().to_string() });
            }
        }
    }
    out
}

/// Words that separate two statements on one line: arrows, and wide spaces between equations.
const STATEMENT_SEPARATORS: &[&str] = &[
    "\\Longrightarrow",
    "\\longrightarrow",
    "\\Rightarrow",
    "\\rightarrow",
    "\\implies",
    "\\therefore",
    "\\qquad",
    "\\quad",
];

/// Split a logical row at top-level arrows and wide spaces when the pieces on both sides are
/// equations (`K^{T}=K \quad \Rightarrow \quad \frac{\partial L}{\partial x}=…`), with each
/// piece's byte offset.
fn split_statements(text: &str) -> Vec<(usize, String)> {
    let b = text.as_bytes();
    let mut cuts: Vec<(usize, usize)> = vec![];
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth -= 1,
            b'\\' => {
                let rest = &text[i..];
                if let Some(w) = STATEMENT_SEPARATORS
                    .iter()
                    .find(|w| rest.starts_with(**w) && !rest[w.len()..].starts_with(|c: char| c.is_ascii_alphabetic()))
                {
                    if depth == 0 {
                        cuts.push((i, i + w.len()));
                    }
                    i += w.len();
                    continue;
                }
                i += 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut pieces: Vec<(usize, String)> = vec![];
    let mut at = 0;
    for (s, e) in cuts.into_iter().chain(std::iter::once((text.len(), text.len()))) {
        pieces.push((at, text[at..s].to_string()));
        at = e;
    }
    // Keep a cut only between two equations: merge a piece without `=` into its neighbour.
    let mut out: Vec<(usize, String)> = vec![];
    for (at, p) in pieces {
        match out.last_mut() {
            Some(last) if !p.contains('=') || !last.1.contains('=') => {
                let gap = &text[last.0 + last.1.len()..at];
                last.1.push_str(gap);
                last.1.push_str(&p);
            }
            _ => out.push((at, p)),
        }
    }
    // Trim, keeping offsets right.
    out.into_iter()
        .map(|(at, p)| {
            let lead = p.len() - p.trim_start().len();
            (at + lead, p.trim().to_string())
        })
        .filter(|(_, p)| !p.is_empty())
        .collect()
}

/// Equations written in plain text, outside math: `Let d = Wx, b = W^T d - x`, `sw'(z) = S(z) +
/// Sw(z)(1 - S(z))`. Only their definitions are used (a name or `f(z)` on the left); prose
/// around them is cut off, and a clause with prose words in its formula is dropped.
pub(crate) fn text_equations(doc: &str) -> Vec<Equation> {
    // The text with math blanked out (so positions and lines stay).
    let mut masked: Vec<u8> = doc.as_bytes().to_vec();
    for seg in segments(doc) {
        let start = seg.start.saturating_sub(2);
        let end = (seg.start + seg.text.len() + 2).min(masked.len());
        for b in &mut masked[start..end] {
            if *b != b'\n' {
                *b = b'\x01';
            }
        }
    }
    let masked = String::from_utf8_lossy(&masked).into_owned();
    let mut out = vec![];
    let mut offset = 0;
    for (k, line) in masked.split('\n').enumerate() {
        let base = offset;
        offset += line.len() + 1;
        if !line.contains('=') {
            continue;
        }
        // Clauses: split at sentence ends, semicolons, colons, masked math and top-level commas.
        let mut clauses: Vec<(usize, String)> = vec![];
        let mut cur = String::new();
        let mut start = 0;
        let mut depth = 0i32;
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for (n, &(i, c)) in chars.iter().enumerate() {
            let next = chars.get(n + 1).map(|x| x.1);
            let cut = match c {
                '(' | '[' => {
                    depth += 1;
                    false
                }
                ')' | ']' => {
                    depth -= 1;
                    false
                }
                ',' | ';' | ':' | '\x01' => depth <= 0,
                '.' => depth <= 0 && next.is_none_or(char::is_whitespace),
                _ => false,
            };
            if cut {
                clauses.push((start, std::mem::take(&mut cur)));
                start = i + c.len_utf8();
            } else {
                cur.push(c);
            }
        }
        clauses.push((start, cur));
        for (at, clause) in clauses {
            if let Some(eq) = text_clause(&clause) {
                let _ = base;
                let _ = at;
                out.push(Equation {
                    line: k + 1,
                    member_lines: vec![k + 1; eq.len()],
                    text: eq.join(" = "),
                    members: eq,
                });
            }
        }
    }
    out
}

/// Function words a formula in text may use; any other word of three letters or more is prose.
const TEXT_FUNCTIONS: &[&str] =
    &["swish", "sigmoid", "softmax", "log", "exp", "tanh", "relu", "diag", "tr", "det", "sum", "sqrt", "norm"];

/// A clause of text read as `NAME = a = b`: the last word before the first `=` (a name, or
/// `f(z)` / `f'(z)`), then the formulas.
fn text_clause(clause: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = clause.split('=').collect();
    if parts.len() < 2 {
        return None;
    }
    let lhs = parts[0].trim_end().rsplit(char::is_whitespace).next()?.trim();
    if lhs.is_empty() {
        return None;
    }
    let mut members = vec![lhs.to_string()];
    for p in &parts[1..] {
        let p = p.trim().trim_end_matches('.').trim();
        // The formula ends where prose begins (a word of three letters or more that is not a
        // function): `W^T d - x (the reconstruction error)` is `W^T d - x`.
        let mut end = p.len();
        let mut word: Option<usize> = None;
        for (i, c) in p.char_indices().chain(std::iter::once((p.len(), ' '))) {
            match (c.is_ascii_alphabetic(), word) {
                (true, None) => word = Some(i),
                (false, Some(w)) => {
                    // A word after a backslash is a LaTeX command (`\sigma`), not prose.
                    let command = p[..w].ends_with('\\');
                    let prose =
                        i - w >= 3 && !command && !TEXT_FUNCTIONS.contains(&p[w..i].to_ascii_lowercase().as_str());
                    if prose {
                        end = w;
                        break;
                    }
                    word = None;
                }
                _ => {}
            }
        }
        let cut = end < p.len();
        let f = p[..end].trim_end().trim_end_matches(['(', '[', ',', ';']).trim_end();
        let balanced = f.matches('(').count() == f.matches(')').count();
        if f.is_empty() || !balanced || f.contains('\x01') {
            break;
        }
        members.push(f.to_string());
        if cut {
            break;
        }
    }
    (members.len() >= 2).then_some(members)
}

/// `Sw(z)`, `sw'(z)`, `S w^{\prime}(z)`, `\operatorname{Sw}(z)` on the left of an equation: the
/// abbreviation's name (primes kept as `'`) and its parameter.
pub(crate) fn abbreviation_lhs(member: &str) -> Option<(String, String)> {
    let mut m: String = member.chars().filter(|c| !c.is_whitespace()).collect();
    for (from, to) in [("^{\\prime}", "'"), ("^\\prime", "'"), ("\\left(", "("), ("\\right)", ")")] {
        m = m.replace(from, to);
    }
    for w in ["\\operatorname{", "\\mathrm{", "\\text{"] {
        if let Some(r) = m.strip_prefix(w) {
            let k = r.find('}')?;
            m = format!("{}{}", &r[..k], &r[k + 1..]);
        }
    }
    let open = m.find('(')?;
    let (head, rest) = m.split_at(open);
    let param = rest.strip_prefix('(')?.strip_suffix(')')?;
    let name = head.trim_end_matches('\'');
    let ok = (1..=6).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphabetic())
        && param.len() == 1
        && param.chars().all(|c| c.is_ascii_alphabetic())
        && !TEXT_FUNCTIONS.contains(&name.to_ascii_lowercase().as_str())
        && !matches!(name, "sigma" | "tanh" | "relu" | "sin" | "cos");
    ok.then(|| (head.to_string(), param.to_string()))
}

/// Whether the document has any math at all (for "no equations" rows in grading).
pub fn has_math(doc: &str) -> bool {
    !segments(doc).is_empty()
}
