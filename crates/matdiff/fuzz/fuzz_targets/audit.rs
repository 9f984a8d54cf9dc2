//! Fuzz the document reader: `audit` of any text, against the seed problem files (the first
//! byte picks one), must not panic, and every line number it reports lies in the document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matdiff::audit::{auditor, Auditor};

const PROBLEMS: [&str; 4] = [
    include_str!("../../../../problems/autoencoder.toml"),
    include_str!("../../../../problems/swish_mlp.toml"),
    include_str!("../../../../problems/gplvm.toml"),
    include_str!("../../../../problems/softmax.toml"),
];

thread_local! {
    // Compiling a problem differentiates its losses and samples points: once per process.
    static AUDITORS: Vec<Auditor> = PROBLEMS.iter().map(|t| auditor(t).expect("a seed problem file compiles")).collect();
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(doc) = std::str::from_utf8(rest) else { return };
    AUDITORS.with(|all| {
        let report = all[pick as usize % all.len()].audit(doc);
        let json = matdiff::report::audit_json(&report);
        let _ = matdiff::report::audit_text(&report, "fuzz.md", "fuzz");
        let lines = doc.matches('\n').count() + 1;
        for q in json["questions"].as_array().into_iter().flatten() {
            for s in q["steps"].as_array().into_iter().flatten() {
                if let Some(l) = s["line"].as_u64() {
                    assert!(l >= 1 && l as usize <= lines, "line {l} of a {lines}-line document");
                }
            }
        }
    });
});
