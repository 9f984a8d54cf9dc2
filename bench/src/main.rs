//! `matdiff-bench`: median times of matdiff's compiled evaluator on the anchor problems, as JSON.
//!
//! Timing follows ../shared/anchors/common.py (median of ≥10 calls after 2 warm-ups, at least
//! 0.5 s of timed work) so the figures sit next to the anchors' in one table (bench/run.sh).

mod problems;
mod second;

use faer::MatRef;
use matdiff::{Compiled, Problem};
use serde_json::json;
use std::time::Instant;

/// CPU time of the whole process (all threads) in milliseconds, from /proc (Linux; 0 elsewhere):
/// on a loaded machine the wall-clock medians include time spent waiting for a core.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<f64> = rest.split_whitespace().skip(11).take(2).filter_map(|x| x.parse().ok()).collect();
    f.iter().sum::<f64>() * 10.0
}

/// (median wall-clock ms, calls, mean CPU ms per call).
fn median_ms(mut f: impl FnMut()) -> (f64, usize, f64) {
    for _ in 0..2 {
        f();
    }
    let mut times = vec![];
    let start = Instant::now();
    let cpu0 = cpu_ms();
    while times.len() < 10 || (start.elapsed().as_secs_f64() < 0.5 && times.len() < 200) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = (cpu_ms() - cpu0) / times.len() as f64;
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let med = if n % 2 == 1 { times[n / 2] } else { 0.5 * (times[n / 2 - 1] + times[n / 2]) };
    (med, n, cpu)
}

fn time(c: &mut Compiled, inputs: &[MatRef<'_, f64>]) -> (f64, usize, f64) {
    median_ms(|| {
        let out = c.run(inputs).expect("benchmark run");
        std::hint::black_box(out[0][(0, 0)]);
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `--only P1,H3,...` restricts the run to some problems (for quick iteration).
    let only: Option<Vec<String>> =
        std::env::args().skip_while(|a| a != "--only").nth(1).map(|s| s.split(',').map(str::to_string).collect());
    let wanted = |id: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == id));
    let arg = |name: &str| std::env::args().skip_while(|a| a != name).nth(1);
    if let Some(expr) = arg("--expr") {
        // An ad-hoc expression: `--expr 'A + A'"'"'' --decl 'A: matrix(n,n)' --size n=2048`, profiled.
        let p = Problem::new(&expr, &arg("--decl").unwrap_or_default()).expect("expression");
        let sizes: Vec<(String, usize)> = arg("--size")
            .unwrap_or_default()
            .split(',')
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.parse().expect("size"))))
            .collect();
        let dims = (0..p.graph().dims().dims().len())
            .map(|d| {
                let name = p.graph().dims().name(d as matdiff::DimId);
                sizes.iter().find(|(k, _)| *k == name).map_or(usize::MAX, |kv| kv.1)
            })
            .collect();
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
        let env = matdiff::random_env(p.graph(), p.output, dims, &mut rng);
        let inputs: Vec<MatRef<'_, f64>> = env.vars.iter().map(|m| m.as_ref()).collect();
        let mut c = Compiled::new(p.graph(), &[p.output]);
        for (step, ms) in c.profile(&inputs, 30).expect("profile") {
            println!("{ms:8.3} ms  {}", &step[..step.len().min(150)]);
        }
        let (ms, reps, cpu) = time(&mut c, &inputs);
        println!("{ms:8.3} ms median of {reps}, cpu {cpu:.3} ms per call");
        return;
    }
    if std::env::args().any(|a| a == "--profile") {
        for b in second::problems(quick).into_iter().filter(|b| wanted(b.id)) {
            let mut ready = b.compile();
            let inputs: Vec<MatRef<'_, f64>> = ready.inputs.iter().map(|m| m.as_ref()).collect();
            println!("== {} ({})", b.title, ready.printed);
            let steps = ready.result.profile(&inputs, 30).expect("profile");
            for (step, ms) in &steps {
                println!("{ms:8.3} ms  {}", &step[..step.len().min(150)]);
            }
            println!("{:8.3} ms  total of medians", steps.iter().map(|s| s.1).sum::<f64>());
        }
        for b in problems::problems(quick).into_iter().filter(|b| wanted(b.id)) {
            let mut ready = b.compile();
            let inputs: Vec<MatRef<'_, f64>> = ready.inputs.iter().map(|m| m.as_ref()).collect();
            println!("== {} value+grad", b.title);
            let steps = ready.value_grad.profile(&inputs, 30).expect("profile");
            for (step, ms) in &steps {
                println!("{ms:8.3} ms  {}", &step[..step.len().min(150)]);
            }
            println!("{:8.3} ms  total of medians", steps.iter().map(|s| s.1).sum::<f64>());
        }
        return;
    }
    let mut rows = vec![];
    for b in problems::problems(quick).into_iter().filter(|b| wanted(b.id)) {
        let mut ready = b.compile();
        let inputs: Vec<MatRef<'_, f64>> = ready.inputs.iter().map(|m| m.as_ref()).collect();
        let (f_ms, n1, _) = time(&mut ready.value, &inputs);
        let (vg_ms, n2, _) = time(&mut ready.value_grad, &inputs);
        eprintln!(
            "{:28} {:24} value {f_ms:8.2} ms   value+grad {vg_ms:8.2} ms   ratio {:.2}",
            b.title,
            b.sizes,
            vg_ms / f_ms
        );
        rows.push(json!({"problem": b.id, "title": b.title, "sizes": b.sizes, "expr": b.expr, "wrt": b.wrt,
                         "fn_ms": f_ms, "fn_plus_grad_ms": vg_ms, "ratio": vg_ms / f_ms, "reps": [n1, n2]}));
    }
    let mut second_rows = vec![];
    for b in second::problems(quick).into_iter().filter(|b| wanted(b.id)) {
        let mut ready = b.compile();
        let inputs: Vec<MatRef<'_, f64>> = ready.inputs.iter().map(|m| m.as_ref()).collect();
        let (ms, n1, cpu) = time(&mut ready.result, &inputs);
        let vg = ready.value_grad.as_mut().map(|c| time(c, &inputs));
        let kind = match b.kind {
            second::Kind::Hessian => "hessian",
            second::Kind::Hvp => "hvp",
        };
        match vg {
            Some((vg_ms, _, vg_cpu)) => eprintln!(
                "{:28} {:24} {kind} {ms:8.2} ms (cpu {cpu:.2})  value+grad {vg_ms:8.2} ms (cpu {vg_cpu:.2})  ratio {:.2}",
                b.title,
                b.sizes,
                ms / vg_ms
            ),
            None => eprintln!("{:28} {:24} {kind} {ms:8.2} ms (cpu {cpu:.2})", b.title, b.sizes),
        }
        second_rows.push(json!({"problem": b.id, "title": b.title, "kind": kind, "sizes": b.sizes, "expr": b.expr,
                                "wrt": b.wrt, "result": ready.printed, "ms": ms, "cpu_ms": cpu, "reps": n1,
                                "value_grad_ms": vg.map(|v| v.0)}));
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({"impl": "matdiff compiled (faer)", "threads": threads, "quick": quick, "rows": rows,
                   "second_order": second_rows})
        )
        .unwrap()
    );
}
