//! [`RetryPolicy`]: exponential backoff with jitter, honouring the server's throttle hint.

use std::time::Duration;

/// How failed exports are retried. The one retry policy of the pipeline:
/// transports only classify outcomes, they never retry themselves.
///
/// The n-th retry waits `initial_backoff * multiplier^(n-1)`, capped at
/// `max_backoff`, then spread by ±`randomization_factor` (so that many
/// clients do not retry in lockstep). When the server sent a throttle hint
/// (gRPC `RetryInfo`, HTTP `Retry-After`) the wait is at least that hint.
/// Retries stop when the next wait would end after the batch's total
/// deadline (`BatchConfig::export_timeout`).
///
/// ```
/// use std::time::Duration;
/// use otlp_sdk::RetryPolicy;
///
/// let policy = RetryPolicy { randomization_factor: 0.0, ..RetryPolicy::default() };
/// assert_eq!(policy.delay(1, 0.5, None), Duration::from_secs(1));
/// assert_eq!(policy.delay(2, 0.5, None), Duration::from_millis(1500));
/// // A server hint longer than the backoff wins.
/// assert_eq!(policy.delay(1, 0.5, Some(Duration::from_secs(7))), Duration::from_secs(7));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Whether retryable failures are retried at all (default true).
    pub enabled: bool,
    /// Wait before the first retry (default 1 s).
    pub initial_backoff: Duration,
    /// Longest wait between two attempts, before jitter (default 30 s).
    pub max_backoff: Duration,
    /// Growth of the wait per retry (default 1.5).
    pub multiplier: f64,
    /// Jitter: the wait is spread uniformly over ±this fraction (default 0.5).
    pub randomization_factor: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            enabled: true,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            multiplier: 1.5,
            randomization_factor: 0.5,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn disabled() -> Self {
        RetryPolicy {
            enabled: false,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `retry` (1 for the first retry), given a
    /// uniform random number `random` in `[0, 1)` and the server's throttle hint.
    pub fn delay(&self, retry: u32, random: f64, throttle: Option<Duration>) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.initial_backoff.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let capped = base.min(self.max_backoff.as_secs_f64());
        let spread = self.randomization_factor.clamp(0.0, 1.0);
        let jittered = capped * (1.0 - spread + 2.0 * spread * random.clamp(0.0, 1.0));
        let backoff = Duration::try_from_secs_f64(jittered).unwrap_or(self.max_backoff);
        match throttle {
            Some(hint) => backoff.max(hint),
            None => backoff,
        }
    }
}

/// A uniform random number in `[0, 1)` for jitter (not cryptographic).
pub(crate) fn jitter_random() -> f64 {
    let bits = u64::from_be_bytes(otlp_core::SpanId::random().to_bytes());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps() {
        let policy = RetryPolicy {
            randomization_factor: 0.0,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            multiplier: 2.0,
            enabled: true,
        };
        let waits: Vec<u128> = (1..=5)
            .map(|n| policy.delay(n, 0.3, None).as_millis())
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 400, 400]);
    }

    #[test]
    fn jitter_stays_within_the_randomization_factor() {
        let policy = RetryPolicy::default();
        for _ in 0..1_000 {
            let wait = policy.delay(1, jitter_random(), None);
            assert!(wait >= Duration::from_millis(500) && wait <= Duration::from_millis(1500));
        }
        assert_eq!(policy.delay(1, 0.0, None), Duration::from_millis(500));
        assert_eq!(policy.delay(1, 1.0, None), Duration::from_millis(1500));
    }
}
