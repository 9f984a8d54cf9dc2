//! matdiff's integration tests, as one test binary: each module below is one suite (its own
//! file, its own test binary before), so the shared helpers are compiled and the whole is
//! linked once, and the suites run in parallel. `no_alloc` stays a binary of its own: it
//! installs a counting global allocator. Insta snapshots are named `all__<suite>__<case>`.

mod common;
#[path = "../../matdiff-syntax/tests/common/tree.rs"]
mod tree;

mod audit;
mod audit_noisy;
mod audit_ocr_property;
mod boundaries;
mod budget;
mod check;
mod checked_build;
mod claim_smoke;
mod derivative;
mod diagram;
mod emit;
mod error_kinds;
mod exec;
mod kron;
mod latex_cases;
mod property;
mod quality;
mod roundtrip;
mod scale;
mod seeds;
mod simplify;
mod solve;
mod steps;

/// With `autotests = false`, a `tests/*.rs` file that is not a module here (nor the
/// `no_alloc` binary) is silently not compiled: refuse that.
#[test]
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let listed = include_str!("all.rs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") && !["all", "no_alloc"].contains(&stem.as_str()) {
            assert!(listed.contains(&format!("mod {stem};")), "tests/{stem}.rs is not a module of tests/all.rs");
        }
    }
}
