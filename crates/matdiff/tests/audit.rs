//! Auditing derivations: the seed homework (verdicts the issue fixes) and a directory of
//! small documents (tests/cases/audit/<case>/{doc.md, problem.toml, expected.txt}), each with
//! a snapshot of its report.

use matdiff::audit::{auditor, equations, parse_problem, Answer, AuditReport, StepReading};
use matdiff::check::Diagnosis;
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared seeds (../shared/seeds next to the repository), or the copy kept here.
fn seeds_dir() -> PathBuf {
    let shared = manifest().join("../../../shared/seeds");
    if shared.is_dir() {
        shared
    } else {
        manifest().join("tests/cases/audit/seeds")
    }
}

fn seed(prefix: &str) -> String {
    let dir = seeds_dir();
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("seed {prefix} not in {}", dir.display()));
    std::fs::read_to_string(path).unwrap()
}

fn problem_file(name: &str) -> String {
    std::fs::read_to_string(manifest().join(format!("../../problems/{name}.toml"))).unwrap()
}

fn audit(problem: &str, doc: &str) -> AuditReport {
    auditor(problem).unwrap().audit(doc)
}

/// A compact rendering of a report, for snapshots and failure messages.
fn render(r: &AuditReport) -> String {
    let mut s = format!("{} equations\n", r.equations);
    for q in &r.questions {
        let line = |i: Option<usize>| i.map_or("-".to_string(), |i| q.steps[i].line.to_string());
        let _ = writeln!(
            s,
            "question {}: {} (final line {}, first wrong line {})",
            q.id,
            q.answer.name(),
            line(q.final_step),
            line(q.first_wrong)
        );
        for st in &q.steps {
            let lead = if st.starts_equation { "" } else { "= " };
            match &st.reading {
                StepReading::Unreadable { reason, .. } => {
                    let _ = writeln!(s, "  L{} {lead}{}\n      unreadable: {reason}", st.line, st.text);
                }
                StepReading::Read { read_as, vs_previous, verdict, definitions, .. } => {
                    let prev = match vs_previous {
                        Some(true) => "equal to previous, ",
                        Some(false) => "differs from previous, ",
                        None => "",
                    };
                    let _ = writeln!(
                        s,
                        "  L{} {lead}{}\n      {prev}{}: {read_as}",
                        st.line,
                        st.text,
                        if verdict.right { "right" } else { "wrong" }
                    );
                    if !definitions.is_empty() {
                        let _ = writeln!(s, "      using {}", definitions.join(", "));
                    }
                    for d in &verdict.diagnoses {
                        let _ = writeln!(s, "      diagnosis: {}", d.message());
                    }
                }
            }
        }
        for d in &q.definitions {
            let _ = writeln!(s, "  definition {} = {} ({:?})", d.name, d.value, d.source);
        }
    }
    s
}

#[test]
fn seed_001_autoencoder_final_answer_is_right() {
    let r = audit(&problem_file("autoencoder"), &seed("001"));
    let q = &r.questions[0];
    assert_eq!(q.answer, Answer::Right, "{}", render(&r));
    let fin = &q.steps[q.final_step.unwrap()];
    assert!(fin.text.starts_with("W(W^T Wx - x)x^T"), "{}", fin.text);
}

#[test]
fn seed_001_gplvm_answers_are_right() {
    let r = audit(&problem_file("gplvm"), &seed("001"));
    for id in ["2b", "2d", "2e"] {
        let q = r.questions.iter().find(|q| q.id == id).unwrap();
        assert_eq!(q.answer, Answer::Right, "{id}:\n{}", render(&r));
    }
    let e = r.questions.iter().find(|q| q.id == "2e").unwrap();
    assert!(e.steps[e.final_step.unwrap()].text.contains("K^{-1} (y y^T) K^{-1} x"));
    // The problem file's K was used, the document's `D = K^{-1}` was not (D is a variable).
    assert!(e.definitions.iter().all(|d| d.name != "D"));
    assert!(e.definitions.iter().any(|d| d.name == "K"));
}

