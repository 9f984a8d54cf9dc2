//! One test per fixture of the data-driven suites (see build-support/fixtures.rs).

#[path = "../../build-support/fixtures.rs"]
mod fixtures;

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    for suite in ["latex", "steps", "claims"] {
        fixtures::generate(&dir, suite, "txt");
    }
    // The noisy-document corpus: one test per document (`<case>/expected.toml`).
    fixtures::generate(&dir, "audit_noisy", "toml");
}
