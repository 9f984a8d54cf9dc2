//! Throughput of claim checking on seed-size problems: claims checked per second on one core.
//!
//! `cargo bench -p matdiff-bench --bench check` reports `thrpt` in claims per second (elements/s):
//! one iteration checks every claim of a problem once, a mix of right and wrong answers in
//! plain syntax and LaTeX, with the problem compiled once (gradient, path terms and sample
//! points are reused, as `grade` reuses them within a document).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use matdiff::check::{CheckOptions, Checker};
use matdiff::Problem;
use std::hint::black_box;

struct Seed {
    name: &'static str,
    expr: &'static str,
    decl: &'static str,
    wrt: &'static str,
    claims: &'static [&'static str],
}

const SEEDS: &[Seed] = &[
    Seed {
        name: "autoencoder",
        expr: "0.5*norm2(W'*W*x - x)^2",
        decl: "W: matrix(m,n); x: vector(n)",
        wrt: "W",
        claims: &[
            "W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)'",
            "W*(W'*W - eye(n))*x*x' + W*x*x'*(W'*W - eye(n))",
            "W(xx^T(W^T W - I) + (W^T W - I)xx^T)",
            "2W(W^T W - I)xx^T",
            "W*(W'*W*x - x)*x'",
            "-(W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)')",
            "(W*(W'*W*x - x)*x' + W*x*(W'*W*x - x)')'",
            "W(W^T W x - x)x^T + Wx(W^T W x - x)^T",
        ],
    },
    Seed {
        name: "gplvm",
        expr: "-D/2*logdet(alpha*x*x' + 1/beta*eye(N)) - 0.5*tr(inv(alpha*x*x' + 1/beta*eye(N))*y*y')",
        decl: "x: vector(N); y: vector(N); D: scalar; alpha: scalar; beta: scalar",
        wrt: "x",
        claims: &[
            "-\\alpha D (\\alpha x x^T + \\beta^{-1} I)^{-1} x + \\alpha (\\alpha x x^T + \\beta^{-1} I)^{-1} y y^T (\\alpha x x^T + \\beta^{-1} I)^{-1} x",
            "-alpha*D*inv(alpha*x*x' + 1/beta*eye(N))*x",
            "alpha*inv(alpha*x*x' + 1/beta*eye(N))*y*y'*inv(alpha*x*x' + 1/beta*eye(N))*x",
            "-alpha*D*inv(alpha*x*x' + 1/beta*eye(N))*x + alpha*inv(alpha*x*x' + 1/beta*eye(N))*y*y'*inv(alpha*x*x' + 1/beta*eye(N))*x",
        ],
    },
    Seed {
        name: "mlp",
        expr: "0.5*norm2(W2*swish(W1*x + b1) + b2 - t)^2",
        decl: "W1: matrix(H,D); b1: vector(H); W2: matrix(C,H); b2: vector(C); x: vector(D); t: vector(C)",
        wrt: "W1",
        claims: &[
            "((W2'*(W2*swish(W1*x+b1)+b2-t)) .* (sigmoid(W1*x+b1) + swish(W1*x+b1).*(vector(1) - sigmoid(W1*x+b1))))*x'",
            "diag(sigmoid(W1*x+b1) + swish(W1*x+b1).*(vector(1) - sigmoid(W1*x+b1)))*W2'*(W2*swish(W1*x+b1)+b2-t)*x'",
            "W2'*(W2*swish(W1*x+b1)+b2-t)*x'",
            "2*((W2'*(W2*swish(W1*x+b1)+b2-t)) .* (sigmoid(W1*x+b1) + swish(W1*x+b1).*(vector(1) - sigmoid(W1*x+b1))))*x'",
        ],
    },
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    for seed in SEEDS {
        let problem = Problem::new(seed.expr, seed.decl).unwrap();
        let mut checker = Checker::new(problem, seed.wrt, CheckOptions::default()).unwrap();
        group.throughput(Throughput::Elements(seed.claims.len() as u64));
        group.bench_function(seed.name, |b| {
            b.iter(|| {
                for claim in seed.claims {
                    black_box(checker.check(black_box(claim)).unwrap());
                }
            })
        });
    }
    // Compiling a problem (gradient, path terms, sample points) is paid once per problem.
    group.throughput(Throughput::Elements(1));
    group.bench_function("compile_autoencoder", |b| {
        b.iter(|| {
            let p = Problem::new(SEEDS[0].expr, SEEDS[0].decl).unwrap();
            black_box(Checker::new(p, "W", CheckOptions::default()).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
