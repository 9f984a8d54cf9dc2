//! Criterion benchmarks of the compiled evaluator (value, value+gradient) at reduced sizes.

#[path = "../src/problems.rs"]
#[allow(dead_code)] // the table fields are for the JSON runner
mod problems;

use criterion::{criterion_group, criterion_main, Criterion};
use faer::MatRef;

fn bench(c: &mut Criterion) {
    for b in problems::problems(true) {
        let mut ready = b.compile();
        let inputs: Vec<MatRef<'_, f64>> = ready.inputs.iter().map(|m| m.as_ref()).collect();
        c.bench_function(&format!("{} value", b.id), |bench| {
            bench.iter(|| ready.value.run(&inputs).unwrap()[0][(0, 0)])
        });
        c.bench_function(&format!("{} value+grad", b.id), |bench| {
            bench.iter(|| ready.value_grad.run(&inputs).unwrap()[0][(0, 0)])
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
