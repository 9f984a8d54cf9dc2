//! The `matdiff` binary's tests, as one test binary (each module was its own binary before):
//! every suite runs the built binary (`CARGO_BIN_EXE_matdiff`) as a user would. The command-line
//! fixtures (`cases/cli/{ok,err}`) are one test each (`errors::fixtures::err::<name>`).
//! A test file not listed here would not run: `every_test_file_is_a_module` checks.

mod common;

mod check_cli;
mod contract;
mod errors;
mod grade_cli;
mod hardening;
mod no_panic;
mod serve_cli;
mod solve_cli;

/// With `autotests = false`, a `tests/*.rs` file that is not a module here is silently not
/// compiled: refuse that.
#[test]
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let listed = include_str!("all.rs");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") && stem != "all" {
            assert!(listed.contains(&format!("mod {stem};")), "tests/{stem}.rs is not a module of tests/all.rs");
        }
    }
}
