//! Reading one member of an equation into the problem's graph: the LaTeX (or plain) text is
//! parsed into a syntax tree, with problem-file derivatives and the document's abbreviations
//! put in place and OCR suspects read through the confusion table (`ocr.rs`); aliases are
//! renamed, and the tree is lowered as a claim together with the definitions it needs (the
//! problem file's first, then the document's, nearest first), all as trees: nothing is printed
//! and parsed again, and every error keeps its kind, span (into the member as written) and notes.
//!
//! A repair is taken only when exactly one reading of a member is well-typed: the readings are
//! every combination of its suspects' table readings, with the tokens that read as written
//! (`^{7}`, a `5` in `C - 5`) repaired only where the lowering's error points at them.

use super::ocr::{suspects, Lexicon, Repair, Suspect};
use super::target::{derivative_notation_unless, derivatives_in, Target};
use crate::check::Checker;
use matdiff_core::NodeId;
use matdiff_syntax::{looks_like_latex, parse_expr, parse_latex, to_plain, BinOp, Def, Expr, ExprKind, Program};
use matdiff_syntax::{Error, ErrorKind, Input, Span};
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

/// The most lowerings one member may try while choosing definitions.
const MAX_LOWERINGS: usize = 64;
/// The most combinations of table readings tried for one member.
const MAX_READINGS: usize = 16;
/// The most readings with repaired number-position tokens tried for one combination.
const MAX_FLIP_TRIES: usize = 24;
/// The most lowerings reading one member may cost in all (readings, definitions, repairs): a
/// pathological member is unreadable quickly rather than slowly.
const MAX_WORK: usize = 400;
/// How deep abbreviations may nest (`sw'(z)` uses `Sw(z)`).
const MAX_EXPANSION_DEPTH: usize = 8;

/// Where a definition comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum DefSource {
    /// The problem file's `[definitions]`.
    ProblemFile,
    /// A line of the document, with the member as written.
    Document {
        /// The line (1-based).
        line: usize,
        /// The member as written.
        text: String,
    },
}

/// A definition a step relied on.
#[derive(Clone, Debug, PartialEq)]
pub struct DefinitionUse {
    /// The defined name.
    pub name: String,
    /// The definition in plain syntax.
    pub value: String,
    /// Where the definition comes from.
    pub source: DefSource,
}

/// Edits of a text, and the map from the edited text back to the original.
#[derive(Clone, Debug, Default)]
pub(crate) struct Splice {
    /// (range in the original, range in the edited text), in order.
    edits: Vec<(Range<usize>, Range<usize>)>,
}

impl Splice {
    /// Apply non-overlapping edits (sorted or not).
    pub fn apply(text: &str, mut edits: Vec<(Range<usize>, String)>) -> (String, Splice) {
        edits.sort_by_key(|e| e.0.start);
        let mut out = String::with_capacity(text.len() + 16);
        let mut map = vec![];
        let mut at = 0;
        for (r, new) in edits {
            if r.start < at {
                continue; // overlapping: keep the first
            }
            out.push_str(&text[at..r.start]);
            let s = out.len();
            out.push_str(&new);
            map.push((r.clone(), s..out.len()));
            at = r.end;
        }
        out.push_str(&text[at..]);
        (out, Splice { edits: map })
    }

    /// A position of the edited text in the original (inside a replacement: its start, or its
    /// end for the end of a span).
    fn back(&self, pos: usize, end: bool) -> usize {
        let mut shift: isize = 0;
        for (old, new) in &self.edits {
            if pos < new.start || (end && pos == new.start && new.start < new.end) {
                break;
            }
            if pos < new.end || (end && pos == new.end) {
                return if end { old.end } else { old.start };
            }
            shift = old.end as isize - new.end as isize;
        }
        (pos as isize + shift).max(0) as usize
    }

    pub fn span_back(&self, s: Span) -> Span {
        let start = self.back(s.start, false);
        Span::new(start, self.back(s.end, true).max(start))
    }
}

/// A member with its forced readings applied (problem-file derivatives, abbreviations), and the
/// suspects of what is left.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    /// After the forced readings.
    pub text: String,
    /// `text` → `original`.
    splice: Splice,
    /// Repairs the forced readings rest on (`\mathcal{Z}` in a problem-file derivative).
    forced: Vec<Repair>,
    notes: Vec<String>,
    suspects: Vec<Suspect>,
    /// Derivative notation left after the forced readings: the member cannot be evaluated.
    derivative: Option<String>,
}

/// One reading of a prepared member: each suspect's choice made.
struct Variant {
    text: String,
    /// `text` → the prepared text.
    splice: Splice,
    repairs: Vec<Repair>,
    notes: Vec<String>,
}

/// A candidate meaning for an intermediate name.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub name: String,
    pub source: DefSource,
    pub body: CandidateBody,
}

#[derive(Clone, Debug)]
pub(crate) enum CandidateBody {
    /// From the problem file: read once, trusted (no repairs).
    Tree(Expr),
    /// From the document: read like a step.
    Text(Box<Prepared>),
}

/// A function abbreviation the document introduces (`Sw(z) = swish(z)`), applied entrywise.
#[derive(Clone, Debug)]
pub(crate) struct Abbrev {
    /// As the document writes it: `Sw`, `sw'`.
    pub name: String,
    /// The function name it is read as inside the tree.
    pub func: String,
    pub param: String,
    /// The body, with `param` free.
    pub body: Expr,
    pub repairs: Vec<Repair>,
    pub line: usize,
    pub text: String,
}

