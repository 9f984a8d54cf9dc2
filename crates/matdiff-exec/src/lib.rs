//! matdiff's numeric side: evaluation of the IR with faer, and numeric verification.
//!
//! - [`eval`]: the reference evaluator (one matrix per node), with input binding ([`bind`]) and
//!   size checks ([`check_sizes`]) before anything is allocated;
//! - [`Compiled`]: the compiled evaluator — plans per set of dimensions (chain ordering, solves,
//!   factorizations, Woodbury, fused entrywise passes), SIMD kernels chosen at run time, large
//!   steps split over two cores; allocation-free in steady state;
//! - [`random_env`], [`fd_gradient`], [`check_gradients`]: domain-aware random inputs and
//!   central finite differences;
//! - [`rel_diff`], [`magnitudes`]: the scale-invariant comparison every numeric verdict uses,
//!   with a tolerance from the evaluation's own rounding error.
//!
//! All of matdiff's `unsafe` code is here, in the compiled evaluator (`exec/simd.rs`,
//! `exec/run.rs`, `exec/duo.rs`).

mod compare;
mod eval;
mod exec;
mod nonfinite;
mod numcheck;

pub use compare::{eval_with_error, magnitudes, max_abs, rel_diff, rounding_error, ROUNDING_ULPS, UNIT_ROUNDOFF};
pub use eval::{bind, check_sizes, eval, to_value, Env, Value};
pub use exec::Compiled;
pub use nonfinite::{first_nonfinite, NonFinite};
pub use numcheck::{
    central_differences, check_gradients, domains, fd_gradient, fd_gradient_with_error, fd_step, find_point, richardson,
};
pub use numcheck::{normal, random_dims, random_env, random_env_attempt, symmetrize_for_fd};
pub use numcheck::{Domain, FdComparison, FdOutcome, FdReport, FD_RESOLUTION, FD_STEP, FD_TOLERANCE, POINT_ATTEMPTS};
