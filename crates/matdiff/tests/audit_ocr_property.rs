//! No false "wrong" under OCR noise: answers written for the problem files in `problems/`, right
//! and wrong, are corrupted the way scanners corrupt them (the readings of docs/ocr-confusions.md,
//! at random occurrences), then audited. A right answer must come back right or unreadable, never
//! wrong; a wrong one wrong or unreadable, never right. Uncorrupted, each has its verdict (checked
//! numerically by the auditor), and most corrupted right answers must still be read as right, so
//! the property cannot hold by reading nothing.

use matdiff::audit::{auditor, Answer, Auditor};
use proptest::prelude::*;
use std::sync::OnceLock;

/// A symbol in an answer template (`@W`, `@T`, …): its clean LaTeX and what OCR makes of it.
struct Marker {
    key: &'static str,
    clean: &'static str,
    ocr: &'static [&'static str],
}

/// Longest keys first, so `@W1` is not read as `@W` followed by `1`.
const MARKERS: &[Marker] = &[
    Marker { key: "@W1", clean: "W_{1}", ocr: &["\\omega_{1}", "\\psi_{1}", "w_{1}"] },
    Marker { key: "@W2", clean: "W_{2}", ocr: &["\\omega_{2}", "\\psi_{2}", "w_{2}"] },
    Marker { key: "@sig", clean: "\\sigma", ocr: &["6", "\\delta", "S", "o"] },
    Marker { key: "@s2", clean: "\\sigma^{2}", ocr: &["6^{2}", "\\delta^{2}", "o^{2}"] },
    Marker { key: "@odot", clean: "\\odot", ocr: &["O", "o"] },
    Marker { key: "@log", clean: "\\log", ocr: &["|_{og}"] },
    Marker { key: "@W", clean: "W", ocr: &["\\omega", "\\psi", "w"] },
    Marker { key: "@w", clean: "w", ocr: &["\\omega", "\\psi"] },
    Marker { key: "@x", clean: "x", ocr: &["\\chi", "n", "\\times"] },
    Marker { key: "@y", clean: "y", ocr: &["\\gamma", "7"] },
    Marker { key: "@Y", clean: "Y", ocr: &["\\gamma", "7"] },
    Marker { key: "@K", clean: "K", ocr: &["\\kappa"] },
    Marker { key: "@S", clean: "S", ocr: &["5"] },
    Marker { key: "@T", clean: "^{T}", ocr: &["^{\\dagger}", "^{7}", "^{\\top}", "^{\\mathsf{T}}", "^{\\intercal}"] },
    Marker { key: "@L", clean: "L", ocr: &["\\mathcal{I}", "\\mathcal{Z}"] },
];

/// A document template: problem file, question, whether its answer is right, and the text.
struct Case {
    problem: &'static str,
    question: &'static str,
    right: bool,
    doc: &'static str,
}

