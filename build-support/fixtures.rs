//! Shared by the build scripts of the crates with data-driven test suites: one `#[test]` per
//! fixture file, so every case passes or fails on its own and runs by name
//! (`cargo test -p matdiff --test all latex_cases::ok::accent_hat`), as ruff's parser fixtures.
//! (Included with `#[path]`: build scripts cannot depend on a workspace crate cheaply.)

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Every file with extension `ext` below `dir`, sorted.
fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
}

/// A Rust identifier from a path segment.
fn ident(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

/// Writes `$OUT_DIR/fixtures_<suite>.rs`: for each `tests/cases/<suite>/<folder>/<name>.<ext>`
/// (folders `ok/` and `err/`), a test `<folder>::<name>` calling `run_case(path)` — a function
/// the including test module defines. The generated file also defines `FIXTURE_COUNT`.
pub fn generate(manifest_dir: &Path, suite: &str, ext: &str) {
    let root = manifest_dir.join("tests/cases").join(suite);
    println!("cargo:rerun-if-changed={}", root.display());
    let mut paths = vec![];
    files(&root, ext, &mut paths);
    paths.sort();
    let mut out = String::new();
    let _ = writeln!(out, "/// Fixture files found under tests/cases/{suite}/ when this crate was built.");
    let _ = writeln!(out, "#[allow(dead_code)]\nconst FIXTURE_COUNT: usize = {};", paths.len());
    // One module per folder (`ok`, `err`), one test per file: `latex_cases::ok::accent_hat`.
    let mut folders: Vec<(String, Vec<&PathBuf>)> = vec![];
    for p in &paths {
        let rel = p.strip_prefix(&root).expect("below the suite folder");
        let folder: Vec<String> =
            rel.parent().into_iter().flat_map(|d| d.iter()).map(|s| ident(&s.to_string_lossy())).collect();
        let folder = folder.join("_");
        match folders.last_mut() {
            Some((f, list)) if *f == folder => list.push(p),
            _ => folders.push((folder, vec![p])),
        }
    }
    for (folder, list) in folders {
        let open = !folder.is_empty();
        if open {
            let _ = writeln!(out, "mod {folder} {{\n    use super::run_case;");
        }
        for p in list {
            let name = ident(&p.file_stem().expect("a file name").to_string_lossy());
            let _ = writeln!(
                out,
                "    #[test]\n    fn {name}() {{\n        run_case(std::path::Path::new({:?}));\n    }}",
                p.display().to_string()
            );
        }
        if open {
            let _ = writeln!(out, "}}");
        }
    }
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join(format!("fixtures_{suite}.rs"));
    std::fs::write(dest, out).expect("write the generated fixture tests");
}
