//! How much work the server takes on: a fixed number of workers, a bounded queue in front of
//! them, and a CPU-time budget per request after which the library's checkpoints stop the work.

use crate::error::ApiError;
use matdiff::syntax::budget::{self, Budget};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The limits of one server.
#[derive(Debug)]
pub struct Limits {
    workers: Arc<Semaphore>,
    /// Requests waiting for a worker.
    waiting: AtomicUsize,
    /// Requests that may wait; one more is refused (503).
    queue: usize,
    cpu_limit: Duration,
    /// Work running now (for tests: after a 503 for the time limit, it is really over).
    running: Arc<AtomicUsize>,
}

/// The calling thread's CPU time: the budget's clock. Time spent waiting (for a worker, for the
/// machine) does not count; time on helper threads (halves of large products) does not either.
pub fn thread_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime only writes the timespec it is given, which lives on our stack.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
        }
    }
    wall_clock()
}

/// Where the thread CPU clock is missing: the time since the first reading.
fn wall_clock() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// Decrements a counter when dropped (a request that stops waiting, for whatever reason).
struct Count<'a>(&'a AtomicUsize);

impl Drop for Count<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Cancels a budget when dropped: the request's future is dropped when its client goes away,
/// and then the work it started stops at its next checkpoint instead of running to the end.
struct CancelOnDrop(Arc<Budget>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl Limits {
    /// `workers` requests run at once, `queue` more wait, each may use `cpu_limit` of CPU time.
    pub fn new(workers: usize, queue: usize, cpu_limit: Duration) -> Limits {
        Limits {
            workers: Arc::new(Semaphore::new(workers.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            cpu_limit,
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The CPU-time limit per request.
    pub fn cpu_limit(&self) -> Duration {
        self.cpu_limit
    }

    /// How many requests' work is running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Run `work` on a blocking thread under the CPU-time budget, once a worker is free.
    ///
    /// `Busy` at once when the queue is full; `TimeLimit` when the budget ran out (the work has
    /// stopped by then: the worker slot is released only when the thread is done); `Internal`
    /// when the work panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let permit = match self.workers.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // Count ourselves in the queue first, so two racing requests cannot both take
                // its last place.
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(ApiError::Busy { queue: self.queue });
                }
                let _waiting = Count(&self.waiting);
                self.workers
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| ApiError::Internal("the worker pool is closed".into()))?
            }
        };
        let budget = Budget::new(self.cpu_limit, thread_cpu_time);
        let _cancel = CancelOnDrop(budget.clone());
        let running = self.running.clone();
        running.fetch_add(1, Ordering::AcqRel);
        let job = tokio::task::spawn_blocking(move || {
            // Held until the work is really over, even if nobody waits for it any more.
            let _permit = permit;
            let _running = OwnedCount(running);
            budget::run(&budget, work)
        });
        match job.await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(budget::Cancelled)) => Err(ApiError::TimeLimit { limit: self.cpu_limit }),
            Err(e) if e.is_panic() => Err(ApiError::Internal(panic_message(e.into_panic().as_ref()))),
            Err(e) => Err(ApiError::Internal(format!("the worker stopped: {e}"))),
        }
    }
}

/// `Count` for a shared counter moved to another thread.
struct OwnedCount(Arc<AtomicUsize>);

impl Drop for OwnedCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The message of a panic payload (`panic!("…")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic")
        .to_string()
}
