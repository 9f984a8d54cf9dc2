//! `matdiff check`: is a claimed gradient right? Exit 0 right, 1 wrong, 2 user error.

use super::{load, value_to_json, Failure};
use crate::render::{render, Sources};
use crate::{ExprArgs, Format};
use matdiff::check::{compact, CheckOptions, Checker, Counterexample, Diagnosis, Verdict};
use serde_json::{json, Map, Value as Json};

pub fn check(input: &ExprArgs, wrt: &str, claim: &str, format: Format) -> Result<u8, Failure> {
    let (expr, decl) = (input.expr.as_str(), input.decl.as_str());
    let fail = |e: &matdiff::Error| render(e, &Sources { expr, decl, claim });
    if matches!(format, Format::Latex | Format::Markdown) {
        return Err("error: `check` prints `--format text` or `--format json`\n".into());
    }
    let problem = load(input)?;
    let mut checker = Checker::new(problem, wrt.trim(), CheckOptions::default()).map_err(|e| fail(&e))?;
    let verdict = checker.check(claim).map_err(|e| fail(&e))?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&verdict_json(&verdict)).unwrap()),
        _ => print!("{}", verdict_text(&verdict, wrt.trim())),
    }
    Ok(if verdict.right { 0 } else { 1 })
}

/// The verdict as the JSON object of the `check` contract.
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
        Diagnosis::Transposed | Diagnosis::Undefined => {}
    }
    Json::Object(o)
}

pub fn counterexample_json(cx: &Counterexample) -> Json {
    let dims: Map<String, Json> = cx.dims.iter().map(|(n, k)| (n.clone(), json!(k))).collect();
    let inputs: Map<String, Json> = cx.inputs.iter().map(|(n, v)| (n.clone(), value_to_json(v))).collect();
    json!({
        "dims": dims,
        "inputs": inputs,
        "gradient": value_to_json(&round_value(&cx.gradient)),
        "claim": cx.claim.as_ref().map(|c| value_to_json(&round_value(c))),
        "max_diff": cx.max_diff.map(round6),
    })
}

/// Six significant digits: computed values, not inputs, so the noise digits say nothing.
fn round6(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(5 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

fn round_value(v: &matdiff::Value) -> matdiff::Value {
    use matdiff::Value;
    match v {
        Value::Scalar(x) => Value::Scalar(round6(*x)),
        Value::Vector(xs) => Value::Vector(xs.iter().map(|x| round6(*x)).collect()),
        Value::Matrix(rows) => Value::Matrix(rows.iter().map(|r| r.iter().map(|x| round6(*x)).collect()).collect()),
    }
}

/// The counterexample in a few indented lines.
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
        out.push_str(&format!("{indent}  largest difference: {}\n", compact(&matdiff::Value::Scalar(d))));
    }
    out
}

pub fn verdict_text(v: &Verdict, wrt: &str) -> String {
    let mut out = if v.right {
        format!("right: the claim equals the gradient w.r.t. {wrt}\n")
    } else {
        format!("wrong: the claim is not the gradient w.r.t. {wrt}\n")
    };
    out.push_str(&format!("  gradient:   {}\n", v.gradient));
    out.push_str(&format!("  claim read: {}\n", v.claim_read_as));
    for d in &v.diagnoses {
        out.push_str(&format!("  diagnosis:  {}\n", d.message()));
    }
    if let Some(cx) = &v.counterexample {
        out.push_str(&counterexample_text(cx, "  "));
    }
    out.push_str(&format!("  confidence: {}\n", v.confidence.describe()));
    out
}
