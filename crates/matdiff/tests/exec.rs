//! The compiled evaluator agrees with the reference evaluator (to 1e-12 relative).

use matdiff::{eval, random_dims, random_env, rel_diff, Compiled, Problem, EXAMPLES};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn agree(expr: &str, decls: &str, wrt: &[&str], seed: u64) {
    let mut p = Problem::new(expr, decls).unwrap();
    let grads = p.gradients(wrt).unwrap();
    let mut roots = vec![p.output];
    roots.extend(&grads.nodes);
    let mut compiled = Compiled::new(p.graph(), &roots);
    let mut rng = StdRng::seed_from_u64(seed);
    for (lo, hi) in [(2, 4), (5, 9), (5, 9)] {
        let dims = random_dims(p.graph(), &mut rng, lo, hi);
        let env = random_env(p.graph(), p.output, dims, &mut rng);
        let want = eval(p.graph(), &roots, &env);
        let inputs: Vec<_> = env.vars.iter().map(|m| m.as_ref()).collect();
        let got = compiled.run_owned(&inputs).unwrap();
        for (k, (w, g)) in want.iter().zip(&got).enumerate() {
            let e = rel_diff(w, g, 0.0);
            assert!(e < 1e-12, "{expr}: root {k} differs by {e:.2e}\nplan:\n{}", compiled.describe());
        }
    }
}

#[test]
fn seeds_agree_with_reference_evaluator() {
    for ex in EXAMPLES {
        agree(ex.expr, ex.decls, ex.wrt, 11);
    }
}

#[test]
fn solves_traces_and_distribution_agree() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("tr(inv(A)*B*C)", "A: matrix(n,n); B: matrix(n,m); C: matrix(m,n)", &["A", "B"]),
        ("sum(B*inv(A))", "A: matrix(n,n); B: matrix(m,n)", &["A"]),
        ("x'*inv(A')*y", "A: matrix(n,n); x: vector(n); y: vector(n)", &["A", "x"]),
        (
            "logdet(S) + det(A) + sum(diag(A)) + norm1(A*x) + norm2(x)",
            "S: symmetric(n); A: matrix(n,n); x: vector(n)",
            &["A", "x"],
        ),
        (
            "-0.5*logdet(U*U' + s*eye(d)) - 250*tr(inv(U*U' + s*eye(d))*S)",
            "U: matrix(d,q); s: scalar; S: symmetric(d)",
            &["U", "s"],
        ),
        (
            "0.5*norm2(W2*swish(W1*X + b1*vector(1)') + b2*vector(1)' - T)^2",
            "W1: matrix(H,D); b1: vector(H); W2: matrix(C,H); b2: vector(C); X: matrix(D,B); T: matrix(C,B)",
            &["W1", "b1", "W2", "b2"],
        ),
        (
            "-y'*log(softmax(W*x + b)) + u'*softmax(z)",
            "W: matrix(m,n); x: vector(n); b: vector(m); y: vector(m); u: vector(k); z: vector(k)",
            &["W", "b", "z"],
        ),
    ];
    for (i, (e, d, w)) in cases.iter().enumerate() {
        agree(e, d, w, 100 + i as u64);
    }
}

