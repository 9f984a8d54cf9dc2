//! The compiled evaluator's steady state allocates nothing: after the first call with given
//! sizes, `Compiled::run_into` reuses the plan's buffers, factorizations and workspace.
//!
//! A counting global allocator (this test binary only) counts every allocation the calling
//! thread makes during the later calls (other threads, such as the test harness's, are not
//! counted; at these sizes the evaluator starts no work elsewhere). Sizes stay below the thresholds where work is split across threads (there,
//! rayon's job queue allocates a block every few dozen jobs; see `Compiled::run_into`).

use matdiff::{random_dims, random_env, Compiled, Problem, EXAMPLES};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's own arguments, so `System`'s
// guarantees are ours; `count` neither allocates (a const-initialized thread-local and an
// atomic) nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator, i.e. by `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest of
        // `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_runs_allocate_nothing() {
    let mut cases: Vec<(&str, &str, Vec<&str>)> = EXAMPLES.iter().map(|e| (e.expr, e.decls, e.wrt.to_vec())).collect();
    cases.extend([
        // Dense Cholesky and LU: log det, solves, inverse, trace of a solve, determinant.
        ("logdet(S) + tr(inv(S)*B) + sum(inv(S))", "S: symmetric(n); B: matrix(n,n)", vec!["S", "B"]),
        ("det(A) + sum(inv(A)*B) + x'*inv(A')*x", "A: matrix(n,n); B: matrix(n,n); x: vector(n)", vec!["A", "x"]),
        // Woodbury with the capacitance solves and the shared S·U.
        (
            "-Nobs/2*(logdet(U*U' + s*eye(d)) + tr(inv(U*U' + s*eye(d))*S))",
            "U: matrix(d,q); S: symmetric(d); Nobs: scalar; s: scalar",
            vec!["U", "s"],
        ),
        // Second-order structure: a symmetric product with a diagonal middle (K = 40 crosses
        // the triangle threshold), diagonal terms of sums, transposed terms tiled.
        (
            "sum((A'*diag(w)*A).*B) + sum((diag(p) - p*p').*C) + sum((M + M').*C)",
            "A: matrix(N,K); w: vector(N); B: matrix(K,K); p: vector(n); C: matrix(n,n); M: matrix(n,n)",
            vec!["A", "p", "M"],
        ),
        // softmax's step writes into its buffer (eval::softmax_into): no temporaries.
        (
            "-y'*log(softmax(W*x + b)) + u'*softmax(z)",
            "W: matrix(m,n); x: vector(n); b: vector(m); y: vector(m); u: vector(k); z: vector(k)",
            vec!["W", "b", "z"],
        ),
    ]);
    for (i, (expr, decls, wrt)) in cases.iter().enumerate() {
        let mut p = Problem::new(expr, decls).unwrap();
        let grads = p.gradients(wrt).unwrap();
        let mut roots = vec![p.output];
        roots.extend(&grads.nodes);
        let mut compiled = Compiled::new(p.graph(), &roots);
        let mut rng = StdRng::seed_from_u64(500 + i as u64);
        let mut dims = random_dims(p.graph(), &mut rng, 8, 12);
        // A thin U (q ≤ d/4) so that the low-rank path is the one measured.
        for (k, dim) in p.graph().dims().dims().iter().enumerate() {
            if dim.name == "q" {
                dims[k] = 2;
            }
            if dim.name == "K" {
                dims[k] = 40;
            }
        }
        let env = random_env(p.graph(), p.output, dims, &mut rng);
        let inputs: Vec<_> = env.vars.iter().map(|m| m.as_ref()).collect();
        let first = compiled.run_owned(&inputs).unwrap();
        let mut outputs: Vec<faer::Mat<f64>> = first.iter().map(|m| faer::Mat::zeros(m.nrows(), m.ncols())).collect();
        let mut views: Vec<faer::MatMut<'_, f64>> = outputs.iter_mut().map(|m| m.as_mut()).collect();
        compiled.run_into(&inputs, &mut views).unwrap();
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        COUNTING.with(|c| c.set(true));
        for _ in 0..3 {
            compiled.run_into(&inputs, &mut views).unwrap();
        }
        COUNTING.with(|c| c.set(false));
        let allocated = ALLOCATIONS.load(Ordering::Relaxed) - before;
        drop(views);
        assert_eq!(
            allocated,
            0,
            "{expr}: {allocated} allocations in 3 steady-state runs\nplan:\n{}",
            compiled.describe()
        );
        // The results are the same as the first run's.
        for (a, b) in first.iter().zip(&outputs) {
            assert_eq!(a, b, "{expr}: run_into differs from run");
        }
    }
}
