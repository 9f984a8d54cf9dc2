//! Auditing a derivation: find the equations that state a gradient the problem asks for,
//! follow their chains step by step, and judge each step and the final answer. Documents as
//! they come from a scanner are read through the OCR confusion table (`ocr`): a repair is
//! taken only where exactly one reading is well-typed, and every verdict lists the repairs it
//! rests on.

mod document;
mod ocr;
mod problem_file;
mod read;
mod target;

pub use document::{equations, has_math, Equation};
pub use ocr::{Confusion, Meant, Repair, CONFUSIONS};
pub use problem_file::{parse_problem, ProblemSpec, Question};
pub use read::{DefSource, DefinitionUse};
pub use target::{parse_target, symbol, Target};

use crate::check::{CheckOptions, Checker, Verdict};
use crate::problem::Problem;
use matdiff_core::{print, Style};
use matdiff_syntax::{Error, ErrorKind, Input, Result};
use read::{merge_repairs, parse_definition, AbbrevSource, Candidate, CandidateBody, Reader};

/// The most steps read per question: a document is a few pages, and each step may try many
/// definitions; past this, steps are listed as not read.
const MAX_STEPS: usize = 500;

/// How one member of a derivation was read.
#[derive(Clone, Debug, PartialEq)]
pub enum StepReading {
    /// Read and compared: `read_as` is the member in plain syntax (definitions not substituted).
    Read {
        /// The member in plain syntax.
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
    Unreadable {
        /// The error's message (`error.message`).
        reason: String,
        /// The error, with its kind, notes and a span into the step's `text` when it has one.
        error: Box<Error>,
        /// When the OCR repair is ambiguous: each well-typed reading and the repairs it assumes.
        alternatives: Vec<Alternative>,
    },
}

/// One of several well-typed readings of an ambiguous step.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    /// The step read this way, plain syntax.
    pub read_as: String,
    /// The repairs this reading assumes.
    pub repairs: Vec<Repair>,
}

/// One member of a chain that states the target.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The document line (1-based).
    pub line: usize,
    /// The member as written.
    pub text: String,
    /// Whether this member starts a new equation (rather than continuing a chain).
    pub starts_equation: bool,
    /// How it was read.
    pub reading: StepReading,
    /// The OCR repairs the reading rests on: in the member, in its chain's left side (the
    /// target) and in the document definitions it uses. For an unreadable step, the repairs
    /// every reading tried shares.
    pub repairs: Vec<Repair>,
}

impl Step {
    /// Right or wrong; `None` when unreadable.
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
    /// The last readable statement of the gradient is wrong.
    Wrong,
    /// The gradient is stated, but no statement could be read.
    Unreadable,
    /// The document never states this gradient.
    Missing,
}

impl Answer {
    /// The name in reports (`right`, `wrong`, `unreadable`, `missing`).
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
    /// The question's id in the problem file.
    pub id: String,
    /// The question's title.
    pub title: String,
    /// The variable the gradient is taken with respect to.
    pub wrt: String,
    /// The loss and its true gradient, plain syntax.
    pub loss: String,
    /// The true gradient, plain syntax.
    pub gradient: String,
    /// The outcome.
    pub answer: Answer,
    /// Every member of the chains that state the gradient, in document order.
    pub steps: Vec<Step>,
    /// Index (into `steps`) of the final answer: the last readable step.
    pub final_step: Option<usize>,
    /// Index of the first readable step that is not the gradient.
    pub first_wrong: Option<usize>,
    /// Every definition used, once.
    pub definitions: Vec<DefinitionUse>,
    /// The repairs the final answer rests on (its step's).
    pub repairs: Vec<Repair>,
    /// Remarks on the reading: a document definition the problem file overrides.
    pub notes: Vec<String>,
}

/// The audit of a document.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditReport {
    /// Equations found in the document.
    pub equations: usize,
    /// One report per question of the problem file.
    pub questions: Vec<QuestionReport>,
}

