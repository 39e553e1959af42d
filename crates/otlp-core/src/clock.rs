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
//! their start for that reason: a step back while a span runs gives it a
//! zero duration, a step forward lengthens it by the step, and time the
//! machine spent suspended counts. Event times are not clamped (an event
//! read after a step back may come before its span's start). This is the
//! choice `opentelemetry_sdk` makes; SDKs that anchor a monotonic clock to
//! one wall-clock reading per trace (Java, JavaScript, .NET) keep durations
//! through steps but drift from the wall clock while a trace lasts. The
//! specification requires neither.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now, from the wall clock
/// (`CLOCK_REALTIME`): 0 while the clock is set before 1970, saturating
/// past what `u64` nanoseconds hold (the year 2554), as [`unix_nanos`].
/// Does not allocate or lock: one `clock_gettime`, which on Linux stays in
/// user space (vDSO).
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
        timespec_unix_nanos(rustix::time::clock_gettime(rustix::time::ClockId::Realtime))
    }
    #[cfg(not(unix))]
    {
        unix_nanos(SystemTime::now())
    }
}

/// Nanoseconds since the Unix epoch of a `CLOCK_REALTIME` reading: 0
/// before the epoch, saturating far in the future, as [`unix_nanos`].
#[cfg(unix)]
#[inline]
fn timespec_unix_nanos(now: rustix::time::Timespec) -> u64 {
    // Before the epoch the seconds are negative and the nanoseconds count
    // forward from them (-1 s + 500,000,000 ns is half a second before):
    // the nanoseconds alone would read as a time after the epoch.
    let Ok(seconds) = u64::try_from(now.tv_sec) else {
        return 0;
    };
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
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

    /// A wall clock set before 1970 (a board without a battery-backed
    /// clock, a test rig): the reading is 0, as `unix_nanos` makes of the
    /// same instant and as `now_unix_nanos` is off Unix. `CLOCK_REALTIME`
    /// gives half a second before the epoch as -1 s + 500,000,000 ns.
    #[cfg(unix)]
    #[test]
    fn a_wall_clock_before_the_epoch_reads_as_unix_nanos_reads_that_instant() {
        use rustix::time::Timespec;

        let cases = [
            // (seconds, nanoseconds): the reading and the same instant as a `SystemTime`.
            (-1, 500_000_000, UNIX_EPOCH - Duration::from_millis(500)),
            (-1, 999_999_999, UNIX_EPOCH - Duration::from_nanos(1)),
            (-2, 0, UNIX_EPOCH - Duration::from_secs(2)),
            (-86_400, 1, UNIX_EPOCH - Duration::new(86_399, 999_999_999)),
            (0, 0, UNIX_EPOCH),
            (0, 42, UNIX_EPOCH + Duration::from_nanos(42)),
            (
                1_764_000_000,
                123_456_789,
                UNIX_EPOCH + Duration::new(1_764_000_000, 123_456_789),
            ),
        ];
        for (tv_sec, tv_nsec, instant) in cases {
            assert_eq!(
                timespec_unix_nanos(Timespec { tv_sec, tv_nsec }),
                unix_nanos(instant),
                "{tv_sec} s + {tv_nsec} ns"
            );
        }
        // Far in the future, both saturate.
        let far = Timespec {
            tv_sec: i64::MAX,
            tv_nsec: 999_999_999,
        };
        assert_eq!(timespec_unix_nanos(far), u64::MAX);
    }
}
