//! One function per subcommand: run the core, print results; errors come back rendered.

use crate::render::{render, Sources};
use crate::Format;
use matdiff::{bind, check_sizes, eval as evaluate, to_value, Problem, Style, Value, EXAMPLES};
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

/// A rendered error message; the process exits 2.
pub type Failure = String;

fn fail(e: &matdiff::Error, expr: &str, decl: &str) -> Failure {
    render(e, &Sources { expr, decl, claim: "" })
}

fn load(expr: &str, decl: &str) -> Result<Problem, Failure> {
    let p = Problem::new(expr, decl).map_err(|e| fail(&e, expr, decl))?;
    for (name, kind) in &p.inferred {
        if *kind != matdiff::default_kind(name) {
            eprintln!("note: `{name}` is read as a {kind:?} (from how it is used); declare it to be sure", kind = kind);
        }
    }
    Ok(p)
}

pub fn grad(expr: &str, wrt: &[String], decl: &str, format: Format, check: bool) -> Result<u8, Failure> {
    let mut p = load(expr, decl)?;
    let names: Vec<&str> = wrt.iter().map(|s| s.trim()).collect();
    let grads = p.gradients(&names).map_err(|e| fail(&e, expr, decl))?;
    let report = check.then(|| p.fd_check(&grads, 1, 2));
    let shared = p.print_shared(&grads.nodes, Style::Plain);
    match format {
        Format::Json => {
            let items: Vec<Json> = grads
                .nodes
                .iter()
                .zip(&names)
                .zip(&shared)
                .map(|((&g, name), cse)| {
                    let mut o = Map::new();
                    o.insert("wrt".into(), json!(name));
                    o.insert("gradient".into(), json!(p.print(g, Style::Plain)));
                    o.insert("latex".into(), json!(p.print(g, Style::Latex)));
                    o.insert("shape".into(), json!(p.shape_names(g)));
                    let defs: Map<String, Json> = cse.defs.iter().map(|(n, d)| (n.clone(), json!(d))).collect();
                    o.insert("cse".into(), json!(cse.expr));
                    o.insert("where".into(), Json::Object(defs));
                    if let Some(r) = &report {
                        o.insert("check".into(), json!({"max_rel_error": r.max_err, "settings": r.dims.len()}));
                    }
                    Json::Object(o)
                })
                .collect();
            let out = if items.len() == 1 { items.into_iter().next().unwrap() } else { Json::Array(items) };
            println!("{}", serde_json::to_string_pretty(&out).unwrap());
        }
        Format::Latex => {
            for (&g, name) in grads.nodes.iter().zip(&names) {
                let lhs = format!("\\frac{{\\partial f}}{{\\partial {}}}", matdiff::latex_name(name));
                if names.len() == 1 {
                    println!("{}", p.print(g, Style::Latex));
                } else {
                    println!("{lhs} = {}", p.print(g, Style::Latex));
                }
            }
        }
        Format::Text | Format::Markdown => {
            for (cse, name) in shared.iter().zip(&names) {
                if names.len() == 1 {
                    println!("{}", cse.expr);
                } else {
                    println!("{name}: {}", cse.expr);
                }
                for (n, d) in &cse.defs {
                    println!("where {n} = {d}");
                }
            }
        }
    }
    if let Some(r) = report {
        eprintln!("numeric check: max relative error {:.1e} against central differences ({} dimension settings)", r.max_err, r.dims.len());
        if r.max_err > 1e-5 {
            return Ok(1);
        }
    }
    Ok(0)
}

fn json_to_value(name: &str, v: &Json) -> Result<Value, String> {
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

fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Scalar(x) => json!(x),
        Value::Vector(x) => json!(x),
        Value::Matrix(r) => json!(r),
    }
}

pub fn eval(expr: &str, decl: &str, at: &str) -> Result<u8, Failure> {
    let p = load(expr, decl)?;
    let text = std::fs::read_to_string(at).map_err(|e| format!("error: cannot read {at}: {e}\n"))?;
    let parsed: Json = serde_json::from_str(&text).map_err(|e| format!("error: {at} is not valid JSON: {e}\n"))?;
    let Json::Object(obj) = parsed else {
        return Err(format!("error: {at} must hold a JSON object mapping names to values\n"));
    };
    let mut inputs = HashMap::new();
    for (k, v) in &obj {
        inputs.insert(k.clone(), json_to_value(k, v).map_err(|m| format!("error: in {at}: {m}\n"))?);
    }
    let env = bind(&p.graph, &inputs).map_err(|e| fail(&e, expr, decl))?;
    check_sizes(&p.graph, &[p.output], &env).map_err(|e| fail(&e, expr, decl))?;
    let out = evaluate(&p.graph, &[p.output], &env);
    let v = to_value(&out[0], p.graph.shape(p.output));
    println!("{}", value_to_json(&v));
    Ok(0)
}

pub fn demo() -> Result<u8, Failure> {
    let mut worst: f64 = 0.0;
    for ex in EXAMPLES {
        println!("== {} ==", ex.title);
        println!("loss:   {}", ex.expr.replace('\n', "; "));
        println!("decl:   {}", ex.decls);
        let mut p = Problem::new(ex.expr, ex.decls).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let grads = p.gradients(ex.wrt).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let report = p.fd_check(&grads, 7, 2);
        let shared = p.print_shared(&grads.nodes, Style::Plain);
        for (name, cse) in ex.wrt.iter().zip(&shared) {
            println!("d/d{name} = {}", cse.expr);
            for (n, d) in &cse.defs {
                println!("    where {n} = {d}");
            }
        }
        let dims: Vec<String> = report
            .dims
            .iter()
            .map(|d| p.graph.dims.dims.iter().zip(d).map(|(dim, k)| format!("{}={k}", dim.name)).collect::<Vec<_>>().join(","))
            .collect();
        println!("check:  max relative error {:.1e} vs central differences at [{}]\n", report.max_err, dims.join("] and ["));
        worst = worst.max(report.max_err);
    }
    println!("all gradients checked; worst relative error {worst:.1e}");
    Ok(if worst < 1e-5 { 0 } else { 1 })
}
