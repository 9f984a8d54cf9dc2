//! Random well-typed expression strings over the whole language, typed by construction.
//!
//! A generator asked for a shape returns text of that shape, so the parser and shape
//! inference see real input. Parentheses are written only where precedence needs them (and
//! sometimes where it does not), which exercises the parser's binding powers. Domains are kept
//! safe by construction: logs, roots and divisions only of positive things, inverses and log
//! determinants only of well-conditioned or positive definite matrices.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The declarations every generated expression is typed under.
pub const DECLS: &str =
    "A: matrix(n,n); B: matrix(n,m); C: matrix(m,n); G: matrix(m,m); S: symmetric(n); x: vector(n); y: vector(m); a: scalar; b: scalar";

/// A symbolic dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum D {
    N,
    M,
}

impl D {
    fn name(self) -> &'static str {
        match self {
            D::N => "n",
            D::M => "m",
        }
    }
}

/// A shape: `None` is the literal 1 (scalar = (None, None), column vector = (Some, None)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sh(pub Option<D>, pub Option<D>);

impl Sh {
    const S: Sh = Sh(None, None);
    fn t(self) -> Sh {
        Sh(self.1, self.0)
    }
    fn scalar(self) -> bool {
        self.0.is_none() && self.1.is_none()
    }
    fn square(self) -> Option<D> {
        match self {
            Sh(Some(a), Some(b)) if a == b => Some(a),
            _ => None,
        }
    }
}

// Binding strength of generated text, as in the parser: sums < products < unary minus <
// powers < postfix transpose < atoms.
const SUM: u8 = 1;
const PROD: u8 = 2;
const NEG: u8 = 3;
const POW: u8 = 4;
const POST: u8 = 5;
const ATOM: u8 = 6;

/// Text with the binding strength of its outermost operator.
#[derive(Clone, Debug)]
pub struct E {
    s: String,
    lvl: u8,
}

impl E {
    /// The generated text.
    pub fn text(&self) -> &str {
        &self.s
    }
}

fn atom(s: impl Into<String>) -> E {
    E { s: s.into(), lvl: ATOM }
}

