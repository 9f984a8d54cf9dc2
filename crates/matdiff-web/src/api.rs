//! The endpoints: a JSON request body in, the object of the CLI's `--format json` out.
//!
//! Body fields are the CLI's argument names (`expr`, `decl`, `latex`, `wrt`, `claim`, `steps`,
//! `check`, `format`, `emit`; `document` and `problem` hold texts, never paths). Everything here
//! is synchronous library work: `lib.rs` runs it on a worker thread under a CPU-time budget.

use crate::error::ApiError;
use matdiff::check::{apply_convention, CheckOptions, Checker, Convention};
use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::emit::{Lang, Source};
use matdiff::{diagram, Problem, Style};
use serde_json::{json, Map, Value as Json};

/// The POST endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/grad`: gradients (`matdiff grad`).
    Grad,
    /// `POST /api/check`: judge a claimed gradient (`matdiff check`).
    Check,
    /// `POST /api/audit`: audit a document against a problem file (`matdiff audit`).
    Audit,
    /// `POST /api/emit`: code export (`matdiff grad --emit`).
    Emit,
    /// `POST /api/graph`: the computational graph as SVG (`matdiff graph`).
    Graph,
    /// `POST /api/read`: how an expression was read, for the live preview.
    Read,
    /// The stationary point in closed form (`matdiff solve`).
    Solve,
    /// `POST /api/derivative`: Jacobians in their layouts (`matdiff derivative`).
    Derivative,
    /// `POST /api/hessian`: Hessians and Hessian-vector products (`matdiff hessian`).
    Hessian,
}

impl Endpoint {
    /// Every POST endpoint.
    pub const ALL: [Endpoint; 9] = [
        Endpoint::Grad,
        Endpoint::Check,
        Endpoint::Audit,
        Endpoint::Emit,
        Endpoint::Graph,
        Endpoint::Read,
        Endpoint::Solve,
        Endpoint::Derivative,
        Endpoint::Hessian,
    ];

    /// The path segment after `/api/`.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Grad => "grad",
            Endpoint::Check => "check",
            Endpoint::Audit => "audit",
            Endpoint::Emit => "emit",
            Endpoint::Graph => "graph",
            Endpoint::Read => "read",
            Endpoint::Solve => "solve",
            Endpoint::Derivative => "derivative",
            Endpoint::Hessian => "hessian",
        }
    }

    /// The endpoint whose path segment is `name`.
    pub fn from_name(name: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Answer a request (on a worker thread, under a budget).
    pub fn answer(self, body: &Body) -> Result<Json, ApiError> {
        match self {
            Endpoint::Grad => grad(body),
            Endpoint::Check => check(body),
            Endpoint::Audit => audit(body),
            Endpoint::Emit => emit(body),
            Endpoint::Graph => graph(body),
            Endpoint::Read => read(body),
            Endpoint::Solve => solve(body),
            Endpoint::Derivative => derivative(body, None),
            Endpoint::Hessian => derivative(body, Some(b_direction(body)?)),
        }
    }
}

/// A request body: a JSON object, read field by field with errors naming the field.
#[derive(Debug)]
pub struct Body(Map<String, Json>);

