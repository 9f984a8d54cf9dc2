//! The `matdiff` command line: parses arguments, calls the core, renders results and errors.

mod commands;
mod render;

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "matdiff", version, about = "Matrix calculus: gradients of matrix expressions in closed form")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Latex,
    Json,
    Markdown,
}

#[derive(Subcommand)]
enum Command {
    /// Gradient of a scalar expression with respect to a variable.
    Grad {
        /// The expression, e.g. "0.5*norm2(W'*W*x - x)^2".
        expr: String,
        /// The variable(s) to differentiate with respect to (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        wrt: Vec<String>,
        /// Declarations, e.g. "W: matrix(m,n); x: vector(n)".
        #[arg(long, default_value = "")]
        decl: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also check the result against central finite differences.
        #[arg(long)]
        check: bool,
    },
    /// Evaluate an expression at the values in a JSON file.
    Eval {
        expr: String,
        #[arg(long, default_value = "")]
        decl: String,
        /// JSON object mapping names to numbers, lists (vectors) or lists of rows (matrices).
        #[arg(long)]
        at: String,
    },
    /// Run the built-in seed models: losses, gradients and numeric checks.
    Demo,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let outcome = match cli.command {
        Command::Grad { expr, wrt, decl, format, check } => commands::grad(&expr, &wrt, &decl, format, check),
        Command::Eval { expr, decl, at } => commands::eval(&expr, &decl, &at),
        Command::Demo => commands::demo(),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprint!("{failure}");
            ExitCode::from(2)
        }
    }
}