pub struct Gen {
    pub rng: StdRng,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen { rng: StdRng::seed_from_u64(seed) }
    }

    fn p(&mut self, prob: f64) -> bool {
        self.rng.random_bool(prob)
    }

    /// Text of `e` binding at least as tightly as `min`; sometimes bracketed needlessly.
    fn wrap(&mut self, e: &E, min: u8) -> String {
        if e.lvl < min || (e.lvl < ATOM && self.p(0.05)) {
            format!("({})", e.s)
        } else {
            e.s.clone()
        }
    }
    /// Left-associative binary operator at level `lvl`.
    fn bin(&mut self, l: &E, op: &str, r: &E, lvl: u8) -> E {
        let ls = self.wrap(l, lvl);
        let rs = self.wrap(r, lvl + 1);
        let sp = if lvl == SUM { " " } else { "" };
        E { s: format!("{ls}{sp}{op}{sp}{rs}"), lvl }
    }
    fn neg(&mut self, e: &E) -> E {
        E { s: format!("-{}", self.wrap(e, POW)), lvl: NEG }
    }
    fn call(&mut self, f: &str, e: &E) -> E {
        atom(format!("{f}({})", e.s))
    }
    fn transpose(&mut self, e: &E) -> E {
        E { s: format!("{}'", self.wrap(e, POST)), lvl: POST }
    }
    /// `base^p` or `base.^p` with a constant exponent.
    fn power(&mut self, base: &E, op: &str, p: f64) -> E {
        let b = self.wrap(base, POST);
        let ps = if p < 0.0 && self.p(0.5) { format!("({p})") } else { format!("{p}") };
        E { s: format!("{b}{op}{ps}"), lvl: POW }
    }

    fn dim_eye(&mut self, d: D) -> E {
        if self.p(0.5) {
            atom("I")
        } else {
            atom(format!("eye({})", d.name()))
        }
    }
    /// The all-ones value of a shape.
    fn ones(&mut self, sh: Sh) -> E {
        match sh {
            Sh(None, None) => atom("1"),
            Sh(Some(_), None) => atom("vector(1)"),
            Sh(None, Some(_)) => E { s: "vector(1)'".into(), lvl: POST },
            _ => atom("matrix(1)"),
        }
    }
    fn constant(&mut self) -> E {
        let c = ["0.5", "2", "3", "1.5", "0.25", "0.1", "1e-1", "2.5e0"][self.rng.random_range(0..8)];
        atom(c)
    }

    /// A leaf: a variable (possibly transposed), a constant, or a short product of leaves.
    fn leaf(&mut self, sh: Sh) -> E {
        let pick = |g: &mut Gen, xs: &[&str]| atom(xs[g.rng.random_range(0..xs.len())]);
        match sh {
            Sh(None, None) => {
                if self.p(0.2) {
                    self.constant()
                } else {
                    pick(self, &["a", "b"])
                }
            }
            Sh(Some(D::N), None) => atom("x"),
            Sh(Some(D::M), None) => atom("y"),
            Sh(None, Some(d)) => {
                let v = self.leaf(Sh(Some(d), None));
                self.transpose(&v)
            }
            Sh(Some(D::N), Some(D::N)) => {
                let e = pick(self, &["A", "S", "A", "S"]);
                if self.p(0.25) {
                    self.transpose(&e)
                } else {
                    e
                }
            }
            Sh(Some(D::M), Some(D::M)) => {
                let e = atom("G");
                if self.p(0.25) {
                    self.transpose(&e)
                } else {
                    e
                }
            }
            Sh(Some(D::N), Some(D::M)) => {
                if self.p(0.7) {
                    atom("B")
                } else {
                    let c = atom("C");
                    self.transpose(&c)
                }
            }
            Sh(Some(D::M), Some(D::N)) => {
                if self.p(0.7) {
                    atom("C")
                } else {
                    let b = atom("B");
                    self.transpose(&b)
                }
            }
        }
    }

    /// Something entrywise positive (and bounded away from 0) of shape `sh`.
    fn positive(&mut self, sh: Sh, depth: u32) -> E {
        let e = self.expr(sh, depth);
        match self.rng.random_range(0..4) {
            0 | 1 => {
                let sq = if sh.scalar() { self.power(&e, "^", 2.0) } else { self.power(&e, ".^", 2.0) };
                let one = self.ones(sh);
                if self.p(0.5) {
                    self.bin(&one, "+", &sq, SUM)
                } else {
                    self.bin(&sq, "+", &one, SUM)
                }
            }
            2 => {
                let t = self.call("tanh", &e);
                self.call("exp", &t)
            }
            _ => {
                let s = self.call("sigmoid", &e);
                let one = self.ones(sh);
                self.bin(&s, "+", &one, SUM)
            }
        }
    }

    /// A symmetric positive definite d×d matrix, well conditioned.
    fn spd(&mut self, d: D, depth: u32) -> E {
        match self.rng.random_range(0..5) {
            // A variable on its own: the numeric checks draw it well conditioned (symmetric
            // positive definite, plus a skew part when it is not declared symmetric).
            4 => {
                let v = match d {
                    D::N => atom(["A", "S"][self.rng.random_range(0..2)]),
                    D::M => atom("G"),
                };
                if self.p(0.3) {
                    self.transpose(&v)
                } else {
                    v
                }
            }
            0 | 1 => {
                // X*X' + I with X of any width.
                let k = self.rng.random_range(0..3);
                let inner = [None, Some(D::N), Some(D::M)][k];
                let x = self.expr(Sh(Some(d), inner), depth);
                let xs = self.wrap(&x, PROD);
                let xt = self.wrap(&x, POST);
                let prod = E { s: format!("{xs}*{xt}'"), lvl: PROD };
                let eye = self.dim_eye(d);
                if self.p(0.5) {
                    self.bin(&prod, "+", &eye, SUM)
                } else {
                    let s = self.constant();
                    let ey = self.bin(&s, "*", &eye, PROD);
                    self.bin(&ey, "+", &prod, SUM)
                }
            }
            2 => {
                let v = self.positive(Sh(Some(d), None), depth);
                self.call("diag", &v)
            }
            _ => {
                // I + 0.1*tanh(M): diagonally dominant enough to be invertible, not symmetric.
                let m = self.expr(Sh(Some(d), Some(d)), depth);
                let t = self.call("tanh", &m);
                let c = atom("0.1");
                let small = self.bin(&c, "*", &t, PROD);
                let eye = self.dim_eye(d);
                self.bin(&eye, "+", &small, SUM)
            }
        }
    }

    /// A scalar-exponent power, elementwise for arrays.
    fn some_power(&mut self, sh: Sh, depth: u32) -> E {
        let op = if sh.scalar() { "^" } else { ".^" };
        match self.rng.random_range(0..5) {
            0 => {
                let e = self.expr(sh, depth);
                self.power(&e, op, 2.0)
            }
            1 => {
                let e = self.expr(sh, depth);
                self.power(&e, op, 3.0)
            }
            2 => {
                let e = self.positive(sh, depth);
                self.power(&e, op, 0.5)
            }
            3 => {
                let e = self.positive(sh, depth);
                self.power(&e, op, -1.0)
            }
            _ => {
                let e = self.positive(sh, depth);
                self.power(&e, op, 1.5)
            }
        }
    }

    /// An elementwise function of something of shape `sh`, inside its domain.
    fn elementwise(&mut self, sh: Sh, depth: u32) -> E {
        let f =
            ["exp", "log", "sin", "cos", "tan", "tanh", "sqrt", "abs", "relu", "sigmoid", "softplus", "swish", "sign"]
                [self.rng.random_range(0..13)];
        let arg = match f {
            "log" | "sqrt" => self.positive(sh, depth),
            "tan" => {
                let e = self.expr(sh, depth);
                self.call("tanh", &e)
            }
            "exp" => {
                // Keep exponentials of moderate size.
                let e = self.expr(sh, depth);
                if self.p(0.5) {
                    self.call("sin", &e)
                } else {
                    e
                }
            }
            _ => self.expr(sh, depth),
        };
        self.call(f, &arg)
    }

    /// A random expression of shape `sh`; `depth` bounds the nesting.
    pub fn expr(&mut self, sh: Sh, depth: u32) -> E {
        if depth == 0 || self.p(0.1) {
            return self.leaf(sh);
        }
        let d = depth - 1;
        loop {
            let choice = self.rng.random_range(0..18);
            let e = match choice {
                0 | 1 => {
                    let l = self.expr(sh, d);
                    let r = self.expr(sh, d);
                    let op = if self.p(0.5) { "+" } else { "-" };
                    self.bin(&l, op, &r, SUM)
                }
                2 => {
                    let s = self.expr(Sh::S, d);
                    let e = self.expr(sh, d);
                    match self.rng.random_range(0..3) {
                        0 => self.bin(&s, "*", &e, PROD),
                        1 => self.bin(&e, "*", &s, PROD),
                        _ => {
                            let c = self.constant();
                            self.bin(&c, "*", &e, PROD)
                        }
                    }
                }
                3 => {
                    let e = self.expr(sh, d);
                    let s = self.positive(Sh::S, d);
                    self.bin(&e, "/", &s, PROD)
                }
                4 => {
                    let e = self.expr(sh, d);
                    self.neg(&e)
                }
                5 | 6 => self.elementwise(sh, d),
                7 => {
                    let l = self.expr(sh, d);
                    let r = self.expr(sh, d);
                    self.bin(&l, ".*", &r, PROD)
                }
                8 => {
                    let l = self.expr(sh, d);
                    let r = self.positive(sh, d);
                    self.bin(&l, "./", &r, PROD)
                }
                9 => self.some_power(sh, d),
                10 if !sh.scalar() => {
                    let e = self.expr(sh.t(), d);
                    self.transpose(&e)
                }
                11 | 12 => {
                    // A product through a random inner dimension (1 gives outer/inner products).
                    let k = [None, Some(D::N), Some(D::M)][self.rng.random_range(0..3)];
                    if sh.scalar() && k.is_none() {
                        continue;
                    }
                    let l = self.expr(Sh(sh.0, k), d);
                    let r = self.expr(Sh(k, sh.1), d);
                    self.bin(&l, "*", &r, PROD)
                }
                // Square matrices get their inverses, powers and diagonals more often.
                13 | 16 | 17 if choice == 13 || sh.square().is_some() => match self.special(sh, d) {
                    Some(e) => e,
                    None => continue,
                },
                14 => {
                    if sh.scalar() {
                        self.reduction(d)
                    } else {
                        continue;
                    }
                }
                15 if sh.scalar() => {
                    // Symbolic exponent: positive base to a scalar power.
                    let base = self.positive(Sh::S, d);
                    let ex = self.expr(Sh::S, d);
                    let ex = if self.p(0.5) { self.call("sin", &ex) } else { ex };
                    let bs = self.wrap(&base, POST);
                    let es = self.wrap(&ex, POW);
                    E { s: format!("{bs}^{es}"), lvl: POW }
                }
                _ => continue,
            };
            return e;
        }
    }

    /// Shape-specific constructions: inverses, matrix powers, diag, identity.
    fn special(&mut self, sh: Sh, d: u32) -> Option<E> {
        if let Some(n) = sh.square() {
            return Some(match self.rng.random_range(0..6) {
                0 => {
                    let m = self.spd(n, d);
                    self.call("inv", &m)
                }
                1 => {
                    let m = self.expr(sh, d);
                    let p = [2.0, 3.0][self.rng.random_range(0..2)];
                    self.power(&m, "^", p)
                }
                2 => {
                    let m = self.spd(n, d);
                    let p = [-1.0, -2.0][self.rng.random_range(0..2)];
                    self.power(&m, "^", p)
                }
                3 => {
                    let v = self.expr(Sh(Some(n), None), d);
                    self.call("diag", &v)
                }
                4 => {
                    let m = self.expr(sh, d);
                    let eye = self.dim_eye(n);
                    self.bin(&m, "+", &eye, SUM)
                }
                _ => {
                    let m = self.expr(sh, d);
                    let eye = self.dim_eye(n);
                    self.bin(&eye, "-", &m, SUM)
                }
            });
        }
        match sh {
            Sh(Some(n), None) => {
                if self.p(0.5) {
                    // softmax of any vector: its own node, evaluated shifted by the maximum.
                    let v = self.expr(sh, d);
                    return Some(self.call("softmax", &v));
                }
                let m = self.expr(Sh(Some(n), Some(n)), d);
                Some(self.call("diag", &m))
            }
            Sh(None, None) => Some(self.reduction(d)),
            _ => None,
        }
    }

    /// A scalar made from an array: sums, norms, traces, determinants.
    fn reduction(&mut self, d: u32) -> E {
        let dims = [Some(D::N), Some(D::M)];
        let r = dims[self.rng.random_range(0..2)];
        let c = [None, Some(D::N), Some(D::M)][self.rng.random_range(0..3)];
        let n = [D::N, D::M][self.rng.random_range(0..2)];
        match self.rng.random_range(0..9) {
            0 => {
                let e = self.expr(Sh(r, c), d);
                self.call("sum", &e)
            }
            1 => {
                let e = self.expr(Sh(r, c), d);
                self.call("norm1", &e)
            }
            2 => {
                let e = self.expr(Sh(r, c), d);
                self.call("norm2", &e)
            }
            3 => {
                let e = self.expr(Sh(r, c), d);
                let nm = self.call("norm2", &e);
                self.power(&nm, "^", 2.0)
            }
            4 => {
                let e = self.expr(Sh(Some(n), Some(n)), d);
                self.call("tr", &e)
            }
            5 => {
                let e = self.expr(Sh(Some(n), Some(n)), d);
                self.call("det", &e)
            }
            6 => {
                let e = self.spd(n, d);
                self.call("logdet", &e)
            }
            7 => {
                let e = self.spd(n, d);
                let de = self.call("det", &e);
                self.call("log", &de)
            }
            _ => {
                // u'*M*v
                let u = self.expr(Sh(r, None), d);
                let m = self.expr(Sh(r, c.or(Some(D::N))), d);
                let v = self.expr(Sh(c.or(Some(D::N)), None), d);
                let ut = self.transpose(&u);
                let um = self.bin(&ut, "*", &m, PROD);
                self.bin(&um, "*", &v, PROD)
            }
        }
    }

    /// A scalar loss: a random expression of a random shape wrapped into a scalar.
    pub fn loss(&mut self, depth: u32) -> String {
        let dims = [None, Some(D::N), Some(D::M)];
        let sh = Sh(dims[self.rng.random_range(0..3)], dims[self.rng.random_range(0..3)]);
        if sh.scalar() {
            // A scalar loss is most interesting as a reduction of arrays.
            return self.reduction(depth - 1).s;
        }
        let e = self.expr(sh, depth);
        // Sometimes through a definition, used once or twice: `h = ...; sum(h.*h) + sum(h)`.
        let (def, e) = if self.p(0.2) {
            let sep = if self.p(0.5) { "; " } else { "\n" };
            (Some(format!("h = {}{sep}", e.s)), atom("h"))
        } else {
            (None, e)
        };
        let wrapped = match self.rng.random_range(0..6) {
            0 => self.call("sum", &e),
            1 => {
                let n = self.call("norm2", &e);
                let sq = self.power(&n, "^", 2.0);
                let half = atom("0.5");
                self.bin(&half, "*", &sq, PROD)
            }
            2 if sh.square().is_some() => {
                let f = if self.p(0.3) { "trace" } else { "tr" };
                self.call(f, &e)
            }
            3 => {
                // u'*E*v with variables of matching shapes, or a Frobenius product.
                let u = sh.0.map(|r| self.leaf(Sh(Some(r), None)));
                let v = sh.1.map(|c| self.leaf(Sh(Some(c), None)));
                match (u, v) {
                    (Some(u), Some(v)) => {
                        let ut = self.transpose(&u);
                        let l = self.bin(&ut, "*", &e, PROD);
                        self.bin(&l, "*", &v, PROD)
                    }
                    (Some(u), None) => {
                        let ut = self.transpose(&u);
                        self.bin(&ut, "*", &e, PROD)
                    }
                    (None, Some(v)) => self.bin(&e, "*", &v, PROD),
                    (None, None) => unreachable!(),
                }
            }
            4 => {
                let other = self.expr(sh, 1);
                let h = self.bin(&e, ".*", &other, PROD);
                self.call("sum", &h)
            }
            _ => {
                let n = self.call("norm2", &e);
                self.power(&n, "^", 2.0)
            }
        };
        match def {
            Some(def) if self.p(0.5) => format!("{def}{} + sum(h)", wrapped.s),
            Some(def) => format!("{def}{}", wrapped.s),
            None => wrapped.s,
        }
    }
}

/// The property corpus: `count` losses, case `i` generated from its own seed.
pub fn corpus(count: usize, seed: u64) -> Vec<String> {
    (0..count).map(|i| case(seed, i)).collect()
}

/// The `i`th loss of the corpus with base seed `seed`.
pub fn case(seed: u64, i: usize) -> String {
    let mut g = Gen::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let depth = g.rng.random_range(2..=5);
    g.loss(depth)
}