impl Body {
    /// Parse the bytes of a request body (an empty body is an empty object).
    pub fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Json>(bytes) {
            Ok(Json::Object(m)) => Ok(Body(m)),
            Ok(_) => Err(ApiError::request(
                "the request body must be a JSON object",
                &["e.g. {\"expr\": \"x'*A*x\", \"wrt\": \"x\"}"],
            )),
            Err(e) => Err(ApiError::request(format!("the request body is not valid JSON: {e}"), &[])),
        }
    }

    /// A text field; `None` when absent or `null`.
    fn text(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(other) => Err(ApiError::field(field, format!("`{field}` must be a string, not {}", kind(other)))),
        }
    }

    /// A text field that must be there and not blank.
    fn required(&self, field: &str) -> Result<&str, ApiError> {
        match self.text(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(ApiError::field(field, format!("`{field}` is empty"))),
            None => Err(ApiError::field(field, format!("missing field `{field}`"))),
        }
    }

    /// A boolean flag (absent: false).
    fn flag(&self, field: &str) -> Result<bool, ApiError> {
        match self.0.get(field) {
            None | Some(Json::Null) => Ok(false),
            Some(Json::Bool(b)) => Ok(*b),
            Some(other) => Err(ApiError::field(field, format!("`{field}` must be true or false, not {}", kind(other)))),
        }
    }

    /// Variable names: the CLI's comma-separated string, or a JSON list of names.
    fn names(&self, field: &str) -> Result<Vec<String>, ApiError> {
        let names: Vec<String> = match self.0.get(field) {
            Some(Json::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Json::String(s) => Ok(s.trim().to_string()),
                    other => Err(ApiError::field(field, format!("`{field}` must list names, found {}", kind(other)))),
                })
                .collect::<Result<_, _>>()?,
            _ => self.required(field)?.split(',').map(|s| s.trim().to_string()).collect(),
        };
        if names.is_empty() {
            return Err(ApiError::field(field, format!("`{field}` names no variable")));
        }
        Ok(names)
    }

    /// One of a closed set of words (`format`, `emit`), `default` when absent.
    fn choice<T: Copy>(&self, field: &str, choices: &[(&str, T)], default: Option<T>) -> Result<T, ApiError> {
        let words = || choices.iter().map(|(w, _)| format!("`{w}`")).collect::<Vec<_>>().join(", ");
        let given = match (self.text(field)?, default) {
            (None, Some(d)) => return Ok(d),
            (None, None) => {
                return Err(ApiError::field(field, format!("missing field `{field}` (one of {})", words())))
            }
            (Some(s), _) => s.trim(),
        };
        choices
            .iter()
            .find(|(w, _)| *w == given)
            .map(|&(_, v)| v)
            .ok_or_else(|| ApiError::field(field, format!("`{field}` must be one of {}, not `{given}`", words())))
    }
}

/// "a number", "a list", … for messages about mistyped fields.
fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// The expression fields every expression endpoint takes: `expr`, `decl`, `latex`.
struct ExprInput<'a> {
    expr: &'a str,
    decl: &'a str,
    latex: bool,
}

impl<'a> ExprInput<'a> {
    fn from(b: &'a Body) -> Result<ExprInput<'a>, ApiError> {
        Ok(ExprInput { expr: b.required("expr")?, decl: b.text("decl")?.unwrap_or(""), latex: b.flag("latex")? })
    }

    /// Parse and type-check, as the CLI's `--latex` flag says.
    fn problem(&self) -> Result<Problem, ApiError> {
        let p = if self.latex { Problem::new_latex(self.expr, self.decl) } else { Problem::new(self.expr, self.decl) };
        Ok(p?)
    }
}

/// The output formats of `grad`: JSON by default; with `steps`, the derivation's other
/// renderings come wrapped as `{"format", "text"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GradFormat {
    Json,
    Text,
    Markdown,
    Latex,
}

const GRAD_FORMATS: [(&str, GradFormat); 4] = [
    ("json", GradFormat::Json),
    ("text", GradFormat::Text),
    ("markdown", GradFormat::Markdown),
    ("latex", GradFormat::Latex),
];

/// The values of `convention` (`grad` and `check`), as on the command line.
const CONVENTIONS: [(&str, Convention); 2] = [("symmetric", Convention::Symmetric), ("cookbook", Convention::Cookbook)];

/// `POST /api/grad`: `grad --format json` (with `steps`, `grad --steps --format json`).
fn grad(b: &Body) -> Result<Json, ApiError> {
    let input = ExprInput::from(b)?;
    let wrt = b.names("wrt")?;
    let format = b.choice("format", &GRAD_FORMATS, Some(GradFormat::Json))?;
    let (steps, check) = (b.flag("steps")?, b.flag("check")?);
    let mut p = input.problem()?;
    let names: Vec<&str> = wrt.iter().map(String::as_str).collect();
    let grads = p.gradients(&names)?;
    if steps {
        let user = user_names(&p);
        let d = Derivation::with_names(&p, &grads, &user);
        let rendering = match format {
            GradFormat::Json => return Ok(d.to_json()),
            GradFormat::Text => StepsFormat::Text,
            GradFormat::Markdown => StepsFormat::Markdown,
            GradFormat::Latex => StepsFormat::Latex,
        };
        let name = GRAD_FORMATS.iter().find(|(_, f)| *f == format).map_or("text", |(n, _)| n);
        return Ok(json!({"format": name, "text": d.render(rendering)}));
    }
    if format != GradFormat::Json {
        return Err(ApiError::field(
            "format",
            "without `steps`, grad answers `format: json` (its `gradient` and `latex` fields are the text and LaTeX forms)",
        ));
    }
    let convention = b.choice("convention", &CONVENTIONS, Some(Convention::Symmetric))?;
    // As the CLI: the check is of the gradient computed, the answer in the convention.
    let report = check.then(|| p.fd_check(&grads, 1, 2));
    let mut grads = grads;
    apply_convention(&mut p, &mut grads, convention);
    let mut items: Vec<Json> = matdiff::report::gradients_json(&mut p, &grads, &names, report.as_ref(), convention)?
        .into_iter()
        .map(Json::Object)
        .collect();
    // As the CLI prints it: one object for one variable, a list for several.
    Ok(if items.len() == 1 { items.remove(0) } else { Json::Array(items) })
}

