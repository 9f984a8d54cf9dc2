//! Auditing a derivation: find the equations that state a gradient the problem asks for,
//! follow their chains step by step, and judge each step and the final answer.

mod document;
mod problem_file;
mod read;
mod target;

pub use document::{equations, has_math, Equation};
pub use problem_file::{parse_problem, ProblemSpec, Question};
pub use read::{DefSource, DefinitionUse};
pub use target::{parse_target, symbol, Target};

use crate::check::{CheckOptions, Checker, Verdict};
use crate::problem::Problem;
use matdiff_core::{print, Style};
use matdiff_syntax::{Error, Result};
use read::{document_candidates, known_names, parse_definition, Candidate, Reader};

/// The most steps read per question: a document is a few pages, and each step may try many
/// definitions; past this, steps are listed as not read.
const MAX_STEPS: usize = 500;

/// How one member of a derivation was read.
#[derive(Clone, Debug, PartialEq)]
pub enum StepReading {
    /// Read and compared: `read_as` is the member in plain syntax (definitions not substituted).
    Read {
        read_as: String,
        /// Equal to the previous readable step (`None` for the first one).
        vs_previous: Option<bool>,
        /// Compared with the true gradient.
        verdict: Box<Verdict>,
        /// How the LaTeX was read where there was a choice ("read `xx` as x*x").
        notes: Vec<String>,
        /// Definitions substituted.
        definitions: Vec<String>,
    },
    /// Could not be read, and why.
    Unreadable { reason: String },
}

/// One member of a chain that states the target.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub line: usize,
    /// The member as written.
    pub text: String,
    /// Whether this member starts a new equation (rather than continuing a chain).
    pub starts_equation: bool,
    pub reading: StepReading,
}

impl Step {
    pub fn is_right(&self) -> Option<bool> {
        match &self.reading {
            StepReading::Read { verdict, .. } => Some(verdict.right),
            StepReading::Unreadable { .. } => None,
        }
    }
}

/// The outcome for one question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The last readable statement of the gradient is right.
    Right,
    Wrong,
    /// The gradient is stated, but no statement could be read.
    Unreadable,
    /// The document never states this gradient.
    Missing,
}

impl Answer {
    pub fn name(self) -> &'static str {
        match self {
            Answer::Right => "right",
            Answer::Wrong => "wrong",
            Answer::Unreadable => "unreadable",
            Answer::Missing => "missing",
        }
    }
}

/// The audit of one question.
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionReport {
    pub id: String,
    pub title: String,
    pub wrt: String,
    /// The loss and its true gradient, plain syntax.
    pub loss: String,
    pub gradient: String,
    pub answer: Answer,
    pub steps: Vec<Step>,
    /// Index (into `steps`) of the final answer: the last readable step.
    pub final_step: Option<usize>,
    /// Index of the first readable step that is not the gradient.
    pub first_wrong: Option<usize>,
    /// Every definition used, once.
    pub definitions: Vec<DefinitionUse>,
}

/// The audit of a document.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditReport {
    /// Equations found in the document.
    pub equations: usize,
    pub questions: Vec<QuestionReport>,
}

/// One question compiled: its checker and problem-file definitions.
#[derive(Clone, Debug)]
struct Compiled {
    question: Question,
    checker: Checker,
    loss: String,
    file_defs: Vec<Candidate>,
}

/// A problem file compiled once, to audit many documents (it is `Sync`: share it across threads).
#[derive(Clone, Debug)]
pub struct Auditor {
    spec: ProblemSpec,
    compiled: Vec<Compiled>,
}

fn in_question(q: &Question, e: Error) -> Error {
    let msg = format!("question `{}`: {}", q.id, e.message);
    Error { message: msg, ..e }
}

impl Auditor {
    /// Compile every question: parse its loss and declarations, differentiate, sample points.
    pub fn new(spec: ProblemSpec) -> Result<Auditor> {
        let mut compiled = vec![];
        for q in &spec.questions {
            let problem = Problem::new(&q.loss, &q.decl).map_err(|e| in_question(q, e))?;
            let loss = print(&problem.graph, problem.output, Style::Plain);
            let checker = Checker::new(problem, &q.wrt, CheckOptions::default()).map_err(|e| in_question(q, e))?;
            let names: Vec<String> = checker.problem().graph.vars.iter().map(|v| v.name.clone()).collect();
            let def_names: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .chain(
                    spec.definitions
                        .iter()
                        .chain(&q.definitions)
                        .map(|d| d.0.as_str())
                        .chain(spec.derivatives.iter().map(|d| d.1.as_str())),
                )
                .collect();
            let mut file_defs = vec![];
            let derivatives = spec.derivatives.iter().map(|(_, n, v)| (n.clone(), v.clone()));
            let all: Vec<(String, String)> =
                q.definitions.iter().chain(&spec.definitions).cloned().chain(derivatives).collect();
            for (name, text) in &all {
                let expr = parse_definition(text, &def_names).map_err(|m| {
                    in_question(
                        q,
                        Error::unspanned(matdiff_syntax::Input::None, format!("definition of `{name}`: {m}"))
                            .with_kind(matdiff_syntax::ErrorKind::Syntax),
                    )
                })?;
                file_defs.push(Candidate { name: name.clone(), expr, source: DefSource::ProblemFile });
            }
            compiled.push(Compiled { question: q.clone(), checker, loss, file_defs });
        }
        Ok(Auditor { spec, compiled })
    }

