//! Shared by the crates whose integration tests are one binary (`tests/all.rs` declaring each
//! suite as a module, `autotests = false`): a test file that is not declared would silently not
//! be compiled, so each `all.rs` runs this check. (Included with `#[path]`.)

/// Panics naming every `tests/*.rs` file of `manifest_dir` that `all_rs` (the text of
/// `tests/all.rs`) does not declare as `mod <name>;`, except the binaries in `own_binaries`.
pub fn assert_every_test_file_is_a_module(manifest_dir: &str, all_rs: &str, own_binaries: &[&str]) {
    let dir = std::path::Path::new(manifest_dir).join("tests");
    let mut missing = vec![];
    for entry in std::fs::read_dir(&dir).expect("the tests folder") {
        let path = entry.expect("a directory entry").path();
        let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let skip = stem == "all" || own_binaries.contains(&stem.as_str());
        if path.extension().is_some_and(|e| e == "rs") && !skip && !all_rs.contains(&format!("mod {stem};")) {
            missing.push(format!("tests/{stem}.rs"));
        }
    }
    assert!(missing.is_empty(), "not modules of tests/all.rs, so never compiled: {}", missing.join(", "));
}
