//! A second thread for the two-core halves, kept spinning while a plan runs.
//!
//! Waking a sleeping rayon worker costs about 55 µs on this project's (virtual) machines, and the
//! pool's workers fall asleep between a plan's steps; a plan with five split steps paid a quarter
//! of a millisecond in wake-ups. The helper here spins (yielding now and then) only while its
//! plan executes, parks otherwise, and takes a job through an atomic pointer: no allocation and
//! a hand-over of about a microsecond.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

type Job<'a> = &'a (dyn Fn() + Sync);

struct Shared {
    /// A `*const Job` on the caller's stack, or null.
    job: AtomicPtr<()>,
    done: AtomicBool,
    /// The last job panicked (reported on the caller's thread).
    panicked: AtomicBool,
    active: AtomicBool,
    stop: AtomicBool,
}

pub struct Duo {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

thread_local! {
    /// The helper of the plan this thread is executing, if any.
    static CURRENT: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
}

impl Duo {
    /// Start the helper thread (parked until a plan runs), or `None` if no thread can be started.
    pub fn new() -> Option<Duo> {
        let shared = Arc::new(Shared {
            job: AtomicPtr::new(null_mut()),
            done: AtomicBool::new(true),
            panicked: AtomicBool::new(false),
            active: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let handle = std::thread::Builder::new().name("matdiff-duo".into()).spawn(move || helper(&s)).ok()?;
        Some(Duo { shared, handle: Some(handle) })
    }

    /// Run `body` with the helper spinning and registered for `halves` on this thread.
    pub fn with<R>(&self, body: impl FnOnce() -> R) -> R {
        struct Reset(*const Shared, *const Shared);
        impl Drop for Reset {
            fn drop(&mut self) {
                // SAFETY: `self.0` points into the `Arc<Shared>` of the `Duo` whose `with` created
                // this guard; `with` borrows that `Duo`, so the allocation outlives the guard.
                unsafe { (*self.0).active.store(false, Ordering::Release) };
                CURRENT.with(|c| c.set(self.1));
            }
        }
        let me: *const Shared = &*self.shared;
        let _reset = Reset(me, CURRENT.with(|c| c.replace(me)));
        self.shared.active.store(true, Ordering::Release);
        if let Some(h) = &self.handle {
            h.thread().unpark();
        }
        body()
    }
}

impl Drop for Duo {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

fn helper(s: &Shared) {
    let mut spins = 0u32;
    loop {
        let p = s.job.swap(null_mut(), Ordering::AcqRel);
        if !p.is_null() {
            // SAFETY: `p` was stored by `run_pair` as a pointer to a `Job` (a `&dyn Fn + Sync`)
            // on its stack; `run_pair` does not return, nor unwind past that `Job`, before
            // `done` is set below (its `Wait` guard spins on it), so the pointee and the closure
            // it refers to outlive this call. The job is `Sync`, so calling it from this thread
            // is allowed.
            let job: Job<'_> = unsafe { *(p as *const Job<'_>) };
            // A panic in the job is the caller's to report; here it must not kill the helper.
            let ok = catch_unwind(AssertUnwindSafe(job)).is_ok();
            s.panicked.store(!ok, Ordering::Release);
            s.done.store(true, Ordering::Release);
            spins = 0;
            continue;
        }
        if s.stop.load(Ordering::Acquire) {
            return;
        }
        if s.active.load(Ordering::Acquire) {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            }
        } else {
            std::thread::park();
        }
    }
}

/// Run `a` here and `b` on the current plan's helper, both to completion; both handed back
/// unrun when this thread is not executing a plan with a helper.
pub fn run_pair<A: FnOnce(), B: FnOnce() + Send>(a: A, b: B) -> Result<(), (A, B)> {
    let cur = CURRENT.with(|c| c.get());
    if cur.is_null() {
        return Err((a, b));
    }
    // SAFETY: CURRENT is non-null only inside `Duo::with`'s body on this thread (its `Reset`
    // guard restores the previous value when the body ends, also by unwinding), and it points
    // into the `Arc<Shared>` of the `Duo` that `with` borrows, so it is alive for this call.
    let s = unsafe { &*cur };
    let slot = std::sync::Mutex::new(Some(b));
    let call = || {
        if let Some(b) = slot.lock().map(|mut g| g.take()).unwrap_or(None) {
            b()
        }
    };
    let job: Job<'_> = &call;
    struct Wait<'a>(&'a Shared);
    impl Drop for Wait<'_> {
        fn drop(&mut self) {
            // Even if `a` panics, `b` must be finished before its closure goes out of scope.
            while !self.0.done.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
        }
    }
    // While the helper is busy with `b`, a nested `run_pair` from `a` must not hand it a second
    // job (it would overwrite this one and see this one's `done`): unregister until `b` is done.
    struct Unregister(*const Shared);
    impl Drop for Unregister {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _unregister = Unregister(CURRENT.with(|c| c.replace(std::ptr::null())));
    s.done.store(false, Ordering::Release);
    s.job.store(&job as *const Job<'_> as *mut (), Ordering::Release);
    let wait = Wait(s);
    a();
    drop(wait);
    if s.panicked.load(Ordering::Acquire) {
        panic!("a kernel panicked on the helper thread");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn outside_a_plan_the_pair_is_handed_back() {
        assert!(run_pair(|| (), || ()).is_err());
    }

    #[test]
    fn both_halves_run_on_two_threads() {
        let duo = Duo::new().unwrap();
        let here = std::thread::current().id();
        let (n, other) = (AtomicUsize::new(0), std::sync::Mutex::new(None));
        duo.with(|| {
            for _ in 0..1000 {
                let r = run_pair(
                    || {
                        n.fetch_add(1, Ordering::Relaxed);
                    },
                    || {
                        n.fetch_add(1, Ordering::Relaxed);
                        *other.lock().unwrap() = Some(std::thread::current().id());
                    },
                );
                assert!(r.is_ok());
            }
        });
        assert_eq!(n.load(Ordering::Relaxed), 2000);
        assert_ne!(other.lock().unwrap().unwrap(), here);
        // After `with`, the helper is no longer registered.
        assert!(run_pair(|| (), || ()).is_err());
    }

    #[test]
    fn a_nested_pair_runs_without_the_busy_helper() {
        let duo = Duo::new().unwrap();
        let n = AtomicUsize::new(0);
        let add = || {
            n.fetch_add(1, Ordering::Relaxed);
        };
        duo.with(|| {
            for _ in 0..200 {
                let r = run_pair(
                    || {
                        // The helper is busy with the outer `b`: this pair must not go to it.
                        assert!(run_pair(add, add).is_err());
                        add();
                    },
                    add,
                );
                assert!(r.is_ok());
            }
            // Registered again once the pair is done.
            assert!(run_pair(add, add).is_ok());
        });
        assert_eq!(n.load(Ordering::Relaxed), 200 * 2 + 2);
    }

    #[test]
    fn a_panic_on_the_helper_reaches_the_caller_and_the_helper_survives() {
        let duo = Duo::new().unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| duo.with(|| run_pair(|| (), || panic!("boom")).ok())));
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        duo.with(|| {
            run_pair(
                || (),
                || {
                    n.fetch_add(1, Ordering::Relaxed);
                },
            )
            .ok()
        });
        assert_eq!(n.load(Ordering::Relaxed), 1);
    }
}
