//! One test per command-line fixture (`tests/cases/cli/{ok,err}/*.txt`; see build-support/fixtures.rs).

#[path = "../../build-support/fixtures.rs"]
mod fixtures;

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    fixtures::generate(&dir, "cli", "txt");
}
