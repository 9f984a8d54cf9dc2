//! Reports of the typed results as JSON values and plain text: gradients, check verdicts,
//! audits and numeric values. One implementation shared by every front end (the CLI's
//! `--format json|text`, the web server, the Python package), so they cannot drift apart.

use crate::audit::{AuditReport, DefSource, QuestionReport, Repair, Step, StepReading};
use crate::check::{compact, Convention, Counterexample, Diagnosis, Verdict};
use crate::problem::{Gradients, Problem};
use matdiff_core::{Graph, NodeId, Printed, Style};
use matdiff_exec::{FdOutcome, FdReport, Value};
use matdiff_syntax::{Error, ErrorKind, Input, Result};
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

/// Largest expression tree (in nodes) printed fully inlined: the self-contained form of a
/// gradient repeats shared subterms, which can grow exponentially with depth.
const MAX_INLINE_NODES: f64 = 200_000.0;

// ---------------------------------------------------------------------------------------------
// Values

/// A value as JSON: a number, a list (vector) or a list of rows (matrix).
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::Scalar(x) => json!(x),
        Value::Vector(x) => json!(x),
        Value::Matrix(r) => json!(r),
    }
}

/// Like [`value_json`], with NaN and infinities as the strings "NaN", "Infinity", "-Infinity"
/// (JSON has no such numbers; `value_json` would print `null`).
pub fn value_json_nonfinite(v: &Value) -> Json {
    let num = |x: f64| {
        if x.is_nan() {
            json!("NaN")
        } else if x.is_infinite() {
            json!(if x > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            json!(x)
        }
    };
    match v {
        Value::Scalar(x) => num(*x),
        Value::Vector(x) => Json::Array(x.iter().map(|&x| num(x)).collect()),
        Value::Matrix(r) => {
            Json::Array(r.iter().map(|row| Json::Array(row.iter().map(|&x| num(x)).collect())).collect())
        }
    }
}

/// Read a value given as JSON (a number, a list, or a list of rows); `name` is for messages.
pub fn value_from_json(name: &str, v: &Json) -> std::result::Result<Value, String> {
    let num = |x: &Json| x.as_f64().ok_or_else(|| format!("`{name}`: expected numbers, found {x}"));
    match v {
        Json::Number(_) => Ok(Value::Scalar(num(v)?)),
        Json::Array(items) if items.iter().all(|x| x.is_array()) && !items.is_empty() => {
            let rows = items
                .iter()
                .map(|r| r.as_array().map_or(Ok(vec![]), |r| r.iter().map(num).collect::<std::result::Result<_, _>>()))
                .collect::<std::result::Result<Vec<Vec<f64>>, String>>()?;
            Ok(Value::Matrix(rows))
        }
        Json::Array(items) => Ok(Value::Vector(items.iter().map(num).collect::<std::result::Result<_, _>>()?)),
        other => Err(format!("`{name}`: expected a number, a list or a list of rows, found {other}")),
    }
}

/// The inputs of `eval --at`: a JSON object mapping each name to a value ([`value_from_json`]).
/// `at` names the source in messages. The one reader of that format, so the CLI and the fuzz
/// target exercise the same code.
pub fn inputs_from_json(text: &str, at: &str) -> std::result::Result<HashMap<String, Value>, String> {
    let parsed: Json = serde_json::from_str(text).map_err(|e| format!("{at} is not valid JSON: {e}"))?;
    let Json::Object(obj) = parsed else {
        return Err(format!("{at} must hold a JSON object mapping names to values"));
    };
    obj.iter().map(|(k, v)| Ok((k.clone(), value_from_json(k, v).map_err(|m| format!("in {at}: {m}"))?))).collect()
}

/// Six significant digits: computed values, not inputs, so the noise digits say nothing.
fn round6(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(5 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

fn round_value(v: &Value) -> Value {
    match v {
        Value::Scalar(x) => Value::Scalar(round6(*x)),
        Value::Vector(xs) => Value::Vector(xs.iter().map(|x| round6(*x)).collect()),
        Value::Matrix(rows) => Value::Matrix(rows.iter().map(|r| r.iter().map(|x| round6(*x)).collect()).collect()),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The name of the input (request field, CLI argument) an error's span points into: `expr`,
/// `decl`, `claim`; `None` for errors about no text the user typed.
pub fn input_name(input: Input) -> Option<&'static str> {
    match input {
        Input::Expr => Some("expr"),
        Input::Decl => Some("decl"),
        Input::Claim => Some("claim"),
        Input::Values | Input::None => None,
    }
}

/// A user error as JSON: `{message, kind, input, span, label, notes}`, the span a `[start, end)`
/// pair of UTF-8 byte offsets into the input named by `input` (or `null`).
pub fn error_json(e: &Error) -> Json {
    json!({
        "message": e.message,
        "kind": e.kind.as_str(),
        "input": input_name(e.input),
        "span": e.span.map(|s| [s.start, s.end]),
        "label": e.label,
        "notes": e.notes,
    })
}

// ---------------------------------------------------------------------------------------------
// Gradients

/// Size and nesting depth of the tree a DAG node expands to when every shared subterm is
/// written out.
fn inline_size(g: &Graph, root: NodeId) -> (f64, u32) {
    let order = g.reachable(&[root]);
    let mut size = HashMap::with_capacity(order.len());
    for n in order {
        let (mut s, mut d) = (1.0, 0);
        for c in g.op(n).children() {
            let (cs, cd) = size[&c];
            s += cs;
            d = d.max(cd);
        }
        size.insert(n, (s, d + 1));
    }
    size[&root]
}

/// Deepest self-contained expression written into JSON: the printer recurses once per level.
const MAX_INLINE_DEPTH: u32 = 1_000;

/// Refuse a node whose self-contained (un-`where`d) form would be too large or too deep to
/// print, naming `what` it is: the JSON fields are fully expanded by contract.
fn inline_limit(p: &Problem, node: NodeId, what: &str) -> Result<()> {
    let (size, depth) = inline_size(&p.graph, node);
    if size > MAX_INLINE_NODES || depth > MAX_INLINE_DEPTH {
        let why = if size > MAX_INLINE_NODES {
            format!("the self-contained {what} would repeat shared subterms {size:.0e} times over")
        } else {
            format!("the self-contained {what} would nest {depth} levels deep (at most {MAX_INLINE_DEPTH})")
        };
        return Err(Error::unspanned(Input::None, why)
            .with_kind(ErrorKind::Limit)
            .with_note("`--format text` prints it compactly with `where` definitions"));
    }
    Ok(())
}

/// One gradient as the JSON object of the `grad --format json` contract: `wrt`, `gradient`
/// (self-contained plain syntax), `latex`, `shape`, `cse` and `where` (shared subterms named,
/// from `shared`, the gradient's entry of [`Problem::print_shared_named`]), `check` when a
/// numeric check was run, `notes` (LaTeX reading choices, names retyped by usage), and for a
/// variable declared `symmetric` the `convention` the gradient is written in. Refuses a gradient whose self-contained form would be enormous.
pub fn gradient_json(
    p: &Problem,
    grad: NodeId,
    wrt: &str,
    shared: &Printed,
    check: Option<&FdReport>,
    convention: Convention,
) -> Result<Map<String, Json>> {
    inline_limit(p, grad, "gradient")?;
    let mut o = Map::new();
    o.insert("wrt".into(), json!(wrt));
    if p.graph.vars().iter().any(|v| v.name == wrt && v.symmetric) {
        o.insert("convention".into(), json!(convention.name()));
    }
    o.insert("gradient".into(), json!(p.print(grad, Style::Plain)));
    o.insert("latex".into(), json!(p.print(grad, Style::Latex)));
    o.insert("shape".into(), json!(p.shape_names(grad)));
    let defs: Map<String, Json> = shared.defs.iter().map(|(n, d)| (n.clone(), json!(d))).collect();
    o.insert("cse".into(), json!(shared.expr));
    o.insert("where".into(), Json::Object(defs));
    if let Some(r) = check {
        o.insert("check".into(), fd_check_json(r));
    }
    // How the input was read and which names usage retyped: the result depends on it.
    o.insert("notes".into(), json!(p.reading_notes()));
    Ok(o)
}

/// A numeric gradient check as JSON: `verdict` (`agrees`, `disagrees`, or `unchecked` with a
/// `reason`: a check that compared nothing is never a pass), `max_rel_error`, `settings`.
pub fn fd_check_json(r: &FdReport) -> Json {
    let mut o = json!({"verdict": "agrees", "max_rel_error": r.max_err, "settings": r.dims.len()});
    match r.outcome() {
        FdOutcome::Agrees => {}
        FdOutcome::Disagrees => o["verdict"] = json!("disagrees"),
        FdOutcome::Unchecked(why) => {
            o["verdict"] = json!("unchecked");
            o["reason"] = json!(why);
        }
    }
    o
}

/// Every gradient of `grads` as [`gradient_json`] objects, in the order asked; shared
/// subterms are named across all of them (the user's definitions keep their names).
pub fn gradients_json(
    p: &mut Problem,
    grads: &Gradients,
    wrt: &[&str],
    check: Option<&FdReport>,
    convention: Convention,
) -> Result<Vec<Map<String, Json>>> {
    let shared = p.print_shared_named(&grads.nodes, Style::Plain);
    grads
        .nodes
        .iter()
        .zip(wrt)
        .zip(&shared)
        .map(|((&g, name), cse)| gradient_json(p, g, name, cse, check, convention))
        .collect()
}

/// A derivative, Hessian or HVP as the JSON object of the `derivative`/`hessian --format json`
/// contract: the result under its field (`derivative`, `hessian` or `hvp`: one self-contained
/// plain-syntax expression that re-parses and evaluates), `wrt`, `layout` (`gradient`,
/// `elementwise`, `jacobian`, `vec`), `shape` (dimension names, products such as `m*n`),
/// `latex`, `cse` and `where` (shared subterms named), `direction` for an HVP, and `check` when
/// a numeric check was run.
pub fn derivative_json(
    p: &Problem,
    d: &crate::derivative::Derivative,
    check: Option<&FdReport>,
) -> Result<Map<String, Json>> {
    inline_limit(p, d.root, "result")?;
    let wrt = &p.graph.vars()[d.var].name;
    let shared = p.print_shared_named(&[d.root], Style::Plain).remove(0);
    let mut o = Map::new();
    o.insert(d.order.field().into(), json!(p.print(d.root, Style::Plain)));
    o.insert("wrt".into(), json!(wrt));
    if let Some(v) = d.direction {
        o.insert("direction".into(), json!(p.graph.vars()[v].name));
    }
    o.insert("layout".into(), json!(d.layout.name()));
    o.insert("shape".into(), json!(p.shape_names(d.root)));
    o.insert("latex".into(), json!(p.print(d.root, Style::Latex)));
    let defs: Map<String, Json> = shared.defs.iter().map(|(n, d)| (n.clone(), json!(d))).collect();
    o.insert("cse".into(), json!(shared.expr));
    o.insert("where".into(), Json::Object(defs));
    if let Some(r) = check {
        o.insert("check".into(), fd_check_json(r));
    }
    o.insert("notes".into(), json!(p.reading_notes()));
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Check verdicts

/// The verdict as the JSON object of the `check --format json` contract.
pub fn verdict_json(v: &Verdict) -> Json {
    let c = &v.confidence;
    let mut conf = Map::new();
    conf.insert("exact".into(), json!(c.exact));
    conf.insert("basis".into(), json!(c.basis));
    if !c.exact || !v.right {
        conf.insert("settings".into(), json!(c.settings));
        conf.insert("points".into(), json!(c.points));
        conf.insert("tolerance".into(), json!(c.tolerance));
        conf.insert("max_rel_diff".into(), json!(c.max_rel_diff));
    }
    conf.insert("summary".into(), json!(c.describe()));
    json!({
        "verdict": if v.right { "right" } else { "wrong" },
        "method": v.method.name(),
        "confidence": Json::Object(conf),
        "counterexample": v.counterexample.as_ref().map(counterexample_json),
        "diagnosis": v.diagnoses.iter().map(diagnosis_json).collect::<Vec<_>>(),
        "gradient": v.gradient,
        "claim_read_as": v.claim_read_as,
    })
}

/// One diagnosis: `kind`, `message`, and the fields of its kind.
pub fn diagnosis_json(d: &Diagnosis) -> Json {
    let mut o = Map::new();
    o.insert("kind".into(), json!(d.kind()));
    o.insert("message".into(), json!(d.message()));
    match d {
        Diagnosis::Shape { claim, gradient } => {
            o.insert("claim_shape".into(), json!(claim));
            o.insert("gradient_shape".into(), json!(gradient));
        }
        Diagnosis::Factor { factor } => {
            o.insert("factor".into(), json!(factor));
        }
        Diagnosis::MissingPaths { factor, kept, missing } => {
            o.insert("factor".into(), json!(factor));
            o.insert("kept".into(), json!(kept));
            o.insert("missing".into(), json!(missing));
        }
        Diagnosis::SymmetricOnly { matrices } => {
            o.insert("matrices".into(), json!(matrices));
        }
        Diagnosis::Convention { convention } => {
            o.insert("convention".into(), json!(convention.name()));
        }
        Diagnosis::Transposed | Diagnosis::Layout | Diagnosis::Undefined => {}
    }
    Json::Object(o)
}

/// A counterexample: `dims`, `inputs` (exact), `gradient`, `claim` and `max_diff` (computed
/// values, rounded to six significant digits).
pub fn counterexample_json(cx: &Counterexample) -> Json {
    let dims: Map<String, Json> = cx.dims.iter().map(|(n, k)| (n.clone(), json!(k))).collect();
    let inputs: Map<String, Json> = cx.inputs.iter().map(|(n, v)| (n.clone(), value_json(v))).collect();
    json!({
        "dims": dims,
        "inputs": inputs,
        "gradient": value_json(&round_value(&cx.gradient)),
        "claim": cx.claim.as_ref().map(|c| value_json(&round_value(c))),
        "max_diff": cx.max_diff.map(round6),
    })
}

/// The counterexample in a few lines, each starting with `indent`.
pub fn counterexample_text(cx: &Counterexample, indent: &str) -> String {
    let dims: Vec<String> = cx.dims.iter().map(|(n, k)| format!("{n} = {k}")).collect();
    let mut out = format!(
        "{indent}counterexample ({}):\n",
        if dims.is_empty() { "no dimensions".into() } else { dims.join(", ") }
    );
    for (n, v) in &cx.inputs {
        out.push_str(&format!("{indent}  {n} = {}\n", compact(v)));
    }
    out.push_str(&format!("{indent}  gradient = {}\n", compact(&cx.gradient)));
    if let Some(c) = &cx.claim {
        out.push_str(&format!("{indent}  claim    = {}\n", compact(c)));
    }
    if let Some(d) = cx.max_diff {
        out.push_str(&format!("{indent}  largest difference: {}\n", compact(&Value::Scalar(d))));
    }
    out
}

/// The verdict as `check --format text` prints it (`wrt` names the variable).
pub fn verdict_text(v: &Verdict, wrt: &str) -> String {
    verdict_text_of(v, wrt, "gradient")
}

/// [`verdict_text`] for a claim about another derivative (`what`: `derivative`, `Hessian`,
/// `Hessian-vector product`).
pub fn verdict_text_of(v: &Verdict, wrt: &str, what: &str) -> String {
    let mut out = if v.right {
        format!("right: the claim equals the {what} w.r.t. {wrt}\n")
    } else {
        format!("wrong: the claim is not the {what} w.r.t. {wrt}\n")
    };
    let label = format!("{what}:");
    let label = if label.len() <= 11 { format!("{label:<12}") } else { format!("{label} ") };
    out.push_str(&format!("  {label}{}\n", v.gradient));
    out.push_str(&format!("  claim read: {}\n", v.claim_read_as));
    // The diagnoses' sentences speak of "the gradient": name the target instead.
    let name =
        |text: String| if what == "gradient" { text } else { text.replace("the gradient", &format!("the {what}")) };
    for d in &v.diagnoses {
        out.push_str(&format!("  diagnosis:  {}\n", name(d.message())));
    }
    if let Some(cx) = &v.counterexample {
        let text = counterexample_text(cx, "  ");
        let text =
            if what == "gradient" { text } else { text.replacen("  gradient = ", &format!("  {what:<8} = "), 1) };
        out.push_str(&text);
    }
    out.push_str(&format!("  confidence: {}\n", v.confidence.describe()));
    out
}

// ---------------------------------------------------------------------------------------------
// Audits

fn source_text(s: &DefSource) -> String {
    match s {
        DefSource::ProblemFile => "problem file".into(),
        DefSource::Document { line, text } => format!("line {line}: {text}"),
    }
}

/// OCR repairs as `FROM -> TO` strings (`\omega -> W`), the form of the audit JSON's
/// `repairs` and of `grade`'s `<id>_repairs` column.
pub fn repairs_strings(r: &[Repair]) -> Vec<String> {
    r.iter().map(ToString::to_string).collect()
}

fn repairs_json(r: &[Repair]) -> Json {
    json!(r.iter().map(|r| json!({"from": r.from, "to": r.to, "line": r.line})).collect::<Vec<_>>())
}

/// An unreadable step's error: kind, message, span (bytes of the step's `text`), label, notes.
fn step_error_json(e: &Error) -> Json {
    json!({
        "kind": e.kind.as_str(),
        "message": e.message,
        "span": e.span.map(|s| json!({"start": s.start, "end": s.end})),
        "label": e.label,
        "notes": e.notes,
    })
}

/// `, assuming \omega = W, ^{\dagger} = ^T (OCR)`, or nothing.
fn assuming(r: &[Repair]) -> String {
    if r.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = r.iter().map(|r| format!("{} = {}", r.from, r.to)).collect();
    format!(", assuming {} (OCR)", parts.join(", "))
}

fn step_json(s: &Step) -> Json {
    let mut o = json!({"line": s.line, "text": s.text, "starts_equation": s.starts_equation});
    o["repairs"] = json!(repairs_strings(&s.repairs));
    o["repair_details"] = repairs_json(&s.repairs);
    match &s.reading {
        StepReading::Read { read_as, vs_previous, verdict, notes, definitions } => {
            o["status"] = json!("read");
            o["read_as"] = json!(read_as);
            o["vs_previous"] = match vs_previous {
                Some(true) => json!("equal"),
                Some(false) => json!("not_equal"),
                None => Json::Null,
            };
            o["verdict"] = json!(if verdict.right { "right" } else { "wrong" });
            o["method"] = json!(verdict.method.name());
            o["claim_read_as"] = json!(verdict.claim_read_as);
            o["diagnosis"] = json!(verdict.diagnoses.iter().map(diagnosis_json).collect::<Vec<_>>());
            o["counterexample"] = verdict.counterexample.as_ref().map_or(Json::Null, counterexample_json);
            o["notes"] = json!(notes);
            o["definitions"] = json!(definitions);
        }
        StepReading::Unreadable { reason, error, alternatives } => {
            o["status"] = json!("unreadable");
            o["reason"] = json!(reason);
            o["error"] = step_error_json(error);
            o["alternatives"] = json!(alternatives
                .iter()
                .map(|a| json!({"read_as": a.read_as, "repairs": repairs_strings(&a.repairs)}))
                .collect::<Vec<_>>());
        }
    }
    o
}

/// One question of an audit, as in `audit --format json`.
pub fn question_json(q: &QuestionReport) -> Json {
    json!({
        "id": q.id,
        "title": q.title,
        "wrt": q.wrt,
        "loss": q.loss,
        "gradient": q.gradient,
        "answer": q.answer.name(),
        "final_step": q.final_step,
        "first_wrong_step": q.first_wrong,
        "final_line": q.final_step.map(|i| q.steps[i].line),
        "first_wrong_line": q.first_wrong.map(|i| q.steps[i].line),
        "steps": q.steps.iter().map(step_json).collect::<Vec<_>>(),
        "definitions": q.definitions.iter().map(|d| json!({"name": d.name, "value": d.value, "source": source_text(&d.source)})).collect::<Vec<_>>(),
        "repairs": repairs_strings(&q.repairs),
        "notes": q.notes,
    })
}

/// An audit as in `audit --format json` (without the `file` and `problem` paths, which only
/// the front end knows).
pub fn audit_json(r: &AuditReport) -> Json {
    json!({
        "equations": r.equations,
        "questions": r.questions.iter().map(question_json).collect::<Vec<_>>(),
    })
}

/// At most `n` characters of a member, on one line.
fn clip(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n - 1).collect::<String>())
    } else {
        one
    }
}

/// An audit as `audit --format text` prints it; `file` names the document, `title` is the
/// problem's (may be empty).
pub fn audit_text(r: &AuditReport, file: &str, title: &str) -> String {
    let mut out = format!(
        "audit of {file}{}: {} equations found\n",
        if title.is_empty() { String::new() } else { format!(" ({title})") },
        r.equations
    );
    for q in &r.questions {
        out.push_str(&format!(
            "\nquestion {}{}\n",
            q.id,
            if q.title.is_empty() { String::new() } else { format!(": {}", q.title) }
        ));
        out.push_str(&format!("  loss:     {}\n  gradient: {}   (w.r.t. {})\n", q.loss, q.gradient, q.wrt));
        if q.steps.is_empty() {
            out.push_str("  the document never states this gradient\n");
        }
        for (i, s) in q.steps.iter().enumerate() {
            let lead = if s.starts_equation { "  " } else { "= " };
            out.push_str(&format!("  line {:<4} {lead}{}\n", s.line, clip(&s.text, 72)));
            match &s.reading {
                StepReading::Unreadable { reason, error, alternatives } => {
                    out.push_str(&format!("             unreadable: {reason}\n"));
                    if let Some(sp) = error.span {
                        if let Some(at) = s.text.get(sp.start..sp.end).filter(|t| !t.trim().is_empty()) {
                            let label =
                                if error.label.is_empty() { String::new() } else { format!(": {}", error.label) };
                            out.push_str(&format!("             at `{}`{label}\n", clip(at, 60)));
                        }
                    }
                    if alternatives.is_empty() {
                        for n in &error.notes {
                            out.push_str(&format!("             note: {n}\n"));
                        }
                        if !s.repairs.is_empty() {
                            let tried = repairs_strings(&s.repairs).join(", ");
                            out.push_str(&format!("             (OCR repairs tried: {tried})\n"));
                        }
                    }
                    for a in alternatives {
                        out.push_str(&format!("             could be {}{}\n", a.read_as, assuming(&a.repairs)));
                    }
                }
                StepReading::Read { read_as, vs_previous, verdict, notes, definitions } => {
                    let prev = match vs_previous {
                        Some(true) => "equal to the previous step; ",
                        Some(false) => "NOT equal to the previous step; ",
                        None => "",
                    };
                    let mark = if Some(i) == q.first_wrong { "   <- first wrong step" } else { "" };
                    out.push_str(&format!(
                        "             {prev}{}{mark}\n",
                        if verdict.right { "right" } else { "wrong" }
                    ));
                    out.push_str(&format!("             read as {read_as}{}\n", assuming(&s.repairs)));
                    if !definitions.is_empty() {
                        out.push_str(&format!("             using the definitions of {}\n", definitions.join(", ")));
                    }
                    for n in notes {
                        out.push_str(&format!("             note: {n}\n"));
                    }
                    if !verdict.right {
                        for d in &verdict.diagnoses {
                            out.push_str(&format!("             diagnosis: {}\n", d.message()));
                        }
                        if Some(i) == q.first_wrong || Some(i) == q.final_step {
                            if let Some(cx) = &verdict.counterexample {
                                out.push_str(&counterexample_text(cx, "             "));
                            }
                        }
                    }
                }
            }
        }
        if !q.definitions.is_empty() {
            out.push_str("  definitions used:\n");
            for d in &q.definitions {
                out.push_str(&format!("    {} = {}   ({})\n", d.name, d.value, source_text(&d.source)));
            }
        }
        for n in &q.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        let fin = match q.final_step {
            Some(i) if q.repairs.is_empty() => format!("final answer (line {}): {}", q.steps[i].line, q.answer.name()),
            Some(i) => format!(
                "final answer (line {}): {}, read with OCR repairs {}",
                q.steps[i].line,
                q.answer.name(),
                repairs_strings(&q.repairs).join(", ")
            ),
            None => format!("final answer: {}", q.answer.name()),
        };
        out.push_str(&format!("  {fin}\n"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Stationary points

/// A step's equation, `lhs = rhs` (`df/dX = …` for the gradient itself).
pub fn step_equation(p: &Problem, step: &crate::solve::Step, wrt: &str, style: Style) -> String {
    let left = match step.lhs {
        Some(l) => p.print(l, style),
        None if style == Style::Latex => {
            format!("\\frac{{\\partial f}}{{\\partial {}}}", matdiff_core::latex_name(wrt))
        }
        None => format!("df/d{wrt}"),
    };
    format!("{left} = {}", p.print(step.rhs, style))
}

/// A solution as the JSON object of the `solve --format json` contract: `wrt`, `solution`
/// (self-contained plain syntax), `latex`, `shape` (the unknown's), `conditions` (strings),
/// `kind`, `form`, `gradient`; `steps` (action, description, equation, latex) and `check`
/// when asked.
pub fn solution_json(p: &Problem, s: &crate::solve::Solution, steps: bool, check: bool) -> Result<Map<String, Json>> {
    let (size, _) = inline_size(&p.graph, s.node);
    if size > MAX_INLINE_NODES {
        return Err(Error::unspanned(
            Input::None,
            format!("the self-contained solution would repeat shared subterms {size:.0e} times over"),
        )
        .with_kind(ErrorKind::Limit));
    }
    let wrt = p.graph.vars()[s.var].name.as_str();
    let mut o = Map::new();
    o.insert("wrt".into(), json!(wrt));
    o.insert("solution".into(), json!(p.print(s.node, Style::Plain)));
    o.insert("latex".into(), json!(p.print(s.node, Style::Latex)));
    o.insert("shape".into(), json!(p.graph.dims().shape_names(p.graph.vars()[s.var].shape)));
    let conditions: Vec<String> = s.conditions.iter().map(|c| c.describe(&p.graph, s.var)).collect();
    o.insert("conditions".into(), json!(conditions));
    o.insert("kind".into(), json!(s.kind.name()));
    o.insert("form".into(), json!(s.form.name()));
    o.insert("gradient".into(), json!(p.print(s.gradient, Style::Plain)));
    if steps {
        let list: Vec<Json> = s
            .steps
            .iter()
            .map(|st| {
                json!({
                    "action": st.action.name(),
                    "description": st.action.describe(&p.graph, wrt),
                    "equation": step_equation(p, st, wrt, Style::Plain),
                    "latex": step_equation(p, st, wrt, Style::Latex),
                })
            })
            .collect();
        o.insert("steps".into(), Json::Array(list));
    }
    if check {
        let c = &s.check;
        o.insert(
            "check".into(),
            json!({
                "points": c.points,
                "max_residual": c.max_residual,
                "settings": c.dims.len(),
                "curvature_points": c.curvatures.len(),
                "passed": c.passed(),
            }),
        );
    }
    Ok(o)
}

/// A solution as text: the steps (numbered, when asked), then `X = …`, the kind and the
/// conditions.
pub fn solution_text(p: &Problem, s: &crate::solve::Solution, steps: bool) -> String {
    use std::fmt::Write;
    let wrt = p.graph.vars()[s.var].name.as_str();
    let mut out = String::new();
    if steps {
        for (i, st) in s.steps.iter().enumerate() {
            let _ = writeln!(out, "{}. {}:", i + 1, st.action.describe(&p.graph, wrt));
            let _ = writeln!(out, "   {}", step_equation(p, st, wrt, Style::Plain));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{wrt} = {}", p.print(s.node, Style::Plain));
    let _ = writeln!(out, "kind: {}", s.kind.name());
    let conditions: Vec<String> = s.conditions.iter().map(|c| c.describe(&p.graph, s.var)).collect();
    if !conditions.is_empty() {
        let _ = writeln!(out, "conditions: {}", conditions.join("; "));
    }
    out
}

/// The numeric check of a solution in one line.
pub fn solution_check_text(s: &crate::solve::Solution) -> String {
    let c = &s.check;
    format!(
        "numeric check: gradient at the solution {:.1e} of its size at a random point (largest; tolerance {:.0e}) over {} random points in {} dimension settings; curvature conclusive at {} points: {}",
        c.max_residual,
        crate::solve::RESIDUAL_TOL,
        c.points,
        c.dims.len(),
        c.curvatures.len(),
        s.kind.name()
    )
}