#[test]
fn seed_002_flags_the_wrong_simplification() {
    let r = audit(&problem_file("autoencoder"), &seed("002"));
    let q = &r.questions[0];
    let shown = render(&r);
    assert_eq!(q.answer, Answer::Wrong, "{shown}");
    let step =
        q.steps.iter().find(|s| s.text == "W(xx^T(W^T W - I) + (W^T W - I)xx^T)").expect("the factored line is a step");
    assert_eq!(step.is_right(), Some(true), "{shown}");
    let first = &q.steps[q.first_wrong.expect("a wrong step")];
    assert_eq!(first.text, "2W(W^T W - I)xx^T", "{shown}");
    assert_eq!(q.first_wrong, q.final_step);
    let StepReading::Read { verdict, vs_previous, .. } = &first.reading else { panic!("{shown}") };
    assert_eq!(*vs_previous, Some(false));
    let cx = verdict.counterexample.as_ref().expect("a counterexample");
    assert!(cx.max_diff.unwrap() > 1e-3 && cx.dims.iter().all(|(_, k)| *k <= 3));
    assert!(verdict.diagnoses.iter().any(|d| matches!(d, Diagnosis::MissingPaths { factor, missing, .. } if *factor == 2.0 && missing[0].contains("W'"))), "{shown}");
    // Every step before it is right.
    assert!(q.steps[..q.first_wrong.unwrap()].iter().all(|s| s.is_right() != Some(false)));
}

#[test]
fn seed_003_final_answer_is_right() {
    let r = audit(&problem_file("autoencoder"), &seed("003"));
    let q = &r.questions[0];
    let shown = render(&r);
    assert_eq!(q.answer, Answer::Right, "{shown}");
    // The final line is the OCR'd `\nabla_m L`, read through the target alias.
    let fin = &q.steps[q.final_step.unwrap()];
    assert!(fin.text.starts_with("W(W^T Wx - x)x^T"), "{shown}");
    // `\partial L / \partial m` (the intermediate m = Wx) is not taken for the target.
    assert!(q.steps.iter().all(|s| s.text != "N^T z"), "{shown}");
    for name in ["N", "m", "z", "y"] {
        assert!(q.definitions.iter().any(|d| d.name == name), "{name} not used:\n{shown}");
    }
    assert!(q.first_wrong.is_none(), "{shown}");
}

/// The seed copies kept for when ../shared is absent are the same files.
#[test]
fn seed_copies_match_when_shared_exists() {
    let shared = manifest().join("../../../shared/seeds");
    if !shared.is_dir() {
        return;
    }
    for e in std::fs::read_dir(&shared).unwrap() {
        let p = e.unwrap().path();
        let copy = manifest().join("tests/cases/audit/seeds").join(p.file_name().unwrap());
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(&copy).unwrap_or_default(),
            "{} differs from its copy",
            p.display()
        );
    }
}

fn check_expected(case: &Path, r: &AuditReport) -> Result<(), String> {
    let text = std::fs::read_to_string(case.join("expected.txt")).unwrap();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let q = r.questions.iter().find(|q| q.id == w[0]).ok_or(format!("no question {}", w[0]))?;
        if w[1] != "any" && q.answer.name() != w[1] {
            return Err(format!("{}: answer {} instead of {}", q.id, q.answer.name(), w[1]));
        }
        let line_of = |i: Option<usize>| i.map(|i| q.steps[i].line.to_string());
        let want = |key: &str| w.iter().find_map(|x| x.strip_prefix(key)).map(str::to_string);
        if line_of(q.first_wrong) != want("first_wrong=") {
            return Err(format!(
                "{}: first wrong line {:?}, expected {:?}",
                q.id,
                line_of(q.first_wrong),
                want("first_wrong=")
            ));
        }
        if w[1] != "any" && line_of(q.final_step) != want("final=") {
            return Err(format!("{}: final line {:?}, expected {:?}", q.id, line_of(q.final_step), want("final=")));
        }
    }
    Ok(())
}

#[test]
fn audit_cases() {
    let dir = manifest().join("tests/cases/audit");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("doc.md").exists()).collect();
    cases.sort();
    assert!(cases.len() >= 8);
    let mut failures = vec![];
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let doc = String::from_utf8_lossy(&std::fs::read(case.join("doc.md")).unwrap()).to_string();
        let r = audit(&std::fs::read_to_string(case.join("problem.toml")).unwrap(), &doc);
        let shown = render(&r);
        if let Err(e) = check_expected(&case, &r) {
            failures.push(format!("{name}: {e}\n{shown}"));
        }
        insta::assert_snapshot!(format!("audit__{name}"), shown);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn aligned_rows_and_continuations_form_one_chain() {
    let doc = std::fs::read_to_string(manifest().join("tests/cases/audit/aligned/doc.md")).unwrap();
    let eqs = equations(&doc);
    assert_eq!(eqs[0].members.len(), 3, "{:?}", eqs[0]);
    assert!(eqs[0].members[1].contains("+ Wx(W^T W x - x)^T"), "{:?}", eqs[0]);
    assert_eq!(eqs[1].members.len(), 2);
    assert!(eqs[1].members[1].ends_with("Wx(W^T W x - x)^T"));
    // A matrix's `\\` and `&` stay inside it.
    assert!(eqs[2].members[1].contains("bmatrix"), "{:?}", eqs[2]);
}