/// One question compiled: its checker and problem-file definitions.
#[derive(Clone, Debug)]
struct Compiled {
    question: Question,
    checker: Checker,
    loss: String,
    file_defs: Vec<Candidate>,
    /// Whether the sigmoid belongs to this question (its loss or the file's definitions).
    sigmoid: bool,
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

/// Whether a text uses the sigmoid (or Swish, whose definition holds it).
fn uses_sigmoid(text: &str) -> bool {
    text.contains("sigmoid") || text.contains("swish") || text.contains("\\sigma")
}

/// A member that states a condition rather than a value (`\nabla_U L = 0`).
fn is_zero(member: &str) -> bool {
    let m: String = member.chars().filter(|c| !c.is_whitespace() && *c != '{' && *c != '}').collect();
    matches!(m.as_str(), "0" | "\\mathbf0" | "\\boldsymbol0" | "\\vec0" | "\\bf0")
}

impl Auditor {
    /// Compile every question: parse its loss and declarations, differentiate, sample points.
    pub fn new(spec: ProblemSpec) -> Result<Auditor> {
        let mut compiled = vec![];
        for q in &spec.questions {
            let problem = Problem::new(&q.loss, &q.decl).map_err(|e| in_question(q, e))?;
            let loss = print(&problem.graph, problem.output, Style::Plain);
            let checker = Checker::new(problem, &q.wrt, CheckOptions::default()).map_err(|e| in_question(q, e))?;
            let names: Vec<String> = checker.problem().graph.vars().iter().map(|v| v.name.clone()).collect();
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
            let mut sigmoid = uses_sigmoid(&q.loss);
            for (name, text) in &all {
                sigmoid |= uses_sigmoid(text);
                let expr = parse_definition(text, &def_names).map_err(|e| {
                    let note = format!("in `{text}`");
                    in_question(
                        q,
                        Error { message: format!("definition of `{name}`: {}", e.message), ..e.in_input(Input::None) }
                            .with_note(note),
                    )
                })?;
                file_defs.push(Candidate {
                    name: name.clone(),
                    source: DefSource::ProblemFile,
                    body: CandidateBody::Tree(expr),
                });
            }
            compiled.push(Compiled { question: q.clone(), checker, loss, file_defs, sigmoid });
        }
        Ok(Auditor { spec, compiled })
    }

    /// The problem file the auditor was built from.
    pub fn spec(&self) -> &ProblemSpec {
        &self.spec
    }

    /// Audit one document (Markdown with LaTeX math).
    pub fn audit(&self, doc: &str) -> AuditReport {
        let eqs = equations(doc);
        let text_eqs = document::text_equations(doc);
        let questions = self.compiled.iter().map(|c| self.audit_question(c, &eqs, &text_eqs)).collect();
        AuditReport { equations: eqs.len(), questions }
    }

    /// The repairs under which `member` states this question's gradient, if it does: its loss
    /// and variable symbols as written, or through the confusion table where they do not
    /// otherwise resolve (never a per-path `W_1`, a transpose or another variable).
    fn target_repairs(&self, q: &Question, reader: &Reader, member: &str, line: usize) -> Option<Vec<Repair>> {
        let raw = target::raw_target(member)?;
        let t = raw.target()?;
        if q.target_aliases.contains(&t) {
            return Some(vec![]);
        }
        let aliases = &self.spec.aliases;
        let of_alias = aliases.iter().find(|(a, _)| *a == t.of).map_or(t.of.as_str(), |(_, b)| b.as_str());
        let mut repairs = vec![];
        if !q.loss_symbols.iter().any(|s| *s == t.of || s == of_alias) {
            let (of, from) = ocr::loss_reading(raw.of)?;
            if !q.loss_symbols.contains(&of) {
                return None;
            }
            repairs.push(Repair { from, to: "L".into(), line });
        }
        if t.wrt.is_empty() {
            // `\nabla L` without the variable: this question's only if no other question has
            // the same loss symbol.
            let others = self.spec.questions.iter().filter(|o| o.id != q.id);
            let shared = others.into_iter().any(|o| o.loss_symbols.iter().any(|s| q.loss_symbols.contains(s)));
            return (!shared).then_some(repairs);
        }
        if !q.wrt_symbols.contains(&t.wrt) {
            if reader.resolve(&t.wrt).is_some() {
                return None; // a name of its own: the derivative w.r.t. something else
            }
            // The variable's own spelling first (`\omega` is w where w is the variable and W
            // only another way to write it).
            let mut readings = ocr::symbol_readings(raw.wrt);
            readings.retain(|r| q.wrt_symbols.contains(&r.0));
            readings.sort_by_key(|r| r.0 != q.wrt);
            let (_, from, to) = readings.into_iter().next()?;
            repairs.push(Repair { from, to: to.into(), line });
        }
        Some(repairs)
    }

