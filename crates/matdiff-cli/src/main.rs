//! The `matdiff` command line: parses arguments, calls the core, renders results and errors.

mod commands;
mod input;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "matdiff", version, about = "Matrix calculus: gradients of matrix expressions in closed form")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format of `grad` (and `check`, `audit`, which use text and json).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Plain text, `where` names for shared subterms.
    Text,
    /// LaTeX.
    Latex,
    /// A JSON object (the fields of `matdiff::report`).
    Json,
    /// Markdown with LaTeX math.
    Markdown,
}

/// `grad`/`check --convention`: which gradient w.r.t. a symmetric matrix is printed or right.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ConventionArg {
    /// G or sym(G): the gradient along symmetric perturbations.
    Symmetric,
    /// The Matrix Cookbook's element-wise form, 2·sym(G) − diag(diag(G)).
    Cookbook,
}

impl From<ConventionArg> for matdiff::check::Convention {
    fn from(c: ConventionArg) -> Self {
        match c {
            ConventionArg::Symmetric => matdiff::check::Convention::Symmetric,
            ConventionArg::Cookbook => matdiff::check::Convention::Cookbook,
        }
    }
}

/// Target language of `--emit` (grad, solve, derivative, hessian).
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Emit {
    /// A NumPy module.
    Numpy,
    /// A JAX module.
    Jax,
    /// A PyTorch module.
    Torch,
    /// A Rust module over faer.
    Rust,
}

/// Output format of `graph`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A self-contained SVG drawing.
    Svg,
}

/// Output format of `grade`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum TableFormat {
    /// One CSV row per document and question.
    Csv,
    /// A JSON array of the rows.
    Json,
}

