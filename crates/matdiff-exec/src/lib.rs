//! matdiff's numeric side: evaluation of the IR with faer, and numeric verification.
//!
//! - [`eval`]: the reference evaluator (one matrix per node), with input binding ([`bind`]) and
//!   size checks ([`check_sizes`]) before anything is allocated;
//! - [`Compiled`]: the compiled evaluator — plans per set of dimensions (chain ordering, solves,
//!   factorizations, Woodbury, fused entrywise passes), SIMD kernels chosen at run time, large
//!   steps split over two cores; allocation-free in steady state;
//! - [`random_env`], [`fd_gradient`], [`check_gradients`]: domain-aware random inputs and
//!   central finite differences.
//!
//! All of matdiff's `unsafe` code is here, in the compiled evaluator (`exec/simd.rs`,
//! `exec/run.rs`, `exec/duo.rs`).

mod eval;
mod exec;
mod numcheck;

pub use eval::{bind, check_sizes, eval, to_value, Env, Value};
pub use exec::Compiled;
pub use numcheck::{
    central_differences, check_gradients, domains, fd_gradient, normal, random_dims, random_env, rel_err,
    symmetrize_for_fd, Domain, FdReport,
};
