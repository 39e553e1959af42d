//! Deadlines from durations that may be too long for [`Instant`].
//!
//! A timeout or delay is a [`Duration`], and users may give any: a public
//! config field set to `Duration::MAX` means "no limit". `Instant + Duration`
//! panics when the sum does not fit, and on the export loop's thread such a
//! panic would stop the pipeline. Every deadline the pipeline, the exporters
//! and the bridges compute from a duration they did not choose themselves
//! goes through [`later`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use otlp_sdk::deadline::deadline_after;
//!
//! assert!(deadline_after(Duration::MAX) > Instant::now() + Duration::from_secs(3600));
//! ```

use std::time::{Duration, Instant};

/// What "no deadline" becomes: a century, far beyond any process's life and
/// well inside what `Instant` holds on every platform.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `wait` after `from`; a wait too long for `Instant` ends a century after
/// `from` instead of overflowing.
pub fn later(from: Instant, wait: Duration) -> Instant {
    from.checked_add(wait)
        .or_else(|| from.checked_add(FAR_FUTURE))
        .unwrap_or(from)
}

/// `timeout` from now; see [`later`].
pub fn deadline_after(timeout: Duration) -> Instant {
    later(Instant::now(), timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_too_long_for_an_instant_ends_a_century_later() {
        let now = Instant::now();
        assert_eq!(later(now, Duration::MAX), now + FAR_FUTURE);
        assert_eq!(
            later(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(deadline_after(Duration::MAX) > now + Duration::from_secs(3600));
    }
}
