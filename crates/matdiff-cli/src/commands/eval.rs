//! `matdiff eval`: the value of an expression at given inputs, as JSON.

use super::{fail, load, Failure};
use crate::input::{read_text, Source, MAX_VALUES_BYTES};
use crate::ExprArgs;
use matdiff::report::{inputs_from_json, value_json, value_json_nonfinite};
use matdiff::{check_sizes, first_nonfinite, to_value, Compiled, Value};
use std::path::Path;

/// Exit 0 with the value; 1 when it is not finite (unless `allow_nonfinite`), naming the
/// operation and entry where the first NaN or infinity appeared; 2 on a user error.
pub fn eval(input: &ExprArgs, at: &Path, allow_nonfinite: bool) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let at_path = at;
    let at = Source::of(at).name();
    let p = load(input)?;
    let text = read_text(Source::of(at_path), MAX_VALUES_BYTES).map_err(|e| format!("error: {e}\n"))?;
    let inputs = inputs_from_json(&text, &at).map_err(|m| format!("error: {m}\n"))?;
    let env = p.bind(&inputs).map_err(|e| fail(&e, expr, decl))?;
    check_sizes(p.graph(), &[p.output], &env).map_err(|e| fail(&e, expr, decl))?;
    // The compiled evaluator, as `demo` and the library use (planned for these sizes).
    let mut compiled = Compiled::new(p.graph(), &[p.output]);
    let out = compiled.run_env(&env).map_err(|e| fail(&e, expr, decl))?;
    let v = to_value(&out[0].to_owned(), p.graph().shape(p.output));
    if allow_nonfinite {
        println!("{}", value_json_nonfinite(&v));
        return Ok(0);
    }
    if !finite(&v) {
        // The reference evaluator, node by node, finds where it started.
        let why = match first_nonfinite(p.graph(), &[p.output], &env) {
            Some(nf) => nf.message,
            None => "an operation overflowed or was undefined".to_string(),
        };
        eprintln!("error: the value is not finite: {why}\n  = note: --allow-nonfinite prints it anyway (as \"NaN\", \"Infinity\")");
        return Ok(1);
    }
    println!("{}", value_json(&v));
    Ok(0)
}

fn finite(v: &Value) -> bool {
    match v {
        Value::Scalar(x) => x.is_finite(),
        Value::Vector(xs) => xs.iter().all(|x| x.is_finite()),
        Value::Matrix(rows) => rows.iter().flatten().all(|x| x.is_finite()),
    }
}