/// `POST /api/emit`: the module `grad --emit LANG` prints, as `{"emit", "code"}`.
fn emit(b: &Body) -> Result<Json, ApiError> {
    let input = ExprInput::from(b)?;
    let wrt = b.names("wrt")?;
    let langs: Vec<(&str, Lang)> = Lang::ALL.iter().map(|&l| (l.name(), l)).collect();
    let lang = b.choice("emit", &langs, None)?;
    let mut p = input.problem()?;
    let names: Vec<&str> = wrt.iter().map(String::as_str).collect();
    let grads = p.gradients(&names)?;
    let code = matdiff::emit::emit(&p, &grads, lang, Source { expr: input.expr, decls: input.decl })?;
    Ok(json!({"emit": lang.name(), "code": code}))
}

/// The formats of `graph`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GraphFormat {
    Svg,
    Dot,
}

/// `POST /api/graph`: the computational graph, `{"format": "svg", "svg": …}` (or `dot`).
fn graph(b: &Body) -> Result<Json, ApiError> {
    let input = ExprInput::from(b)?;
    let format = b.choice("format", &[("svg", GraphFormat::Svg), ("dot", GraphFormat::Dot)], Some(GraphFormat::Svg))?;
    // `wrt` is optional here: without it, the forward graph alone.
    let wrt = match b.0.get("wrt") {
        None | Some(Json::Null) => None,
        Some(Json::String(s)) if s.trim().is_empty() => None,
        Some(_) => Some(b.names("wrt")?),
    };
    let mut p = input.problem()?;
    let user = user_names(&p);
    let d = match wrt {
        Some(wrt) => {
            let names: Vec<&str> = wrt.iter().map(String::as_str).collect();
            let grads = p.gradients(&names)?;
            Derivation::with_names(&p, &grads, &user)
        }
        None => Derivation::forward_with_names(&p, &user),
    };
    Ok(match format {
        GraphFormat::Svg => json!({"format": "svg", "svg": diagram::svg(&d)?}),
        GraphFormat::Dot => json!({"format": "dot", "dot": diagram::dot(&d)}),
    })
}

/// `POST /api/check`: the verdict on a claimed gradient, `check --format json`.
fn check(b: &Body) -> Result<Json, ApiError> {
    let input = ExprInput::from(b)?;
    let wrt = b.names("wrt")?;
    let [wrt] = wrt.as_slice() else {
        return Err(ApiError::field("wrt", "check compares one gradient: name one variable in `wrt`"));
    };
    let claim = b.required("claim")?;
    let p = input.problem()?;
    let convention = b.choice("convention", &CONVENTIONS, Some(Convention::Symmetric))?;
    let mut checker = Checker::new(p, wrt, CheckOptions { convention, ..CheckOptions::default() })?;
    let verdict = checker.check(claim)?;
    Ok(matdiff::report::verdict_json(&verdict))
}

/// `POST /api/audit`: a document (Markdown + LaTeX) audited against a problem file, both sent as
/// text; the object of `audit --format json` without its `file` and `problem` paths.
fn audit(b: &Body) -> Result<Json, ApiError> {
    let document = b.text("document")?.ok_or_else(|| ApiError::field("document", "missing field `document`"))?;
    let problem = b.required("problem")?;
    let auditor = matdiff::audit::auditor(problem).map_err(|e| {
        // Problem-file errors have no span into the TOML text (a question's loss error points
        // into the loss string): the field is what the page can mark.
        let mut j = matdiff::report::error_json(&e);
        j["input"] = json!("problem");
        j["span"] = Json::Null;
        ApiError::User(j)
    })?;
    Ok(matdiff::report::audit_json(&auditor.audit(document)))
}

