//! The seed models (from real homework) as built-in examples, shared by `demo` and the tests.

/// A loss with its declarations and the variables whose gradients are asked.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    /// Short name (`autoencoder`), for `demo` and the tests.
    pub name: &'static str,
    /// One line for people.
    pub title: &'static str,
    /// The loss, plain syntax.
    pub expr: &'static str,
    /// Its declarations.
    pub decls: &'static str,
    /// The variables whose gradients are asked.
    pub wrt: &'static [&'static str],
}

/// The seed models, in the order `demo` shows them.
pub const EXAMPLES: &[Example] = &[
    Example {
        name: "autoencoder",
        title: "Linear autoencoder",
        expr: "0.5*norm2(W'*W*x - x)^2",
        decls: "W: matrix(m,n); x: vector(n)",
        wrt: &["W"],
    },
    Example {
        name: "autoencoder-batched",
        title: "Linear autoencoder, batched",
        expr: "0.5*norm2(W'*W*X - X)^2",
        decls: "W: matrix(m,n); X: matrix(n,N)",
        wrt: &["W"],
    },
    Example {
        name: "gplvm",
        title: "GPLVM log-likelihood",
        expr: "-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
        decls: "X: matrix(N,q); Y: matrix(N,D); D: scalar; a: scalar; b: scalar",
        wrt: &["X", "a"],
    },
    Example {
        name: "gplvm-vector",
        title: "GPLVM log-likelihood, one latent dimension (seed 001)",
        expr: "-D/2*log(det(a*x*x' + 1/b*eye(N))) - 0.5*tr(inv(a*x*x' + 1/b*eye(N))*y*y')",
        decls: "x: vector(N); y: vector(N); D: scalar; a: scalar; b: scalar",
        wrt: &["x"],
    },
    Example {
        name: "mlp",
        title: "Two-layer Swish MLP",
        expr: "0.5*norm2(W2*swish(W1*x + b1) + b2 - t)^2",
        decls: "W1: matrix(H,D); b1: vector(H); W2: matrix(C,H); b2: vector(C); x: vector(D); t: vector(C)",
        wrt: &["W1", "b1", "W2", "b2"],
    },
    Example {
        name: "residual",
        title: "Residual block",
        expr: "h = relu(W*x + b) + x\ny = relu(V*h + c) + h\n0.5*norm2(y - t)^2",
        decls: "W: matrix(n,n); V: matrix(n,n); x: vector(n); b: vector(n); c: vector(n); t: vector(n)",
        wrt: &["W", "b", "V", "c"],
    },
    Example {
        name: "ppca",
        title: "Probabilistic PCA",
        expr: "-0.5*logdet(U*U' + s*eye(d)) - 0.5*tr(inv(U*U' + s*eye(d))*S)",
        decls: "U: matrix(d,q); s: scalar; S: symmetric(d)",
        wrt: &["U", "S"],
    },
];

/// Stationary points solved in closed form (`matdiff solve`, and `demo`): each solves for its
/// one `wrt`.
pub const SOLVE_EXAMPLES: &[Example] = &[
    Example {
        name: "least-squares",
        title: "Least squares (normal equations)",
        expr: "norm2(A*x - b)^2",
        decls: "A: matrix(m,n); x: vector(n); b: vector(m)",
        wrt: &["x"],
    },
    Example {
        name: "ridge",
        title: "Ridge regression",
        expr: "norm2(A*x - b)^2 + lam*norm2(x)^2",
        decls: "A: matrix(m,n); x: vector(n); b: vector(m); lam: scalar",
        wrt: &["x"],
    },
    Example {
        name: "ppca-m-step-w",
        title: "PPCA M-step for the loadings W (expected complete-data log-likelihood)",
        expr: "-0.5/s*(tr(W'*W*Szz) - 2*tr(W'*Xc*Ez'))",
        decls: "W: matrix(D,q); Szz: symmetric(q); Xc: matrix(D,N); Ez: matrix(q,N); s: scalar",
        wrt: &["W"],
    },
    Example {
        name: "ppca-m-step-noise",
        title: "PPCA M-step for the noise variance s",
        expr: "-0.5*a*log(s) - 0.5*t/s",
        decls: "s: scalar; a: scalar; t: scalar",
        wrt: &["s"],
    },
    Example {
        name: "gaussian-covariance",
        title: "Gaussian covariance, maximum likelihood (change of variable inv(S))",
        expr: "-N/2*logdet(S) - 1/2*tr(inv(S)*C)",
        decls: "S: symmetric(d); C: symmetric(d); N: scalar",
        wrt: &["S"],
    },
];

/// The example called `name`.
pub fn example(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}
