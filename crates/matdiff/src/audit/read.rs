//! Reading one member of an equation into the problem's graph: LaTeX (or plain) → syntax
//! tree, aliases renamed, intermediate names replaced by their definitions (from the problem
//! file, or `X = …` lines of the document), then lowered as a claim.

use super::target::{defined_name, derivative_notation, replace_derivatives, Target};
use super::Equation;
use crate::check::Checker;
use matdiff_core::NodeId;
use matdiff_syntax::{looks_like_latex, parse_expr, parse_latex, to_plain, Expr, ExprKind};

/// The most lowerings one member may try while choosing definitions.
const MAX_LOWERINGS: usize = 64;

/// A step of the definition search: find a definition for a name (used on a line), or keep
/// a candidate once the names it needs are settled.
enum Goal {
    Need(String, usize),
    Commit(String, usize),
}

/// Where a definition comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum DefSource {
    ProblemFile,
    /// A line of the document, with the member as written.
    Document {
        line: usize,
        text: String,
    },
}

/// A candidate meaning for an intermediate name.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub name: String,
    pub expr: Expr,
    pub source: DefSource,
}

/// A definition a step relied on.
#[derive(Clone, Debug, PartialEq)]
pub struct DefinitionUse {
    pub name: String,
    /// The definition in plain syntax.
    pub value: String,
    pub source: DefSource,
}

/// A member read into the graph.
pub(crate) struct Reading {
    pub node: NodeId,
    /// The member in plain syntax, before definitions are substituted.
    pub plain: String,
    pub notes: Vec<String>,
    pub defs: Vec<DefinitionUse>,
}

/// Everything needed to read members for one question.
pub(crate) struct Reader<'a> {
    pub checker: &'a mut Checker,
    /// Document symbol → problem symbol, inside expressions.
    pub aliases: &'a [(String, String)],
    /// Problem-file definitions first, then the document's, in document order.
    pub candidates: Vec<Candidate>,
    /// Names the LaTeX reader should know (variables, aliases, defined names).
    pub names: Vec<String>,
    /// Derivatives the problem file gives values, and the names they are read as.
    pub derivs: &'a [(Target, String)],
}

fn rename(e: &mut Expr, aliases: &[(String, String)]) {
    match &mut e.kind {
        ExprKind::Name(n) => {
            if let Some((_, to)) = aliases.iter().find(|(from, _)| from == n) {
                *n = to.clone();
            }
        }
        ExprKind::Num(_) => {}
        ExprKind::Neg(a) | ExprKind::Transpose(a) => rename(a, aliases),
        ExprKind::Binary(_, a, b) => {
            rename(a, aliases);
            rename(b, aliases);
        }
        ExprKind::Call { args, .. } => args.iter_mut().for_each(|a| rename(a, aliases)),
    }
}

