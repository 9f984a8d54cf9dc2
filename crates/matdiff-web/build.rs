//! Embeds the page: writes `$OUT_DIR/assets.rs`, a table of every file under `assets/` (served
//! at its relative path) and of the problem files of the repository's `problems/`, each with
//! `include_bytes!` so the binary needs nothing from disk.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let assets = root.join("assets");
    let problems = root.join("../../problems");
    println!("cargo:rerun-if-changed={}", assets.display());
    println!("cargo:rerun-if-changed={}", problems.display());
    let mut code = String::from(
        "/// Every file of `assets/`: (path relative to it, contents).\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    let mut list = vec![];
    files(&assets, &mut list);
    for p in &list {
        println!("cargo:rerun-if-changed={}", p.display());
        let rel = p.strip_prefix(&assets).expect("under assets/").to_string_lossy().replace('\\', "/");
        // README/LICENSE files of vendored code are served too: they are small, and the licence
        // travels with the code it covers.
        writeln!(code, "    ({rel:?}, include_bytes!({:?})),", p.display().to_string()).unwrap();
    }
    code.push_str("];\n\n/// The problem files of `problems/`: (name without `.toml`, text).\npub static PROBLEMS: &[(&str, &str)] = &[\n");
    let mut list = vec![];
    files(&problems, &mut list);
    for p in list.iter().filter(|p| p.extension().is_some_and(|e| e == "toml")) {
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.file_stem().expect("a file name").to_string_lossy();
        writeln!(code, "    ({name:?}, include_str!({:?})),", p.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("assets.rs");
    std::fs::write(out, code).expect("writing assets.rs");
}
