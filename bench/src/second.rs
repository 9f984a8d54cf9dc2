//! The second-order anchor problems (../shared/anchors/hessian_bench.py, and H1 of
//! jax_numpy_bench.py): full Hessians and Hessian-vector products, as matdiff derives them.

use faer::Mat;
use matdiff::{Compiled, Problem};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What is timed: a full Hessian, or a Hessian-vector product in direction `V`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Hessian,
    Hvp,
}

/// One second-order problem: the scalar function, the variable, and input values.
pub struct Second {
    pub id: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    pub expr: &'static str,
    pub decls: &'static str,
    pub wrt: &'static str,
    pub sizes: String,
    /// Values by variable name (for an HVP, `V` is the direction, with the variable's shape).
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

fn signs(rng: &mut StdRng, n: usize) -> Mat<f64> {
    Mat::from_fn(n, 1, |_, _| if rng.random::<bool>() { 1.0 } else { -1.0 })
}

fn scalar(x: f64) -> Mat<f64> {
    Mat::from_fn(1, 1, |_, _| x)
}

const LOGISTIC: &str = "sum(softplus(-y.*(A*x)))";
const LOGISTIC_DECLS: &str = "A: matrix(N,n); x: vector(n); y: vector(N)";

/// The anchor sizes (`quick` shrinks them as the anchors' ANCHOR_QUICK does).
pub fn problems(quick: bool) -> Vec<Second> {
    let mut rng = StdRng::seed_from_u64(1);
    let mut out = vec![];
    let (nh, dh) = if quick { (400, 200) } else { (2000, 1000) };
    out.push(Second {
        id: "H1",
        title: "H1 logistic Hessian",
        kind: Kind::Hessian,
        expr: LOGISTIC,
        decls: LOGISTIC_DECLS,
        wrt: "x",
        sizes: format!("N={nh}, n={dh}"),
        values: vec![
            ("A", randn(&mut rng, nh, dh, 1.0 / (dh as f64).sqrt())),
            ("x", randn(&mut rng, dh, 1, 1.0)),
            ("y", signs(&mut rng, nh)),
        ],
    });
    let n2 = if quick { 512 } else { 2048 };
    out.push(Second {
        id: "H2",
        title: "H2 x'Ax Hessian",
        kind: Kind::Hessian,
        expr: "x'*A*x",
        decls: "A: matrix(n,n); x: vector(n)",
        wrt: "x",
        sizes: format!("n={n2}"),
        values: vec![("A", randn(&mut rng, n2, n2, 1.0)), ("x", randn(&mut rng, n2, 1, 1.0))],
    });
    let (n3, d3) = if quick { (512, 64) } else { (2048, 256) };
    out.push(Second {
        id: "H3",
        title: "H3 logistic Hessian",
        kind: Kind::Hessian,
        expr: LOGISTIC,
        decls: LOGISTIC_DECLS,
        wrt: "x",
        sizes: format!("N={n3}, d={d3}"),
        values: vec![
            ("A", randn(&mut rng, n3, d3, 1.0 / (d3 as f64).sqrt())),
            ("x", randn(&mut rng, d3, 1, 1.0)),
            ("y", signs(&mut rng, n3)),
        ],
    });
    let n4 = if quick { 512 } else { 2048 };
    out.push(Second {
        id: "H4",
        title: "H4 log-sum-exp Hessian",
        kind: Kind::Hessian,
        expr: "log(sum(exp(x)))",
        decls: "x: vector(n)",
        wrt: "x",
        sizes: format!("n={n4}"),
        values: vec![("x", randn(&mut rng, n4, 1, 1.0))],
    });
    let (n, m, nn) = if quick { (200, 20, 200) } else { (1000, 100, 1000) };
    out.push(Second {
        id: "V1",
        title: "V1 autoencoder HVP (W)",
        kind: Kind::Hvp,
        expr: "0.5*norm2(W'*W*X - X)^2",
        decls: "W: matrix(m,n); X: matrix(n,N)",
        wrt: "W",
        sizes: format!("n={n}, m={m}, N={nn}"),
        values: vec![
            ("W", randn(&mut rng, m, n, 1.0 / (n as f64).sqrt())),
            ("X", randn(&mut rng, n, nn, 1.0)),
            ("V", randn(&mut rng, m, n, 1.0)),
        ],
    });
    let (n2, q2, d2) = if quick { (200, 5, 10) } else { (1000, 10, 50) };
    out.push(Second {
        id: "V2",
        title: "V2 GPLVM HVP (X)",
        kind: Kind::Hvp,
        expr: "-D/2*logdet(a*X*X' + 1/b*eye(N)) - 0.5*tr(inv(a*X*X' + 1/b*eye(N))*Y*Y')",
        decls: "X: matrix(N,q); Y: matrix(N,DY); D: scalar; a: scalar; b: scalar",
        wrt: "X",
        sizes: format!("N={n2}, q={q2}, D={d2}"),
        values: vec![
            ("X", randn(&mut rng, n2, q2, 1.0)),
            ("Y", randn(&mut rng, n2, d2, 1.0)),
            ("D", scalar(d2 as f64)),
            ("a", scalar(1.3)),
            ("b", scalar(2.0)),
            ("V", randn(&mut rng, n2, q2, 1.0)),
        ],
    });
    let (din, h, c, b) = if quick { (196, 128, 10, 64) } else { (784, 512, 10, 256) };
    out.push(Second {
        id: "V3",
        title: "V3 Swish MLP HVP (W1)",
        kind: Kind::Hvp,
        expr: "0.5*norm2(W2*swish(W1*X + b1*vector(1)') + b2*vector(1)' - T)^2",
        decls: "W1: matrix(H,Din); b1: vector(H); W2: matrix(C,H); b2: vector(C); X: matrix(Din,B); T: matrix(C,B)",
        wrt: "W1",
        sizes: format!("D={din}, H={h}, C={c}, B={b}"),
        values: vec![
            ("W1", randn(&mut rng, h, din, 1.0 / (din as f64).sqrt())),
            ("b1", randn(&mut rng, h, 1, 1.0)),
            ("W2", randn(&mut rng, c, h, 1.0 / (h as f64).sqrt())),
            ("b2", randn(&mut rng, c, 1, 1.0)),
            ("X", randn(&mut rng, din, b, 1.0)),
            ("T", randn(&mut rng, c, b, 1.0)),
            ("V", randn(&mut rng, h, din, 1.0)),
        ],
    });
    out
}

/// A second-order problem compiled: the result alone, and (for an HVP) the value with the
/// gradient, the reference the "≤ 3× value+gradient" goal is measured against.
pub struct Ready {
    pub result: Compiled,
    pub value_grad: Option<Compiled>,
    /// The result printed (plain syntax), for the record.
    pub printed: String,
    /// Inputs in the graph's variable order.
    pub inputs: Vec<Mat<f64>>,
}

impl Second {
    /// Derive the Hessian or HVP (matdiff::derivative) and compile it.
    pub fn compile(&self) -> Ready {
        let mut p = Problem::new(self.expr, self.decls).expect("benchmark expression");
        let f = p.output;
        let (root, value_grad) = match self.kind {
            Kind::Hessian => (matdiff::derivative::hessian(&mut p, self.wrt).expect("Hessian").root, None),
            Kind::Hvp => {
                let d = matdiff::derivative::hvp(&mut p, self.wrt, "V").expect("HVP");
                // Compiled on the same graph (with V), so both take the same inputs.
                let grad = p.gradients(&[self.wrt]).expect("gradient").nodes[0];
                (d.root, Some(Compiled::new(p.graph(), &[f, grad])))
            }
        };
        let printed = p.print(root, matdiff::Style::Plain);
        let inputs = p
            .graph()
            .vars()
            .iter()
            .map(|v| self.values.iter().find(|(n, _)| *n == v.name).expect("value for every variable").1.clone())
            .collect();
        Ready { result: Compiled::new(p.graph(), &[root]), value_grad, printed, inputs }
    }
}