fn free_names(e: &Expr, out: &mut Vec<String>) {
    match &e.kind {
        ExprKind::Name(n) => {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        ExprKind::Num(_) => {}
        ExprKind::Neg(a) | ExprKind::Transpose(a) => free_names(a, out),
        ExprKind::Binary(_, a, b) => {
            free_names(a, out);
            free_names(b, out);
        }
        // `eye(N)`, `vector(n)`: the arguments are dimensions, not names to define.
        ExprKind::Call { func, .. } if matches!(func.as_str(), "eye" | "vector" | "matrix") => {}
        ExprKind::Call { args, .. } => args.iter().for_each(|a| free_names(a, out)),
    }
}

/// Parse a member: LaTeX (documents are LaTeX), or plain syntax when that is what it is.
pub(crate) fn parse_member(
    text: &str,
    names: &[&str],
    derivs: &[(Target, String)],
) -> Result<(Expr, Vec<String>), String> {
    let replaced = replace_derivatives(text, derivs);
    let text = replaced.as_str();
    if let Some(d) = derivative_notation(text) {
        return Err(format!("derivative notation `{d}` cannot be evaluated"));
    }
    // A reader bug must not abort an audit of many files: a panic reads as unreadable.
    let parsed = std::panic::catch_unwind(|| parse_latex(text, names))
        .map_err(|_| "the LaTeX reader failed on this text (an internal error)".to_string())?;
    match parsed {
        Ok(read) => {
            if !read.program.defs.is_empty() {
                return Err("a definition where an expression was expected".into());
            }
            let notes = read.notes.into_iter().filter(|n| !n.starts_with("read as:")).collect();
            Ok((read.program.body, notes))
        }
        Err(e) => {
            if !looks_like_latex(text) {
                if let Ok(expr) = parse_expr(text) {
                    return Ok((expr, vec![]));
                }
            }
            Err(e.message)
        }
    }
}

/// Parse a problem-file definition (plain syntax or LaTeX).
pub(crate) fn parse_definition(text: &str, names: &[&str]) -> Result<Expr, String> {
    if !looks_like_latex(text) {
        if let Ok(e) = parse_expr(text) {
            return Ok(e);
        }
    }
    parse_member(text, names, &[]).map(|r| r.0)
}

/// Definition candidates from the document: `X = …` where X is a single new name.
pub(crate) fn document_candidates(
    eqs: &[Equation],
    reserved: &dyn Fn(&str) -> bool,
    names: &[&str],
    aliases: &[(String, String)],
    derivs: &[(Target, String)],
) -> Vec<Candidate> {
    let mut out = vec![];
    for eq in eqs {
        let Some(name) = defined_name(&eq.members[0]) else {
            continue;
        };
        if reserved(&name) || aliases.iter().any(|(from, _)| *from == name) {
            continue;
        }
        for m in &eq.members[1..] {
            if let Ok((mut expr, _)) = parse_member(m, names, derivs) {
                rename(&mut expr, aliases);
                out.push(Candidate {
                    name: name.clone(),
                    expr,
                    source: DefSource::Document { line: eq.line, text: m.clone() },
                });
            }
        }
    }
    out
}

impl Reader<'_> {
    fn is_var(&self, n: &str) -> bool {
        self.checker.problem().graph.var_id(n).is_some() || n == "I" || n == "eye"
    }

    /// Candidate indices for `name`, nearest to `line` first (problem-file ones before all).
    fn order(&self, name: &str, line: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.candidates.len()).filter(|&i| self.candidates[i].name == name).collect();
        idx.sort_by_key(|&i| match &self.candidates[i].source {
            DefSource::ProblemFile => (0, 0, i),
            DefSource::Document { line: l, .. } if *l <= line => (1, line - l, i),
            DefSource::Document { line: l, .. } => (2, l - line, i),
        });
        idx
    }

    fn program_text(&self, chosen: &[(String, usize)], body: &str) -> String {
        let mut s = String::new();
        for (name, i) in chosen {
            s.push_str(&format!("{name} = {}\n", to_plain(&self.candidates[*i].expr)));
        }
        s.push_str(body);
        s
    }

    /// Choose definitions for the pending goals, depth first with backtracking: a name's
    /// candidates are tried nearest to where it is used first, each after the names it needs,
    /// and kept when the whole closure lowers. `budget` bounds the lowerings tried.
    fn solve(
        &mut self,
        goals: &mut Vec<Goal>,
        chosen: &mut Vec<(String, usize)>,
        budget: &mut usize,
        why: &mut Vec<String>,
    ) -> bool {
        let Some(goal) = goals.pop() else { return true };
        let done = match &goal {
            Goal::Need(name, line) => {
                if chosen.iter().any(|(n, _)| n == name) {
                    self.solve(goals, chosen, budget, why)
                } else if goals.iter().any(|g| matches!(g, Goal::Commit(n, _) if n == name)) {
                    why.push(format!("`{name}` is defined in terms of itself"));
                    false
                } else {
                    let order = self.order(name, *line);
                    if order.is_empty() {
                        why.push(format!("unknown name `{name}` (not a variable, and not defined)"));
                    }
                    let mut found = false;
                    for i in order {
                        if *budget == 0 {
                            break;
                        }
                        let mark = goals.len();
                        goals.push(Goal::Commit(name.clone(), i));
                        let mut needs = vec![];
                        free_names(&self.candidates[i].expr, &mut needs);
                        let cline = match &self.candidates[i].source {
                            DefSource::Document { line, .. } => *line,
                            DefSource::ProblemFile => *line,
                        };
                        for n in needs.into_iter().rev().filter(|n| !self.is_var(n)) {
                            goals.push(Goal::Need(n, cline));
                        }
                        if self.solve(goals, chosen, budget, why) {
                            found = true;
                            break;
                        }
                        goals.truncate(mark);
                    }
                    found
                }
            }
            Goal::Commit(name, i) => {
                *budget = budget.saturating_sub(1);
                let text =
                    self.program_text(chosen, &format!("{name} = {}\n{name}", to_plain(&self.candidates[*i].expr)));
                match self.checker.problem_mut().claim(&text) {
                    Ok(_) => {
                        chosen.push((name.clone(), *i));
                        if self.solve(goals, chosen, budget, why) {
                            true
                        } else {
                            chosen.pop();
                            false
                        }
                    }
                    Err(e) => {
                        let at = match &self.candidates[*i].source {
                            DefSource::Document { line, text } => format!("line {line} `{text}`"),
                            DefSource::ProblemFile => "the problem file".into(),
                        };
                        why.push(format!("{name} = {at}: {}", e.message));
                        false
                    }
                }
            }
        };
        if !done {
            goals.push(goal);
        }
        done
    }

    /// Read one member written on `line`.
    pub fn read(&mut self, text: &str, line: usize) -> Result<Reading, String> {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let (mut expr, notes) = parse_member(text, &names, self.derivs)?;
        rename(&mut expr, self.aliases);
        let mut needs = vec![];
        free_names(&expr, &mut needs);
        let mut chosen = vec![];
        needs.retain(|n| !self.is_var(n));
        let mut goals: Vec<Goal> = needs.iter().rev().map(|n| Goal::Need(n.clone(), line)).collect();
        let (mut budget, mut why) = (MAX_LOWERINGS, vec![]);
        if !self.solve(&mut goals, &mut chosen, &mut budget, &mut why) {
            why.dedup();
            let unknown = needs.iter().find(|n| self.order(n, line).is_empty());
            return Err(match unknown {
                Some(n) => format!("unknown name `{n}` (not a variable, and not defined)"),
                None => {
                    let shown: Vec<&str> = why.iter().take(3).map(String::as_str).collect();
                    format!(
                        "no usable definitions for {} ({})",
                        needs.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                        shown.join("; ")
                    )
                }
            });
        }
        let plain = to_plain(&expr);
        let text = self.program_text(&chosen, &plain);
        let node = self.checker.problem_mut().claim(&text).map_err(|e| e.message)?;
        let defs = chosen
            .iter()
            .map(|(name, i)| DefinitionUse {
                name: name.clone(),
                value: to_plain(&self.candidates[*i].expr),
                source: self.candidates[*i].source.clone(),
            })
            .collect();
        Ok(Reading { node, plain, notes, defs })
    }
}

/// Names a document may use for a question, for splitting juxtaposed letters.
pub(crate) fn known_names(
    checker: &Checker,
    aliases: &[(String, String)],
    candidates: &[Candidate],
    extra: &[String],
) -> Vec<String> {
    let mut names: Vec<String> = checker.problem().graph.vars.iter().map(|v| v.name.clone()).collect();
    names.extend(aliases.iter().map(|(a, _)| a.clone()));
    names.extend(candidates.iter().map(|c| c.name.clone()));
    names.extend(extra.iter().cloned());
    names.sort();
    names.dedup();
    names
}
