//! Rendering errors as text: ariadne reports with the offending span underlined (no colour),
//! as the CLI prints them and the Python package's exceptions show them.

use ariadne::{Config, Label, Report, ReportKind, Source};
use matdiff_syntax::{Error, Input};

/// The texts the user gave, so an error can show the line it points into.
pub struct Sources<'a> {
    /// The expression.
    pub expr: &'a str,
    /// The declarations.
    pub decl: &'a str,
    /// The claim, if any.
    pub claim: &'a str,
}

/// Lines longer than this (in characters) are shown as a window around the span, so a
/// 100 000-character input does not produce a 100 000-character message.
const MAX_LINE: usize = 100;
/// How much of a long line to show before the start of the span.
const CONTEXT_BEFORE: usize = 30;

/// A rendered error message (ends with a newline).
pub fn render(err: &Error, src: &Sources) -> String {
    let (name, text) = match err.input {
        Input::Expr => ("expression", src.expr),
        Input::Decl => ("--decl", src.decl),
        Input::Claim => ("claim", src.claim),
        Input::Values | Input::None => ("", ""),
    };
    let Some(span) = err.span.filter(|_| !name.is_empty()) else {
        let mut out = format!("error: {}\n", err.message);
        for n in &err.notes {
            out.push_str(&format!("  = note: {n}\n"));
        }
        return out;
    };
    // ariadne counts chars, the core counts bytes.
    let to_char = |b: usize| text.get(..b.min(text.len())).map_or(0, |s| s.chars().count());
    let (start, end) = (to_char(span.start), to_char(span.end.max(span.start)));
    let shown = Window::new(text, start);
    let (start, end) = (shown.map(start), shown.map(end));
    let end = if end == start { start + 1 } else { end };
    let label = if err.label.is_empty() { "here".to_string() } else { err.label.clone() };
    let mut report = Report::build(ReportKind::Error, (name, start..end))
        .with_config(Config::default().with_color(false))
        .with_message(&err.message)
        .with_label(Label::new((name, start..end)).with_message(label));
    for n in &err.notes {
        report = report.with_note(n);
    }
    let mut buf = Vec::new();
    // Pad so a span at the very end (e.g. "unexpected end of input") has a character to point at.
    let padded = format!("{} ", shown.text);
    if report.finish().write((name, Source::from(padded)), &mut buf).is_err() {
        return format!("error: {}\n", err.message);
    }
    // Lower-case `error:` like the unspanned messages (ariadne's custom kinds ignore `with_color`).
    let out = String::from_utf8_lossy(&buf).replacen("Error:", "error:", 1);
    // The header's `line:column` was computed on the shortened text: put the real column back.
    match shown.columns {
        Some((shown_col, real_col)) => out.replacen(
            &format!("{name}:{}:{shown_col} ", shown.line + 1),
            &format!("{name}:{}:{real_col} ", shown.line + 1),
            1,
        ),
        None => out,
    }
}

/// The source as displayed: the line holding the span cut to a window around it, other long
/// lines cut at `MAX_LINE`, with `…` where text was left out; char offsets map into it.
struct Window {
    text: String,
    /// Per line: (first char in the original, first char in `text`, first kept column, kept length, `…` before).
    lines: Vec<(usize, usize, usize, usize, bool)>,
    /// The line holding the span's start.
    line: usize,
    /// (shown, real) 1-based column of the span start, when its line was shortened.
    columns: Option<(usize, usize)>,
}

impl Window {
    fn new(text: &str, start: usize) -> Window {
        let mut w = Window { text: String::new(), lines: vec![], line: 0, columns: None };
        let mut first = 0;
        for (i, line) in text.split('\n').enumerate() {
            let chars: Vec<char> = line.chars().collect();
            let len = chars.len();
            let holds_start = start >= first && start <= first + len;
            let from = if len <= MAX_LINE {
                0
            } else if holds_start {
                (start - first).saturating_sub(CONTEXT_BEFORE).min(len.saturating_sub(MAX_LINE))
            } else {
                0
            };
            let keep = (len - from).min(MAX_LINE);
            if i > 0 {
                w.text.push('\n');
            }
            let shown_first = w.text.chars().count();
            if from > 0 {
                w.text.push('…');
            }
            w.text.extend(&chars[from..from + keep]);
            if from + keep < len {
                w.text.push('…');
            }
            w.lines.push((first, shown_first, from, keep, from > 0));
            if holds_start && w.columns.is_none() {
                w.line = i;
                if len > MAX_LINE {
                    let col = start - first;
                    let shown = usize::from(from > 0) + col.clamp(from, from + keep) - from;
                    w.columns = Some((shown + 1, col + 1));
                }
            }
            first += len + 1;
        }
        w
    }

    /// Where original char offset `c` lands in the shown text (clamped into its line's window).
    fn map(&self, c: usize) -> usize {
        let Some(&(first, shown_first, from, keep, ellipsis)) = self.lines.iter().rev().find(|l| l.0 <= c) else {
            return c;
        };
        let col = c - first;
        shown_first + usize::from(ellipsis) + col.clamp(from, from + keep) - from
    }
}
