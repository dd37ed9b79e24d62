//! Numbers the engine keeps about itself for operators (served as Prometheus metrics by the
//! API's debug listener): a lock-free histogram type, and the engine's snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket upper bounds in seconds for latencies from a millisecond fraction to minutes.
pub const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// A histogram with fixed buckets, updated without locks.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: Vec<AtomicU64>,
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

/// A consistent-enough copy of a histogram for rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, cumulative count)`, ending with `(+Inf, count)`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations in seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending, in seconds).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// An empty latency histogram ([`LATENCY_BOUNDS`]).
    pub fn latency() -> Histogram {
        Histogram::new(LATENCY_BOUNDS)
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The cumulative view Prometheus wants.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut acc = 0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            let bound = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, acc));
        }
        HistogramSnapshot {
            buckets,
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: acc,
        }
    }
}

/// What the engine reports at a scrape.
#[derive(Debug, Clone, Default)]
pub struct EngineMetrics {
    /// Containers by state (`running`, `exited`, ...), infra containers included.
    pub containers: BTreeMap<String, u64>,
    /// Pods by status (`Running`, `Exited`, ...).
    pub pods: BTreeMap<String, u64>,
    /// Images in the store.
    pub images: u64,
    /// Events emitted since the engine started.
    pub events_emitted: u64,
    /// conmon processes monitoring this engine's containers and exec sessions.
    pub conmon_processes: u64,
    /// Latency of state database transactions.
    pub db_transactions: Option<HistogramSnapshot>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let h = Histogram::new(&[0.01, 0.1]);
        h.observe(Duration::from_millis(5));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_secs(2));
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets[0], (0.01, 1));
        assert_eq!(s.buckets[1], (0.1, 3));
        assert_eq!(s.buckets[2].1, 4);
        assert!(s.buckets[2].0.is_infinite());
        assert!((s.sum - 2.105).abs() < 1e-9);
    }
}