/// An abbreviation as found in the document, before it is read.
#[derive(Clone, Debug)]
pub(crate) struct AbbrevSource {
    pub name: String,
    pub param: String,
    /// The members after `name(param) =`, with their lines.
    pub members: Vec<(String, usize)>,
}

impl Abbrev {
    /// The internal function name for a document abbreviation (`sw'` → `swPrime`).
    pub fn func_name(name: &str) -> String {
        let base = name.trim_end_matches('\'');
        let primes = name.len() - base.len();
        format!("{base}{}", "Prime".repeat(primes))
    }
}

/// A successful reading of one combination.
struct Found {
    /// How many tokens kept as written were repaired.
    flips: usize,
    /// Which, and with which reading.
    flip_set: BTreeMap<usize, usize>,
    node: NodeId,
    tree: Expr,
    /// The member as read, plain syntax, before expansion.
    plain: String,
    repairs: Vec<Repair>,
    notes: Vec<String>,
    /// Abbreviations used, by name.
    used: Vec<String>,
}

/// A definition chosen for a name.
#[derive(Clone, Debug)]
struct Chosen {
    name: String,
    cand: usize,
    expr: Expr,
    repairs: Vec<Repair>,
}

/// A member read into the graph.
pub(crate) struct Reading {
    pub node: NodeId,
    /// The member in plain syntax, before definitions are substituted.
    pub plain: String,
    pub notes: Vec<String>,
    pub defs: Vec<DefinitionUse>,
    /// Every repair the reading rests on: its own and its definitions'.
    pub repairs: Vec<Repair>,
}

/// A member that could not be read: the error (span into the member), the repairs the readings
/// tried rest on, and, when several readings are well-typed, each of them.
pub(crate) struct Unread {
    pub error: Error,
    pub repairs: Vec<Repair>,
    pub alternatives: Vec<(String, Vec<Repair>)>,
}

impl Unread {
    fn of(error: Error) -> Box<Unread> {
        Box::new(Unread { error, repairs: vec![], alternatives: vec![] })
    }
}

