//! `matdiff demo`: the seed models, their gradients and numeric checks.

use super::{fail, Failure};
use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::{Problem, Style, EXAMPLES};

pub fn demo() -> Result<u8, Failure> {
    let mut worst: f64 = 0.0;
    for ex in EXAMPLES {
        println!("== {} ==", ex.title);
        println!("loss:   {}", ex.expr.replace('\n', "; "));
        println!("decl:   {}", ex.decls);
        let mut p = Problem::new(ex.expr, ex.decls).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let grads = p.gradients(ex.wrt).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let shared = p.print_shared_named(&grads.nodes, Style::Plain, ex.expr);
        for (k, (name, cse)) in ex.wrt.iter().zip(&shared).enumerate() {
            println!("d/d{name} = {}", cse.expr);
            // One numeric check per gradient, at two random dimension settings.
            let one = matdiff::Gradients {
                vars: vec![grads.vars[k]],
                nodes: vec![grads.nodes[k]],
                backward: grads.backward.clone(),
            };
            let report = p.fd_check(&one, 7 + k as u64, 2);
            let dims: Vec<String> = report
                .dims
                .iter()
                .map(|d| {
                    p.graph
                        .dims
                        .dims
                        .iter()
                        .zip(d)
                        .map(|(dim, k)| format!("{}={k}", dim.name))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            println!(
                "    check: max relative error {:.1e} vs central differences at [{}]",
                report.max_err,
                dims.join("] and [")
            );
            worst = worst.max(report.max_err);
        }
        for (n, d) in shared.first().map(|c| c.defs.as_slice()).unwrap_or_default() {
            println!("where {n} = {d}");
        }
        println!();
    }
    println!("all gradients checked; worst relative error {worst:.1e}");
    worst = worst.max(autoencoder_steps()?);
    Ok(if worst < 1e-5 { 0 } else { 1 })
}

/// The derivation of the linear autoencoder's gradient, step by step (as `grad --steps`);
/// returns the error of its numeric check.
fn autoencoder_steps() -> Result<f64, Failure> {
    let ex = matdiff::example("autoencoder").ok_or("error: the autoencoder example is missing\n")?;
    let mut p = Problem::new(ex.expr, ex.decls).map_err(|e| fail(&e, ex.expr, ex.decls))?;
    let grads = p.gradients(ex.wrt).map_err(|e| fail(&e, ex.expr, ex.decls))?;
    let names = user_names(&mut p, ex.expr);
    let d = Derivation::with_names(&p, &grads, &names);
    println!("\n== {}: the derivation, step by step (matdiff grad --steps) ==", ex.title);
    print!("{}", d.render(StepsFormat::Text));
    Ok(d.check.as_ref().map_or(f64::INFINITY, |r| r.max_err))
}
