//! [`now_unix_nanos`]: the wall clock, cheap enough to read twice per span.
//!
//! Every span reads the time when it starts and when it ends, and on a fast
//! tracer those two readings are a large share of the span's cost: about
//! 20 ns each through `clock_gettime(CLOCK_REALTIME)` (vDSO), against about
//! 9 ns to read the processor's time-stamp counter (TSC).
//!
//! So where the counter is trustworthy — x86-64 Linux, the processor reports
//! an *invariant* TSC (constant rate in every power state) and the kernel
//! itself keeps time with it (clocksource `tsc`) — a reading is the counter,
//! converted to Unix nanoseconds from an *anchor*: a counter value read
//! together with the wall clock, and the counter's rate measured against the
//! wall clock. The wall clock stays the reference:
//!
//! - for the first [`CALIBRATION`] after the first reading the rate is not
//!   known yet, and every reading is the wall clock;
//! - the anchor is renewed from the wall clock every [`RENEW_EVERY`], and the
//!   rate re-measured over that interval, so NTP slewing is followed and a
//!   clock step shows within that time;
//! - a rate that moves by more than 1% between renewals (a clock step in
//!   between, a migrated virtual machine) keeps the previous rate; a rate
//!   outside 50 MHz–20 GHz turns the counter off for good.
//!
//! Between renewals a reading is off the wall clock by the rate's error times
//! the time since the anchor: well under a microsecond. Durations measured
//! within one anchor are exact counter differences; a span that straddles a
//! renewal may see the anchor move by that sub-microsecond error, which is
//! why span ends are clamped to their start.
//!
//! Everywhere else the reading is the wall clock.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering, fence};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the counter's rate is measured before it is used.
pub const CALIBRATION: Duration = Duration::from_millis(20);

/// How often the anchor is renewed from the wall clock.
pub const RENEW_EVERY: Duration = Duration::from_millis(250);

/// Nanoseconds since the Unix epoch, now.
///
/// ```
/// use std::time::{SystemTime, UNIX_EPOCH};
///
/// let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
/// let now = otlp_core::clock::now_unix_nanos();
/// assert!(now.abs_diff(system) < 50_000_000);
/// ```
#[inline]
pub fn now_unix_nanos() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if tsc::usable() {
        let ticks = tsc::read();
        return ANCHOR
            .extrapolate(ticks)
            .unwrap_or_else(|| ANCHOR.renew_or_read_wall_clock());
    }
    wall_clock_unix_nanos()
}

/// Whether readings come from the time-stamp counter (once calibrated)
/// rather than from the wall clock each time.
pub fn uses_tsc() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if tsc::usable() {
        return true;
    }
    false
}

