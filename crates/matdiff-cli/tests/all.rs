//! The `matdiff` binary's tests, as one test binary (each module was its own binary before):
//! every suite runs the built binary (`CARGO_BIN_EXE_matdiff`) as a user would. The command-line
//! fixtures (`cases/cli/{ok,err}`) are one test each (`errors::fixtures::err::<name>`).
//! A test file not listed here would not run: `every_test_file_is_a_module` checks.

mod common;

mod check_cli;
mod contract;
mod derivative_cli;
mod errors;
mod grade_cli;
mod hardening;
mod no_panic;
mod readme;
mod serve_cli;
mod solve_cli;

#[path = "../../../build-support/suites.rs"]
mod suites;

/// With `autotests = false`, a `tests/*.rs` file that is not a module here is silently not
/// compiled: refuse that.
#[test]
fn every_test_file_is_a_module() {
    suites::assert_every_test_file_is_a_module(env!("CARGO_MANIFEST_DIR"), include_str!("all.rs"), &[]);
}
