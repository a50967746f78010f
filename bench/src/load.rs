//! The closed-loop load engine: N workers, each sending its next request as soon as the
//! previous one answered, with latencies recorded in one HDR histogram per worker.

use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// A non-2xx answer or a transport error.
    Error,
    /// An error that also broke a refresh-token chain.
    BrokenChain,
}

/// Something that sends one request at a time over its own connection.
pub trait Request: Send + 'static {
    fn send(&mut self) -> impl Future<Output = Outcome> + Send;
}

/// How long a load runs.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// Run for `warmup + measure`; only requests started after the warm-up are measured.
    Timed { warmup: Duration, measure: Duration },
    /// Send exactly this many requests in all, every one measured.
    Requests(u64),
}

/// What a load produced.
pub struct LoadResult {
    /// Latencies of the measured successful requests, in microseconds.
    latency: Histogram<u64>,
    /// Measured successful requests.
    pub ok: u64,
    /// Failed requests, warm-up included: a failure is a finding whenever it happens.
    pub errors: u64,
    pub broken_chains: u64,
    /// The wall time the measured requests had.
    pub elapsed: Duration,
}

impl LoadResult {
    /// Successful requests per second over the measured window.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The latency at `quantile` (0.5 for the median) in milliseconds; `None` without data.
    pub fn latency_ms(&self, quantile: f64) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(quantile) as f64 / 1000.0)
    }
}

/// Runs every requester until the budget is spent and merges what they measured.
pub async fn run<R: Request>(requesters: Vec<R>, budget: Budget) -> LoadResult {
    let started = Instant::now();
    let clock = Arc::new(Clock::new(budget, started));
    let mut workers = JoinSet::new();
    for requester in requesters {
        workers.spawn(drive(requester, Arc::clone(&clock)));
    }
    let mut total = Tally::new();
    while let Some(tally) = workers.join_next().await {
        total.merge(tally.expect("a load worker panicked"));
    }
    let elapsed = match budget {
        Budget::Timed { measure, .. } => measure,
        Budget::Requests(_) => started.elapsed(),
    };
    LoadResult {
        latency: total.latency,
        ok: total.ok,
        errors: total.errors,
        broken_chains: total.broken_chains,
        elapsed,
    }
}

/// One worker's closed loop.
async fn drive<R: Request>(mut requester: R, clock: Arc<Clock>) -> Tally {
    let mut tally = Tally::new();
    while let Some(measured) = clock.next_request() {
        let sent = Instant::now();
        let outcome = requester.send().await;
        tally.record(outcome, sent.elapsed(), measured);
    }
    tally
}

/// Decides, shared by all workers, whether another request may go out.
enum Clock {
    Timed { measure_from: Instant, until: Instant },
    Requests { remaining: AtomicU64 },
}

impl Clock {
    fn new(budget: Budget, started: Instant) -> Self {
        match budget {
            Budget::Timed { warmup, measure } => {
                Clock::Timed { measure_from: started + warmup, until: started + warmup + measure }
            }
            Budget::Requests(n) => Clock::Requests { remaining: AtomicU64::new(n) },
        }
    }

    /// `None` when the budget is spent, otherwise whether the next request is measured.
    fn next_request(&self) -> Option<bool> {
        match self {
            Clock::Timed { measure_from, until } => {
                let now = Instant::now();
                (now < *until).then_some(now >= *measure_from)
            }
            Clock::Requests { remaining } => remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .ok()
                .map(|_| true),
        }
    }
}

/// One worker's counts, merged at the end so workers never contend on shared counters.
struct Tally {
    latency: Histogram<u64>,
    ok: u64,
    errors: u64,
    broken_chains: u64,
}

impl Tally {
    fn new() -> Self {
        // 1 µs to 60 s at 3 significant digits: the request timeout is below the top.
        let latency = Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
        Tally { latency, ok: 0, errors: 0, broken_chains: 0 }
    }

    fn record(&mut self, outcome: Outcome, latency: Duration, measured: bool) {
        match outcome {
            Outcome::Ok if measured => {
                self.ok += 1;
                self.latency.saturating_record(latency.as_micros().try_into().unwrap_or(u64::MAX));
            }
            Outcome::Ok => {}
            Outcome::Error => self.errors += 1,
            Outcome::BrokenChain => {
                self.errors += 1;
                self.broken_chains += 1;
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latency.add(&other.latency).expect("histograms with the same bounds");
        self.ok += other.ok;
        self.errors += other.errors;
        self.broken_chains += other.broken_chains;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter {
        every_nth_fails: u64,
        sent: u64,
    }

    impl Request for Counter {
        async fn send(&mut self) -> Outcome {
            self.sent += 1;
            if self.sent.is_multiple_of(self.every_nth_fails) { Outcome::BrokenChain } else { Outcome::Ok }
        }
    }

    #[tokio::test]
    async fn a_request_budget_sends_exactly_that_many_requests() {
        let workers = (0..3).map(|_| Counter { every_nth_fails: u64::MAX, sent: 0 }).collect();
        let result = run(workers, Budget::Requests(1000)).await;
        assert_eq!(result.ok, 1000);
        assert_eq!(result.errors, 0);
        assert!(result.latency_ms(0.99).is_some());
    }

    #[tokio::test]
    async fn broken_chains_count_as_errors_too() {
        let result = run(vec![Counter { every_nth_fails: 10, sent: 0 }], Budget::Requests(100)).await;
        assert_eq!((result.ok, result.errors, result.broken_chains), (90, 10, 10));
    }

    #[test]
    fn a_timed_clock_measures_only_after_the_warm_up() {
        let start = Instant::now();
        let clock = Clock::new(
            Budget::Timed { warmup: Duration::from_secs(3600), measure: Duration::from_secs(1) },
            start,
        );
        assert_eq!(clock.next_request(), Some(false));
        let spent = Clock::new(Budget::Timed { warmup: Duration::ZERO, measure: Duration::ZERO }, start);
        assert_eq!(spent.next_request(), None);
    }
}
