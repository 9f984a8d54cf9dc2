//! One module per subcommand; shared helpers (loading a problem, JSON values) live here.

pub mod audit;
pub mod check;
pub mod demo;
pub mod emit;
pub mod eval;
pub mod grad;
pub mod grade;
pub mod graph;
pub mod steps;

use crate::render::{render, Sources};
use crate::ExprArgs;
use matdiff::{Problem, Value};
use serde_json::{json, Value as Json};

/// A rendered error message; the process exits 2.
pub type Failure = String;

pub fn fail(e: &matdiff::Error, expr: &str, decl: &str) -> Failure {
    render(e, &Sources { expr, decl, claim: "" })
}

/// Parse and type-check an expression, noting on stderr any name whose kind usage decided.
pub fn load(input: &ExprArgs) -> Result<Problem, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let p = if input.latex { Problem::new_latex(expr, decl) } else { Problem::new(expr, decl) }
        .map_err(|e| fail(&e, expr, decl))?;
    p.notes.iter().for_each(|n| eprintln!("note: {n}"));
    for (name, kind) in &p.inferred {
        if *kind != matdiff::default_kind(name) {
            eprintln!("note: `{name}` is read as a {} (from how it is used); declare it to be sure", kind.word());
        }
    }
    Ok(p)
}

pub fn json_to_value(name: &str, v: &Json) -> Result<Value, String> {
    let num = |x: &Json| x.as_f64().ok_or_else(|| format!("`{name}`: expected numbers, found {x}"));
    match v {
        Json::Number(_) => Ok(Value::Scalar(num(v)?)),
        Json::Array(items) if items.iter().all(|x| x.is_array()) && !items.is_empty() => {
            let rows = items
                .iter()
                .map(|r| r.as_array().unwrap().iter().map(num).collect::<Result<Vec<f64>, String>>())
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Matrix(rows))
        }
        Json::Array(items) => Ok(Value::Vector(items.iter().map(num).collect::<Result<_, _>>()?)),
        other => Err(format!("`{name}`: expected a number, a list or a list of rows, found {other}")),
    }
}

pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Scalar(x) => json!(x),
        Value::Vector(x) => json!(x),
        Value::Matrix(r) => json!(r),
    }
}