#[test]
fn low_rank_plus_identity_agrees_at_tall_thin_sizes() {
    // q ≤ d/4 switches the planner to the Woodbury factorization; check it at such sizes.
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "-Nobs/2*(logdet(U*U' + s*eye(d)) + tr(inv(U*U' + s*eye(d))*S))",
            "U: matrix(d,q); S: symmetric(d); Nobs: scalar; s: scalar",
            &["U", "s", "S"],
        ),
        (
            "-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
            "X: matrix(N,q); Y: matrix(N,k); D: scalar; a: scalar; b: scalar",
            &["X", "a", "b"],
        ),
        (
            "det(2*V'*V + 3*eye(d)) + sum(inv(V'*V + c*eye(d))*z)",
            "V: matrix(q,d); c: scalar; z: vector(d)",
            &["V", "c"],
        ),
        // U written transposed (V'·V): tr(A⁻¹·B) forms B·U itself instead of sharing it.
        ("tr(inv(V'*V + c*eye(d))*B)", "V: matrix(q,d); c: scalar; B: matrix(d,d)", &["V", "B"]),
        // Uᵀ·A⁻¹ = M⁻¹·Uᵀ and F·A⁻¹·U·H = F·U·M⁻¹·H through the q×q capacitance matrix.
        (
            "sum(U'*inv(U*U' + s*eye(d))*G) + sum(F*inv(U*U' + s*eye(d))*U*H)",
            "U: matrix(d,q); s: scalar; G: matrix(d,k); F: matrix(k,d); H: matrix(q,k)",
            &["U", "s", "G", "F"],
        ),
        // M = sI − UᵀU indefinite: the factorization falls back to the dense matrix and the
        // capacitance solves to an LU of M.
        (
            "sum(F*inv(s*eye(d) - U*U')*U) + tr(inv(s*eye(d) - U*U')*G)",
            "U: matrix(d,q); s: scalar; F: matrix(k,d); G: matrix(d,d)",
            &["U", "F"],
        ),
    ];
    for (i, (e, d, w)) in cases.iter().enumerate() {
        let mut p = Problem::new(e, d).unwrap();
        let grads = p.gradients(w).unwrap();
        let mut roots = vec![p.output];
        roots.extend(&grads.nodes);
        let mut compiled = Compiled::new(p.graph(), &roots);
        let mut rng = StdRng::seed_from_u64(200 + i as u64);
        let mut dims = random_dims(p.graph(), &mut rng, 2, 3);
        for (k, dim) in p.graph().dims().dims().iter().enumerate() {
            if ["d", "N"].contains(&dim.name.as_str()) {
                dims[k] = 24;
            }
        }
        let env = random_env(p.graph(), p.output, dims, &mut rng);
        let want = eval(p.graph(), &roots, &env);
        let inputs: Vec<_> = env.vars.iter().map(|m| m.as_ref()).collect();
        let got = compiled.run_owned(&inputs).unwrap();
        assert!(
            compiled.describe().contains("FactorLowRank"),
            "{e}: expected the low-rank path\n{}",
            compiled.describe()
        );
        for (k, (w, g)) in want.iter().zip(&got).enumerate() {
            let err = rel_diff(w, g, 0.0);
            assert!(err < 1e-11, "{e}: root {k} differs by {err:.2e}");
        }
    }
}