/// Options shared by commands that read an expression.
#[derive(clap::Args, Clone, Debug)]
pub struct ExprArgs {
    /// The expression, in plain syntax ("0.5*norm2(W'*W*x - x)^2") or LaTeX (auto-detected);
    /// `-` reads it from stdin, `@FILE` from a file.
    #[arg(allow_hyphen_values = true, value_parser = input::text_arg)]
    pub expr: String,
    /// Declarations, e.g. "W: matrix(m,n); x: vector(n); a: scalar; S: symmetric(n)"; `-` or
    /// `@FILE` read them from stdin or a file.
    #[arg(long, default_value = "", value_parser = input::text_arg)]
    pub decl: String,
    /// Read the expression as LaTeX even if it does not look like it.
    #[arg(long)]
    pub latex: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Gradient of a scalar expression with respect to one or more variables.
    Grad {
        #[command(flatten)]
        input: ExprArgs,
        /// The variable(s) to differentiate with respect to (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        wrt: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Show the derivation: forward graph, backward pass node by node, numeric check.
        #[arg(long)]
        steps: bool,
        /// Export the value and gradient as code.
        #[arg(long, value_enum)]
        emit: Option<Emit>,
        /// Also check the result against central finite differences (exit 1 if it fails).
        #[arg(long)]
        check: bool,
        /// The gradient w.r.t. a `symmetric` matrix: `symmetric` (sym(G) = (G + G')/2, the
        /// default) or `cookbook` (the Matrix Cookbook's 2·sym(G) − diag(diag(G))).
        #[arg(long, value_enum, default_value = "symmetric")]
        convention: ConventionArg,
    },
    /// Derivative of any expression: the gradient (scalar by anything), the entrywise
    /// derivative (by a scalar), the Jacobian (vector by vector), else ∂vec(f)/∂vec(X)ᵀ.
    Derivative {
        #[command(flatten)]
        input: ExprArgs,
        /// The variable to differentiate with respect to.
        #[arg(long, required = true)]
        wrt: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also check the result against central finite differences (exit 1 if it fails).
        #[arg(long)]
        check: bool,
        /// Show the chain rule of Jacobians node by node.
        #[arg(long)]
        steps: bool,
        /// Export `f_value` and `jacobian` (the derivative in its layout) as code, with
        /// `check_jacobian()`.
        #[arg(long, value_enum, conflicts_with_all = ["check", "steps"])]
        emit: Option<Emit>,
    },
    /// Hessian of a scalar expression (the derivative of its gradient), or with --direction the
    /// Hessian-vector product in plain matrix notation.
    Hessian {
        #[command(flatten)]
        input: ExprArgs,
        /// The variable to differentiate with respect to.
        #[arg(long, required = true)]
        wrt: String,
        /// Name of a new variable V (the shape of the --wrt variable): the result is
        /// d/dt ∇f(X + tV) at t = 0.
        #[arg(long)]
        direction: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also check the result against second finite differences (exit 1 if it fails).
        #[arg(long)]
        check: bool,
        /// Show the chain rule of Jacobians node by node (of the gradient).
        #[arg(long)]
        steps: bool,
        /// Export `f_grad_hess` (with --direction `f_grad_hvp`) as code, with `check_hessian()`
        /// (`check_hvp()`).
        #[arg(long, value_enum, conflicts_with_all = ["check", "steps"])]
        emit: Option<Emit>,
    },
    /// Evaluate an expression at the values in a JSON file.
    Eval {
        #[command(flatten)]
        input: ExprArgs,
        /// JSON object mapping names to numbers, lists (vectors) or lists of rows (matrices);
        /// `-` reads it from stdin.
        #[arg(long)]
        at: PathBuf,
        /// Print NaN and infinities as the JSON strings "NaN", "Infinity", "-Infinity" instead
        /// of failing (exit 1) at the operation that produced the first one.
        #[arg(long)]
        allow_nonfinite: bool,
    },
    /// Draw the computational graph (with --wrt, label each node with its adjoint).
    Graph {
        #[command(flatten)]
        input: ExprArgs,
        #[arg(long)]
        wrt: Option<String>,
        #[arg(long, value_enum, default_value = "svg")]
        format: GraphFormat,
    },
    /// Decide whether a claimed gradient is right (exit 0 right, 1 wrong, 2 user error).
    Check {
        #[command(flatten)]
        input: ExprArgs,
        #[arg(long, required = true)]
        wrt: String,
        /// The claimed gradient, plain syntax or LaTeX; `-` reads it from stdin, `@FILE` from a file.
        #[arg(long, required = true, allow_hyphen_values = true, value_parser = input::text_arg)]
        claim: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// The claim is the derivative in the layout of `matdiff derivative` (a Jacobian, …).
        #[arg(long, conflicts_with = "hessian")]
        derivative: bool,
        /// The claim is the Hessian (with --direction: the Hessian-vector product along the new
        /// variable V, which the claim may use).
        #[arg(long)]
        hessian: bool,
        /// Name of the direction variable of a claimed Hessian-vector product.
        #[arg(long, requires = "hessian")]
        direction: Option<String>,
        /// The gradient w.r.t. a `symmetric` matrix: `symmetric` (G or sym(G), the default) or
        /// `cookbook` (the Matrix Cookbook's 2·sym(G) − diag(diag(G))).
        #[arg(long, value_enum, default_value = "symmetric")]
        convention: ConventionArg,
    },
    /// Follow the derivation in a document and report each step and the final answer.
    Audit {
        /// The document (Markdown or LaTeX); `-` reads it from stdin.
        file: PathBuf,
        #[arg(long, required = true)]
        problem: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Audit many submissions in parallel and summarize.
    Grade {
        #[arg(long, required = true)]
        problem: PathBuf,
        /// Files or directories of submissions.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Files audited at once: 0 (the default) is one per core; at most 4 per core.
        #[arg(long)]
        jobs: Option<usize>,
        #[arg(long, value_enum, default_value = "csv")]
        format: TableFormat,
    },
    /// Solve grad f = 0 for one variable in closed form (normal equations, M-steps, MLEs).
    Solve {
        #[command(flatten)]
        input: ExprArgs,
        /// The unknown.
        #[arg(long, required = true)]
        wrt: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Show the derivation: the gradient, the equation set to zero, each algebraic step.
        #[arg(long)]
        steps: bool,
        /// Report the numeric check: the gradient vanishes at the solution at random inputs
        /// (exit 1 if not, 2 if no point was checked) and the curvature gives the kind.
        #[arg(long)]
        check: bool,
        /// Export the update as code: `update_NAME(...)`, with `f_and_grad` and `check_update()`.
        #[arg(long, value_enum)]
        emit: Option<Emit>,
    },
    /// Run the built-in seed models: losses, gradients, numeric checks, and one derivation.
    Demo,
    /// Serve the web page and its JSON API (docs/api.md) on this machine.
    Serve(commands::serve::ServeArgs),
}

fn main() -> ExitCode {
    // A closed pipe (`matdiff demo | head`) ends the program quietly, as for other Unix tools,
    // instead of a panic inside println!.
    #[cfg(unix)]
    // SAFETY: `signal` with a valid signal number and `SIG_DFL` installs no handler (no code of
    // ours runs in signal context); it runs first thing in `main`, before any other thread exists,
    // so nothing races with the change of disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // Safety net: a bug must not show a backtrace; a closed or full output is a plain error.
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| run(cli)).unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown");
        if msg.contains("failed printing to stdout") {
            Err("error: cannot write the output\n".to_string())
        } else {
            Err(format!("error: internal error (a bug in matdiff, please report it): {msg}\n"))
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            use std::io::Write;
            let _ = std::io::stderr().write_all(failure.as_bytes());
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<u8, commands::Failure> {
    match cli.command {
        Command::Grad { input, wrt, format, steps, emit, check, convention } => {
            commands::grad::grad(&input, &wrt, format, steps, emit, check, convention)
        }
        Command::Derivative { input, wrt, format, check, steps, emit } => {
            let ask = commands::derivative::Ask::First;
            commands::derivative::derivative(&input, &wrt, ask, format, check, steps, emit)
        }
        Command::Hessian { input, wrt, direction, format, check, steps, emit } => {
            let ask = commands::derivative::Ask::Hessian(direction.as_deref());
            commands::derivative::derivative(&input, &wrt, ask, format, check, steps, emit)
        }
        Command::Eval { input, at, allow_nonfinite } => commands::eval::eval(&input, &at, allow_nonfinite),
        Command::Graph { input, wrt, format } => commands::graph::graph(&input, wrt.as_deref(), format),
        Command::Check { input, wrt, claim, format, derivative, hessian, direction, convention } => {
            let target = match (derivative, hessian) {
                (true, _) => commands::check::Target::Derivative,
                (_, true) => commands::check::Target::Hessian(direction),
                _ => commands::check::Target::Gradient,
            };
            commands::check::check(&input, &wrt, &claim, format, target, convention)
        }
        Command::Audit { file, problem, format } => commands::audit::audit(&file, &problem, format),
        Command::Grade { problem, paths, jobs, format } => commands::grade::grade(&problem, &paths, jobs, format),
        Command::Solve { input, wrt, format, steps, check, emit } => {
            commands::solve::solve(&input, &wrt, format, check, steps, emit)
        }
        Command::Demo => commands::demo::demo(),
        Command::Serve(args) => commands::serve::serve(&args),
    }
}
