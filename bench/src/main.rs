//! `matdiff-bench`: median times of matdiff's compiled evaluator on the anchor problems, as JSON.
//!
//! Timing follows ../shared/anchors/common.py (median of ≥10 calls after 2 warm-ups, at least
//! 0.5 s of timed work) so the figures sit next to the anchors' in one table (bench/run.sh).

mod problems;

use faer::MatRef;
use matdiff::Compiled;
use serde_json::json;
use std::time::Instant;

fn median_ms(mut f: impl FnMut()) -> (f64, usize) {
    for _ in 0..2 {
        f();
    }
    let mut times = vec![];
    let start = Instant::now();
    while times.len() < 10 || (start.elapsed().as_secs_f64() < 0.5 && times.len() < 200) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let med = if n % 2 == 1 { times[n / 2] } else { 0.5 * (times[n / 2 - 1] + times[n / 2]) };
    (med, n)
}

fn time(c: &mut Compiled, inputs: &[MatRef<'_, f64>]) -> (f64, usize) {
    median_ms(|| {
        let out = c.run(inputs).expect("benchmark run");
        std::hint::black_box(out[0][(0, 0)]);
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--profile") {
        for b in problems::problems(quick) {
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
    for b in problems::problems(quick) {
        let mut ready = b.compile();
        let inputs: Vec<MatRef<'_, f64>> = ready.inputs.iter().map(|m| m.as_ref()).collect();
        let (f_ms, n1) = time(&mut ready.value, &inputs);
        let (vg_ms, n2) = time(&mut ready.value_grad, &inputs);
        eprintln!(
            "{:28} {:24} value {f_ms:8.2} ms   value+grad {vg_ms:8.2} ms   ratio {:.2}",
            b.title,
            b.sizes,
            vg_ms / f_ms
        );
        rows.push(json!({"problem": b.id, "title": b.title, "sizes": b.sizes, "expr": b.expr, "wrt": b.wrt,
                         "fn_ms": f_ms, "fn_plus_grad_ms": vg_ms, "ratio": vg_ms / f_ms, "reps": [n1, n2]}));
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "{}",
        serde_json::to_string_pretty(
            &json!({"impl": "matdiff compiled (faer)", "threads": threads, "quick": quick, "rows": rows})
        )
        .unwrap()
    );
}
