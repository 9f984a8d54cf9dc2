//! The helper functions generated modules define: one closed set for every language, each
//! helper knowing its name, its source in each language and the helpers it calls.

use super::python::Flavor;
use std::collections::BTreeSet;

/// A helper function of a generated module. Rust's are written in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Helper {
    /// A product of two matrices (Rust).
    Mm,
    /// A product chain in the cheapest order (Rust).
    Chain,
    /// A transpose (Rust).
    Tr,
    /// A linear combination of matrices (Rust).
    Lin,
    /// A scalar times a matrix (Rust).
    Scale,
    /// The entrywise product (Rust).
    Hadamard,
    /// A function applied entrywise (Rust).
    Map,
    /// A constant matrix (Rust).
    Full,
    /// The identity (Rust).
    Eye,
    /// The entries, column-major (Rust).
    Entries,
    /// The sum of the entries (Rust).
    Sum,
    /// The squared Frobenius norm (Rust).
    SqNorm,
    /// The entrywise 1-norm (Rust).
    Norm1,
    /// The Frobenius norm (Rust).
    Norm2,
    /// ⟨A, B⟩ (Rust).
    Dot,
    /// The trace (Rust).
    Trace,
    /// The determinant (Rust).
    Det,
    /// A vector to a diagonal matrix (Rust).
    Diag,
    /// The Kronecker product (Rust; Python writes `kron` inline).
    Kron,
    /// vec and unvec, by column-major reshaping (Rust).
    Reshape,
    /// The commutation matrix K(m,n).
    Commutation,
    /// The diagonal as a vector (Rust).
    DiagPart,
    /// The softmax of a vector, shifted by its maximum (Rust and NumPy; JAX and PyTorch call
    /// their own).
    Softmax,
    /// A factorization reused by solves, inverse and log det (Rust).
    Factor,
    /// K⁻¹B from a factorization (Rust).
    Solve,
    /// K⁻ᵀB from a factorization (Rust).
    SolveT,
    /// K⁻¹ from a factorization (Rust).
    Inverse,
    /// log det K (NaN when det K ≤ 0).
    Logdet,
    /// The sign of a number (Rust).
    Sign,
    /// max(x, 0) (Rust).
    Relu,
    /// 1 where x > 0, else 0.
    Step,
    /// 1/(1 + e⁻ˣ) without overflow.
    Sigmoid,
    /// log(1 + eˣ) without overflow.
    Softplus,
    /// x·sigmoid(x).
    Swish,
    /// log det of a symmetric matrix by Cholesky (NumPy).
    LogdetSpd,
    /// A solve with a Cholesky factor (PyTorch).
    ChoSolve,
    /// A solve with an LU factorization (PyTorch).
    LuSolve,
    /// vec(A), column-major (Python).
    Vec,
    /// The matrix of a vec (Python).
    Unvec,
}