/// Nanoseconds since the Unix epoch of `time` (0 before the epoch, saturating
/// far in the future).
pub fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The wall clock. On Unix it reads `CLOCK_REALTIME` directly (the clock
/// `SystemTime` reads), skipping `SystemTime`'s checked arithmetic.
#[inline]
pub fn wall_clock_unix_nanos() -> u64 {
    #[cfg(unix)]
    {
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

static ANCHOR: Anchor = Anchor::new();

/// The counter's rate is kept as nanoseconds per tick in 32.32 fixed point.
const SCALE_SHIFT: u32 = 32;
/// 20 GHz: 0.05 ns per tick.
const MIN_SCALE: u64 = (1 << SCALE_SHIFT) / 20;
/// 50 MHz: 20 ns per tick.
const MAX_SCALE: u64 = 20 << SCALE_SHIFT;

/// A (counter, wall clock) pair and the counter's rate, published with a
/// sequence lock: a writer makes `seq` odd, stores, then makes it even; a
/// reader retries nothing — it takes the wall clock when it sees a write in
/// progress or a change of `seq` across its loads. Every field is atomic, so
/// a torn read is detected, never undefined.
struct Anchor {
    seq: AtomicU64,
    ticks: AtomicU64,
    unix: AtomicU64,
    /// Nanoseconds per tick, 32.32 fixed point; 0 until calibrated.
    scale: AtomicU64,
    /// Counter value after which the anchor is renewed.
    renew_at: AtomicU64,
    /// One renewer at a time; the others read the wall clock meanwhile.
    renewing: AtomicBool,
}

/// One consistent reading of an [`Anchor`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AnchorState {
    ticks: u64,
    unix: u64,
    scale: u64,
}

impl Anchor {
    const fn new() -> Self {
        Anchor {
            seq: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            unix: AtomicU64::new(0),
            scale: AtomicU64::new(0),
            renew_at: AtomicU64::new(0),
            renewing: AtomicBool::new(false),
        }
    }

    /// The state and renewal point, or `None` while a write is in progress.
    #[inline]
    fn load(&self) -> Option<(AnchorState, u64)> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let state = AnchorState {
            ticks: self.ticks.load(Ordering::Relaxed),
            unix: self.unix.load(Ordering::Relaxed),
            scale: self.scale.load(Ordering::Relaxed),
        };
        let renew_at = self.renew_at.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == before).then_some((state, renew_at))
    }

    /// Unix nanoseconds at counter value `ticks`, if the anchor is
    /// calibrated, current, and not being renewed.
    #[inline]
    fn extrapolate(&self, ticks: u64) -> Option<u64> {
        let (state, renew_at) = self.load()?;
        if state.scale == 0 || ticks < state.ticks || ticks >= renew_at {
            return None;
        }
        let elapsed = (u128::from(ticks - state.ticks) * u128::from(state.scale)) >> SCALE_SHIFT;
        Some(state.unix.saturating_add(elapsed as u64))
    }

    /// Reads the wall clock and, unless another thread is already at it,
    /// renews the anchor from that reading. Returns the wall clock.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    #[cold]
    fn renew_or_read_wall_clock(&self) -> u64 {
        // The counter read on both sides of the wall clock, so the pair is
        // matched to within one wall-clock read.
        let before = tsc::read();
        let unix = wall_clock_unix_nanos();
        let after = tsc::read();
        if self
            .renewing
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            let ticks = before + (after.wrapping_sub(before) / 2);
            if !self.renew(ticks, unix) {
                tsc::disable();
            }
            self.renewing.store(false, Ordering::Release);
        }
        unix
    }

    /// Renews the anchor from a matched (counter, wall clock) pair. The
    /// caller holds `renewing`. Returns false, leaving the anchor as it was,
    /// when the measured rate is implausible: the counter is unusable.
    fn renew(&self, ticks: u64, unix: u64) -> bool {
        let Some((previous, _)) = self.load() else {
            // Only a renewer writes, and the caller is the renewer.
            return true;
        };
        let calibration = CALIBRATION.as_nanos() as u64;
        let first_reading = previous.ticks == 0 && previous.unix == 0;
        let since = unix.checked_sub(previous.unix);
        let measured = match (first_reading, since) {
            (false, Some(elapsed)) if elapsed >= calibration && ticks > previous.ticks => Some(
                ((u128::from(elapsed) << SCALE_SHIFT) / u128::from(ticks - previous.ticks)) as u64,
            ),
            _ => None,
        };
        let scale = match (measured, previous.scale) {
            // Too early to measure: keep the first pair as the origin.
            (None, 0) if !first_reading && since.is_some_and(|elapsed| elapsed < calibration) => {
                return true;
            }
            (None, 0) => 0,
            (None, kept) => kept,
            (Some(rate), _) if !(MIN_SCALE..=MAX_SCALE).contains(&rate) => return false,
            (Some(rate), 0) => rate,
            // Within 1% of the previous rate: follow it; otherwise the
            // interval held a clock step, and the previous rate stands.
            (Some(rate), kept) if rate.abs_diff(kept) <= kept / 100 => rate,
            (Some(_), kept) => kept,
        };
        let renew_at = if scale == 0 {
            0
        } else {
            let period =
                (u128::from(RENEW_EVERY.as_nanos() as u64) << SCALE_SHIFT) / u128::from(scale);
            ticks.saturating_add(u64::try_from(period).unwrap_or(u64::MAX))
        };
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.ticks.store(ticks, Ordering::Relaxed);
        self.unix.store(unix, Ordering::Relaxed);
        self.scale.store(scale, Ordering::Relaxed);
        self.renew_at.store(renew_at, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
        true
    }
}

