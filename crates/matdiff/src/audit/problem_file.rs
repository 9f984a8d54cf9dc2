//! PROBLEM.toml: the loss, declarations, the gradients asked, notation aliases and
//! definitions, read from a string (the caller does the I/O). See docs/problem-files.md.

use matdiff_syntax::{Error, Input, Result};
use toml::{Table, Value};

/// One gradient a problem asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// Short identifier used in reports (`1d`, `2e`).
    pub id: String,
    /// Free text shown next to the id.
    pub title: String,
    /// The scalar loss, plain syntax or LaTeX.
    pub loss: String,
    /// Declarations for this question (the file's `decl` unless overridden).
    pub decl: String,
    /// The variable differentiated with respect to.
    pub wrt: String,
    /// How documents name the loss in `\nabla_W L`, `\partial L/\partial W` (normalized: `L`, `L_1`).
    pub loss_symbols: Vec<String>,
    /// How documents name the variable there (`W`, `w`, `omega`).
    pub wrt_symbols: Vec<String>,
    /// Further left sides that state this gradient, matched with their notation (`\nabla_m L`
    /// matches `\nabla_m \mathcal{L}` but not `\partial L/\partial m`): for OCR slips.
    pub target_aliases: Vec<super::Target>,
    /// Definitions for this question only, after the file's.
    pub definitions: Vec<(String, String)>,
}

/// A parsed problem file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ProblemSpec {
    /// The problem's title.
    pub title: String,
    /// Renames inside expressions: (document symbol, problem symbol), normalized.
    pub aliases: Vec<(String, String)>,
    /// Intermediate names: (name, expression in plain syntax or LaTeX).
    pub definitions: Vec<(String, String)>,
    /// Values for derivatives a document writes without working them out (an upstream
    /// gradient `\partial L/\partial z_2`, a Jacobian `\partial h_1/\partial z_1`): the
    /// derivative, the name it is read as, and its value.
    pub derivatives: Vec<(super::Target, String, String)>,
    /// The questions, in file order.
    pub questions: Vec<Question>,
}

fn err(msg: impl Into<String>) -> Error {
    Error::unspanned(Input::None, msg)
}

fn string(v: &Value, what: &str) -> Result<String> {
    v.as_str().map(str::to_string).ok_or_else(|| err(format!("{what} must be a string, found {}", v.type_str())))
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|x| string(x, what)).collect(),
        _ => Err(err(format!("{what} must be a string or a list of strings, found {}", v.type_str()))),
    }
}

/// A symbol as the document matcher compares it (`\mathcal{L}_{2}` → `L_2`).
fn norm(s: &str, what: &str) -> Result<String> {
    super::target::symbol(s).ok_or_else(|| {
        err(format!("{what}: `{s}` is not a symbol (a letter or Greek letter, optionally with a subscript)"))
    })
}

fn pairs(v: &Value, what: &str) -> Result<Vec<(String, String)>> {
    let t = v.as_table().ok_or_else(|| err(format!("[{what}] must be a table")))?;
    t.iter().map(|(k, v)| Ok((norm(k, what)?, string(v, &format!("{what}.{k}"))?))).collect()
}

const TOP_KEYS: &[&str] = &["title", "decl", "aliases", "definitions", "question"];
const QUESTION_KEYS: &[&str] =
    &["id", "title", "loss", "decl", "wrt", "loss_symbols", "wrt_symbols", "target_aliases", "definitions"];