    fn audit_question(&self, c: &Compiled, eqs: &[Equation], text_eqs: &[Equation]) -> QuestionReport {
        let q = &c.question;
        let mut checker = c.checker.clone();
        let aliases = &self.spec.aliases;
        // Names that are not intermediate definitions: variables, loss symbols, file definitions.
        let loss_syms: Vec<String> = self.spec.questions.iter().flat_map(|q| q.loss_symbols.clone()).collect();
        let vars: Vec<String> = checker.problem().graph.vars().iter().map(|v| v.name.clone()).collect();
        let file_names: Vec<String> = c.file_defs.iter().map(|d| d.name.clone()).collect();
        let dims: Vec<String> = checker.problem().graph.dims().dims().iter().map(|d| d.name.clone()).collect();
        let reserved = |n: &str| {
            vars.iter().any(|v| v == n)
                || loss_syms.iter().any(|v| v == n)
                || file_names.iter().any(|v| v == n)
                || aliases.iter().any(|(from, _)| from == n)
                || n == "I"
        };
        let all_eqs: Vec<&Equation> = {
            let mut v: Vec<&Equation> = eqs.iter().chain(text_eqs).collect();
            v.sort_by_key(|e| e.line);
            v
        };
        let mut notes = vec![];
        let mut doc_defs: Vec<(String, String, usize)> = vec![];
        let mut abbrev_sources: Vec<AbbrevSource> = vec![];
        let derivs: Vec<(Target, String)> =
            self.spec.derivatives.iter().map(|(t, n, _)| (t.clone(), n.clone())).collect();
        for eq in &all_eqs {
            if let Some((name, param)) = document::abbreviation_lhs(&eq.members[0]) {
                if !loss_syms.contains(&name) {
                    let members = definition_members(eq, &name, &derivs);
                    abbrev_sources.push(AbbrevSource { name, param, members });
                }
                continue;
            }
            let Some(name) = target::defined_name(&eq.members[0]) else { continue };
            if file_names.contains(&name) {
                let note = format!(
                    "`{name}` is defined by the problem file and on line {} (`{}`): the problem file's definition is used",
                    eq.line,
                    eq.members.get(1).map_or("", String::as_str)
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
                continue;
            }
            if reserved(&name) {
                continue;
            }
            let members = definition_members(eq, &name, &derivs);
            // `n = 3` sets a size for an example (a dimension, or a number in prose), not an
            // intermediate: taken as one, it would let an OCR'd x (`n`) read as the number.
            let numbers = members.iter().all(|(m, _)| m.trim().parse::<f64>().is_ok());
            let from_text = text_eqs.iter().any(|t| std::ptr::eq(t, *eq));
            if numbers && (from_text || dims.contains(&name)) {
                continue;
            }
            for (m, line) in members {
                doc_defs.push((name.clone(), m, line));
            }
        }
        let mut names: Vec<String> = vars.clone();
        names.extend(aliases.iter().map(|(a, _)| a.clone()));
        names.extend(c.file_defs.iter().map(|d| d.name.clone()));
        names.extend(doc_defs.iter().map(|d| d.0.clone()));
        names.extend(derivs.iter().map(|d| d.1.clone()));
        names.sort();
        names.dedup();
        let mut reader = Reader {
            checker: &mut checker,
            aliases,
            candidates: c.file_defs.clone(),
            names,
            derivs: &derivs,
            abbrevs: vec![],
            sigmoid: c.sigmoid,
            work: 0,
        };
        reader.read_abbrevs(&abbrev_sources);
        let doc_candidates: Vec<Candidate> = doc_defs
            .iter()
            .map(|(name, text, line)| Candidate {
                name: name.clone(),
                source: DefSource::Document { line: *line, text: text.clone() },
                body: CandidateBody::Text(Box::new(reader.prepare(text, *line, &[]))),
            })
            .collect();
        reader.candidates.extend(doc_candidates);
        let mut steps: Vec<Step> = vec![];
        let mut nodes: Vec<Option<matdiff_core::NodeId>> = vec![];
        let mut definitions: Vec<DefinitionUse> = vec![];
        for eq in eqs {
            let Some(target_repairs) = self.target_repairs(q, &reader, &eq.members[0], eq.member_lines[0]) else {
                continue;
            };
            let mut first = true;
            for (m, &line) in eq.members[1..].iter().zip(&eq.member_lines[1..]) {
                if self.target_repairs(q, &reader, m, line).is_some() || is_zero(m) {
                    continue; // restates the target in other notation, or a condition (`= 0`)
                }
                let starts_equation = std::mem::take(&mut first);
                let unreadable = |error: Error, repairs: Vec<Repair>, alternatives| Step {
                    line,
                    text: m.clone(),
                    starts_equation,
                    reading: StepReading::Unreadable {
                        reason: error.message.clone(),
                        error: Box::new(error),
                        alternatives,
                    },
                    repairs,
                };
                if steps.len() >= MAX_STEPS {
                    let e = Error::unspanned(
                        Input::Claim,
                        format!("not read: more than {MAX_STEPS} steps state this gradient"),
                    )
                    .with_kind(ErrorKind::Limit);
                    nodes.push(None);
                    steps.push(unreadable(e, target_repairs.clone(), vec![]));
                    continue;
                }
                match reader.read(m, line) {
                    Ok(r) => {
                        let mut repairs = target_repairs.clone();
                        merge_repairs(&mut repairs, &r.repairs);
                        let prev = nodes.iter().rev().flatten().next().copied();
                        let vs_previous = match prev {
                            Some(p) => Some(reader.checker.same_value(p, r.node).ok().flatten().unwrap_or(false)),
                            None => None,
                        };
                        match reader.checker.check_node(r.node) {
                            Ok(verdict) => {
                                for d in &r.defs {
                                    if !definitions.iter().any(|u| u.name == d.name && u.value == d.value) {
                                        definitions.push(d.clone());
                                    }
                                }
                                nodes.push(Some(r.node));
                                steps.push(Step {
                                    line,
                                    text: m.clone(),
                                    starts_equation,
                                    reading: StepReading::Read {
                                        read_as: r.plain,
                                        vs_previous,
                                        verdict: Box::new(verdict),
                                        notes: r.notes,
                                        definitions: r.defs.iter().map(|d| d.name.clone()).collect(),
                                    },
                                    repairs,
                                });
                            }
                            Err(e) => {
                                nodes.push(None);
                                steps.push(unreadable(e, repairs, vec![]));
                            }
                        }
                    }
                    Err(u) => {
                        let u = *u;
                        let mut repairs = target_repairs.clone();
                        merge_repairs(&mut repairs, &u.repairs);
                        let alternatives = u
                            .alternatives
                            .into_iter()
                            .map(|(read_as, repairs)| Alternative { read_as, repairs })
                            .collect();
                        nodes.push(None);
                        steps.push(unreadable(u.error, repairs, alternatives));
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
        let repairs = final_step.map_or_else(Vec::new, |i| steps[i].repairs.clone());
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
            repairs,
            notes,
        }
    }
}

/// The members of `name = …` that define it, with their lines: a chain's members up to a
/// derivative of the name itself (`s = r^T r = \frac{\partial s}{\partial r} = 2r` defines s
/// only); a derivative of something else names what follows (`e = \frac{\partial L}{\partial u}
/// = W r` defines e = W r). A derivative the problem file gives a value is a value.
fn definition_members(eq: &Equation, name: &str, derivs: &[(Target, String)]) -> Vec<(String, usize)> {
    let mut out = vec![];
    for (m, &line) in eq.members[1..].iter().zip(&eq.member_lines[1..]) {
        if let Some(t) = target::raw_target(m) {
            let given = t.target().is_some_and(|t| derivs.iter().any(|(d, _)| d.of == t.of && d.wrt == t.wrt))
                || ocr::loss_reading(t.of).is_some_and(|(of, _)| {
                    target::symbol(t.wrt).is_some_and(|w| derivs.iter().any(|(d, _)| d.of == of && d.wrt == w))
                });
            if !given {
                if t.target().is_some_and(|t| t.of == name) {
                    break;
                }
                continue;
            }
        }
        out.push((m.clone(), line));
    }
    out
}

/// Parse a problem file and compile it.
pub fn auditor(problem_toml: &str) -> Result<Auditor> {
    Auditor::new(parse_problem(problem_toml)?)
}