/// The time-stamp counter on x86-64 Linux.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod tsc {
    use super::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const USABLE: u8 = 1;
    const UNUSABLE: u8 = 2;

    static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// Whether the counter may be used: decided once, on first use.
    #[inline]
    pub(super) fn usable() -> bool {
        match STATE.load(Ordering::Relaxed) {
            USABLE => true,
            UNUSABLE => false,
            _ => decide(),
        }
    }

    #[cold]
    fn decide() -> bool {
        let usable = invariant() && kernel_keeps_time_with_it();
        STATE.store(if usable { USABLE } else { UNUSABLE }, Ordering::Relaxed);
        usable
    }

    /// Stops using the counter (its rate was implausible).
    pub(super) fn disable() {
        STATE.store(UNUSABLE, Ordering::Relaxed);
    }

    /// CPUID says the counter runs at a constant rate in every power state.
    fn invariant() -> bool {
        use std::arch::x86_64::__cpuid;
        const ADVANCED_POWER_MANAGEMENT: u32 = 0x8000_0007;
        const INVARIANT_TSC: u32 = 1 << 8;
        __cpuid(0x8000_0000).eax >= ADVANCED_POWER_MANAGEMENT
            && __cpuid(ADVANCED_POWER_MANAGEMENT).edx & INVARIANT_TSC != 0
    }

    /// The kernel trusts the counter enough to keep time with it (it
    /// switches away from a counter it finds unstable).
    fn kernel_keeps_time_with_it() -> bool {
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .is_ok_and(|source| source.trim() == "tsc")
    }

    /// The counter now.
    #[inline]
    #[allow(unsafe_code)]
    pub(super) fn read() -> u64 {
        // SAFETY: RDTSC exists on every x86-64 processor (it predates the
        // architecture), so the intrinsic's only requirement, that the
        // instruction exist, holds; it reads a register and touches no
        // memory. A process that made it trap (`prctl(PR_SET_TSC,
        // PR_TSC_SIGSEGV)`) gets a signal, not undefined behaviour. Exercised
        // by `the_clock_follows_the_wall_clock`.
        unsafe { std::arch::x86_64::_rdtsc() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A counter at 2.5 GHz starting at `base` ticks.
    fn ticks_at(base: u64, nanos: u64) -> u64 {
        base + nanos * 5 / 2
    }

    #[test]
    fn the_anchor_is_calibrated_then_extrapolates() {
        let anchor = Anchor::new();
        let (base, start) = (1_000_000, 1_700_000_000_000_000_000);
        assert!(anchor.renew(ticks_at(base, 0), start));
        assert_eq!(
            anchor.extrapolate(ticks_at(base, 1)),
            None,
            "not calibrated"
        );
        // Too early to measure: the origin stays.
        assert!(anchor.renew(ticks_at(base, 5 * MS), start + 5 * MS));
        assert_eq!(anchor.extrapolate(ticks_at(base, 6 * MS)), None);
        assert!(anchor.renew(ticks_at(base, 40 * MS), start + 40 * MS));
        let at = |nanos| anchor.extrapolate(ticks_at(base, nanos));
        let error = |nanos: u64| at(nanos).map(|unix| unix.abs_diff(start + nanos));
        assert!(
            error(41 * MS).is_some_and(|error| error <= 1),
            "{:?}",
            error(41 * MS)
        );
        assert!(error(200 * MS).is_some_and(|error| error <= 1));
        // Stale after RENEW_EVERY; before the anchor: the wall clock instead.
        assert_eq!(at(40 * MS + RENEW_EVERY.as_nanos() as u64 + MS), None);
        assert_eq!(anchor.extrapolate(ticks_at(base, 0)), None);
    }

    #[test]
    fn a_clock_step_moves_the_anchor_but_keeps_the_rate() {
        let anchor = Anchor::new();
        let (base, start) = (0, 1_700_000_000_000_000_000);
        anchor.renew(ticks_at(base, MS), start);
        anchor.renew(ticks_at(base, 101 * MS), start + 100 * MS);
        let scale = anchor.load().map(|(state, _)| state.scale);
        // The wall clock jumps one second ahead between two renewals.
        let step = 1_000 * MS;
        anchor.renew(ticks_at(base, 351 * MS), start + 350 * MS + step);
        assert_eq!(anchor.load().map(|(state, _)| state.scale), scale);
        let now = anchor.extrapolate(ticks_at(base, 361 * MS));
        assert!(now.is_some_and(|unix| unix.abs_diff(start + 360 * MS + step) <= 1));
    }

    #[test]
    fn an_implausible_rate_turns_the_counter_off() {
        let anchor = Anchor::new();
        anchor.renew(100, 1_000);
        // 30 ms of wall clock in 10 ticks: a 333 Hz counter.
        assert!(!anchor.renew(110, 1_000 + 30 * MS));
        // The anchor is left uncalibrated (and the caller stops using the counter).
        assert_eq!(anchor.load().map(|(state, _)| state.scale), Some(0));
        assert_eq!(anchor.extrapolate(111), None);
    }

    #[test]
    fn the_clock_follows_the_wall_clock() {
        // Across calibration and at least one renewal, every reading is
        // within a millisecond of the wall clock read around it, and
        // readings on one thread do not go back by more than that.
        let end = wall_clock_unix_nanos() + 2 * RENEW_EVERY.as_nanos() as u64;
        let mut last = 0;
        let mut readings = 0u64;
        loop {
            let before = wall_clock_unix_nanos();
            let now = now_unix_nanos();
            let after = wall_clock_unix_nanos();
            assert!(
                now + MS >= before && now <= after + MS,
                "{before} <= {now} <= {after}, within 1 ms"
            );
            assert!(now + MS >= last, "{now} went back from {last}");
            last = now;
            readings += 1;
            if after > end {
                break;
            }
            if readings.is_multiple_of(1_024) {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        let renewed = ANCHOR.load().is_some_and(|(state, _)| state.scale != 0);
        assert_eq!(
            renewed,
            uses_tsc(),
            "calibrated exactly when the counter is used"
        );
    }

    #[test]
    fn unix_nanos_saturates_at_both_ends() {
        assert_eq!(unix_nanos(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(unix_nanos(UNIX_EPOCH + Duration::from_nanos(42)), 42);
    }
}
