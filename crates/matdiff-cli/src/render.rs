//! Rendering core errors for a terminal: ariadne reports with the offending span underlined.

use ariadne::{Config, Label, Report, ReportKind, Source};
use matdiff::{Error, Input};

/// The texts the user gave, so an error can show the line it points into.
pub struct Sources<'a> {
    pub expr: &'a str,
    pub decl: &'a str,
    pub claim: &'a str,
}

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
    let to_char = |b: usize| text[..b.min(text.len())].chars().count();
    let (start, end) = (to_char(span.start), to_char(span.end.max(span.start)));
    let end = if end == start { start + 1 } else { end };
    let label = if err.label.is_empty() { err.message.clone() } else { err.label.clone() };
    let mut report = Report::build(ReportKind::Error, (name, start..end))
        .with_config(Config::default().with_color(false))
        .with_message(&err.message)
        .with_label(Label::new((name, start..end)).with_message(label));
    for n in &err.notes {
        report = report.with_note(n);
    }
    let mut buf = Vec::new();
    // Pad so a span at the very end (e.g. "unexpected end of input") has a character to point at.
    let padded = format!("{text} ");
    if report.finish().write((name, Source::from(padded)), &mut buf).is_err() {
        return format!("error: {}\n", err.message);
    }
    String::from_utf8_lossy(&buf).into_owned()
}
