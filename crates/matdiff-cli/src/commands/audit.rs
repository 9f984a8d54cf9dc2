//! `matdiff audit`: follow a derivation in a document step by step (exit 0 when every answer
//! is right, 1 otherwise, 2 on a user error).

use super::check::{counterexample_json, counterexample_text, diagnosis_json};
use super::Failure;
use crate::render::{render, Sources};
use crate::Format;
use matdiff::audit::{parse_problem, AuditReport, Auditor, DefSource, QuestionReport, Step, StepReading};
use serde_json::{json, Value as Json};
use std::path::Path;

/// Documents larger than this are refused (a derivation is a few pages).
pub const MAX_DOCUMENT_BYTES: usize = 2_000_000;

/// Read and compile a problem file; errors are rendered (exit 2).
pub fn load_problem(path: &Path) -> Result<Auditor, Failure> {
    let shown = path.display();
    let src =
        std::fs::read_to_string(path).map_err(|e| format!("error: cannot read the problem file {shown}: {e}\n"))?;
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

/// A document's text, or why it cannot be audited.
pub fn read_document(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("too large ({} bytes; the limit is {MAX_DOCUMENT_BYTES})", bytes.len()));
    }
    if bytes.contains(&0) {
        return Err("binary data, not a text document".into());
    }
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    if text.trim().is_empty() {
        return Err("empty".into());
    }
    Ok(text)
}

pub fn audit(file: &Path, problem: &Path, format: Format) -> Result<u8, Failure> {
    if matches!(format, Format::Latex | Format::Markdown) {
        return Err("error: `audit` prints `--format text` or `--format json`\n".into());
    }
    let auditor = load_problem(problem)?;
    let doc = read_document(file).map_err(|why| format!("error: {}: {why}\n", file.display()))?;
    let report = auditor.audit(&doc);
    match format {
        Format::Json => {
            let mut j = report_json(&report);
            j["file"] = json!(file.display().to_string());
            j["problem"] = json!(problem.display().to_string());
            println!("{}", serde_json::to_string_pretty(&j).unwrap());
        }
        _ => print!("{}", report_text(&report, &file.display().to_string(), auditor.spec().title.as_str())),
    }
    let all_right = report.questions.iter().all(|q| q.answer == matdiff::audit::Answer::Right);
    Ok(if all_right { 0 } else { 1 })
}

fn source_text(s: &DefSource) -> String {
    match s {
        DefSource::ProblemFile => "problem file".into(),
        DefSource::Document { line, text } => format!("line {line}: {text}"),
    }
}

fn step_json(s: &Step) -> Json {
    let mut o = json!({"line": s.line, "text": s.text, "starts_equation": s.starts_equation});
    match &s.reading {
        StepReading::Read { read_as, vs_previous, verdict, notes, definitions } => {
            o["status"] = json!("read");
            o["read_as"] = json!(read_as);
            o["vs_previous"] = match vs_previous {
                Some(true) => json!("equal"),
                Some(false) => json!("not_equal"),
                None => Json::Null,
            };
            o["verdict"] = json!(if verdict.right { "right" } else { "wrong" });
            o["method"] = json!(verdict.method.name());
            o["claim_read_as"] = json!(verdict.claim_read_as);
            o["diagnosis"] = json!(verdict.diagnoses.iter().map(diagnosis_json).collect::<Vec<_>>());
            o["counterexample"] = verdict.counterexample.as_ref().map_or(Json::Null, counterexample_json);
            o["notes"] = json!(notes);
            o["definitions"] = json!(definitions);
        }
        StepReading::Unreadable { reason } => {
            o["status"] = json!("unreadable");
            o["reason"] = json!(reason);
        }
    }
    o
}

pub fn question_json(q: &QuestionReport) -> Json {
    json!({
        "id": q.id,
        "title": q.title,
        "wrt": q.wrt,
        "loss": q.loss,
        "gradient": q.gradient,
        "answer": q.answer.name(),
        "final_step": q.final_step,
        "first_wrong_step": q.first_wrong,
        "final_line": q.final_step.map(|i| q.steps[i].line),
        "first_wrong_line": q.first_wrong.map(|i| q.steps[i].line),
        "steps": q.steps.iter().map(step_json).collect::<Vec<_>>(),
        "definitions": q.definitions.iter().map(|d| json!({"name": d.name, "value": d.value, "source": source_text(&d.source)})).collect::<Vec<_>>(),
    })
}

pub fn report_json(r: &AuditReport) -> Json {
    json!({
        "equations": r.equations,
        "questions": r.questions.iter().map(question_json).collect::<Vec<_>>(),
    })
}

/// At most `n` characters of a member, on one line.
fn clip(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n - 1).collect::<String>())
    } else {
        one
    }
}

pub fn report_text(r: &AuditReport, file: &str, title: &str) -> String {
    let mut out = format!(
        "audit of {file}{}: {} equations found\n",
        if title.is_empty() { String::new() } else { format!(" ({title})") },
        r.equations
    );
    for q in &r.questions {
        out.push_str(&format!(
            "\nquestion {}{}\n",
            q.id,
            if q.title.is_empty() { String::new() } else { format!(": {}", q.title) }
        ));
        out.push_str(&format!("  loss:     {}\n  gradient: {}   (w.r.t. {})\n", q.loss, q.gradient, q.wrt));
        if q.steps.is_empty() {
            out.push_str("  the document never states this gradient\n");
        }
        for (i, s) in q.steps.iter().enumerate() {
            let lead = if s.starts_equation { "  " } else { "= " };
            out.push_str(&format!("  line {:<4} {lead}{}\n", s.line, clip(&s.text, 72)));
            match &s.reading {
                StepReading::Unreadable { reason } => out.push_str(&format!("             unreadable: {reason}\n")),
                StepReading::Read { read_as, vs_previous, verdict, notes, definitions } => {
                    let prev = match vs_previous {
                        Some(true) => "equal to the previous step; ",
                        Some(false) => "NOT equal to the previous step; ",
                        None => "",
                    };
                    let mark = if Some(i) == q.first_wrong { "   <- first wrong step" } else { "" };
                    out.push_str(&format!(
                        "             {prev}{}{mark}\n",
                        if verdict.right { "right" } else { "wrong" }
                    ));
                    out.push_str(&format!("             read as {read_as}\n"));
                    if !definitions.is_empty() {
                        out.push_str(&format!("             using the definitions of {}\n", definitions.join(", ")));
                    }
                    for n in notes {
                        out.push_str(&format!("             note: {n}\n"));
                    }
                    if !verdict.right {
                        for d in &verdict.diagnoses {
                            out.push_str(&format!("             diagnosis: {}\n", d.message()));
                        }
                        if Some(i) == q.first_wrong || Some(i) == q.final_step {
                            if let Some(cx) = &verdict.counterexample {
                                out.push_str(&counterexample_text(cx, "             "));
                            }
                        }
                    }
                }
            }
        }
        if !q.definitions.is_empty() {
            out.push_str("  definitions used:\n");
            for d in &q.definitions {
                out.push_str(&format!("    {} = {}   ({})\n", d.name, d.value, source_text(&d.source)));
            }
        }
        let fin = match q.final_step {
            Some(i) => format!("final answer (line {}): {}", q.steps[i].line, q.answer.name()),
            None => format!("final answer: {}", q.answer.name()),
        };
        out.push_str(&format!("  {fin}\n"));
    }
    out
}
