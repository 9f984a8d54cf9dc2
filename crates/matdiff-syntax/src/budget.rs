//! Cooperative cancellation: a time budget that the library's long loops check, so that a server
//! can really stop a request's work when its time is spent (not merely stop waiting for it).
//!
//! A front end runs the work with [`run`] under a [`Budget`]. The loops that can run long — node
//! creation (that is, simplification and differentiation), printing, evaluation, numeric checks,
//! claim comparison, derivations, layouts, code export, audits — call [`tick`], or [`check`]
//! where one iteration is itself expensive (an evaluation at a point). Without a budget (the CLI,
//! the Python package) a tick costs one thread-local increment. Under a budget every
//! [`TICKS_PER_CHECK`]th tick, and every `check`, reads the budget's clock; once the budget is
//! spent, or [`Budget::cancel`] was called from any thread, the checkpoint unwinds with
//! [`Cancelled`] (`std::panic::resume_unwind`: no panic hook runs, nothing is printed) up to
//! `run`, which returns `Err(Cancelled)`.
//!
//! Everything the work built is dropped on the way. The library keeps no state shared between
//! calls, so nothing is left half-updated; code that catches panics must let the unwind through
//! ([`resume_if_cancelled`]). The budget applies to the thread that called `run` (helper threads
//! run single kernels, between the calling thread's checkpoints). The clock is the front end's:
//! `matdiff serve` passes the thread's CPU-time clock, tests pass whatever they like.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Ticks between two readings of the clock: a reading costs a fraction of a microsecond and a
/// tick (one node interned, one node printed) about as much, so the overhead stays below 1 %
/// while a spent budget is noticed within a fraction of a millisecond.
pub const TICKS_PER_CHECK: u32 = 256;

/// A clock for budgets: the time used so far by whatever it measures (e.g. the calling thread's
/// CPU time). Only differences between two readings on the same thread matter.
pub type Clock = fn() -> Duration;

/// How much time some work may take, and a flag to stop it from outside.
#[derive(Debug)]
pub struct Budget {
    limit: Duration,
    clock: Clock,
    cancelled: AtomicBool,
}

impl Budget {
    /// A budget of `limit` as measured by `clock`.
    pub fn new(limit: Duration, clock: Clock) -> Arc<Budget> {
        Arc::new(Budget { limit, clock, cancelled: AtomicBool::new(false) })
    }

    /// Stop the work at its next checkpoint (callable from any thread, e.g. when the client
    /// that asked for the work went away).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    /// Whether the work was stopped (or is to be stopped at its next checkpoint).
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// The limit this budget was made with.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

/// The work was stopped because its budget was spent or cancelled (the unwind payload, and
/// [`run`]'s error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the work was stopped: its time budget is spent")
    }
}

impl std::error::Error for Cancelled {}

/// The budget in force on this thread, with the clock's reading when `run` started.
struct Active {
    budget: Arc<Budget>,
    start: Duration,
}

thread_local! {
    static CURRENT: RefCell<Option<Active>> = const { RefCell::new(None) };
    static TICKS: Cell<u32> = const { Cell::new(0) };
}

/// Run `work` on this thread under `budget`: `Err(Cancelled)` if a checkpoint found the budget
/// spent (or cancelled). Other panics propagate unchanged. Whatever `work` had captured by
/// reference may be half-updated after a cancellation: throw it away.
pub fn run<T>(budget: &Arc<Budget>, work: impl FnOnce() -> T) -> Result<T, Cancelled> {
    struct Restore(Option<Active>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let active = Active { budget: budget.clone(), start: (budget.clock)() };
    let _restore = Restore(CURRENT.with(|c| c.replace(Some(active))));
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(v) => Ok(v),
        Err(payload) if payload.is::<Cancelled>() => Err(Cancelled),
        Err(payload) => resume_unwind(payload),
    }
}

/// A cheap checkpoint for loops whose iterations are short: every [`TICKS_PER_CHECK`]th call
/// is a [`check`].
#[inline]
pub fn tick() {
    let n = TICKS.with(|t| {
        let n = t.get().wrapping_add(1);
        t.set(n);
        n
    });
    if n.is_multiple_of(TICKS_PER_CHECK) {
        check();
    }
}

/// How many [`tick`]s this thread has made so far (wrapping): a deterministic measure of the
/// work done, for tests that check how work grows with the size of the input.
pub fn ticks() -> u32 {
    TICKS.with(|t| t.get())
}

/// A checkpoint: unwinds with [`Cancelled`] if this thread runs under a budget that is spent
/// or cancelled; does nothing otherwise.
pub fn check() {
    let stop = CURRENT.with(|c| {
        c.borrow().as_ref().is_some_and(|a| {
            let spent = a.budget.is_cancelled() || (a.budget.clock)().saturating_sub(a.start) > a.budget.limit;
            if spent {
                a.budget.cancel();
            }
            spent
        })
    });
    if stop {
        resume_unwind(Box::new(Cancelled));
    }
}

/// Whether this thread runs under a budget (some loops are worth a `check` per iteration only
/// then).
pub fn active() -> bool {
    CURRENT.with(|c| c.borrow().is_some())
}

/// For code that catches panics: re-raise a cancellation, hand back any other payload.
pub fn resume_if_cancelled(payload: Box<dyn Any + Send>) -> Box<dyn Any + Send> {
    if payload.is::<Cancelled>() {
        resume_unwind(payload);
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn wall() -> Duration {
        thread_local!(static T0: Instant = Instant::now());
        T0.with(|t| t.elapsed())
    }

    #[test]
    fn without_a_budget_checkpoints_do_nothing() {
        for _ in 0..10_000 {
            tick();
        }
        check();
        assert!(!active());
    }

    #[test]
    fn a_spent_budget_stops_a_loop_soon_after_its_limit() {
        let b = Budget::new(Duration::from_millis(20), wall);
        let t = Instant::now();
        let n = Cell::new(0u64);
        let r = run(&b, || loop {
            n.set(n.get() + 1);
            tick();
        });
        assert_eq!(r, Err(Cancelled));
        assert!(b.is_cancelled());
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(20) && took < Duration::from_millis(500), "{took:?}");
        assert!(n.get() > u64::from(TICKS_PER_CHECK));
        // The budget is gone after `run`: checkpoints do nothing again.
        assert!(!active());
        check();
    }

    #[test]
    fn cancel_from_another_thread() {
        let b = Budget::new(Duration::from_secs(3600), wall);
        let b2 = b.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            b2.cancel();
        });
        let r = run(&b, || loop {
            tick();
        });
        h.join().unwrap();
        assert_eq!(r, Err(Cancelled));
    }

    #[test]
    fn work_within_budget_returns_its_value_and_other_panics_propagate() {
        let b = Budget::new(Duration::from_secs(3600), wall);
        assert_eq!(run(&b, || 42), Ok(42));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = catch_unwind(|| run(&b, || panic!("boom")));
        std::panic::set_hook(hook);
        let payload = r.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        // A caught cancellation is re-raised by `resume_if_cancelled`.
        let cancelled = Budget::new(Duration::from_secs(3600), wall);
        cancelled.cancel();
        let r = run(&cancelled, || {
            let caught = catch_unwind(check).unwrap_err();
            resume_if_cancelled(caught);
            unreachable!("resume_if_cancelled re-raises a cancellation")
        });
        assert_eq!(r, Err(Cancelled));
    }
}
