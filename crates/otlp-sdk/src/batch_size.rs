//! [`BatchSizer`]: the batch size the export loop cuts at, fixed or adaptive.
//!
//! Fixed mode always cuts at `max_export_batch_size`.
//!
//! Adaptive mode starts at `min_export_batch_size` and, at every cut:
//! - **doubles** (up to the maximum) when the queue holds at least two batches
//!   at the current size: a backlog is building, and bigger requests carry
//!   more spans per round trip;
//! - **halves** (down to the minimum) when the last exports took longer than
//!   the latency target (a quarter of the attempt timeout): the backend is
//!   struggling with requests this large, and a timeout would cost the whole batch;
//! - **shrinks by a quarter** (down to the minimum) when a cut finds less than
//!   a quarter of a batch waiting: load is light, and small batches reach the
//!   backend sooner after the scheduled delay.
//!
//! The loop is woken as soon as the current size is waiting, so the size
//! also sets how eagerly the loop runs.

use std::time::Duration;

use crate::config::BatchConfig;

/// Chooses the size of the next batch.
#[derive(Debug, Clone)]
pub(crate) struct BatchSizer {
    min: usize,
    max: usize,
    current: usize,
    adaptive: bool,
    latency_target: Duration,
    /// Exponentially weighted average of recent export latencies.
    average_latency: Option<Duration>,
}

impl BatchSizer {
    pub(crate) fn new(config: &BatchConfig, attempt_timeout: Duration) -> Self {
        let max = config.max_export_batch_size.max(1);
        let min = config.min_export_batch_size.clamp(1, max);
        BatchSizer {
            min,
            max,
            current: if config.adaptive { min } else { max },
            adaptive: config.adaptive,
            latency_target: attempt_timeout / 4,
            average_latency: None,
        }
    }

    /// The size to cut at now.
    pub(crate) fn current(&self) -> usize {
        self.current
    }

    /// Called when a batch is cut with `queued` spans waiting (before the cut).
    pub(crate) fn on_cut(&mut self, queued: usize) {
        if !self.adaptive {
            return;
        }
        let slow = self
            .average_latency
            .is_some_and(|latency| latency > self.latency_target);
        // Sizes are whatever the configuration says (any count from 1 up):
        // doubled, they saturate rather than overflow.
        let doubled = self.current.saturating_mul(2);
        if slow {
            self.current = (self.current / 2).max(self.min);
        } else if queued >= doubled {
            self.current = doubled.min(self.max);
        } else if queued < self.current / 4 {
            self.current = (self.current - self.current / 4).max(self.min);
        }
    }

    /// Called when an export finishes, with the time it took.
    pub(crate) fn on_export_latency(&mut self, latency: Duration) {
        self.average_latency = Some(match self.average_latency {
            None => latency,
            Some(average) => (average * 3 + latency) / 4,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptive() -> BatchSizer {
        let config = BatchConfig {
            adaptive: true,
            min_export_batch_size: 64,
            max_export_batch_size: 512,
            ..BatchConfig::default()
        };
        BatchSizer::new(&config, Duration::from_secs(10))
    }

    #[test]
    fn fixed_mode_always_cuts_at_the_maximum() {
        let mut sizer = BatchSizer::new(&BatchConfig::default(), Duration::from_secs(10));
        sizer.on_cut(100_000);
        sizer.on_export_latency(Duration::from_secs(60));
        sizer.on_cut(0);
        assert_eq!(sizer.current(), 512);
    }

    #[test]
    fn backlog_grows_the_batch_up_to_the_maximum() {
        let mut sizer = adaptive();
        let sizes: Vec<usize> = (0..5)
            .map(|_| {
                sizer.on_cut(10_000);
                sizer.current()
            })
            .collect();
        assert_eq!(sizes, vec![128, 256, 512, 512, 512]);
    }

    #[test]
    fn slow_exports_halve_the_batch() {
        let mut sizer = adaptive();
        for _ in 0..3 {
            sizer.on_cut(10_000);
        }
        sizer.on_export_latency(Duration::from_secs(5));
        sizer.on_cut(10_000);
        assert_eq!(sizer.current(), 256);
    }

    #[test]
    fn sizes_too_large_to_double_stay_within_the_bounds() {
        // Valid settings (at least 1, the minimum at most the maximum): a
        // batch size past half of `usize::MAX` overflowed when doubled, a
        // panic on the export loop's thread (a wrap to 0 in a release
        // build, and a loop cutting empty batches forever).
        let config = BatchConfig {
            adaptive: true,
            min_export_batch_size: usize::MAX / 2 + 1,
            max_export_batch_size: usize::MAX,
            ..BatchConfig::default()
        };
        let mut sizer = BatchSizer::new(&config, Duration::from_secs(10));
        for queued in [0, 10, usize::MAX] {
            sizer.on_cut(queued);
            assert!(sizer.current() > usize::MAX / 2, "{queued}");
        }
        sizer.on_cut(usize::MAX);
        assert_eq!(sizer.current(), usize::MAX);
    }

    #[test]
    fn light_load_shrinks_towards_the_minimum() {
        let mut sizer = adaptive();
        for _ in 0..3 {
            sizer.on_cut(10_000);
        }
        for _ in 0..20 {
            sizer.on_cut(1);
        }
        assert_eq!(sizer.current(), 64);
    }
}