const CASES: &[Case] = &[
    Case {
        problem: "autoencoder",
        question: "grad_W",
        right: true,
        doc: "$$\\nabla_{@W} @L=@W\\left(@W@T @W @x-@x\\right) @x@T+@W @x\\left(@W@T @W @x-@x\\right)@T$$",
    },
    Case {
        problem: "autoencoder",
        question: "grad_W",
        right: true,
        doc: "$$\\frac{\\partial @L}{\\partial @W}=@W\\left(@W@T @W-I\\right) @x @x@T+@W @x @x@T\\left(@W@T @W-I\\right)$$",
    },
    Case {
        problem: "autoencoder",
        question: "grad_W",
        right: false,
        doc: "$$\\nabla_{@W} @L=2 @W\\left(@W@T @W-I\\right) @x @x@T$$",
    },
    Case {
        problem: "autoencoder",
        question: "grad_W",
        right: false,
        doc: "$$\\nabla_{@W} @L=@W\\left(@W@T @W @x-@x\\right) @x@T-@W @x\\left(@W@T @W @x-@x\\right)@T$$",
    },
    Case {
        problem: "softmax",
        question: "grad_W",
        right: true,
        doc: "$$\\nabla_{@W} @L=\\left(\\operatorname{softmax}(@W @x+b)-@y\\right) @x@T$$",
    },
    Case {
        problem: "softmax",
        question: "grad_W",
        right: false,
        doc: "$$\\nabla_{@W} @L=\\left(@y-\\operatorname{softmax}(@W @x+b)\\right) @x@T$$",
    },
    Case {
        problem: "softmax",
        question: "grad_W",
        right: false,
        doc: "$$\\frac{\\partial @L}{\\partial @W}=@x\\left(\\operatorname{softmax}(@W @x+b)-@y\\right)@T$$",
    },
    Case {
        problem: "logistic_regression",
        question: "grad_w",
        right: true,
        doc: "$$\\nabla_{@w} @L=\\left(@sig\\left(@w@T @x+b\\right)-@y\\right) @x$$",
    },
    Case {
        problem: "logistic_regression",
        question: "grad_w",
        right: false,
        doc: "$$\\nabla_{@w} @L=\\left(@y-@sig\\left(@w@T @x+b\\right)\\right) @x$$",
    },
    Case {
        problem: "ridge",
        question: "grad_w",
        right: true,
        doc: "$$\\nabla_{@w} @L=X@T\\left(X @w-@y\\right)+\\lambda @w$$",
    },
    Case {
        problem: "ridge",
        question: "grad_w",
        right: false,
        doc: "$$\\nabla_{@w} @L=2 X@T\\left(X @w-@y\\right)+\\lambda @w$$",
    },
    Case {
        problem: "ppca",
        question: "grad_U",
        right: true,
        doc: "$$\\nabla_{U} @L=N\\left(\\left(U U@T+@s2 I\\right)^{-1} U-C^{-1} @S C^{-1} U\\right)$$",
    },
    Case {
        problem: "ppca",
        question: "grad_U",
        right: false,
        doc: "$$\\nabla_{U} @L=\\frac{N}{2}\\left(C^{-1}-C^{-1} @S C^{-1}\\right) U$$",
    },
    Case {
        problem: "gplvm",
        question: "2e",
        right: true,
        doc: "$$\\frac{\\partial @L}{\\partial @x}=-\\alpha D @K^{-1} @x+\\alpha @K^{-1} @y @y@T @K^{-1} @x$$",
    },
    Case {
        problem: "gplvm",
        question: "2e",
        right: false,
        doc: "$$\\frac{\\partial @L}{\\partial @x}=-\\frac{\\alpha D}{2} @K^{-1} @x+\\alpha @K^{-1} @y @y@T @K^{-1} @x$$",
    },
    Case {
        problem: "gplvm_latent",
        question: "grad_X",
        right: true,
        doc: "$$\\nabla_{X} @L=\\alpha\\left(@K^{-1} @Y @Y@T @K^{-1}-D @K^{-1}\\right) X$$",
    },
    Case {
        problem: "gplvm_latent",
        question: "grad_X",
        right: false,
        doc: "$$\\nabla_{X} @L=\\frac{\\alpha}{2}\\left(@K^{-1} @Y @Y@T @K^{-1}-D @K^{-1}\\right) X$$",
    },
    Case {
        problem: "swish_mlp",
        question: "b1",
        right: true,
        doc: "Forward: $z_{1}=@W1 @x+b_{1}$\n\n$$\\nabla_{b_{1}} @L=\\left(@W2@T g\\right) @odot\\left(@sig\\left(z_{1}\\right)+z_{1} @odot @sig\\left(z_{1}\\right) @odot\\left(1-@sig\\left(z_{1}\\right)\\right)\\right)$$",
    },
    Case {
        problem: "swish_mlp",
        question: "b1",
        right: false,
        doc: "Forward: $z_{1}=@W1 @x+b_{1}$\n\n$$\\nabla_{b_{1}} @L=\\left(@W2@T g\\right) @odot\\left(@sig\\left(z_{1}\\right)+z_{1} @odot @sig\\left(z_{1}\\right)\\right)$$",
    },
    // The document's own definitions and abbreviations, corrupted too.
    Case {
        problem: "autoencoder",
        question: "grad_W",
        right: true,
        doc: "Let d = @W@x, b = @W@T d - @x (code and error).\n\n$$\\nabla_{@W} @L=d b@T+@W b @x@T$$",
    },
    Case {
        problem: "autoencoder",
        question: "grad_W",
        right: false,
        doc: "Let d = @W@x, b = @W@T d - @x (code and error).\n\n$$\\nabla_{@W} @L=2 @W b @x@T$$",
    },
    Case {
        problem: "gplvm",
        question: "2d",
        right: true,
        doc: "Write $A=@K^{-1} @y$.\n\n$$\\frac{\\partial @L_{2}}{\\partial @x}=\\alpha A A@T @x$$",
    },
    Case {
        problem: "gplvm",
        question: "2d",
        right: false,
        doc: "Write $A=@K^{-1} @y$.\n\n$$\\frac{\\partial @L_{2}}{\\partial @x}=\\frac{\\alpha}{2} A A@T @x$$",
    },
    Case {
        problem: "swish_mlp",
        question: "b1",
        right: true,
        doc: "Notation: Sw(z) = swish(z), and sw'(z) = @sig(z) + Sw(z)(1 - @sig(z)).\n\n$z_{1}=@W1 @x+b_{1}$\n\n$$\\nabla_{b_{1}} @L=\\left(@W2@T g\\right) @odot s w^{\\prime}\\left(z_{1}\\right)$$",
    },
    Case {
        problem: "swish_mlp",
        question: "W1",
        right: false,
        doc: "Notation: Sw(z) = swish(z), and sw'(z) = @sig(z) + Sw(z)(1 - @sig(z)).\n\n$z_{1}=@W1 @x+b_{1}$\n\n$$\\nabla_{@W1} @L=@x\\left(\\left(@W2@T g\\right) @odot s w^{\\prime}\\left(z_{1}\\right)\\right)@T$$",
    },
];