impl Helper {
    /// Its name in Rust code.
    pub fn rust_name(self) -> &'static str {
        match self {
            Helper::Mm => "mm",
            Helper::Chain => "chain",
            Helper::Tr => "tr",
            Helper::Lin => "lin",
            Helper::Scale => "scale",
            Helper::Hadamard => "hadamard",
            Helper::Map => "map",
            Helper::Full => "full",
            Helper::Eye => "eye",
            Helper::Entries => "entries",
            Helper::Sum => "sum",
            Helper::SqNorm => "sqnorm",
            Helper::Norm1 => "norm1",
            Helper::Norm2 => "norm2",
            Helper::Dot => "dot",
            Helper::Trace => "trace",
            Helper::Det => "det",
            Helper::Diag => "diag",
            Helper::Kron => "kron",
            Helper::Reshape => "reshape",
            Helper::Commutation => "commutation",
            Helper::DiagPart => "diag_part",
            Helper::Softmax => "softmax",
            Helper::Factor => "factor",
            Helper::Solve => "solve",
            Helper::SolveT => "solve_t",
            Helper::Inverse => "inverse",
            Helper::Logdet => "logdet",
            Helper::Sign => "sign",
            Helper::Relu => "relu",
            Helper::Step => "step",
            Helper::Sigmoid => "sigmoid",
            Helper::Softplus => "softplus",
            Helper::Swish => "swish",
            Helper::LogdetSpd => "logdet_spd",
            Helper::ChoSolve => "cho_solve",
            Helper::LuSolve => "lu_solve",
            Helper::Vec => "vec",
            Helper::Unvec => "unvec",
        }
    }

    /// Its name in Python code.
    pub fn python_name(self) -> &'static str {
        match self {
            Helper::Mm => "_mm",
            Helper::Chain => "_chain",
            Helper::Tr => "_tr",
            Helper::Lin => "_lin",
            Helper::Scale => "_scale",
            Helper::Hadamard => "_hadamard",
            Helper::Map => "_map",
            Helper::Full => "_full",
            Helper::Eye => "_eye",
            Helper::Entries => "_entries",
            Helper::Sum => "_sum",
            Helper::SqNorm => "_sqnorm",
            Helper::Norm1 => "_norm1",
            Helper::Norm2 => "_norm2",
            Helper::Dot => "_dot",
            Helper::Trace => "_trace",
            Helper::Det => "_det",
            Helper::Diag => "_diag",
            Helper::Kron => "_kron",
            Helper::Reshape => "_reshape",
            Helper::Commutation => "_commutation",
            Helper::DiagPart => "_diag_part",
            Helper::Softmax => "_softmax",
            Helper::Factor => "_factor",
            Helper::Solve => "_solve",
            Helper::SolveT => "_solve_t",
            Helper::Inverse => "_inverse",
            Helper::Logdet => "_logdet",
            Helper::Sign => "_sign",
            Helper::Relu => "_relu",
            Helper::Step => "_step",
            Helper::Sigmoid => "_sigmoid",
            Helper::Softplus => "_softplus",
            Helper::Swish => "_swish",
            Helper::LogdetSpd => "_logdet_spd",
            Helper::ChoSolve => "_cho_solve",
            Helper::LuSolve => "_lu_solve",
            Helper::Vec => "_vec",
            Helper::Unvec => "_unvec",
        }
    }

    /// The helpers its Rust definition calls.
    fn rust_deps(self) -> &'static [Helper] {
        match self {
            Helper::Sum | Helper::SqNorm | Helper::Norm1 | Helper::Norm2 | Helper::Dot => &[Helper::Entries],
            Helper::Solve | Helper::SolveT | Helper::Inverse | Helper::Logdet => &[Helper::Factor],
            Helper::Swish => &[Helper::Sigmoid],
            _ => &[],
        }
    }

    /// The helpers its Python definition calls.
    fn python_deps(self) -> &'static [Helper] {
        match self {
            Helper::Swish => &[Helper::Sigmoid],
            Helper::LogdetSpd => &[Helper::Logdet],
            _ => &[],
        }
    }

    /// The definition in Rust (None: Python's only).
    pub fn rust_source(self) -> Option<&'static str> {
        Some(match self {
            Helper::Mm => "fn mm(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {\n    a * b\n}\n",
            Helper::Chain => r#"/// A product chain in the cheapest association order for the run-time sizes (matrix-chain DP).
fn chain(fs: &[&Mat<f64>]) -> Mat<f64> {
    let k = fs.len();
    let dims: Vec<usize> = std::iter::once(fs[0].nrows()).chain(fs.iter().map(|m| m.ncols())).collect();
    let mut cost = vec![vec![0f64; k]; k];
    let mut split = vec![vec![0usize; k]; k];
    for len in 2..=k {
        for i in 0..=k - len {
            let j = i + len - 1;
            cost[i][j] = f64::INFINITY;
            for s in i..j {
                let c = cost[i][s] + cost[s + 1][j] + (dims[i] * dims[s + 1] * dims[j + 1]) as f64;
                if c < cost[i][j] {
                    cost[i][j] = c;
                    split[i][j] = s;
                }
            }
        }
    }
    fn go(fs: &[&Mat<f64>], split: &[Vec<usize>], i: usize, j: usize) -> Mat<f64> {
        if i == j {
            return fs[i].clone();
        }
        let s = split[i][j];
        go(fs, split, i, s) * go(fs, split, s + 1, j)
    }
    go(fs, &split, 0, k - 1)
}
"#,
            Helper::Tr => "fn tr(a: &Mat<f64>) -> Mat<f64> {\n    a.transpose().to_owned()\n}\n",
            Helper::Lin => "/// Σ cᵢ·Aᵢ + c (the constant added to every entry).\nfn lin(terms: &[(f64, &Mat<f64>)], c: f64) -> Mat<f64> {\n    let (r, k) = (terms[0].1.nrows(), terms[0].1.ncols());\n    let mut out = Mat::from_fn(r, k, |_, _| c);\n    for (w, a) in terms {\n        for j in 0..k {\n            for i in 0..r {\n                out[(i, j)] += w * a[(i, j)];\n            }\n        }\n    }\n    out\n}\n",
            Helper::Scale => "fn scale(s: f64, a: &Mat<f64>) -> Mat<f64> {\n    Mat::from_fn(a.nrows(), a.ncols(), |i, j| s * a[(i, j)])\n}\n",
            Helper::Hadamard => "fn hadamard(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {\n    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] * b[(i, j)])\n}\n",
            Helper::Map => "fn map(a: &Mat<f64>, f: impl Fn(f64) -> f64) -> Mat<f64> {\n    Mat::from_fn(a.nrows(), a.ncols(), |i, j| f(a[(i, j)]))\n}\n",
            Helper::Full => "fn full(r: usize, c: usize, v: f64) -> Mat<f64> {\n    Mat::from_fn(r, c, |_, _| v)\n}\n",
            Helper::Eye => "fn eye(n: usize) -> Mat<f64> {\n    Mat::identity(n, n)\n}\n",
            Helper::Entries => "fn entries(a: &Mat<f64>) -> impl Iterator<Item = f64> + '_ {\n    (0..a.ncols()).flat_map(move |j| (0..a.nrows()).map(move |i| a[(i, j)]))\n}\n",
            Helper::Sum => "fn sum(a: &Mat<f64>) -> f64 {\n    entries(a).sum()\n}\n",
            Helper::SqNorm => "fn sqnorm(a: &Mat<f64>) -> f64 {\n    entries(a).map(|x| x * x).sum()\n}\n",
            Helper::Norm1 => "fn norm1(a: &Mat<f64>) -> f64 {\n    entries(a).map(f64::abs).sum()\n}\n",
            Helper::Norm2 => "fn norm2(a: &Mat<f64>) -> f64 {\n    entries(a).map(|x| x * x).sum::<f64>().sqrt()\n}\n",
            Helper::Dot => "/// ⟨A, B⟩ = sum(A .* B).\nfn dot(a: &Mat<f64>, b: &Mat<f64>) -> f64 {\n    entries(a).zip(entries(b)).map(|(x, y)| x * y).sum()\n}\n",
            Helper::Trace => "fn trace(a: &Mat<f64>) -> f64 {\n    (0..a.nrows()).map(|i| a[(i, i)]).sum()\n}\n",
            Helper::Det => "fn det(a: &Mat<f64>) -> f64 {\n    a.determinant()\n}\n",
            Helper::Diag => "/// A vector (n×1) to a diagonal matrix.\nfn diag(v: &Mat<f64>) -> Mat<f64> {\n    Mat::from_fn(v.nrows(), v.nrows(), |i, j| if i == j { v[(i, 0)] } else { 0.0 })\n}\n",
            Helper::Kron => "/// The Kronecker product A ⊗ B.\nfn kron(a: &Mat<f64>, b: &Mat<f64>) -> Mat<f64> {\n    let (p, q) = (b.nrows(), b.ncols());\n    Mat::from_fn(a.nrows() * p, a.ncols() * q, |i, j| a[(i / p, j / q)] * b[(i % p, j % q)])\n}\n",
            Helper::Reshape => "/// The entries of `a`, column-major, as an r×c matrix (vec and unvec).\nfn reshape(a: &Mat<f64>, r: usize, c: usize) -> Mat<f64> {\n    let m = a.nrows();\n    Mat::from_fn(r, c, |i, j| {\n        let k = i + j * r;\n        a[(k % m, k / m)]\n    })\n}\n",
            Helper::Commutation => "/// The commutation matrix K(m,n): K·vec(A) = vec(Aᵀ) for A m×n.\nfn commutation(m: usize, n: usize) -> Mat<f64> {\n    Mat::from_fn(m * n, m * n, |i, j| if i == j / m + n * (j % m) { 1.0 } else { 0.0 })\n}\n",
            Helper::DiagPart => "/// The diagonal of a square matrix as a vector (n×1).\nfn diag_part(a: &Mat<f64>) -> Mat<f64> {\n    Mat::from_fn(a.nrows(), 1, |i, _| a[(i, i)])\n}\n",
            Helper::Softmax => "/// exp(z - max(z)) / sum(exp(z - max(z))) of a vector (n×1): the shift keeps every\n/// exponent at most 0, so nothing overflows and the sum is at least 1.\nfn softmax(z: &Mat<f64>) -> Mat<f64> {\n    let max = (0..z.nrows()).map(|i| z[(i, 0)]).fold(f64::NEG_INFINITY, f64::max);\n    let e = Mat::from_fn(z.nrows(), 1, |i, _| (z[(i, 0)] - max).exp());\n    let s: f64 = (0..e.nrows()).map(|i| e[(i, 0)]).sum();\n    Mat::from_fn(e.nrows(), 1, |i, _| e[(i, 0)] / s)\n}\n",
            Helper::Factor => r#"/// A factorization made once per matrix and reused by its solves, inverse and log det.
enum Factor {
    Llt(faer::linalg::solvers::Llt<f64>),
    Lu(faer::linalg::solvers::PartialPivLu<f64>),
}

/// Cholesky when `symmetric` and positive definite, else LU with partial pivoting.
fn factor(a: &Mat<f64>, symmetric: bool) -> Factor {
    if symmetric {
        if let Ok(llt) = a.llt(Side::Lower) {
            return Factor::Llt(llt);
        }
    }
    Factor::Lu(a.partial_piv_lu())
}
"#,
            Helper::Solve => "/// K⁻¹·B.\nfn solve(f: &Factor, b: &Mat<f64>) -> Mat<f64> {\n    match f {\n        Factor::Llt(llt) => llt.solve(b),\n        Factor::Lu(lu) => lu.solve(b),\n    }\n}\n",
            Helper::SolveT => "/// K⁻ᵀ·B.\nfn solve_t(f: &Factor, b: &Mat<f64>) -> Mat<f64> {\n    match f {\n        Factor::Llt(llt) => llt.solve(b),\n        Factor::Lu(lu) => lu.solve_transpose(b),\n    }\n}\n",
            Helper::Inverse => "fn inverse(f: &Factor) -> Mat<f64> {\n    match f {\n        Factor::Llt(llt) => llt.inverse(),\n        Factor::Lu(lu) => lu.inverse(),\n    }\n}\n",
            Helper::Logdet => r#"/// log det K; NaN when det K ≤ 0.
fn logdet(f: &Factor) -> f64 {
    match f {
        Factor::Llt(llt) => {
            let l = llt.L();
            2.0 * (0..l.nrows()).map(|i| l[(i, i)].ln()).sum::<f64>()
        }
        Factor::Lu(lu) => {
            let u = lu.U();
            let n = u.nrows();
            // The sign of det: the pivots' signs times the permutation's parity.
            let fwd = lu.P().arrays().0;
            let mut seen = vec![false; n];
            let mut negative = false;
            for i in 0..n {
                if !seen[i] {
                    let mut j = i;
                    let mut len = 0;
                    while !seen[j] {
                        seen[j] = true;
                        j = fwd[j];
                        len += 1;
                    }
                    negative ^= len % 2 == 0;
                }
                negative ^= u[(i, i)] < 0.0;
            }
            if negative {
                return f64::NAN;
            }
            (0..n).map(|i| u[(i, i)].abs().ln()).sum()
        }
    }
}
"#,
            Helper::Sign => "fn sign(x: f64) -> f64 {\n    if x > 0.0 {\n        1.0\n    } else if x < 0.0 {\n        -1.0\n    } else {\n        0.0\n    }\n}\n",
            Helper::Relu => "fn relu(x: f64) -> f64 {\n    x.max(0.0)\n}\n",
            Helper::Step => "fn step(x: f64) -> f64 {\n    if x > 0.0 {\n        1.0\n    } else {\n        0.0\n    }\n}\n",
            Helper::Sigmoid => "/// 1 / (1 + e^-x), without overflow.\nfn sigmoid(x: f64) -> f64 {\n    if x >= 0.0 {\n        1.0 / (1.0 + (-x).exp())\n    } else {\n        let e = x.exp();\n        e / (1.0 + e)\n    }\n}\n",
            Helper::Softplus => "/// log(1 + e^x), without overflow.\nfn softplus(x: f64) -> f64 {\n    x.max(0.0) + (-x.abs()).exp().ln_1p()\n}\n",
            Helper::Swish => "fn swish(x: f64) -> f64 {\n    x * sigmoid(x)\n}\n",
            Helper::LogdetSpd | Helper::ChoSolve | Helper::LuSolve | Helper::Vec | Helper::Unvec => return None,
        })
    }

    /// The definition in Python for `flavor` (None: the flavor writes it inline, or it is Rust's).
    pub fn python_source(self, flavor: Flavor) -> Option<&'static str> {
        Some(match (self, flavor) {
            (Helper::Sigmoid, _) => "def _sigmoid(x):\n    \"\"\"1 / (1 + exp(-x)), without overflow for large |x|.\"\"\"\n    return np.exp(-np.logaddexp(0.0, -x))\n",
            (Helper::Swish, _) => "def _swish(x):\n    \"\"\"x * sigmoid(x).\"\"\"\n    return x * _sigmoid(x)\n",
            (Helper::Softplus, _) => "def _softplus(x):\n    \"\"\"log(1 + exp(x)), without overflow.\"\"\"\n    return torch.logaddexp(torch.zeros_like(x), x)\n",
            (Helper::Step, _) => "def _step(x):\n    \"\"\"1 where x > 0, else 0.\"\"\"\n    return (x > 0).to(x.dtype)\n",
            (Helper::Softmax, Flavor::Numpy) => "def _softmax(z):\n    \"\"\"exp(z - max(z)) / sum(exp(z - max(z))): no overflow for large entries.\"\"\"\n    e = np.exp(z - np.max(z))\n    return e / np.sum(e)\n",
            (Helper::Logdet, Flavor::Numpy) => "def _logdet(K):\n    \"\"\"log det K, or nan when det K <= 0.\"\"\"\n    sign, logabsdet = np.linalg.slogdet(K)\n    return logabsdet if sign > 0 else np.nan\n",
            (Helper::Logdet, Flavor::Jax) => "def _logdet(K):\n    \"\"\"log det K, or nan when det K <= 0.\"\"\"\n    sign, logabsdet = jnp.linalg.slogdet(K)\n    return jnp.where(sign > 0, logabsdet, jnp.nan)\n",
            (Helper::Logdet, Flavor::Torch) => "def _logdet(K):\n    \"\"\"log det K, or nan when det K <= 0.\"\"\"\n    sign, logabsdet = torch.linalg.slogdet(K)\n    return torch.where(sign > 0, logabsdet, torch.nan)\n",
            (Helper::LogdetSpd, _) => "def _logdet_spd(K):\n    \"\"\"log det of a symmetric K: Cholesky when K is positive definite, else via LU.\"\"\"\n    try:\n        L = np.linalg.cholesky(K)\n    except np.linalg.LinAlgError:\n        return _logdet(K)\n    return 2.0 * np.sum(np.log(np.diag(L)))\n",
            (Helper::ChoSolve, _) => "def _cho_solve(L, B):\n    \"\"\"K⁻¹B from the Cholesky factor L of K (B a vector or a matrix).\"\"\"\n    if B.ndim == 1:\n        return torch.cholesky_solve(B[:, None], L)[:, 0]\n    return torch.cholesky_solve(B, L)\n",
            (Helper::LuSolve, _) => "def _lu_solve(lu, B, adjoint=False):\n    \"\"\"K⁻¹B (or K⁻ᵀB) from the LU factorization of K (B a vector or a matrix).\"\"\"\n    LU, pivots = lu\n    if B.ndim == 1:\n        return torch.linalg.lu_solve(LU, pivots, B[:, None], adjoint=adjoint)[:, 0]\n    return torch.linalg.lu_solve(LU, pivots, B, adjoint=adjoint)\n",
            (Helper::Vec, Flavor::Numpy) => "def _vec(A):\n    \"\"\"vec(A): the entries of A column by column (column-major).\"\"\"\n    return np.reshape(A, -1, order=\"F\")\n",
            (Helper::Vec, Flavor::Jax) => "def _vec(A):\n    \"\"\"vec(A): the entries of A column by column (column-major).\"\"\"\n    return jnp.reshape(A.T, -1)\n",
            (Helper::Vec, Flavor::Torch) => "def _vec(A):\n    \"\"\"vec(A): the entries of A column by column (column-major).\"\"\"\n    return (A.T if A.ndim == 2 else A).reshape(-1)\n",
            (Helper::Unvec, Flavor::Numpy) => "def _unvec(a, r, c):\n    \"\"\"The r×c matrix A with vec(A) = a (column-major).\"\"\"\n    return np.reshape(a, (r, c), order=\"F\")\n",
            (Helper::Unvec, _) => "def _unvec(a, r, c):\n    \"\"\"The r×c matrix A with vec(A) = a (column-major).\"\"\"\n    return a.reshape(c, r).T\n",
            (Helper::Commutation, Flavor::Numpy) => "def _commutation(m, n):\n    \"\"\"The commutation matrix K (mn×mn): K @ vec(A) = vec(A.T) for A of shape (m, n).\"\"\"\n    return np.eye(m * n)[np.arange(m * n).reshape(m, n, order=\"F\").reshape(-1)]\n",
            (Helper::Commutation, Flavor::Jax) => "def _commutation(m, n):\n    \"\"\"The commutation matrix K (mn×mn): K @ vec(A) = vec(A.T) for A of shape (m, n).\"\"\"\n    return jnp.eye(m * n)[jnp.arange(m * n).reshape(n, m).T.reshape(-1)]\n",
            (Helper::Commutation, Flavor::Torch) => "def _commutation(m, n):\n    \"\"\"The commutation matrix K (mn×mn): K @ vec(A) = vec(A.T) for A of shape (m, n).\"\"\"\n    return torch.eye(m * n, dtype=torch.float64)[torch.arange(m * n).reshape(n, m).T.reshape(-1)]\n",
            _ => return None,
        })
    }
}