    pub fn spec(&self) -> &ProblemSpec {
        &self.spec
    }

    /// Audit one document (Markdown with LaTeX math).
    pub fn audit(&self, doc: &str) -> AuditReport {
        let eqs = equations(doc);
        let questions = self.compiled.iter().map(|c| self.audit_question(c, &eqs)).collect();
        AuditReport { equations: eqs.len(), questions }
    }

    fn audit_question(&self, c: &Compiled, eqs: &[Equation]) -> QuestionReport {
        let q = &c.question;
        let mut checker = c.checker.clone();
        let aliases = &self.spec.aliases;
        // Names that are not intermediate definitions: variables, loss symbols, file definitions.
        let loss_syms: Vec<String> = self.spec.questions.iter().flat_map(|q| q.loss_symbols.clone()).collect();
        let vars: Vec<String> = checker.problem().graph.vars.iter().map(|v| v.name.clone()).collect();
        let file_names: Vec<String> = c.file_defs.iter().map(|d| d.name.clone()).collect();
        let reserved = |n: &str| {
            vars.iter().any(|v| v == n)
                || loss_syms.iter().any(|v| v == n)
                || file_names.iter().any(|v| v == n)
                || n == "I"
        };
        let doc_names: Vec<String> =
            eqs.iter().filter_map(|e| target::defined_name(&e.members[0])).filter(|n| !reserved(n)).collect();
        let names = known_names(&checker, aliases, &c.file_defs, &doc_names);
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut candidates = c.file_defs.clone();
        let derivs: Vec<(Target, String)> =
            self.spec.derivatives.iter().map(|(t, n, _)| (t.clone(), n.clone())).collect();
        candidates.extend(document_candidates(eqs, &reserved, &name_refs, aliases, &derivs));
        let mut reader = Reader { checker: &mut checker, aliases, candidates, names: names.clone(), derivs: &derivs };
        let is_target = |t: &Target| {
            let t_of = aliases.iter().find(|(a, _)| *a == t.of).map_or(t.of.as_str(), |(_, b)| b.as_str());
            ((q.loss_symbols.contains(&t.of) || q.loss_symbols.iter().any(|s| s == t_of))
                && q.wrt_symbols.contains(&t.wrt))
                || q.target_aliases.contains(t)
        };
        let mut steps: Vec<Step> = vec![];
        let mut nodes: Vec<Option<matdiff_core::NodeId>> = vec![];
        let mut definitions: Vec<DefinitionUse> = vec![];
        for eq in eqs {
            if !parse_target(&eq.members[0]).is_some_and(|t| is_target(&t)) {
                continue;
            }
            let mut first = true;
            for (m, &line) in eq.members[1..].iter().zip(&eq.member_lines[1..]) {
                if parse_target(m).is_some_and(|t| is_target(&t)) {
                    continue; // restates the target in other notation
                }
                let starts_equation = std::mem::take(&mut first);
                if steps.len() >= MAX_STEPS {
                    let reason = format!("not read: more than {MAX_STEPS} steps state this gradient");
                    nodes.push(None);
                    steps.push(Step {
                        line,
                        text: m.clone(),
                        starts_equation,
                        reading: StepReading::Unreadable { reason },
                    });
                    continue;
                }
                match reader.read(m, line) {
                    Ok(r) => {
                        let prev = nodes.iter().rev().flatten().next().copied();
                        let vs_previous = match prev {
                            Some(p) => Some(reader.checker.same_value(p, r.node).ok().flatten().unwrap_or(false)),
                            None => None,
                        };
                        let reading = match reader.checker.check_node(r.node) {
                            Ok(verdict) => {
                                for d in &r.defs {
                                    if !definitions.iter().any(|u| u.name == d.name && u.value == d.value) {
                                        definitions.push(d.clone());
                                    }
                                }
                                nodes.push(Some(r.node));
                                StepReading::Read {
                                    read_as: r.plain,
                                    vs_previous,
                                    verdict: Box::new(verdict),
                                    notes: r.notes,
                                    definitions: r.defs.iter().map(|d| d.name.clone()).collect(),
                                }
                            }
                            Err(e) => {
                                nodes.push(None);
                                StepReading::Unreadable { reason: e.message }
                            }
                        };
                        steps.push(Step { line, text: m.clone(), starts_equation, reading });
                    }
                    Err(reason) => {
                        nodes.push(None);
                        steps.push(Step {
                            line,
                            text: m.clone(),
                            starts_equation,
                            reading: StepReading::Unreadable { reason },
                        });
                    }
                }
            }
        }
        let final_step = steps.iter().rposition(|s| s.is_right().is_some());
        let first_wrong = steps.iter().position(|s| s.is_right() == Some(false));
        let answer = match final_step {
            Some(i) if steps[i].is_right() == Some(true) => Answer::Right,
            Some(_) => Answer::Wrong,
            None if steps.is_empty() => Answer::Missing,
            None => Answer::Unreadable,
        };
        let gradient = print(&reader.checker.problem().graph, reader.checker.gradient(), Style::Plain);
        QuestionReport {
            id: q.id.clone(),
            title: q.title.clone(),
            wrt: q.wrt.clone(),
            loss: c.loss.clone(),
            gradient,
            answer,
            steps,
            final_step,
            first_wrong,
            definitions,
        }
    }
}

/// Parse a problem file and compile it.
pub fn auditor(problem_toml: &str) -> Result<Auditor> {
    Auditor::new(parse_problem(problem_toml)?)
}
