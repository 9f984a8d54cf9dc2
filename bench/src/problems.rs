//! The anchor problems (../shared/anchors/jax_numpy_bench.py) as matdiff expressions and inputs.

use faer::Mat;
use matdiff::{Compiled, Problem};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One benchmark problem: expression, declarations, gradient variables, and input values.
pub struct Bench {
    pub id: &'static str,
    pub title: &'static str,
    pub expr: &'static str,
    pub decls: &'static str,
    pub wrt: &'static [&'static str],
    pub sizes: String,
    /// Values by variable name.
    pub values: Vec<(&'static str, Mat<f64>)>,
}

fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn randn(rng: &mut StdRng, r: usize, c: usize, scale: f64) -> Mat<f64> {
    Mat::from_fn(r, c, |_, _| scale * normal(rng))
}

fn scalar(x: f64) -> Mat<f64> {
    Mat::from_fn(1, 1, |_, _| x)
}

/// The anchor sizes (`quick` shrinks them for tests and criterion).
pub fn problems(quick: bool) -> Vec<Bench> {
    let mut rng = StdRng::seed_from_u64(0);
    let (n, m, nn) = if quick { (200, 20, 200) } else { (1000, 100, 1000) };
    let p1 = Bench {
        id: "P1",
        title: "P1 batched linear autoencoder",
        expr: "0.5*norm2(W'*W*X - X)^2",
        decls: "W: matrix(m,n); X: matrix(n,N)",
        wrt: &["W"],
        sizes: format!("n={n}, m={m}, N={nn}"),
        values: vec![("W", randn(&mut rng, m, n, 1.0 / (n as f64).sqrt())), ("X", randn(&mut rng, n, nn, 1.0))],
    };
    let (n2, q2, d2) = if quick { (200, 5, 10) } else { (1000, 10, 50) };
    let p2 = Bench {
        id: "P2",
        title: "P2 GPLVM",
        expr: "-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
        decls: "X: matrix(N,q); Y: matrix(N,DY); D: scalar; a: scalar; b: scalar",
        wrt: &["X"],
        sizes: format!("N={n2}, q={q2}, D={d2}"),
        values: vec![
            ("X", randn(&mut rng, n2, q2, 1.0)),
            ("Y", randn(&mut rng, n2, d2, 1.0)),
            ("D", scalar(d2 as f64)),
            ("a", scalar(0.7)),
            ("b", scalar(2.0)),
        ],
    };
    let (d5, q5) = if quick { (200, 5) } else { (1000, 20) };
    let g5 = randn(&mut rng, d5, 2 * d5, 1.0);
    let s5 = Mat::from_fn(d5, d5, |i, j| (0..2 * d5).map(|k| g5[(i, k)] * g5[(j, k)]).sum::<f64>() / (2 * d5) as f64);
    let p5 = Bench {
        id: "P5",
        title: "P5 PPCA",
        expr: "-Nobs/2*(logdet(U*U' + s*eye(d)) + tr(inv(U*U' + s*eye(d))*S))",
        decls: "U: matrix(d,q); S: symmetric(d); Nobs: scalar; s: scalar",
        wrt: &["U"],
        sizes: format!("d={d5}, q={q5}"),
        values: vec![
            ("U", randn(&mut rng, d5, q5, 1.0 / (q5 as f64).sqrt())),
            ("S", s5),
            ("Nobs", scalar(500.0)),
            ("s", scalar(0.5)),
        ],
    };
    let (din, h, c, b) = if quick { (196, 128, 10, 64) } else { (784, 512, 10, 256) };
    let p3 = Bench {
        id: "P3",
        title: "P3 batched Swish MLP",
        expr: "0.5*norm2(W2*swish(W1*X + b1*vector(1)') + b2*vector(1)' - T)^2",
        decls: "W1: matrix(H,Din); b1: vector(H); W2: matrix(C,H); b2: vector(C); X: matrix(Din,B); T: matrix(C,B)",
        wrt: &["W1", "b1", "W2", "b2"],
        sizes: format!("D={din}, H={h}, C={c}, B={b}"),
        values: vec![
            ("W1", randn(&mut rng, h, din, 1.0 / (din as f64).sqrt())),
            ("b1", randn(&mut rng, h, 1, 0.1)),
            ("W2", randn(&mut rng, c, h, 1.0 / (h as f64).sqrt())),
            ("b2", randn(&mut rng, c, 1, 0.1)),
            ("X", randn(&mut rng, din, b, 1.0)),
            ("T", randn(&mut rng, c, b, 1.0)),
        ],
    };
    vec![p1, p2, p3, p5]
}

/// A problem compiled twice: the value alone, and the value with its gradients.
pub struct Ready {
    pub value: Compiled,
    pub value_grad: Compiled,
    /// Inputs in the graph's variable order.
    pub inputs: Vec<Mat<f64>>,
}

impl Bench {
    pub fn compile(&self) -> Ready {
        let mut p = Problem::new(self.expr, self.decls).expect("benchmark expression");
        let grads = p.gradients(self.wrt).expect("benchmark gradient");
        let mut roots = vec![p.output];
        roots.extend(&grads.nodes);
        let inputs = p
            .graph()
            .vars()
            .iter()
            .map(|v| self.values.iter().find(|(n, _)| *n == v.name).expect("value for every variable").1.clone())
            .collect();
        Ready { value: Compiled::new(p.graph(), &[p.output]), value_grad: Compiled::new(p.graph(), &roots), inputs }
    }
}
