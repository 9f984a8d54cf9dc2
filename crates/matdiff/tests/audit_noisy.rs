//! The noisy (OCR'd) homework corpus, `tests/cases/audit_noisy/<case>/{doc.md, expected.toml}`
//! (README.md there gives the schema), one test per document. For every question: the verdict,
//! the final and first-wrong lines, the repairs of the final answer, every judged step (line
//! and verdict, in order), no judged step on a line that only looks like the gradient, and no
//! "wrong" where the corpus says right. Underneath, numerically: each expected reading (`plain`)
//! is checked against the problem's gradient, and each step the auditor read is compared by
//! value with the reading the corpus gives for it.

use matdiff::audit::{auditor, parse_problem, Answer, AuditReport, Auditor, StepReading};
use matdiff::check::{CheckOptions, Checker};
use matdiff::Problem;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases/audit_noisy")
}

fn problems() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../problems")
}

/// A checker for one question of a problem file, to judge plain readings.
fn checker(problem_toml: &str, id: &str) -> Checker {
    let spec = parse_problem(problem_toml).unwrap();
    let q = spec.questions.iter().find(|q| q.id == id).unwrap();
    Checker::new(Problem::new(&q.loss, &q.decl).unwrap(), &q.wrt, CheckOptions::default()).unwrap()
}

/// Repairs as a sorted set of `FROM -> TO` with spaces removed.
fn repair_set<I: IntoIterator<Item = String>>(r: I) -> Vec<String> {
    let mut v: Vec<String> = r.into_iter().map(|s| s.split_whitespace().collect()).collect();
    v.sort();
    v.dedup();
    v
}

fn strs(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array()).map_or(vec![], |a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
}

/// Audit one case and list everything that differs from its expected.toml.
pub fn run_case(case: &str) -> Vec<String> {
    let d = dir().join(case);
    let exp: toml::Table = std::fs::read_to_string(d.join("expected.toml")).unwrap().parse().unwrap();
    let doc = std::fs::read_to_string(d.join("doc.md")).unwrap();
    let problem_name = exp["problem"].as_str().unwrap();
    let problem = std::fs::read_to_string(problems().join(problem_name)).unwrap();
    let auditor: Auditor = auditor(&problem).unwrap();
    let report: AuditReport = auditor.audit(&doc);
    let mut fails = vec![];
    for q in exp["question"].as_array().unwrap() {
        let id = q["id"].as_str().unwrap();
        let mut fail = |m: String| fails.push(format!("{case} {id}: {m}"));
        let got = report.questions.iter().find(|r| r.id == id).expect("every question is reported");
        let want = q["verdict"].as_str().unwrap();
        // The verdict, and never a false "wrong".
        if got.answer.name() != want {
            fail(format!("verdict {} (expected {want})", got.answer.name()));
        }
        if got.answer == Answer::Wrong && want != "wrong" {
            fail("a FALSE \"wrong\"".into());
        }
        let line_of = |i: Option<usize>| i.map(|i| got.steps[i].line as i64);
        let int = |k: &str| q.get(k).and_then(|v| v.as_integer());
        if line_of(got.final_step) != int("final_line") {
            fail(format!("final line {:?} (expected {:?})", line_of(got.final_step), int("final_line")));
        }
        if line_of(got.first_wrong) != int("first_wrong_line") {
            fail(format!("first wrong line {:?} (expected {:?})", line_of(got.first_wrong), int("first_wrong_line")));
        }
        if want == "right" || want == "wrong" {
            let w = repair_set(strs(q.get("repairs")));
            let g = repair_set(got.repairs.iter().map(ToString::to_string));
            if w != g {
                fail(format!("final repairs {g:?} (expected {w:?})"));
            }
        }
        // Every judged step, in order, is an expected one with its verdict.
        let expected_steps: Vec<&toml::Value> =
            q.get("step").and_then(|s| s.as_array()).map_or(vec![], |a| a.iter().collect());
        let judged: Vec<(usize, bool, String)> = got
            .steps
            .iter()
            .filter_map(|s| match &s.reading {
                StepReading::Read { verdict, .. } => Some((s.line, verdict.right, verdict.claim_read_as.clone())),
                StepReading::Unreadable { .. } => None,
            })
            .collect();
        let want_judged: Vec<(usize, bool, String, Vec<String>)> = expected_steps
            .iter()
            .filter(|s| s["verdict"].as_str() != Some("unreadable"))
            .map(|s| {
                (
                    s["line"].as_integer().unwrap() as usize,
                    s["verdict"].as_str() == Some("right"),
                    s["plain"].as_str().unwrap().to_string(),
                    strs(s.get("repairs")),
                )
            })
            .collect();
        // The expected steps are found in order; a further judged member may only share a line
        // (a chain) with an expected step of the same verdict.
        let lines = |v: &[(usize, bool)]| {
            v.iter().map(|(l, r)| format!("{l}:{}", if *r { "right" } else { "wrong" })).collect::<Vec<_>>().join(" ")
        };
        let g: Vec<(usize, bool)> = judged.iter().map(|j| (j.0, j.1)).collect();
        let w: Vec<(usize, bool)> = want_judged.iter().map(|j| (j.0, j.1)).collect();
        let mut matched: Vec<Option<usize>> = vec![None; w.len()];
        let mut k = 0;
        let mut ok = true;
        for (gi, step) in g.iter().enumerate() {
            if k < w.len() && *step == w[k] {
                matched[k] = Some(gi);
                k += 1;
            } else if !w.contains(step) {
                ok = false;
            }
        }
        if !ok || k < w.len() {
            fail(format!("judged steps [{}] (expected [{}])", lines(&g), lines(&w)));
        }
        // Numerically: the corpus's readings have their verdicts, and the auditor read each
        // step as the corpus does (equal values at random points).
        let mut ck = checker(&problem, id);
        for (line, right, plain, _) in &want_judged {
            match ck.check(plain) {
                Ok(v) if v.right == *right => {}
                Ok(v) => fail(format!("line {line}: the corpus reading `{plain}` checks as right = {}", v.right)),
                Err(e) => fail(format!("line {line}: the corpus reading `{plain}` does not read: {e}")),
            }
        }
        if ok && k == w.len() {
            let pairs = matched.iter().zip(&want_judged).map(|(gi, wj)| (&judged[gi.unwrap()], wj));
            for ((line, _, read), (_, _, plain, _)) in pairs {
                let a = ck.problem_mut().claim(read);
                let b = ck.problem_mut().claim(plain);
                match (a, b) {
                    (Ok(a), Ok(b)) if ck.same_value(a, b).ok().flatten() == Some(true) => {}
                    _ => fail(format!("line {line}: read as `{read}`, the corpus reads `{plain}`")),
                }
            }
        }
        // Lines that only look like this gradient yield no judged step.
        let step_lines: Vec<usize> = want_judged.iter().map(|s| s.0).collect();
        for n in q.get("not_target").and_then(|v| v.as_array()).into_iter().flatten() {
            let l = n["line"].as_integer().unwrap() as usize;
            if !step_lines.contains(&l) && judged.iter().any(|j| j.0 == l) {
                fail(format!("line {l} is not a statement of the gradient, but a step was judged there"));
            }
        }
        // Ambiguous steps: unreadable, with the readings the corpus lists.
        for s in expected_steps.iter().filter(|s| s["verdict"].as_str() == Some("unreadable")) {
            let l = s["line"].as_integer().unwrap() as usize;
            if judged.iter().any(|j| j.0 == l) {
                fail(format!("line {l} should be unreadable"));
            }
            let Some(cands) = s.get("candidates").and_then(|c| c.as_array()) else { continue };
            let alts: Vec<String> = got
                .steps
                .iter()
                .filter(|st| st.line == l)
                .flat_map(|st| match &st.reading {
                    StepReading::Unreadable { alternatives, .. } => {
                        alternatives.iter().map(|a| a.read_as.clone()).collect()
                    }
                    StepReading::Read { .. } => vec![],
                })
                .collect();
            if alts.len() != cands.len() {
                fail(format!("line {l}: alternatives {alts:?}, the corpus lists {} candidates", cands.len()));
            }
        }
    }
    fails
}