/// Expression, declarations, variables, and sizes for named dimensions.
type Sized_<'a> = (&'a str, &'a str, &'a [&'a str], &'a [(&'a str, usize)]);

#[test]
fn large_sizes_take_the_threaded_paths_and_agree() {
    // Past 2^18 entries the memory-bound passes split across threads, past 2^15 the
    // transcendental maps, past 2^22 multiply-adds the products: sizes that cross all three.
    let cases: &[Sized_] = &[
        ("0.5*norm2(W'*W*X - X)^2", "W: matrix(m,n); X: matrix(n,N)", &["W"], &[("m", 40), ("n", 600), ("N", 500)]),
        (
            "0.5*norm2(W2*swish(W1*X + b1*vector(1)') + b2*vector(1)' - T)^2",
            "W1: matrix(H,D); b1: vector(H); W2: matrix(C,H); b2: vector(C); X: matrix(D,B); T: matrix(C,B)",
            &["W1", "b1", "W2", "b2"],
            &[("H", 600), ("D", 300), ("C", 7), ("B", 500)],
        ),
        ("sum(tanh(A).*exp(-A.^2)) + sum(log(matrix(1) + A.^2))", "A: matrix(n,N)", &["A"], &[("n", 700), ("N", 400)]),
    ];
    for (i, (e, d, w, sizes)) in cases.iter().enumerate() {
        let mut p = Problem::new(e, d).unwrap();
        let grads = p.gradients(w).unwrap();
        let mut roots = vec![p.output];
        roots.extend(&grads.nodes);
        let mut compiled = Compiled::new(p.graph(), &roots);
        let mut rng = StdRng::seed_from_u64(300 + i as u64);
        let mut dims = random_dims(p.graph(), &mut rng, 2, 3);
        for (k, dim) in p.graph().dims().dims().iter().enumerate() {
            if let Some(&(_, size)) = sizes.iter().find(|(name, _)| *name == dim.name) {
                dims[k] = size;
            }
        }
        let env = random_env(p.graph(), p.output, dims, &mut rng);
        let want = eval(p.graph(), &roots, &env);
        let inputs: Vec<_> = env.vars.iter().map(|m| m.as_ref()).collect();
        // Twice: the second run reuses the buffers of the first.
        for _ in 0..2 {
            let got = compiled.run_owned(&inputs).unwrap();
            for (k, (w, g)) in want.iter().zip(&got).enumerate() {
                let err = rel_diff(w, g, 0.0);
                assert!(err < 1e-12, "{e}: root {k} differs by {err:.2e}");
            }
        }
    }
}

/// Compile `expr` alone (a matrix-valued second-order form) and compare with the reference
/// evaluator at small random sizes and at `sizes` (large enough for the threaded paths); the
/// plan must contain each step named in `uses` and none named in `avoids`.
fn agree_structured(expr: &str, decls: &str, sizes: &[(&str, usize)], uses: &[&str], avoids: &[&str], seed: u64) {
    let p = Problem::new(expr, decls).unwrap();
    let mut compiled = Compiled::new(p.graph(), &[p.output]);
    let mut rng = StdRng::seed_from_u64(seed);
    for large in [false, false, true] {
        let mut dims = random_dims(p.graph(), &mut rng, 2, 9);
        if large {
            for (k, dim) in p.graph().dims().dims().iter().enumerate() {
                if let Some(&(_, size)) = sizes.iter().find(|(name, _)| *name == dim.name) {
                    dims[k] = size;
                }
                if !dim.factors.is_empty() {
                    dims[k] = usize::MAX;
                }
            }
            // Products of dimensions (k*n, the size of kron(eye(k), A)) from their new factors.
            assert!(p.graph().dims().fill_products(&mut dims).is_none());
        }
        let env = random_env(p.graph(), p.output, dims, &mut rng);
        let want = eval(p.graph(), &[p.output], &env);
        for _ in 0..2 {
            // Sizes from the environment: a dimension may appear only in eye(k).
            let got = compiled.run_env(&env).unwrap()[0].to_owned();
            let err = rel_diff(&want[0], &got, 0.0);
            assert!(err < 1e-12, "{expr}: differs by {err:.2e}\nplan:\n{}", compiled.describe());
        }
        if large {
            let plan = compiled.describe();
            for step in uses {
                assert!(plan.contains(step), "{expr}: expected a {step} step\n{plan}");
            }
            for step in avoids {
                assert!(!plan.contains(step), "{expr}: unexpected {step} step\n{plan}");
            }
        }
    }
}

/// Expression, declarations, large sizes, steps the plan uses, steps it avoids.
type Structured<'a> = (&'a str, &'a str, &'a [(&'a str, usize)], &'a [&'a str], &'a [&'a str]);

#[test]
fn second_order_forms_use_structure_and_agree() {
    let cases: &[Structured] = &[
        // The logistic-regression Hessian: rows scaled block by block into the triangle's
        // product (no separate scaled copy of A), mirrored; diag(w) never formed.
        (
            "A'*diag(sigmoid(A*x).*sigmoid(-A*x))*A",
            "A: matrix(N,d); x: vector(d)",
            &[("N", 600), ("d", 300)],
            &["ScaledSymGemm"],
            &["Diag {", "ScaleBy"],
        ),
        // As `hessian` derives it: a run of diagonal factors is one diagonal.
        (
            "A'*diag(vector(1) - sigmoid(-(y.*(A*x))))*diag(sigmoid(-(y.*(A*x))).*y.^2)*A",
            "A: matrix(N,d); x: vector(d); y: vector(N)",
            &[("N", 300), ("d", 200)],
            &["ScaledSymGemm"],
            &["Diag {", "ScaleBy"],
        ),
        (
            "diag(exp(x))/sum(exp(x)) - exp(x)*vector(1, n)'*diag(exp(x))/sum(exp(x))^2",
            "x: vector(n)",
            &[("n", 700)],
            &["ScaleBy", "acc: true"],
            &["Diag {"],
        ),
        (
            "P*diag(u)*diag(v)*Q*R",
            "P: matrix(k,n); Q: matrix(n,m); R: matrix(m,l); u: vector(n); v: vector(n)",
            &[("k", 3), ("n", 60), ("m", 50), ("l", 40)],
            &["ScaleBy"],
            &["Diag {"],
        ),
        (
            "diag(u)*diag(v) + diag(u)*diag(v)*M",
            "M: matrix(n,n); u: vector(n); v: vector(n)",
            &[("n", 50)],
            &["ScaleBy"],
            &[],
        ),
        ("A'*A", "A: matrix(N,d)", &[("N", 150), ("d", 70)], &["SymGemm"], &[]),
        ("X'*S*X", "X: matrix(n,d); S: symmetric(n)", &[("n", 90), ("d", 80)], &["SymGemm"], &[]),
        (
            "B*A'*diag(w)*A*B'",
            "A: matrix(N,d); B: matrix(k,d); w: vector(N)",
            &[("N", 300), ("d", 40), ("k", 90)],
            &["SymGemm"],
            &["Diag {"],
        ),
        // Diagonal factors scale rows or columns.
        ("diag(v)*M", "M: matrix(n,m); v: vector(n)", &[("n", 700), ("m", 500)], &["ScaleBy"], &["Diag {"]),
        ("M*diag(v)", "M: matrix(n,m); v: vector(m)", &[("n", 70), ("m", 50)], &["ScaleBy"], &["Diag {"]),
        (
            "(x'*diag(v)*M)' + M'*diag(v)*x",
            "M: matrix(n,m); v: vector(n); x: vector(n)",
            &[("n", 70), ("m", 50)],
            &["ScaleBy"],
            &["Diag {"],
        ),
        (
            "C*diag(v)*M",
            "C: matrix(k,n); M: matrix(n,m); v: vector(n)",
            &[("n", 40), ("m", 50), ("k", 3)],
            &["ScaleBy"],
            &["Diag {"],
        ),
        // Diagonal terms of sums go on the diagonal: the log-sum-exp Hessian is one rank-1 product.
        (
            "diag(exp(x)/sum(exp(x))) - exp(x)*exp(x)'/sum(exp(x))^2",
            "x: vector(n)",
            &[("n", 2100)],
            &["acc: true"],
            &["Diag {", "SymGemm"],
        ),
        ("eye(n) + 2*diag(v) - 3*A", "A: matrix(n,n); v: vector(n)", &[("n", 600)], &[], &["Diag {"]),
        // The Hessian of tr(X'AX) w.r.t. X: zero blocks of kron(eye(k), ·) filled, not multiplied.
        ("kron(eye(k), A + A')", "A: matrix(n,n)", &[("n", 90), ("k", 7)], &["Kron"], &[]),
        ("kron(B, C')", "B: matrix(m,k); C: matrix(n,p)", &[("m", 9), ("k", 8), ("n", 30), ("p", 20)], &["Kron"], &[]),
        // Transposed terms: tiled, at sizes that are not multiples of the tile.
        ("A + A'", "A: matrix(n,n)", &[("n", 601)], &[], &[]),
        ("2*M - 3*N' + M", "M: matrix(m,n); N: matrix(n,m)", &[("m", 530), ("n", 610)], &[], &[]),
    ];
    for (i, (e, d, sizes, uses, avoids)) in cases.iter().enumerate() {
        agree_structured(e, d, sizes, uses, avoids, 400 + i as u64);
    }
    // The same structures inside gradients (derivatives of scalars built from them).
    let grads: &[(&str, &str, &[&str])] = &[
        ("sum((A'*diag(w)*A).*B)", "A: matrix(N,d); w: vector(N); B: matrix(d,d)", &["A", "w"]),
        ("sum((diag(p) - p*p').*B) + tr(A + A')", "p: vector(n); B: matrix(n,n); A: matrix(n,n)", &["p", "A"]),
    ];
    for (i, (e, d, w)) in grads.iter().enumerate() {
        agree(e, d, w, 450 + i as u64);
    }
}
