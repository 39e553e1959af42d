//! [`now_unix_nanos`]: span timestamps, read from the wall clock.
//!
//! Every reading is the wall clock itself, `CLOCK_REALTIME` (the clock
//! `SystemTime` reads; through the vDSO on Linux, about 20 ns), never a
//! value extrapolated from another counter. So a timestamp is exactly what
//! the system says the time is, whatever happened before it: a thread
//! preempted at any point, a processor whose counter changed rate, a virtual
//! machine paused and resumed, the kernel switching clock sources. A span's
//! duration is the difference of two such readings.
//!
//! The wall clock is not monotonic: when it is stepped (by an administrator
//! or an NTP client), readings follow the step. Span ends are clamped to
//! their start for that reason.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now, from the wall clock
/// (`CLOCK_REALTIME`). Does not allocate or lock: one `clock_gettime`,
/// which on Linux stays in user space (vDSO).
///
/// ```
/// use std::time::{SystemTime, UNIX_EPOCH};
///
/// let unix = |time: SystemTime| time.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
/// let before = unix(SystemTime::now());
/// let now = otlp_core::clock::now_unix_nanos();
/// let after = unix(SystemTime::now());
/// assert!(before <= now && now <= after);
/// ```
#[inline]
pub fn now_unix_nanos() -> u64 {
    #[cfg(unix)]
    {
        // CLOCK_REALTIME directly: the clock `SystemTime::now` reads, without
        // its checked arithmetic.
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
        let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
        let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
        seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
    }
    #[cfg(not(unix))]
    {
        unix_nanos(SystemTime::now())
    }
}

/// Nanoseconds since the Unix epoch of `time` (0 before the epoch, saturating
/// far in the future).
pub fn unix_nanos(time: SystemTime) -> u64 {
    // In 64-bit words (`as_nanos` is a 128-bit product and conversion).
    time.duration_since(UNIX_EPOCH).map_or(0, |elapsed| {
        elapsed
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(elapsed.subsec_nanos()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MS: u64 = 1_000_000;

    /// The wall clock as `SystemTime` reads it, independently of the code
    /// under test.
    fn system_now() -> u64 {
        unix_nanos(SystemTime::now())
    }

    #[test]
    fn every_reading_is_within_a_millisecond_of_the_wall_clock() {
        // Readings across a third of a second, with sleeps (the thread is
        // descheduled) and busy stretches in between: each lies between the
        // wall clock read just before and just after it. The millisecond of
        // slack is the requirement; a reading of the wall clock itself needs
        // none (it only absorbs a clock step between two reads).
        let end = system_now() + 300 * MS;
        let mut readings = 0u64;
        loop {
            let before = system_now();
            let now = now_unix_nanos();
            let after = system_now();
            assert!(
                now + MS >= before && now <= after + MS,
                "{before} <= {now} <= {after}, within 1 ms"
            );
            readings += 1;
            if after > end {
                break;
            }
            if readings.is_multiple_of(1_024) {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }

    #[test]
    fn a_duration_is_the_wall_clock_duration() {
        // A duration measured with two readings lies between the shortest
        // and the longest wall-clock interval that brackets it: no rate
        // error accumulates, however long the interval (0.1% of 50 ms would
        // be 50 µs; the bracket leaves none beyond the reads themselves).
        for pause in [
            Duration::ZERO,
            Duration::from_millis(1),
            Duration::from_millis(50),
        ] {
            let before_start = system_now();
            let start = now_unix_nanos();
            let after_start = system_now();
            std::thread::sleep(pause);
            let before_end = system_now();
            let end = now_unix_nanos();
            let after_end = system_now();
            let measured = end.saturating_sub(start);
            let shortest = before_end.saturating_sub(after_start);
            let longest = after_end.saturating_sub(before_start);
            assert!(
                shortest <= measured && measured <= longest,
                "{shortest} <= {measured} <= {longest} over {pause:?}"
            );
        }
    }

    #[test]
    fn unix_nanos_saturates_at_both_ends() {
        assert_eq!(unix_nanos(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(unix_nanos(UNIX_EPOCH + Duration::from_nanos(42)), 42);
        let recent = Duration::new(1_764_000_000, 123_456_789);
        assert_eq!(unix_nanos(UNIX_EPOCH + recent), 1_764_000_000_123_456_789);
        // The last representable nanosecond, and a second past it.
        let last = Duration::from_nanos(u64::MAX);
        assert_eq!(unix_nanos(UNIX_EPOCH + last), u64::MAX);
        if let Some(beyond) = UNIX_EPOCH.checked_add(last + Duration::from_secs(1)) {
            assert_eq!(unix_nanos(beyond), u64::MAX);
        }
    }
}