/// `POST /api/read`: what the expression was read as (the live preview): `{plain, latex, notes}`.
fn read(b: &Body) -> Result<Json, ApiError> {
    let input = ExprInput::from(b)?;
    let p = input.problem()?;
    let mut plain = input.expr.to_string();
    let mut notes = vec![];
    for n in &p.notes {
        match n.strip_prefix("read as: ") {
            Some(reading) => plain = reading.to_string(),
            None => notes.push(n.clone()),
        }
    }
    notes.extend(p.retyping_notes());
    Ok(json!({"plain": plain, "latex": p.print(p.output, Style::Latex), "notes": notes}))
}

/// `POST /api/solve`: the stationary point in closed form, `solve --format json` (with `steps`
/// and `check` as the CLI's flags). No closed form is a 400 naming the obstacle.
fn solve(b: &Body) -> Result<Json, ApiError> {
    let input = ExprInput::from(b)?;
    let wrt = b.names("wrt")?;
    let [wrt] = wrt.as_slice() else {
        return Err(ApiError::field("wrt", "solve finds one variable: name one in `wrt`"));
    };
    let (steps, check) = (b.flag("steps")?, b.flag("check")?);
    let mut p = input.problem()?;
    let s = matdiff::solve::solve(&mut p, wrt).map_err(|r| ApiError::from(&r.error))?;
    Ok(Json::Object(matdiff::report::solution_json(&p, &s, steps, check)?))
}

/// The `direction` field of `hessian` (absent or `null`: the full Hessian).
fn b_direction(b: &Body) -> Result<Option<String>, ApiError> {
    Ok(b.text("direction")?.map(str::to_string))
}

/// `POST /api/derivative` (`hessian` is `Some(direction)`: `POST /api/hessian`): the object of
/// `matdiff derivative|hessian --format json` — `derivative`, `hessian` or `hvp`, `wrt`, `layout`,
/// `shape`, `latex`, `cse`, `where`, with `check` (second differences for a Hessian) when asked
/// and the chain rule node by node as `steps` (text) when asked. Several names in `wrt` (the
/// body of `grad`, as the page sends it) give a list, one result per variable.
fn derivative(b: &Body, hessian: Option<Option<String>>) -> Result<Json, ApiError> {
    use matdiff::derivative as d;
    let input = ExprInput::from(b)?;
    let wrt = b.names("wrt")?;
    let (steps, check) = (b.flag("steps")?, b.flag("check")?);
    if matches!(hessian, Some(Some(_))) && wrt.len() != 1 {
        return Err(ApiError::field("wrt", "a Hessian-vector product is along one variable: name one in `wrt`"));
    }
    let mut p = input.problem()?;
    let mut items = vec![];
    for name in &wrt {
        let result = match &hessian {
            None => d::derivative(&mut p, name)?,
            Some(None) => d::hessian(&mut p, name)?,
            Some(Some(v)) => d::hvp(&mut p, name, v)?,
        };
        let report = check.then(|| d::check(&p, &result, 1, 2));
        let mut o = matdiff::report::derivative_json(&p, &result, report.as_ref())?;
        if steps {
            o.insert("steps".into(), json!(d::steps_text(&mut p, &result)));
        }
        items.push(Json::Object(o));
    }
    // As `grad` answers: one object for one variable, a list for several.
    Ok(if items.len() == 1 { items.remove(0) } else { Json::Array(items) })
}

/// `GET /api/problems`: the problem files of `problems/`, embedded.
pub fn problems() -> Json {
    let items: Vec<Json> = crate::assets::PROBLEMS
        .iter()
        .map(|&(name, text)| {
            let title = matdiff::audit::parse_problem(text)
                .ok()
                .map(|s| s.title)
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| name.to_string());
            json!({"name": name, "title": title, "text": text})
        })
        .collect();
    Json::Array(items)
}

/// `GET /api/examples`: the seed models.
pub fn examples() -> Json {
    let items: Vec<Json> = matdiff::EXAMPLES
        .iter()
        .map(|e| json!({"name": e.name, "title": e.title, "expr": e.expr, "decl": e.decls, "wrt": e.wrt.join(",")}))
        .collect();
    Json::Array(items)
}

/// `GET /api/info`: what this server offers.
pub fn info() -> Json {
    let mut endpoints: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
    endpoints.extend(["problems", "examples", "info"]);
    json!({"name": "matdiff", "version": env!("CARGO_PKG_VERSION"), "endpoints": endpoints})
}
