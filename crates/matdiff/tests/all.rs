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
mod emit_derivative;
mod error_kinds;
mod exec;
mod kron;
mod latex_cases;
mod property;
mod quality;
mod roundtrip;
mod scale;
mod scaling;
mod seeds;
mod simplify;
mod softmax;
mod solve;
mod steps;
mod typed;

#[path = "../../../build-support/suites.rs"]
mod suites;

/// With `autotests = false`, a `tests/*.rs` file that is not a module here is silently not
/// compiled: refuse that.
#[test]
fn every_test_file_is_a_module() {
    suites::assert_every_test_file_is_a_module(env!("CARGO_MANIFEST_DIR"), include_str!("all.rs"), &["no_alloc"]);
}