macro_rules! noisy_cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            #[allow(non_snake_case)]
            fn $case() {
                let fails = run_case(stringify!($case));
                assert!(fails.is_empty(), "\n{}", fails.join("\n"));
            }
        )*
        /// Every case directory has its test above.
        #[test]
        fn every_case_is_tested() {
            let listed = [$(stringify!($case)),*];
            let mut found: Vec<String> = std::fs::read_dir(dir())
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.path().join("expected.toml").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            found.sort();
            let missing: Vec<&String> = found.iter().filter(|f| !listed.contains(&f.as_str())).collect();
            assert!(missing.is_empty(), "cases without a test: {missing:?}");
        }
    };
}

noisy_cases!(
    ae_01_omega_dagger,
    ae_02_text_definitions,
    ae_03_numbered_steps,
    ae_04_psi_times_dLdw,
    ae_05_slash_broken_n,
    ae_06_path_then_sum,
    ae_07_wrong_simplified,
    ae_08_wrong_sign,
    ae_09_unrecoverable,
    gp_01_kappa_gamma,
    gp_02_seven_chain,
    gp_03_wrong_one_path,
    gp_04_target_variants,
    gpl_01_seven_kappa,
    gpl_02_defs_gamma,
    gpl_03_wrong_half,
    lr_01_o_sigma,
    lr_02_ambiguous_o,
    lr_03_wrong_sign_six,
    mlp_01_six_O,
    mlp_02_delta_psi,
    mlp_03_abbreviations,
    mlp_04_jacobian_Z,
    mlp_05_wrong_sigma_prime,
    mlp_06_wrong_order_jacobian,
    mlp_07_nabla_upstream,
    pp_01_six_squared,
    pp_02_sigma_delta,
    pp_03_five_for_S,
    pp_04_wrong_half,
    pp_05_wrong_sign,
    rr_01_omega_lambda,
    rr_02_wrong_factor,
    sm_01_hat_times,
    sm_02_softmax_omega,
    sm_03_index_then_matrix,
    sm_04_wrong_transposed,
    sm_05_wrong_sign,
    sm_06_w_n_chain,
);
