//! Fuzz the `eval --at` JSON binder: any text is read by `inputs_from_json` (the CLI's reader),
//! bound to a fixed problem, size-checked and evaluated; no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matdiff::report::inputs_from_json;

const EXPR: &str = "0.5*norm2(W'*W*x - x)^2 + a*sum(log(vector(1) + exp(-y.*(W*x)))) + tr(inv(S)*A) + logdet(S)";
const DECLS: &str = "W: matrix(m,n); x: vector(n); y: vector(m); a: scalar; A: matrix(n,n); S: symmetric(n)";

thread_local! {
    static PROBLEM: matdiff::Problem = matdiff::Problem::new(EXPR, DECLS).expect("the fuzz problem compiles");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(inputs) = inputs_from_json(text, "fuzz.json") else { return };
    PROBLEM.with(|p| {
        let Ok(env) = p.bind(&inputs) else { return };
        if matdiff::check_sizes(&p.graph, &[p.output], &env).is_err() {
            return;
        }
        let _ = matdiff::eval(&p.graph, &[p.output], &env);
        let mut compiled = matdiff::Compiled::new(&p.graph, &[p.output]);
        let _ = compiled.run_env(&env);
    });
});