/// A step of the definition search.
enum Goal {
    /// Find a definition for a name used on a line.
    Need(String, usize),
    /// Keep candidate `.1` read with combination `.2` once the names it needs are settled.
    Commit(String, usize, usize),
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
    /// The document's function abbreviations, read (`read_abbrevs`).
    pub abbrevs: Vec<Abbrev>,
    /// Whether the sigmoid belongs to the problem.
    pub sigmoid: bool,
    /// Lowerings spent on the current member (bounded by `MAX_WORK`).
    pub work: usize,
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

/// Free names with where each first occurs.
fn free_names(e: &Expr, out: &mut Vec<(String, Span)>) {
    match &e.kind {
        ExprKind::Name(n) => {
            if !out.iter().any(|(m, _)| m == n) {
                out.push((n.clone(), e.span));
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

fn has_name(e: &Expr) -> bool {
    let mut v = vec![];
    free_names(e, &mut v);
    !v.is_empty()
}

/// Every span in a tree set to `span` (an abbreviation's body, shown at its use).
fn respan(e: &mut Expr, span: Span) {
    e.span = span;
    match &mut e.kind {
        ExprKind::Name(_) | ExprKind::Num(_) => {}
        ExprKind::Neg(a) | ExprKind::Transpose(a) => respan(a, span),
        ExprKind::Binary(_, a, b) => {
            respan(a, span);
            respan(b, span);
        }
        ExprKind::Call { args, func_span, .. } => {
            *func_span = span;
            args.iter_mut().for_each(|a| respan(a, span));
        }
    }
}

/// A scalar function's body applied entrywise to `arg`: products, quotients and powers become
/// entrywise, a constant added to the rest becomes that constant in every entry.
fn entrywise(body: &Expr, param: &str, arg: &Expr, span: Span) -> Expr {
    let go = |e: &Expr| Box::new(entrywise(e, param, arg, span));
    let ones = |c: &Expr| {
        let zero = Expr { kind: ExprKind::Num(0.0), span };
        let filled = Expr { kind: ExprKind::Binary(BinOp::EPow, Box::new(arg.clone()), Box::new(zero)), span };
        let mut c = c.clone();
        respan(&mut c, span);
        Expr { kind: ExprKind::Binary(BinOp::Mul, Box::new(c), Box::new(filled)), span }
    };
    let kind = match &body.kind {
        ExprKind::Name(n) if n == param => return arg.clone(),
        ExprKind::Name(_) | ExprKind::Num(_) => body.kind.clone(),
        ExprKind::Neg(a) => ExprKind::Neg(go(a)),
        ExprKind::Transpose(a) => ExprKind::Transpose(go(a)),
        ExprKind::Binary(op @ (BinOp::Add | BinOp::Sub), l, r) => {
            let side = |e: &Expr| if has_name(e) { go(e) } else { Box::new(ones(e)) };
            ExprKind::Binary(*op, side(l), side(r))
        }
        ExprKind::Binary(op, l, r) => {
            let op = match op {
                BinOp::Mul => BinOp::EMul,
                BinOp::Div => BinOp::EDiv,
                BinOp::Pow => BinOp::EPow,
                o => *o,
            };
            ExprKind::Binary(op, go(l), go(r))
        }
        ExprKind::Call { func, args, .. } => {
            ExprKind::Call { func: func.clone(), func_span: span, args: args.iter().map(|a| *go(a)).collect() }
        }
    };
    Expr { kind, span }
}

fn call(func: &str, arg: Expr, span: Span) -> Expr {
    Expr { kind: ExprKind::Call { func: func.into(), func_span: span, args: vec![arg] }, span }
}

/// Parse a member: LaTeX (documents are LaTeX), or plain syntax when that is what it is.
/// Errors point into `text` (`Input::Claim`).
pub(crate) fn parse_tree(text: &str, names: &[&str]) -> Result<(Expr, Vec<String>), Error> {
    // A reader bug must not abort an audit of many files: a panic reads as unreadable.
    // (A server's time limit unwinds through here too: that one goes on up.)
    let parsed = std::panic::catch_unwind(|| parse_latex(text, names)).map_err(|payload| {
        matdiff_syntax::budget::resume_if_cancelled(payload);
        Error::unspanned(Input::Claim, "the LaTeX reader failed on this text (an internal error)")
            .with_kind(ErrorKind::Internal)
    })?;
    match parsed {
        Ok(read) => {
            if let Some(d) = read.program.defs.first() {
                return Err(Error::new(Input::Claim, d.name_span, "a definition where an expression was expected")
                    .with_label("an expression was expected"));
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
            Err(e.in_input(Input::Claim))
        }
    }
}

/// Parse a problem-file definition (plain syntax or LaTeX); errors point into its text.
pub(crate) fn parse_definition(text: &str, names: &[&str]) -> Result<Expr, Error> {
    if !looks_like_latex(text) {
        if let Ok(e) = parse_expr(text) {
            return Ok(e);
        }
    }
    parse_tree(text, names).map(|r| r.0)
}

/// Dedupe repairs by what they say (`from -> to`), keeping the first line.
pub(crate) fn merge_repairs(into: &mut Vec<Repair>, more: &[Repair]) {
    for r in more {
        if !into.iter().any(|x| x.from == r.from && x.to == r.to) {
            into.push(r.clone());
        }
    }
}

impl Reader<'_> {
    fn is_var(&self, n: &str) -> bool {
        self.checker.problem().graph.var_id(n).is_some() || n == "I" || n == "eye"
    }

    /// Resolve a document symbol to the variable or defined name it means (aliases applied).
    pub fn resolve(&self, n: &str) -> Option<String> {
        let n = self.aliases.iter().find(|(a, _)| a == n).map_or(n, |(_, b)| b.as_str());
        let known = self.is_var(n)
            || self.candidates.iter().any(|c| c.name == n)
            || self.derivs.iter().any(|(_, d)| d == n)
            || self.names.iter().any(|m| m == n);
        known.then(|| n.to_string())
    }

    /// Apply the forced readings to a member and find its suspects. `extra` names resolve too
    /// (an abbreviation's parameter).
    pub fn prepare(&self, text: &str, line: usize, extra: &[&str]) -> Prepared {
        let mut edits: Vec<(Range<usize>, String)> = vec![];
        let mut forced = vec![];
        let mut notes = vec![];
        // Derivatives the problem file gives values, matched directly or through the loss row
        // of the table (`\frac{\partial \mathcal{Z}}{\partial z_2}` for `\partial L/\partial z_2`).
        for (range, raw) in derivatives_in(text) {
            let Some(t) = raw.target() else { continue };
            let direct = self.derivs.iter().find(|(d, _)| d.of == t.of && d.wrt == t.wrt);
            let via = || {
                let (of, from) = super::ocr::loss_reading(raw.of)?;
                let hit = self.derivs.iter().find(|(d, _)| d.of == of && d.wrt == t.wrt)?;
                Some((hit, Repair { from, to: "L".into(), line }))
            };
            if let Some((_, name)) = direct {
                edits.push((range, format!(" {name} ")));
            } else if let Some(((_, name), repair)) = via() {
                edits.push((range, format!(" {name} ")));
                merge_repairs(&mut forced, &[repair]);
            }
        }
        // Abbreviations, also spaced out by OCR (`S w(z_1)`, `s w^{\prime}(z_1)`).
        for (k, a) in self.abbrevs.iter().enumerate() {
            for r in abbreviation_uses(text, &a.name) {
                if edits.iter().any(|(e, _)| e.start < r.end && r.start < e.end) {
                    continue;
                }
                notes.push(format!(
                    "read `{}` as the abbreviation {} (line {})",
                    text[r.clone()].trim(),
                    a.name,
                    a.line
                ));
                edits.push((r, format!(" \\operatorname{{{}}}", self.abbrevs[k].func)));
            }
        }
        let (prepared, splice) = Splice::apply(text, edits);
        let known = |n: &str| self.resolve(n).is_some() || extra.contains(&n);
        let derivative = derivative_notation_unless(&prepared, &known);
        let resolve = |n: &str| self.resolve(n).or_else(|| extra.contains(&n).then(|| n.to_string()));
        let sigma_var = self.is_var("sigma");
        let lex = Lexicon { resolve: &resolve, sigmoid: self.sigmoid, sigma_var };
        let suspects = if derivative.is_some() { vec![] } else { suspects(&prepared, line, &lex) };
        Prepared { text: prepared, splice, forced, notes, suspects, derivative }
    }

    /// The combinations of readings for the suspects that must be read through the table
    /// (one reading index per suspect; `None` for the tokens kept as written at first).
    fn combos(p: &Prepared) -> Result<Vec<Vec<Option<usize>>>, Error> {
        let mut out: Vec<Vec<Option<usize>>> = vec![vec![]];
        for s in &p.suspects {
            if s.literal || (s.readings.is_empty() && s.why == "an unknown name") {
                // Kept as written first; an unknown name without a reading stays unknown.
                out.iter_mut().for_each(|c| c.push(None));
                continue;
            }
            if s.readings.is_empty() {
                let span = p.splice.span_back(Span::new(s.span.start, s.span.end));
                return Err(Error::new(
                    Input::Claim,
                    span,
                    format!("`{}` stands where a name is expected, and no reading fits", &p.text[s.span.clone()]),
                )
                .with_label(s.why)
                .with_note("the OCR confusion table (docs/ocr-confusions.md) has no symbol of this question for it"));
            }
            let mut next = vec![];
            for c in &out {
                for i in 0..s.readings.len() {
                    let mut c = c.clone();
                    c.push(Some(i));
                    next.push(c);
                }
            }
            if next.len() > MAX_READINGS {
                return Err(Error::unspanned(Input::Claim, "too many OCR readings to try for this member")
                    .with_kind(ErrorKind::Limit)
                    .with_note(format!("more than {MAX_READINGS} combinations of repairs")));
            }
            out = next;
        }
        Ok(out)
    }

    /// The variant of a prepared member for a combination and a set of flipped tokens.
    fn variant(p: &Prepared, combo: &[Option<usize>], flips: &BTreeMap<usize, usize>) -> Variant {
        let mut edits = vec![];
        let mut repairs = p.forced.clone();
        let mut notes = p.notes.clone();
        for (k, s) in p.suspects.iter().enumerate() {
            let Some(i) = combo[k].or_else(|| flips.get(&k).copied()) else { continue };
            let r = &s.readings[i];
            edits.push((s.span.clone(), r.text.clone()));
            if let Some(rep) = &r.repair {
                merge_repairs(&mut repairs, std::slice::from_ref(rep));
            }
            if let Some(n) = &r.note {
                notes.push(n.clone());
            }
        }
        let (text, splice) = Splice::apply(&p.text, edits);
        Variant { text, splice, repairs, notes }
    }

    fn names(&self, extra: &[&str]) -> Vec<String> {
        let mut n = self.names.clone();
        n.extend(extra.iter().map(|s| s.to_string()));
        n
    }

    /// Parse a variant into a tree: abbreviations and `softmax` expanded, aliases renamed.
    /// Returns the tree, the member as read (plain, before expansion) and the reader's notes.
    fn tree(
        &self,
        p: &Prepared,
        v: &Variant,
        extra: &[&str],
    ) -> Result<(Expr, String, Vec<String>, Vec<String>), Error> {
        let names = self.names(extra);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (mut e, mut notes) = parse_tree(&v.text, &refs).map_err(|e| self.to_member(p, v, e))?;
        rename(&mut e, self.aliases);
        let plain = to_plain(&e);
        let mut used = vec![];
        let e = self.expand(&e, 0, &mut used).map_err(|e| self.to_member(p, v, e))?;
        if used.iter().any(|u| u == "softmax") {
            notes.push("read softmax(v) as exp(v)/sum(exp(v))".into());
        }
        used.retain(|u| u != "softmax");
        Ok((e, plain, notes, used))
    }

    /// Expand abbreviations and `softmax` (bottom-up).
    fn expand(&self, e: &Expr, depth: usize, used: &mut Vec<String>) -> Result<Expr, Error> {
        let kind = match &e.kind {
            ExprKind::Name(_) | ExprKind::Num(_) => return Ok(e.clone()),
            ExprKind::Neg(a) => ExprKind::Neg(Box::new(self.expand(a, depth, used)?)),
            ExprKind::Transpose(a) => ExprKind::Transpose(Box::new(self.expand(a, depth, used)?)),
            ExprKind::Binary(op, a, b) => {
                ExprKind::Binary(*op, Box::new(self.expand(a, depth, used)?), Box::new(self.expand(b, depth, used)?))
            }
            ExprKind::Call { func, func_span, args } => {
                let args = args.iter().map(|a| self.expand(a, depth, used)).collect::<Result<Vec<_>, _>>()?;
                let abbrev = self.abbrevs.iter().find(|a| a.func == *func);
                if func == "softmax" || abbrev.is_some() {
                    if args.len() != 1 {
                        return Err(Error::new(Input::Claim, e.span, format!("`{func}` takes one argument"))
                            .with_kind(ErrorKind::Shape));
                    }
                    if depth >= MAX_EXPANSION_DEPTH {
                        return Err(Error::new(Input::Claim, e.span, "abbreviations nest too deeply")
                            .with_kind(ErrorKind::Limit));
                    }
                    let arg = args.into_iter().next().unwrap();
                    if let Some(a) = abbrev {
                        if !used.contains(&a.name) {
                            used.push(a.name.clone());
                        }
                        let body = entrywise(&a.body, &a.param, &arg, e.span);
                        return self.expand(&body, depth + 1, used);
                    }
                    used.push("softmax".into());
                    let exp = call("exp", arg, e.span);
                    let sum = call("sum", exp.clone(), e.span);
                    return Ok(Expr { kind: ExprKind::Binary(BinOp::Div, Box::new(exp), Box::new(sum)), span: e.span });
                }
                ExprKind::Call { func: func.clone(), func_span: *func_span, args }
            }
        };
        Ok(Expr { kind, span: e.span })
    }

    /// An error from reading a variant, pointed into the member as written.
    fn to_member(&self, p: &Prepared, v: &Variant, mut e: Error) -> Error {
        if let Some(s) = e.span {
            e.span = Some(p.splice.span_back(v.splice.span_back(s)));
        }
        e.in_input(Input::Claim)
    }

    /// Lower `chosen` definitions, then `body` (as the definition of `def` when given).
    fn lower(&mut self, chosen: &[Chosen], def: Option<&str>, body: &Expr) -> Result<NodeId, Error> {
        self.work += 1;
        if self.work > MAX_WORK {
            return Err(Error::unspanned(Input::Claim, "too many readings to try for this member")
                .with_kind(ErrorKind::Limit)
                .with_note(format!("more than {MAX_WORK} combinations of definitions and repairs")));
        }
        let mut defs: Vec<Def> = chosen
            .iter()
            .map(|c| Def { name: c.name.clone(), name_span: Span::default(), value: c.expr.clone() })
            .collect();
        let body = match def {
            Some(name) => {
                defs.push(Def { name: name.to_string(), name_span: Span::default(), value: body.clone() });
                Expr { kind: ExprKind::Name(name.to_string()), span: body.span }
            }
            None => body.clone(),
        };
        let program = Program { defs, body };
        self.checker.problem_mut().claim_program_unbroadcast(&program)
    }

    /// Read one combination of a prepared member: the tokens kept as written are repaired where
    /// the lowering fails at them (a search bounded by `MAX_FLIP_TRIES`). Returns the
    /// successful readings (fewest such repairs first) and the first error.
    fn search(
        &mut self,
        p: &Prepared,
        combo: &[Option<usize>],
        extra: &[&str],
        attempt: &mut dyn FnMut(&mut Self, &Expr) -> Result<NodeId, Error>,
    ) -> (Vec<Found>, Option<Error>) {
        let mut found = vec![];
        let mut first: Option<Error> = None;
        let mut seen: HashSet<Vec<(usize, usize)>> = HashSet::new();
        type Why = Option<(String, Option<Span>)>;
        let mut stack: Vec<(BTreeMap<usize, usize>, Why)> = vec![(BTreeMap::new(), None)];
        let mut tries = 0;
        while let Some((flips, parent)) = stack.pop() {
            let key: Vec<(usize, usize)> = flips.iter().map(|(a, b)| (*a, *b)).collect();
            if !seen.insert(key) || tries >= MAX_FLIP_TRIES {
                continue;
            }
            tries += 1;
            let v = Self::variant(p, combo, &flips);
            let (tree, plain, mut notes, used) = match self.tree(p, &v, extra) {
                Ok(t) => t,
                Err(e) => {
                    first.get_or_insert(e);
                    continue;
                }
            };
            match attempt(self, &tree) {
                Ok(node) => {
                    let mut repairs = v.repairs.clone();
                    for u in &used {
                        if let Some(a) = self.abbrevs.iter().find(|a| &a.name == u) {
                            merge_repairs(&mut repairs, &a.repairs);
                        }
                    }
                    notes.splice(0..0, v.notes.iter().cloned());
                    found.push(Found {
                        flips: flips.len(),
                        flip_set: flips.clone(),
                        node,
                        tree,
                        plain,
                        repairs,
                        notes,
                        used,
                    });
                }
                Err(e) => {
                    // Where the lowering failed, in the prepared text.
                    let span = e.span.map(|s| v.splice.span_back(s));
                    let here = (e.message.clone(), span);
                    if parent.as_ref() == Some(&here) {
                        continue; // the last repair changed nothing: not the token at fault
                    }
                    first.get_or_insert_with(|| self.to_member(p, &v, e));
                    let Some(span) = span else { continue };
                    for (k, s) in p.suspects.iter().enumerate() {
                        if !s.literal || combo[k].is_some() || flips.contains_key(&k) {
                            continue;
                        }
                        // At fault: inside the failing operation, or right next to it (a
                        // matrix power's error points at its base, just before `^{7}`).
                        let touches = (s.span.start < span.end && span.start < s.span.end)
                            || p.text.get(span.end..s.span.start).is_some_and(|g| g.trim().is_empty())
                            || p.text.get(s.span.end..span.start).is_some_and(|g| g.trim().is_empty());
                        if touches {
                            for i in 0..s.readings.len() {
                                let mut f = flips.clone();
                                f.insert(k, i);
                                stack.push((f, Some(here.clone())));
                            }
                        }
                    }
                }
            }
        }
        found.sort_by_key(|f| f.flips);
        // A token read as written is one reading among its table's: where another of them is
        // well-typed too and means something else, the member is ambiguous (`1 - 7` with a
        // scalar y), never silently read as the number.
        if let Some(best) = found.first() {
            let (min, base, node) = (best.flips, best.flip_set.clone(), best.node);
            let mut probes = 0;
            for (k, s) in p.suspects.iter().enumerate() {
                if !s.literal || combo[k].is_some() || base.contains_key(&k) {
                    continue;
                }
                for i in 0..s.readings.len() {
                    if probes >= MAX_FLIP_TRIES {
                        break;
                    }
                    probes += 1;
                    let mut flips = base.clone();
                    flips.insert(k, i);
                    let v = Self::variant(p, combo, &flips);
                    let Ok((tree, plain, mut notes, used)) = self.tree(p, &v, extra) else { continue };
                    let Ok(other) = attempt(self, &tree) else { continue };
                    if other == node || self.checker.same_value(node, other).ok().flatten() == Some(true) {
                        continue;
                    }
                    let mut repairs = v.repairs.clone();
                    for u in &used {
                        if let Some(a) = self.abbrevs.iter().find(|a| &a.name == u) {
                            merge_repairs(&mut repairs, &a.repairs);
                        }
                    }
                    notes.splice(0..0, v.notes.iter().cloned());
                    found.push(Found { flips: min, flip_set: flips, node: other, tree, plain, repairs, notes, used });
                }
            }
        }
        (found, first)
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

    /// The literal-first tree of candidate `i` under combination `c`, and the names it needs.
    fn candidate_tree(&self, i: usize, c: usize) -> Option<(Expr, Vec<String>)> {
        let tree = match &self.candidates[i].body {
            CandidateBody::Tree(e) => e.clone(),
            CandidateBody::Text(p) => {
                let combos = Self::combos(p).ok()?;
                let v = Self::variant(p, combos.get(c)?, &BTreeMap::new());
                self.tree(p, &v, &[]).ok()?.0
            }
        };
        let mut needs = vec![];
        free_names(&tree, &mut needs);
        Some((tree, needs.into_iter().map(|n| n.0).filter(|n| !self.is_var(n)).collect()))
    }

    fn combo_count(&self, i: usize) -> usize {
        match &self.candidates[i].body {
            CandidateBody::Tree(_) => 1,
            CandidateBody::Text(p) => Self::combos(p).map_or(0, |c| c.len()),
        }
    }

    fn where_(&self, i: usize) -> String {
        match &self.candidates[i].source {
            DefSource::Document { line, text } => format!("line {line} `{text}`"),
            DefSource::ProblemFile => "the problem file".into(),
        }
    }

    /// Read candidate `i` with combination `c` on top of `chosen`: its unique well-typed
    /// reading (tree, repairs, value), or why not.
    fn commit(
        &mut self,
        name: &str,
        i: usize,
        c: usize,
        chosen: &[Chosen],
    ) -> Result<(Expr, Vec<Repair>, NodeId), String> {
        let p = match &self.candidates[i].body {
            CandidateBody::Tree(e) => {
                let e = e.clone();
                let node = self.lower(chosen, Some(name), &e).map_err(|e| e.message)?;
                return Ok((e, vec![], node));
            }
            CandidateBody::Text(p) => (**p).clone(),
        };
        let combos = Self::combos(&p).map_err(|e| e.message)?;
        let mut best: Option<(usize, Expr, Vec<Repair>, NodeId)> = None;
        let order: Vec<usize> = std::iter::once(c).chain((0..combos.len()).filter(|&k| k != c)).collect();
        for k in order {
            if k != c {
                // Another combination counts only where everything it needs is settled.
                let Some((_, needs)) = self.candidate_tree(i, k) else { continue };
                if !needs.iter().all(|n| chosen.iter().any(|x| &x.name == n)) {
                    continue;
                }
            }
            let name_s = name.to_string();
            let mut attempt = |r: &mut Self, tree: &Expr| r.lower(chosen, Some(&name_s), tree);
            let (found, first) = self.search(&p, &combos[k], &[], &mut attempt);
            let Some(min) = found.first().map(|f| f.flips) else {
                if k == c {
                    return Err(first.map_or_else(|| "no reading".into(), |e| e.message));
                }
                continue;
            };
            for f in found.into_iter().filter(|f| f.flips == min) {
                match &best {
                    None => best = Some((f.flips, f.tree, f.repairs, f.node)),
                    Some((bf, _, br, bn)) => {
                        if *bn != f.node && self.checker.same_value(*bn, f.node).ok().flatten() != Some(true) {
                            if f.flips < *bf {
                                best = Some((f.flips, f.tree, f.repairs, f.node));
                                continue;
                            }
                            if f.flips == *bf {
                                let mut all = br.clone();
                                merge_repairs(&mut all, &f.repairs);
                                let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
                                return Err(format!("two readings are well-typed ({})", shown.join(", ")));
                            }
                        }
                    }
                }
            }
        }
        best.map(|(_, t, r, n)| (t, r, n)).ok_or_else(|| "no reading".into())
    }

    /// Choose definitions for the pending goals, depth first with backtracking: a name's
    /// candidates are tried nearest to where it is used first, each after the names it needs,
    /// and kept when the whole closure lowers. `budget` bounds the lowerings tried.
    fn solve(
        &mut self,
        goals: &mut Vec<Goal>,
        chosen: &mut Vec<Chosen>,
        budget: &mut usize,
        why: &mut Vec<String>,
    ) -> bool {
        let Some(goal) = goals.pop() else { return true };
        let done = match &goal {
            Goal::Need(name, line) => {
                if chosen.iter().any(|c| &c.name == name) {
                    self.solve(goals, chosen, budget, why)
                } else if goals.iter().any(|g| matches!(g, Goal::Commit(n, ..) if n == name)) {
                    why.push(format!("`{name}` is defined in terms of itself"));
                    false
                } else {
                    let order = self.order(name, *line);
                    if order.is_empty() {
                        why.push(format!("unknown name `{name}` (not a variable, and not defined)"));
                    }
                    let mut found = false;
                    'cands: for i in order {
                        for c in 0..self.combo_count(i) {
                            if *budget == 0 {
                                break 'cands;
                            }
                            let Some((_, needs)) = self.candidate_tree(i, c) else {
                                why.push(format!("{name} = {}: does not read", self.where_(i)));
                                continue;
                            };
                            let mark = goals.len();
                            goals.push(Goal::Commit(name.clone(), i, c));
                            let cline = match &self.candidates[i].source {
                                DefSource::Document { line, .. } => *line,
                                DefSource::ProblemFile => *line,
                            };
                            for n in needs.into_iter().rev() {
                                goals.push(Goal::Need(n, cline));
                            }
                            if self.solve(goals, chosen, budget, why) {
                                found = true;
                                break 'cands;
                            }
                            goals.truncate(mark);
                        }
                    }
                    found
                }
            }
            Goal::Commit(name, i, c) => {
                *budget = budget.saturating_sub(1);
                match self.commit(name, *i, *c, chosen) {
                    Ok((expr, repairs, _)) => {
                        chosen.push(Chosen { name: name.clone(), cand: *i, expr, repairs });
                        if self.solve(goals, chosen, budget, why) {
                            true
                        } else {
                            chosen.pop();
                            false
                        }
                    }
                    Err(msg) => {
                        why.push(format!("{name} = {}: {msg}", self.where_(*i)));
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
    pub fn read(&mut self, text: &str, line: usize) -> Result<Reading, Box<Unread>> {
        self.work = 0;
        let p = self.prepare(text, line, &[]);
        if let Some(d) = &p.derivative {
            return Err(Unread::of(
                Error::unspanned(Input::Claim, format!("derivative notation `{d}` cannot be evaluated"))
                    .with_kind(ErrorKind::Unsupported)
                    .with_note("the problem file can give such a derivative a value: see docs/problem-files.md"),
            ));
        }
        let combos = Self::combos(&p).map_err(Unread::of)?;
        // (flips, node, plain, notes, repairs, chosen definitions, abbreviations used)
        #[allow(clippy::type_complexity)]
        let mut readings: Vec<(usize, NodeId, String, Vec<String>, Vec<Repair>, Vec<Chosen>, Vec<String>)> = vec![];
        let mut first: Option<Error> = None;
        for combo in &combos {
            let v0 = Self::variant(&p, combo, &BTreeMap::new());
            let tree = match self.tree(&p, &v0, &[]) {
                Ok(t) => t.0,
                Err(e) => {
                    first.get_or_insert(e);
                    continue;
                }
            };
            let mut needs = vec![];
            free_names(&tree, &mut needs);
            needs.retain(|n| !self.is_var(&n.0));
            let mut goals: Vec<Goal> = needs.iter().rev().map(|n| Goal::Need(n.0.clone(), line)).collect();
            let (mut chosen, mut budget, mut why) = (vec![], MAX_LOWERINGS, vec![]);
            if !self.solve(&mut goals, &mut chosen, &mut budget, &mut why) {
                why.dedup();
                let unknown = needs.iter().find(|n| self.order(&n.0, line).is_empty());
                let err = match unknown {
                    Some((n, span)) => {
                        let span = p.splice.span_back(v0.splice.span_back(*span));
                        Error::new(Input::Claim, span, format!("unknown name `{n}` (not a variable, and not defined)"))
                            .with_kind(ErrorKind::UnknownName)
                            .with_label("not a variable of the problem, and not defined")
                    }
                    None => {
                        let names: Vec<String> = needs.iter().map(|n| format!("`{}`", n.0)).collect();
                        let mut e =
                            Error::unspanned(Input::Claim, format!("no usable definitions for {}", names.join(", ")))
                                .with_kind(ErrorKind::Shape);
                        for w in why.iter().take(3) {
                            e = e.with_note(w.clone());
                        }
                        e
                    }
                };
                first.get_or_insert(err);
                continue;
            }
            let mut attempt = |r: &mut Self, tree: &Expr| r.lower(&chosen, None, tree);
            let (found, err) = self.search(&p, combo, &[], &mut attempt);
            if let Some(e) = err {
                first.get_or_insert(e);
            }
            for f in found {
                let mut repairs = f.repairs;
                for c in &chosen {
                    merge_repairs(&mut repairs, &c.repairs);
                }
                readings.push((f.flips, f.node, f.plain, f.notes, repairs, chosen.clone(), f.used));
            }
        }
        let Some(min) = readings.iter().map(|r| r.0).min() else {
            let mut tried: Vec<Repair> = p.forced.clone();
            for s in &p.suspects {
                for r in &s.readings {
                    if let Some(rep) = &r.repair {
                        merge_repairs(&mut tried, std::slice::from_ref(rep));
                    }
                }
            }
            let error = first.unwrap_or_else(|| Error::unspanned(Input::Claim, "no reading"));
            return Err(Box::new(Unread { error, repairs: tried, alternatives: vec![] }));
        };
        readings.retain(|r| r.0 == min);
        // Readings that mean the same (same node, or equal at every sample point) are one.
        let mut distinct: Vec<usize> = vec![];
        for k in 0..readings.len() {
            let same = distinct.iter().any(|&d| {
                let (a, b) = (readings[d].1, readings[k].1);
                a == b || self.checker.same_value(a, b).ok().flatten() == Some(true)
            });
            if !same {
                distinct.push(k);
            }
        }
        if distinct.len() > 1 {
            let alternatives: Vec<(String, Vec<Repair>)> =
                distinct.iter().map(|&k| (readings[k].2.clone(), readings[k].4.clone())).collect();
            let mut repairs = vec![];
            for a in &alternatives {
                merge_repairs(&mut repairs, &a.1);
            }
            // The repairs every reading shares are the ones this member rests on for sure.
            let shared: Vec<Repair> =
                repairs.iter().filter(|r| alternatives.iter().all(|a| a.1.contains(r))).cloned().collect();
            let mut error = Error::unspanned(
                Input::Claim,
                format!("{} readings are well-typed and differ: the OCR repair is ambiguous", alternatives.len()),
            )
            .with_kind(ErrorKind::Syntax);
            for (plain, reps) in &alternatives {
                let shown: Vec<String> = reps.iter().map(ToString::to_string).collect();
                error = error.with_note(format!("{plain}   (assuming {})", shown.join(", ")));
            }
            return Err(Box::new(Unread { error, repairs: shared, alternatives }));
        }
        let (_, node, plain, notes, repairs, chosen, used) = readings.swap_remove(distinct[0]);
        let mut defs: Vec<DefinitionUse> = chosen
            .iter()
            .map(|c| DefinitionUse {
                name: c.name.clone(),
                value: to_plain(&c.expr),
                source: self.candidates[c.cand].source.clone(),
            })
            .collect();
        for u in used {
            if let Some(a) = self.abbrevs.iter().find(|a| a.name == u) {
                defs.push(DefinitionUse {
                    name: format!("{}({})", a.name, a.param),
                    value: to_plain(&a.body),
                    source: DefSource::Document { line: a.line, text: a.text.clone() },
                });
            }
        }
        Ok(Reading { node, plain, notes, defs, repairs })
    }

    /// Read the document's abbreviations in order, each with the ones before it known.
    pub fn read_abbrevs(&mut self, sources: &[AbbrevSource]) {
        for src in sources {
            let func = Abbrev::func_name(&src.name);
            if self.abbrevs.iter().any(|a| a.func == func) {
                continue;
            }
            for (text, line) in &src.members {
                self.work = 0;
                let p = self.prepare(text, *line, &[src.param.as_str()]);
                if p.derivative.is_some() {
                    continue;
                }
                let Ok(combos) = Self::combos(&p) else { continue };
                let param = src.param.clone();
                let mut found: Vec<(usize, NodeId, Expr, Vec<Repair>)> = vec![];
                for combo in &combos {
                    // The body is checked with a scalar in place of its parameter.
                    let mut attempt = |r: &mut Self, tree: &Expr| {
                        let probe = Expr { kind: ExprKind::Num(0.5), span: tree.span };
                        r.lower(&[], None, &entrywise(tree, &param, &probe, tree.span))
                    };
                    let (f, _) = self.search(&p, combo, &[param.as_str()], &mut attempt);
                    found.extend(f.into_iter().map(|f| (f.flips, f.node, f.tree, f.repairs)));
                }
                let Some(min) = found.iter().map(|f| f.0).min() else { continue };
                found.retain(|f| f.0 == min);
                let first = found[0].1;
                if found
                    .iter()
                    .any(|f| f.1 != first && self.checker.same_value(first, f.1).ok().flatten() != Some(true))
                {
                    continue; // ambiguous
                }
                let (_, _, body, repairs) = found.swap_remove(0);
                self.abbrevs.push(Abbrev {
                    name: src.name.clone(),
                    func: func.clone(),
                    param: src.param.clone(),
                    body,
                    repairs,
                    line: *line,
                    text: text.clone(),
                });
                break;
            }
        }
    }
}

/// Where an abbreviation is used in a member: its letters, possibly spaced out, its primes
/// (`'` or `^{\prime}`), then an opening parenthesis; the range covers name and primes.
pub(crate) fn abbreviation_uses(text: &str, name: &str) -> Vec<Range<usize>> {
    let base: Vec<char> = name.trim_end_matches('\'').chars().collect();
    let primes = name.len() - name.trim_end_matches('\'').len();
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let before_ok = i == 0 || !(b[i - 1].is_ascii_alphabetic() || b[i - 1] == b'\\' || b[i - 1] == b'{');
        if !before_ok || b[i] as char != base[0] {
            i += 1;
            continue;
        }
        // The letters, spaces allowed between them.
        let mut j = i;
        let mut ok = true;
        for (k, c) in base.iter().enumerate() {
            if k > 0 {
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
            }
            if j < b.len() && b[j] as char == *c {
                j += 1;
            } else {
                ok = false;
                break;
            }
        }
        if !ok || (j < b.len() && b[j].is_ascii_alphabetic()) {
            i += 1;
            continue;
        }
        // The primes.
        let mut found = 0;
        loop {
            let rest = text[j..].trim_start();
            let skip = text.len() - j - rest.len();
            let adv = ["'", "^{\\prime}", "^\\prime", "^{'}"].iter().find(|p| rest.starts_with(**p)).map(|p| p.len());
            match adv {
                Some(n) => {
                    found += 1;
                    j += skip + n;
                }
                None => break,
            }
        }
        let rest = text[j..].trim_start();
        if found == primes && (rest.starts_with('(') || rest.starts_with("\\left(") || rest.starts_with("\\left (")) {
            out.push(i..j);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_maps_back() {
        let (t, s) = Splice::apply("ab\\omega cd", vec![(2..8, "W".into())]);
        assert_eq!(t, "abW cd");
        assert_eq!(s.span_back(Span::new(2, 3)), Span::new(2, 8));
        assert_eq!(s.span_back(Span::new(4, 6)), Span::new(9, 11));
        assert_eq!(s.span_back(Span::new(0, 6)), Span::new(0, 11));
    }

    #[test]
    fn abbreviation_uses_spaced_and_primed() {
        let t = "e S w\\left(z_{1}\\right)^{T} + s w^{\\prime}\\left(z\\right) + Sw(z)";
        let got: Vec<&str> = abbreviation_uses(t, "Sw").into_iter().map(|r| &t[r]).collect();
        assert_eq!(got, vec!["S w", "Sw"]);
        let got: Vec<&str> = abbreviation_uses(t, "sw'").into_iter().map(|r| &t[r]).collect();
        assert_eq!(got, vec!["s w^{\\prime}"]);
        assert!(abbreviation_uses("\\operatorname{Sw}(z)", "Sw").is_empty());
        assert!(abbreviation_uses("Swish(z)", "Sw").is_empty());
    }
}
