//! `matdiff grade` through the built binary: one row per file (garbled files too), a summary,
//! no progress bar when piped, the same result whatever the number of threads.

use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn grade(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_matdiff")).arg("grade").args(args).output().unwrap();
    let (out, err) = (String::from_utf8_lossy(&o.stdout).to_string(), String::from_utf8_lossy(&o.stderr).to_string());
    assert!(!err.contains("panicked"), "{err}");
    (o.status.code().unwrap_or(-1), out, err)
}

/// The seeds plus files that cannot be audited, in a fresh directory.
fn submissions(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matdiff-grade-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    let seeds = repo().join("crates/matdiff/tests/cases/audit/seeds");
    for e in std::fs::read_dir(seeds).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("binary.pdf"), [0x25u8, 0x50, 0x44, 0x46, 0x00, 0xff, 0xfe, 0x01]).unwrap();
    std::fs::write(dir.join("empty.md"), "").unwrap();
    std::fs::write(dir.join("prose.md"), "I did not do the homework.\n").unwrap();
    std::fs::write(dir.join("latin1.md"), [b'$', b'x', 0xe9, b'$']).unwrap();
    std::fs::write(dir.join("nested/garbled.md"), "$$\\nabla_W L = \\frac{{{ $$ $$ = ((W $$ $\\left( $").unwrap();
    dir
}

fn csv_rows(out: &str) -> Vec<Vec<String>> {
    // No field here holds a quoted comma except the last one (the note).
    out.lines()
        .map(|l| {
            let mut cells: Vec<String> = l.splitn(6, ',').map(str::to_string).collect();
            cells.truncate(6);
            cells
        })
        .collect()
}

#[test]
fn every_file_is_a_row_and_nothing_aborts() {
    let dir = submissions("csv");
    let problem = repo().join("problems/autoencoder.toml");
    let (code, out, err) = grade(&["--problem", problem.to_str().unwrap(), dir.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(code, 0, "{err}");
    let rows = csv_rows(&out);
    assert_eq!(rows[0][..5], ["file", "status", "grad_W", "grad_W_final_line", "grad_W_first_wrong_line"]);
    let row = |name: &str| {
        rows.iter().find(|r| r[0].ends_with(name)).unwrap_or_else(|| panic!("no row for {name}:\n{out}")).clone()
    };
    assert_eq!(row("001_bb351371c5e16c7c.txt")[2], "right");
    assert_eq!(row("002_58fb6e848f0de203.txt")[2], "wrong");
    assert_eq!(row("002_58fb6e848f0de203.txt")[4], "55");
    assert_eq!(row("003_181d3ce07ed555e5.txt")[2], "right");
    assert_eq!(row("binary.pdf")[1], "unreadable");
    assert_eq!(row("empty.md")[1], "unreadable");
    assert_eq!(row("latin1.md")[1], "unreadable");
    assert_eq!(row("prose.md")[1], "no_equations");
    assert_eq!(rows.len(), 1 + 8, "{out}");
    // Piped: the summary only, no progress bar.
    assert!(err.starts_with("summary: 8 files, 4 audited, 4 could not be audited"), "{err}");
    assert!(err.contains("grad_W: 2 right, 1 wrong"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn json_and_thread_count_independence() {
    let dir = submissions("json");
    let problem = repo().join("problems/gplvm.toml");
    let run = |jobs: &str| {
        grade(&["--problem", problem.to_str().unwrap(), dir.to_str().unwrap(), "--jobs", jobs, "--format", "json"])
    };
    let (code, one, _) = run("1");
    assert_eq!(code, 0);
    let (_, two, _) = run("2");
    assert_eq!(one, two, "results depend on the number of threads");
    let j: Json = serde_json::from_str(&one).unwrap();
    let files = j["files"].as_array().unwrap();
    assert_eq!(files.len(), 8);
    let seed1 = files.iter().find(|f| f["file"].as_str().unwrap().ends_with("001_bb351371c5e16c7c.txt")).unwrap();
    for id in ["2b", "2d", "2e"] {
        assert_eq!(seed1["questions"][id]["answer"], "right", "{id}");
    }
    assert_eq!(j["summary"]["files"], 8);
    assert_eq!(j["summary"]["questions"]["2e"]["right"], 1);
    assert!(files.iter().any(|f| f["status"] == "unreadable" && f["reason"].as_str().unwrap().contains("binary")));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn user_errors() {
    let problem = repo().join("problems/autoencoder.toml");
    let (code, _, err) = grade(&["--problem", "/nonexistent/problem.toml", Path::new("/tmp").to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    // A missing submission is a row, not an abort; a run that audited nothing exits 2.
    let (code, out, _) = grade(&["--problem", problem.to_str().unwrap(), "/nonexistent/submission.md"]);
    assert_eq!(code, 2);
    assert!(out.lines().nth(1).unwrap().contains("unreadable"), "{out}");
}

/// The README's scanned-homework example: audited right, with the OCR repairs it rests on in
/// the text report, the JSON (per step and per question) and grade's `<id>_repairs` column.
#[test]
fn scanned_example_lists_its_repairs() {
    let doc = repo().join("examples/ocr/autoencoder_scan.md");
    let problem = repo().join("problems/autoencoder.toml");
    let run = |format: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_matdiff"))
            .args(["audit", doc.to_str().unwrap(), "--problem", problem.to_str().unwrap(), "--format", format])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let text = run("text");
    assert!(text.contains("assuming \\mathcal{I} = L, \\omega = W, ^{\\dagger} = ^T (OCR)"), "{text}");
    assert!(text.contains("final answer (line 12): right, read with OCR repairs"), "{text}");
    let j: Json = serde_json::from_str(&run("json")).unwrap();
    let q = &j["questions"][0];
    assert_eq!(q["answer"], "right");
    let mut repairs: Vec<&str> = q["repairs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    repairs.sort();
    assert_eq!(repairs, ["\\mathcal{I} -> L", "\\omega -> W", "^{7} -> ^T"]);
    let first = &q["steps"][0];
    assert_eq!(first["repair_details"][1]["from"], "\\omega");
    assert_eq!(first["repair_details"][1]["line"], 8);
    let (code, out, err) = grade(&["--problem", problem.to_str().unwrap(), doc.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "file,status,grad_W,grad_W_final_line,grad_W_first_wrong_line,grad_W_repairs,note");
    assert!(lines[1].ends_with(",audited,right,12,,\\mathcal{I} -> L; ^{7} -> ^T; \\omega -> W,"), "{out}");
}

/// An unreadable step keeps its error's kind and span (into the step's text) in the JSON.
#[test]
fn unreadable_steps_keep_the_error() {
    let dir = std::env::temp_dir().join(format!("matdiff-ocr-error-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("doc.md");
    std::fs::write(&doc, "$$\\nabla_W L = W q x^T$$\n").unwrap();
    let problem = repo().join("problems/autoencoder.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_matdiff"))
        .args(["audit", doc.to_str().unwrap(), "--problem", problem.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    let j: Json = serde_json::from_slice(&o.stdout).unwrap();
    let step = &j["questions"][0]["steps"][0];
    assert_eq!(step["status"], "unreadable");
    assert_eq!(step["error"]["kind"], "unknown_name");
    let (s, e) = (step["error"]["span"]["start"].as_u64().unwrap(), step["error"]["span"]["end"].as_u64().unwrap());
    assert_eq!(&step["text"].as_str().unwrap()[s as usize..e as usize], "q");
}
