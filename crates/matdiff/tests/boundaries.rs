//! The crate map of ARCHITECTURE.md, enforced: each pipeline crate depends only on the crates
//! before it (syntax ← core ← exec ← matdiff ← front ends), the syntax and core crates carry no
//! numeric dependencies, and every `unsafe` block lives in the exec crate.

use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crates/").to_path_buf()
}

/// The `[dependencies]` names of a crate's manifest (dev-dependencies are free).
fn dependencies(krate: &str) -> Vec<String> {
    let path = crates_dir().join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: toml::Table = text.parse().expect("a TOML manifest");
    manifest.get("dependencies").and_then(|d| d.as_table()).map(|t| t.keys().cloned().collect()).unwrap_or_default()
}

const PIPELINE: [&str; 4] = ["matdiff-syntax", "matdiff-core", "matdiff-exec", "matdiff"];

#[test]
fn pipeline_crates_depend_only_on_earlier_phases() {
    for (i, krate) in PIPELINE.iter().enumerate() {
        for dep in dependencies(krate) {
            if let Some(j) = PIPELINE.iter().position(|p| *p == dep) {
                assert!(j < i, "{krate} depends on {dep}, a later phase");
            }
        }
    }
}

#[test]
fn syntax_and_core_have_no_numeric_dependencies() {
    for krate in ["matdiff-syntax", "matdiff-core"] {
        let deps = dependencies(krate);
        for heavy in ["faer", "rayon", "libc", "rand"] {
            assert!(!deps.iter().any(|d| d == heavy), "{krate} depends on {heavy}");
        }
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn unsafe_code_lives_only_in_exec() {
    let mut offenders = vec![];
    for krate in ["matdiff-syntax", "matdiff-core", "matdiff"] {
        let mut files = vec![];
        rust_files(&crates_dir().join(krate).join("src"), &mut files);
        assert!(!files.is_empty(), "no sources found for {krate}");
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable source");
            if text.lines().any(|l| {
                let code = l.split("//").next().unwrap_or("");
                code.contains("unsafe {") || code.contains("unsafe fn") || code.contains("unsafe impl")
            }) {
                offenders.push(f.display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "unsafe code outside matdiff-exec: {offenders:?}");
}
