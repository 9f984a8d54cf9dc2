//! `matdiff demo`: the seed models, their gradients and numeric checks.

use super::{fail, Failure};
use matdiff::derivation::{user_names, Derivation, StepsFormat};
use matdiff::solve::solve;
use matdiff::{Problem, Style, EXAMPLES, SOLVE_EXAMPLES};

pub fn demo() -> Result<u8, Failure> {
    let mut worst: f64 = 0.0;
    for ex in EXAMPLES {
        println!("== {} ==", ex.title);
        println!("loss:   {}", ex.expr.replace('\n', "; "));
        println!("decl:   {}", ex.decls);
        let mut p = Problem::new(ex.expr, ex.decls).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let grads = p.gradients(ex.wrt).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let shared = p.print_shared_named(&grads.nodes, Style::Plain);
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
                    p.graph()
                        .dims()
                        .dims()
                        .iter()
                        .zip(d)
                        .map(|(dim, k)| format!("{}={k}", dim.name))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            if let matdiff::FdOutcome::Unchecked(why) = report.outcome() {
                return Err(format!("error: the numeric check of d/d{name} in `{}`: {why}\n", ex.title));
            }
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
    worst = worst.max(second_order()?);
    let solved = closed_forms()?;
    Ok(if worst <= matdiff::FD_TOLERANCE && solved { 0 } else { 1 })
}

/// The derivation of the linear autoencoder's gradient, step by step (as `grad --steps`);
/// returns the error of its numeric check.
fn autoencoder_steps() -> Result<f64, Failure> {
    let ex = matdiff::example("autoencoder").ok_or("error: the autoencoder example is missing\n")?;
    let mut p = Problem::new(ex.expr, ex.decls).map_err(|e| fail(&e, ex.expr, ex.decls))?;
    let grads = p.gradients(ex.wrt).map_err(|e| fail(&e, ex.expr, ex.decls))?;
    let names = user_names(&p);
    let d = Derivation::with_names(&p, &grads, &names);
    println!("\n== {}: the derivation, step by step (matdiff grad --steps) ==", ex.title);
    print!("{}", d.render(StepsFormat::Text));
    match d.check.as_ref().map(|r| (r.outcome(), r.max_err)) {
        Some((matdiff::FdOutcome::Unchecked(why), _)) => Err(format!("error: the derivation's numeric check: {why}\n")),
        Some((_, err)) => Ok(err),
        None => Ok(f64::INFINITY),
    }
}

/// Second-order results for the seed models (as `matdiff hessian --check`): the autoencoder's
/// Hessian in W, the GPLVM's and the MLP's Hessian-vector products; returns the worst error of
/// their numeric checks (second differences at two dimension settings).
fn second_order() -> Result<f64, Failure> {
    use matdiff::derivative::{check, hessian, hvp};
    println!("\n== Second order: Hessians and Hessian-vector products (matdiff hessian) ==");
    let mut worst: f64 = 0.0;
    for (name, wrt, direction) in [("autoencoder", "W", None), ("gplvm", "X", Some("V")), ("mlp", "W1", Some("V"))] {
        let ex = matdiff::example(name).ok_or_else(|| format!("error: the {name} example is missing\n"))?;
        let mut p = Problem::new(ex.expr, ex.decls).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let d = match direction {
            None => hessian(&mut p, wrt),
            Some(v) => hvp(&mut p, wrt, v),
        }
        .map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let what = match direction {
            None => format!("Hessian in {wrt} (w.r.t. vec({wrt}), {})", p.shape_names(d.root).join("×")),
            Some(v) => format!("Hessian-vector product in {wrt} along {v}"),
        };
        println!("{}: {what}", ex.title);
        let shared = p.print_shared_named(&[d.root], Style::Plain).remove(0);
        println!("    {}", shared.expr);
        for (n, def) in &shared.defs {
            println!("    where {n} = {def}");
        }
        let report = check(&p, &d, 11, 2);
        if let matdiff::FdOutcome::Unchecked(why) = report.outcome() {
            return Err(format!("error: the numeric check of the {what} of `{}`: {why}\n", ex.title));
        }
        println!(
            "    check: max relative error {:.1e} vs second differences ({} dimension settings)",
            report.max_err,
            report.dims.len()
        );
        worst = worst.max(report.max_err);
    }
    Ok(worst)
}

/// Stationary points in closed form (as `matdiff solve --check`); whether every check passed.
fn closed_forms() -> Result<bool, Failure> {
    println!("\n== Stationary points in closed form (matdiff solve) ==");
    let mut all = true;
    for ex in SOLVE_EXAMPLES {
        let mut p = Problem::new(ex.expr, ex.decls).map_err(|e| fail(&e, ex.expr, ex.decls))?;
        let wrt = ex.wrt[0];
        let s = solve(&mut p, wrt).map_err(|r| fail(&r.error, ex.expr, ex.decls))?;
        println!("\n{}", ex.title);
        println!("    objective: {}   ({})", ex.expr, ex.decls);
        println!("    {wrt} = {}", p.print(s.node, Style::Plain));
        println!("    kind: {}", s.kind.name());
        let conditions: Vec<String> = s.conditions.iter().map(|c| c.describe(p.graph(), s.var)).collect();
        if !conditions.is_empty() {
            println!("    conditions: {}", conditions.join("; "));
        }
        println!(
            "    check: gradient at the solution {:.1e} of its size at a random point ({} random points, {} dimension settings)",
            s.check.max_residual,
            s.check.points,
            s.check.dims.len()
        );
        all &= s.check.passed();
    }
    Ok(all)
}