fn auditor_for(problem: &str) -> &'static Auditor {
    static CACHE: OnceLock<Vec<(&'static str, Auditor)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        let mut names: Vec<&'static str> = CASES.iter().map(|c| c.problem).collect();
        names.dedup();
        names
            .into_iter()
            .map(|n| {
                let path = format!("{}/../../problems/{n}.toml", env!("CARGO_MANIFEST_DIR"));
                (n, auditor(&std::fs::read_to_string(path).unwrap()).unwrap())
            })
            .collect()
    });
    &all.iter().find(|(n, _)| *n == problem).unwrap().1
}

/// The document with each marker occurrence replaced: choice 0 is the clean symbol, k the k-th
/// OCR reading (`\times` for x only where x ends an operand, as OCR produces it).
fn render(doc: &str, choices: &[u8]) -> String {
    let mut out = String::new();
    let mut rest = doc;
    let mut k = 0;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let m = MARKERS.iter().find(|m| tail.starts_with(m.key)).expect("a known marker");
        let after = &tail[m.key.len()..];
        let ocr: Vec<&str> = m
            .ocr
            .iter()
            .copied()
            .filter(|o| *o != "\\times" || after.starts_with("@T") || after.starts_with(['+', '-', '$']))
            .collect();
        let c = choices.get(k).copied().unwrap_or(0) as usize % (ocr.len() + 1);
        out.push_str(if c == 0 { m.clean } else { ocr[c - 1] });
        k += 1;
        rest = after;
    }
    out.push_str(rest);
    out
}

fn answer(case: &Case, doc: &str) -> Answer {
    let r = auditor_for(case.problem).audit(doc);
    r.questions.iter().find(|q| q.id == case.question).unwrap().answer
}

#[test]
fn clean_answers_have_their_verdicts() {
    for c in CASES {
        let doc = render(c.doc, &[]);
        let want = if c.right { Answer::Right } else { Answer::Wrong };
        assert_eq!(answer(c, &doc), want, "{}:\n{doc}", c.problem);
    }
}

#[test]
fn most_corrupted_right_answers_are_still_read() {
    // Every occurrence corrupted with the same reading index, for each index.
    let (mut read, mut total) = (0, 0);
    for c in CASES.iter().filter(|c| c.right) {
        for k in 1..=5u8 {
            let doc = render(c.doc, &[k; 64]);
            total += 1;
            match answer(c, &doc) {
                Answer::Right => read += 1,
                Answer::Wrong => panic!("a right answer judged wrong:\n{doc}"),
                _ => {}
            }
        }
    }
    eprintln!("{read} of {total} corrupted right answers read as right");
    assert!(read * 10 >= total * 7, "only {read} of {total} corrupted right answers were read");
}

proptest! {
    // OCR_PROPERTY_CASES=2000 for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("OCR_PROPERTY_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn ocr_noise_never_turns_a_verdict(case in 0..CASES.len(), choices in proptest::collection::vec(any::<u8>(), 40)) {
        let c = &CASES[case];
        let doc = render(c.doc, &choices);
        let got = answer(c, &doc);
        if std::env::var("OCR_PROPERTY_SHOW").is_ok() {
            eprintln!("{:?} {:?}: {}", c.right, got, doc.replace('\n', " "));
        }
        if c.right {
            prop_assert!(got == Answer::Right || got == Answer::Unreadable, "right answer judged {:?}:\n{}", got, doc);
        } else {
            prop_assert!(got == Answer::Wrong || got == Answer::Unreadable, "wrong answer judged {:?}:\n{}", got, doc);
        }
    }
}
