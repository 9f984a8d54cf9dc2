//! `matdiff grade`: audit many submissions in parallel (rayon), a progress bar on a terminal,
//! one row per file and a summary. A file that cannot be audited is a row, never an abort.

use super::audit::{load_problem, read_document};
use super::Failure;
use crate::TableFormat;
use indicatif::{ProgressBar, ProgressStyle};
use matdiff::audit::{has_math, Answer, AuditReport, Auditor};
use matdiff::report::{question_json, repairs_strings};
use rayon::prelude::*;
use serde_json::{json, Map, Value as Json};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The outcome for one submission.
enum Outcome {
    Audited(AuditReport),
    /// Could not be audited: binary, empty, no equations, unreadable, or an internal error.
    Skipped {
        status: &'static str,
        reason: String,
    },
}

struct Row {
    file: String,
    outcome: Outcome,
}

/// Files named directly, and every file under the directories named (sorted, hidden skipped).
fn collect(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = vec![];
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            let mut found = vec![];
            while let Some(d) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&d) else {
                    found.push(d);
                    continue;
                };
                for e in entries.flatten() {
                    let path = e.path();
                    if e.file_name().to_string_lossy().starts_with('.') {
                        continue;
                    }
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        found.push(path);
                    }
                }
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into())
}

fn grade_one(auditor: &Auditor, path: &Path) -> Outcome {
    // Submissions are regular files: a FIFO would block and a device never end.
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() {
            let reason = "not a regular file (a device, FIFO or socket)".to_string();
            return Outcome::Skipped { status: "unreadable", reason };
        }
    }
    let doc = match read_document(path) {
        Ok(d) => d,
        Err(reason) => return Outcome::Skipped { status: "unreadable", reason },
    };
    if !has_math(&doc) {
        return Outcome::Skipped { status: "no_equations", reason: "no math ($…$, $$…$$) in the document".into() };
    }
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| auditor.audit(&doc)));
    match run {
        Ok(r) if r.equations == 0 => {
            Outcome::Skipped { status: "no_equations", reason: "math, but no equations (`a = b`)".into() }
        }
        Ok(r) => Outcome::Audited(r),
        Err(p) => Outcome::Skipped { status: "error", reason: format!("internal error: {}", panic_text(p.as_ref())) },
    }
}

pub fn grade(problem: &Path, paths: &[PathBuf], jobs: Option<usize>, format: TableFormat) -> Result<u8, Failure> {
    let auditor = load_problem(problem)?;
    let files = collect(paths);
    if files.is_empty() {
        return Err("error: no files to grade\n".into());
    }
    let threads = threads_for(jobs, files.len());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("error: cannot start {threads} threads: {e}\n"))?;
    let show = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    let bar = if show { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} files, {elapsed} ({eta} left)") {
        bar.set_style(style);
    }
    // Panics become rows; keep their default report off the terminal while grading.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let rows: Vec<Row> = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let outcome = grade_one(&auditor, f);
                bar.inc(1);
                Row { file: f.display().to_string(), outcome }
            })
            .collect()
    });
    std::panic::set_hook(hook);
    bar.finish_and_clear();
    let ids: Vec<String> = auditor.spec().questions.iter().map(|q| q.id.clone()).collect();
    match format {
        TableFormat::Csv => {
            print!("{}", csv(&rows, &ids));
            eprint!("{}", summary_text(&rows, &ids));
        }
        TableFormat::Json => {
            let out = json!({
                "problem": problem.display().to_string(),
                "files": rows.iter().map(row_json).collect::<Vec<_>>(),
                "summary": summary_json(&rows, &ids),
            });
            println!("{}", serde_json::to_string_pretty(&out).unwrap());
        }
    }
    // Every row is printed; but a grading run that audited nothing is a failure, not a pass.
    if rows.iter().all(|r| matches!(r.outcome, Outcome::Skipped { .. })) {
        eprintln!("error: none of the {} files could be audited (see the status and note of each row)", rows.len());
        return Ok(2);
    }
    Ok(0)
}

