//! Elementwise scalar functions and their derivatives' names.

/// An elementwise function `f` applied entry by entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Func {
    /// `exp`
    Exp,
    /// `log` (natural logarithm; positive entries).
    Log,
    /// `sin`
    Sin,
    /// `cos`
    Cos,
    /// `tan`
    Tan,
    /// `tanh`
    Tanh,
    /// `sqrt` (non-negative entries).
    Sqrt,
    /// `abs`
    Abs,
    /// `sign` (derivative 0 almost everywhere).
    Sign,
    /// `relu`: `max(x, 0)`.
    Relu,
    /// `sigmoid`: `1/(1 + exp(-x))`.
    Sigmoid,
    /// `softplus`: `log(1 + exp(x))`.
    Softplus,
    /// `swish`: `x .* sigmoid(x)`.
    Swish,
    /// Heaviside step (1 for x > 0, else 0): the derivative of relu.
    Step,
}

impl Func {
    /// Every function, in declaration order.
    pub const ALL: [Func; 14] = [
        Func::Exp,
        Func::Log,
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Tanh,
        Func::Sqrt,
        Func::Abs,
        Func::Sign,
        Func::Relu,
        Func::Sigmoid,
        Func::Softplus,
        Func::Swish,
        Func::Step,
    ];
    /// The name in the input language (`sigmoid`).
    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Tanh => "tanh",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Sign => "sign",
            Func::Relu => "relu",
            Func::Sigmoid => "sigmoid",
            Func::Softplus => "softplus",
            Func::Swish => "swish",
            Func::Step => "step",
        }
    }
    /// The function called `name` in the input language, if any.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.iter().copied().find(|f| f.name() == name)
    }
    /// Apply to one number.
    pub fn apply(self, x: f64) -> f64 {
        let sigmoid = |x: f64| {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        };
        match self {
            Func::Exp => x.exp(),
            Func::Log => x.ln(),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Tanh => x.tanh(),
            Func::Sqrt => x.sqrt(),
            Func::Abs => x.abs(),
            Func::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            Func::Relu => x.max(0.0),
            Func::Sigmoid => sigmoid(x),
            Func::Softplus => {
                // log(1 + e^x) without overflow.
                x.max(0.0) + (-x.abs()).exp().ln_1p()
            }
            Func::Swish => x * sigmoid(x),
            Func::Step => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}