#[test]
fn problem_file_errors_are_reported() {
    for (src, needle) in [
        ("", "asks no question"),
        ("[[question]]\nloss = \"x'*x\"", "has no `wrt`"),
        ("decl = 3\n[[question]]\nloss = \"x'*x\"\nwrt = \"x\"", "decl must be a string"),
        ("[[question]]\nloss = \"x'*x\"\nwrt = \"x\"\ncolour = 1", "unknown key `colour`"),
        ("[[question]]\nid = \"a\"\nloss = \"x'*x\"\nwrt = \"x\"\n[[question]]\nid = \"a\"\nloss = \"x'*x\"\nwrt = \"x\"", "two questions"),
        ("[[question]\n", "line 1"),
        ("[aliases]\n\"W^T\" = \"W\"\n[[question]]\nloss = \"x'*x\"\nwrt = \"x\"", "not a symbol"),
        ("[[question]]\nloss = \"x'*x\"\nwrt = \"x\"\ntarget_aliases = [\"W x\"]", "target alias"),
    ] {
        let e = parse_problem(src).unwrap_err();
        assert!(e.to_string().contains(needle), "{src:?}: {e}");
    }
    // A loss that does not parse, or a variable it lacks, is an error naming the question.
    let e = auditor("[[question]]\nid = \"q\"\nloss = \"x'*\"\nwrt = \"x\"").unwrap_err();
    assert!(e.message.starts_with("question `q`"), "{e}");
    let e = auditor("[[question]]\nid = \"q\"\nloss = \"x'*x\"\nwrt = \"W\"").unwrap_err();
    assert!(e.message.contains("`W`"), "{e}");
}

#[test]
fn shipped_problem_files_parse() {
    for name in ["autoencoder", "gplvm", "swish_mlp"] {
        let a = auditor(&problem_file(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!a.spec().questions.is_empty());
    }
}

/// Seed 002's second problem: the answers are written with dL/dz_2 and the Swish Jacobian,
/// which the problem file gives values.
#[test]
fn seed_002_mlp_answers_are_right() {
    let r = audit(&problem_file("swish_mlp"), &seed("002"));
    for q in &r.questions {
        assert_eq!(q.answer, Answer::Right, "{}:\n{}", q.id, render(&r));
    }
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    const TOKENS: &[&str] = &[
        "$",
        "$$",
        "\\[",
        "\\]",
        "\\\\",
        "&",
        "=",
        "&=",
        "\\begin{aligned}",
        "\\end{aligned}",
        "\\begin{bmatrix}",
        "\\end{bmatrix}",
        "\\frac{",
        "}",
        "{",
        "(",
        ")",
        "\\nabla_W L",
        "\\nabla_",
        "\\partial",
        "\\frac{\\partial L}{\\partial W}",
        "/",
        "W",
        "x",
        "C",
        "^T",
        "^{-1}",
        "é",
        "∂",
        "\n",
        "\n\n",
        " ",
        "+",
        "-",
        "_",
        "\\left(",
        "\\right)",
        "\\|",
        "|",
        ",",
        "1.",
        "b)",
        "(c)",
        "//",
        "\\in",
        "\\mathbb{R}",
        "C = ",
        "A = Wx",
        "\\rightarrow",
        "\\quad",
        "(*)",
        "\\",
        "\\\\[2pt]",
    ];

    fn doc() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(TOKENS), 0..60).prop_map(|v| v.concat()),
            "\\PC{0,200}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        /// Any text: equations are extracted and audited without a panic, and every step is
        /// either read or listed as unreadable with a reason.
        #[test]
        fn any_document_is_audited(d in doc()) {
            let a = auditor(&problem_file("autoencoder")).unwrap();
            let r = a.audit(&d);
            for q in &r.questions {
                for s in &q.steps {
                    if let StepReading::Unreadable { reason, .. } = &s.reading {
                        prop_assert!(!reason.is_empty());
                    }
                }
            }
        }
    }
}
