//! `matdiff audit`: follow a derivation in a document step by step (exit 0 when every answer
//! is right, 1 otherwise, 2 on a user error).

use super::Failure;
use crate::input::{read_text, Source, MAX_DOCUMENT_BYTES, MAX_PROBLEM_BYTES};
use crate::Format;
use matdiff::audit::{parse_problem, Auditor};
use matdiff::render::{render, Sources};
use matdiff::report::{audit_json, audit_text};
use serde_json::json;
use std::path::Path;

/// Read and compile a problem file; errors are rendered (exit 2).
pub fn load_problem(path: &Path) -> Result<Auditor, Failure> {
    let shown = path.display();
    let src = read_text(Source::of(path), MAX_PROBLEM_BYTES)
        .map_err(|e| format!("error: cannot read the problem file: {e}\n"))?;
    let spec = parse_problem(&src).map_err(|e| format!("error: problem file {shown}: {e}\n"))?;
    // Compile each question's loss here first, so an error shows the loss it points into.
    for q in &spec.questions {
        if let Err(e) = matdiff::Problem::new(&q.loss, &q.decl) {
            let msg = render(&e, &Sources { expr: &q.loss, decl: &q.decl, claim: "" });
            return Err(format!("error: problem file {shown}, question `{}`:\n{msg}", q.id));
        }
    }
    Auditor::new(spec).map_err(|e| format!("error: problem file {shown}: {e}\n"))
}

/// A document's text (`-` is stdin), or why it cannot be audited. The read is bounded by
/// [`MAX_DOCUMENT_BYTES`] while it happens, so `/dev/zero` is refused at once.
pub fn read_document(path: &Path) -> Result<String, String> {
    let src = Source::of(path);
    let text = read_text(src, MAX_DOCUMENT_BYTES)?;
    if text.trim().is_empty() {
        return Err(format!("{} is empty", src.name()));
    }
    Ok(text)
}

pub fn audit(file: &Path, problem: &Path, format: Format) -> Result<u8, Failure> {
    if matches!(format, Format::Latex | Format::Markdown) {
        return Err("error: `audit` prints `--format text` or `--format json`\n".into());
    }
    let auditor = load_problem(problem)?;
    let doc = read_document(file).map_err(|why| format!("error: {why}\n"))?;
    let report = auditor.audit(&doc);
    match format {
        Format::Json => {
            let mut j = audit_json(&report);
            j["file"] = json!(file.display().to_string());
            j["problem"] = json!(problem.display().to_string());
            println!("{}", serde_json::to_string_pretty(&j).unwrap());
        }
        _ => print!("{}", audit_text(&report, &file.display().to_string(), auditor.spec().title.as_str())),
    }
    let all_right = report.questions.iter().all(|q| q.answer == matdiff::audit::Answer::Right);
    Ok(if all_right { 0 } else { 1 })
}