fn unknown_keys(t: &Table, known: &[&str], where_: &str) -> Result<()> {
    match t.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => {
            Err(err(format!("unknown key `{k}` in {where_}")).with_note(format!("known keys: {}", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// Parse a problem file.
pub fn parse_problem(src: &str) -> Result<ProblemSpec> {
    let table: Table = src.parse().map_err(|e: toml::de::Error| {
        let mut msg = e.message().to_string();
        if let Some(span) = e.span() {
            let line = src[..span.start.min(src.len())].matches('\n').count() + 1;
            msg = format!("line {line}: {msg}");
        }
        err(format!("not a valid TOML file: {msg}"))
    })?;
    unknown_keys(&table, TOP_KEYS, "the problem file")?;
    let mut spec = ProblemSpec::default();
    if let Some(t) = table.get("title") {
        spec.title = string(t, "title")?;
    }
    let decl = match table.get("decl") {
        Some(d) => string(d, "decl")?,
        None => String::new(),
    };
    if let Some(a) = table.get("aliases") {
        spec.aliases =
            pairs(a, "aliases")?.into_iter().map(|(k, v)| Ok((k, norm(&v, "aliases")?))).collect::<Result<_>>()?;
    }
    if let Some(d) = table.get("definitions") {
        let t = d.as_table().ok_or_else(|| err("[definitions] must be a table"))?;
        for (k, v) in t {
            let value = string(v, &format!("definitions.{k}"))?;
            match super::parse_target(k) {
                Some(target) if !target.nabla => {
                    let name = format!("d{}d{}", target.of, target.wrt);
                    spec.derivatives.push((target, name, value));
                }
                _ => spec.definitions.push((norm(k, "definitions")?, value)),
            }
        }
    }
    let qs = match table.get("question") {
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(err("`question` must be an array of tables: write each as [[question]]")),
        None => {
            return Err(err("the problem file asks no question").with_note("add a [[question]] with `loss` and `wrt`"))
        }
    };
    for (i, q) in qs.iter().enumerate() {
        let t = q.as_table().ok_or_else(|| err(format!("question {} must be a table", i + 1)))?;
        let id = match t.get("id") {
            Some(v) => string(v, "question.id")?,
            None => format!("q{}", i + 1),
        };
        let here = format!("question `{id}`");
        unknown_keys(t, QUESTION_KEYS, &here)?;
        let get = |k: &str| -> Result<String> {
            t.get(k)
                .map(|v| string(v, &format!("{here}: {k}")))
                .unwrap_or_else(|| Err(err(format!("{here} has no `{k}`"))))
        };
        let loss = get("loss")?;
        let wrt = get("wrt")?;
        let loss_symbols = match t.get("loss_symbols") {
            Some(v) => strings(v, "loss_symbols")?.iter().map(|s| norm(s, &here)).collect::<Result<_>>()?,
            None => vec!["L".to_string()],
        };
        let mut wrt_symbols: Vec<String> = match t.get("wrt_symbols") {
            Some(v) => strings(v, "wrt_symbols")?.iter().map(|s| norm(s, &here)).collect::<Result<_>>()?,
            None => vec![],
        };
        if !wrt_symbols.contains(&wrt) {
            wrt_symbols.insert(0, wrt.clone());
        }
        let target_aliases = match t.get("target_aliases") {
            Some(v) => strings(v, "target_aliases")?
                .iter()
                .map(|s| {
                    super::parse_target(s).ok_or_else(|| {
                        err(format!("{here}: target alias `{s}` is not a derivative like `\\nabla_W L` or `\\partial L / \\partial W`"))
                    })
                })
                .collect::<Result<_>>()?,
            None => vec![],
        };
        let definitions = match t.get("definitions") {
            Some(d) => pairs(d, &format!("{here}.definitions"))?,
            None => vec![],
        };
        let decl = match t.get("decl") {
            Some(d) => string(d, "decl")?,
            None => decl.clone(),
        };
        if spec.questions.iter().any(|q: &Question| q.id == id) {
            return Err(err(format!("two questions have the id `{id}`")));
        }
        let title = t.get("title").map(|v| string(v, "title")).transpose()?.unwrap_or_default();
        spec.questions.push(Question {
            id,
            title,
            loss,
            decl,
            wrt,
            loss_symbols,
            wrt_symbols,
            target_aliases,
            definitions,
        });
    }
    Ok(spec)
}