/// Files audited at once for `--jobs`: 0 or absent is one per core; more than
/// [`JOBS_PER_CORE`] per core is capped (each job is a thread, and audits are CPU-bound, so more
/// only adds contention), and so is more than there are files; the cap is said on stderr.
fn threads_for(jobs: Option<usize>, files: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let asked = jobs.filter(|&j| j > 0).unwrap_or(cores);
    let cap = cores * JOBS_PER_CORE;
    if asked > cap {
        eprintln!("note: --jobs {asked} is capped at {cap} ({JOBS_PER_CORE} per core, {cores} cores)");
    }
    asked.min(cap).min(files.max(1))
}

/// At most this many `--jobs` per core.
const JOBS_PER_CORE: usize = 4;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(rows: &[Row], ids: &[String]) -> String {
    let mut head = vec!["file".to_string(), "status".into()];
    for id in ids {
        head.extend([
            id.clone(),
            format!("{id}_final_line"),
            format!("{id}_first_wrong_line"),
            format!("{id}_repairs"),
        ]);
    }
    head.push("note".into());
    let mut out = head.join(",") + "\n";
    for r in rows {
        let mut f = vec![csv_field(&r.file)];
        match &r.outcome {
            Outcome::Audited(rep) => {
                f.push("audited".into());
                for q in &rep.questions {
                    let line = |i: Option<usize>| i.map_or(String::new(), |i| q.steps[i].line.to_string());
                    // The OCR repairs the final answer rests on, `FROM -> TO; …`.
                    let repairs = csv_field(&repairs_strings(&q.repairs).join("; "));
                    f.extend([q.answer.name().to_string(), line(q.final_step), line(q.first_wrong), repairs]);
                }
                let unread: usize =
                    rep.questions.iter().map(|q| q.steps.iter().filter(|s| s.is_right().is_none()).count()).sum();
                f.push(if unread > 0 { format!("{unread} unreadable steps") } else { String::new() });
            }
            Outcome::Skipped { status, reason } => {
                f.push(status.to_string());
                for _ in ids {
                    f.extend([String::new(), String::new(), String::new(), String::new()]);
                }
                f.push(csv_field(reason));
            }
        }
        out.push_str(&f.join(","));
        out.push('\n');
    }
    out
}

fn row_json(r: &Row) -> Json {
    match &r.outcome {
        Outcome::Audited(rep) => {
            let qs: Map<String, Json> = rep.questions.iter().map(|q| (q.id.clone(), question_json(q))).collect();
            json!({"file": r.file, "status": "audited", "equations": rep.equations, "questions": qs})
        }
        Outcome::Skipped { status, reason } => {
            json!({"file": r.file, "status": status, "reason": reason})
        }
    }
}

/// Per question: how many files got each answer.
fn counts(rows: &[Row], ids: &[String]) -> Vec<[usize; 4]> {
    let mut c = vec![[0usize; 4]; ids.len()];
    for r in rows {
        if let Outcome::Audited(rep) = &r.outcome {
            for (k, q) in rep.questions.iter().enumerate() {
                let i = match q.answer {
                    Answer::Right => 0,
                    Answer::Wrong => 1,
                    Answer::Missing => 2,
                    Answer::Unreadable => 3,
                };
                c[k][i] += 1;
            }
        }
    }
    c
}

fn summary_json(rows: &[Row], ids: &[String]) -> Json {
    let skipped = rows.iter().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).count();
    let qs: Map<String, Json> = ids
        .iter()
        .zip(counts(rows, ids))
        .map(|(id, c)| (id.clone(), json!({"right": c[0], "wrong": c[1], "missing": c[2], "unreadable": c[3]})))
        .collect();
    json!({"files": rows.len(), "audited": rows.len() - skipped, "not_audited": skipped, "questions": qs})
}

fn summary_text(rows: &[Row], ids: &[String]) -> String {
    let skipped = rows.iter().filter(|r| matches!(r.outcome, Outcome::Skipped { .. })).count();
    let mut out =
        format!("summary: {} files, {} audited, {} could not be audited\n", rows.len(), rows.len() - skipped, skipped);
    for (id, c) in ids.iter().zip(counts(rows, ids)) {
        out.push_str(&format!("  {id}: {} right, {} wrong, {} missing, {} unreadable\n", c[0], c[1], c[2], c[3]));
    }
    out
}