/// The helpers a module uses, closed over the helpers they call.
#[derive(Clone, Debug, Default)]
pub(crate) struct Helpers {
    used: BTreeSet<Helper>,
}

impl Helpers {
    /// Record that the code calls `h`.
    pub fn add(&mut self, h: Helper) {
        self.used.insert(h);
    }
    /// Whether the code calls `h` (directly).
    pub fn contains(&self, h: Helper) -> bool {
        self.used.contains(&h)
    }
    /// Add every helper of `other`.
    pub fn extend(&mut self, other: &Helpers) {
        self.used.extend(other.used.iter().copied());
    }
    /// The helpers used and those they call, transitively.
    fn closed(&self, deps: fn(Helper) -> &'static [Helper]) -> BTreeSet<Helper> {
        let mut all = self.used.clone();
        let mut work: Vec<Helper> = all.iter().copied().collect();
        while let Some(h) = work.pop() {
            for &d in deps(h) {
                if all.insert(d) {
                    work.push(d);
                }
            }
        }
        all
    }
    /// The Rust definitions, in the enum's order, each after a blank line.
    pub fn write_rust(&self, out: &mut String) {
        for h in self.closed(Helper::rust_deps) {
            out.push('\n');
            out.push_str(h.rust_source().unwrap_or_else(|| unreachable!("{h:?} is not a Rust helper")));
        }
    }
    /// The Python definitions for `flavor`, in the order of their names, each after two blank
    /// lines.
    pub fn write_python(&self, out: &mut String, flavor: Flavor) {
        let mut all: Vec<Helper> = self.closed(Helper::python_deps).into_iter().collect();
        all.sort_by_key(|h| h.python_name());
        for h in all {
            out.push_str("\n\n");
            out.push_str(h.python_source(flavor).unwrap_or_else(|| unreachable!("{h:?} is not a Python helper")));
        }
    }
}
