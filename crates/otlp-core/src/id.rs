//! [`TraceId`] and [`SpanId`]: fixed-size identifiers with hex forms and fast random generation.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;

use crate::error::IdError;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $len:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name([u8; $len]);

        impl $name {
            /// The all-zero identifier, which the W3C and OTLP specifications define as invalid.
            pub const INVALID: $name = $name([0; $len]);

            /// Wraps raw bytes (big-endian, as on the wire).
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }

            /// The raw bytes (big-endian, as on the wire).
            pub const fn to_bytes(self) -> [u8; $len] {
                self.0
            }

            /// A borrowed view of the raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Whether the identifier is valid, that is not all zeros.
            pub fn is_valid(&self) -> bool {
                self.0 != [0; $len]
            }

            /// Parses lowercase or uppercase hex of exactly the right length.
            ///
            /// The all-zero value parses (it is well-formed); check [`Self::is_valid`]
            /// when validity matters.
            pub fn from_hex(hex: &str) -> Result<Self, IdError> {
                decode_hex::<$len>(hex, false, $what).map($name)
            }

            /// Parses strictly lowercase hex, as W3C Trace Context requires.
            pub fn from_lower_hex(hex: &str) -> Result<Self, IdError> {
                decode_hex::<$len>(hex, true, $what).map($name)
            }

            /// Writes the lowercase hex form into `out` and returns it as a `&str`.
            /// Does not allocate.
            pub fn encode_hex<'a>(&self, out: &'a mut [u8; $len * 2]) -> &'a str {
                encode_hex_into(&self.0, out)
            }

            /// A random valid identifier from a fast thread-local generator
            /// (not cryptographically secure; never all zeros). Does not allocate or lock.
            pub fn random() -> Self {
                let mut bytes = [0u8; $len];
                loop {
                    fill_random(&mut bytes);
                    if bytes != [0; $len] {
                        return $name(bytes);
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut out = [0u8; $len * 2];
                f.write_str(self.encode_hex(&mut out))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(hex: &str) -> Result<Self, IdError> {
                Self::from_hex(hex)
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                $name(bytes)
            }
        }
    };
}

define_id!(
    /// A 16-byte trace identifier, shared by every span of one trace.
    ///
    /// `Copy`, 16 bytes, no heap. Displays as 32 lowercase hex digits.
    ///
    /// ```
    /// use otlp_core::TraceId;
    ///
    /// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
    /// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert!(id.is_valid() && !TraceId::INVALID.is_valid());
    /// # Ok::<(), otlp_core::IdError>(())
    /// ```
    TraceId,
    16,
    "trace id"
);

define_id!(
    /// An 8-byte span identifier, unique within its trace.
    ///
    /// `Copy`, 8 bytes, no heap. Displays as 16 lowercase hex digits.
    ///
    /// ```
    /// use otlp_core::SpanId;
    ///
    /// let id = SpanId::random();
    /// assert!(id.is_valid());
    /// assert_eq!(SpanId::from_hex(&id.to_string())?, id);
    /// # Ok::<(), otlp_core::IdError>(())
    /// ```
    SpanId,
    8,
    "span id"
);

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn encode_hex_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    debug_assert_eq!(out.len(), bytes.len() * 2);
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
    // Every byte written above is an ASCII hex digit.
    match std::str::from_utf8(out) {
        Ok(text) => text,
        Err(_) => unreachable!("hex digits are ASCII"),
    }
}

fn hex_value(digit: u8, lowercase_only: bool) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' if !lowercase_only => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn decode_hex<const N: usize>(
    hex: &str,
    lowercase_only: bool,
    what: &'static str,
) -> Result<[u8; N], IdError> {
    let digits = hex.as_bytes();
    if digits.len() != N * 2 {
        // Characters, as the message says: a multibyte one counts once.
        let found = hex.chars().count();
        if found == N * 2 {
            // The right number of characters, one of them multibyte: that
            // one is the error ("must be 32 hex digits, found 32" is none).
            let position = hex
                .chars()
                .position(|digit| {
                    !digit.is_ascii() || hex_value(digit as u8, lowercase_only).is_none()
                })
                .unwrap_or_default();
            return Err(IdError::Digit {
                what,
                position,
                lowercase_only,
            });
        }
        return Err(IdError::Length {
            what,
            expected: N * 2,
            found,
        });
    }
    let mut bytes = [0u8; N];
    for (index, pair) in digits.chunks_exact(2).enumerate() {
        let high = hex_value(pair[0], lowercase_only);
        let low = hex_value(pair[1], lowercase_only);
        match (high, low) {
            (Some(high), Some(low)) => bytes[index] = (high << 4) | low,
            _ => {
                let position = if high.is_none() {
                    index * 2
                } else {
                    index * 2 + 1
                };
                return Err(IdError::Digit {
                    what,
                    position,
                    lowercase_only,
                });
            }
        }
    }
    Ok(bytes)
}

thread_local! {
    static RNG: ThreadRng = ThreadRng::new();
}

/// One thread's generator: two wyrand states, and the number of forks of
/// the process ([`forks::count`]) when they were seeded.
///
/// Two states, not one: an id's 8-byte words are drawn from them in turn, so
/// a trace id's two halves come from two independent sequences. Every
/// wyrand sequence is the same cycle of 2^64 numbers entered at its seed, so
/// with one state two threads (of a fleet's processes) whose seeds fall
/// close on that cycle would draw the same run of trace ids, whole, once the
/// later one reached the earlier's start: a chance of about threads² × ids
/// per thread / 2^64 (a tenth for 100,000 threads drawing 10^8 ids each).
/// With two, the runs repeat only if both sequences line up at the same
/// distance, which random 128-bit ids make negligible. A span id (8 bytes)
/// needs to differ within its trace only, and takes one word.
///
/// A child of `fork()` starts as a copy of the forking thread, generator
/// included: unless it reseeds, it draws the very ids its parent draws next.
/// So every draw first compares the fork count it was seeded after with the
/// current one (a thread-local and a global load), and a thread that finds
/// itself in a new process reseeds before drawing.
struct ThreadRng {
    states: [Cell<u64>; 2],
    seeded_after: Cell<u64>,
}

impl ThreadRng {
    fn new() -> Self {
        // Watch forks before the first draw, so no draw escapes the watch.
        forks::watch();
        ThreadRng {
            seeded_after: Cell::new(forks::count()),
            states: [Cell::new(seed(0)), Cell::new(seed(1))],
        }
    }

    /// The states to draw from, reseeded first in a child of `fork()`.
    #[inline]
    fn states(&self) -> &[Cell<u64>; 2] {
        let forks = forks::count();
        if self.seeded_after.get() != forks {
            self.reseed(forks);
        }
        &self.states
    }

    #[cold]
    fn reseed(&self, forks: u64) {
        self.states[0].set(seed(0));
        self.states[1].set(seed(1));
        self.seeded_after.set(forks);
    }
}

/// A per-thread seed of the thread's state `which`: std's randomly keyed
/// hasher over the process id, the thread id, the clock and `which`. After
/// a fork the hasher's keys are the parent's (they live in the copied
/// thread); the process id tells the children of one parent apart, and the
/// parent from them.
fn seed(which: u8) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    RandomState::new().hash_one((
        std::process::id(),
        std::thread::current().id(),
        nanos,
        which,
    ))
}

/// wyrand: a small, fast, statistically good 64-bit generator.
fn next_random(state: &Cell<u64>) -> u64 {
    let next = state.get().wrapping_add(0xa076_1d64_78bd_642f);
    state.set(next);
    let product = u128::from(next) * u128::from(next ^ 0xe703_7ed1_a0b4_28db);
    ((product >> 64) as u64) ^ (product as u64)
}

fn fill_random(bytes: &mut [u8]) {
    RNG.with(|rng| fill_from(rng.states(), bytes));
}

/// Fills `bytes` with words drawn from `states` in turn (see [`ThreadRng`]).
fn fill_from(states: &[Cell<u64>; 2], bytes: &mut [u8]) {
    for (chunk, state) in bytes.chunks_mut(8).zip(states.iter().cycle()) {
        let word = next_random(state).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// How many times the process has forked, as far as the generators care: a
/// `pthread_atfork` handler counts forks in the child.
#[cfg(unix)]
mod forks {
    use std::sync::Once;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Forks seen in the child, or [`UNWATCHED`].
    static COUNT: AtomicU64 = AtomicU64::new(0);
    /// The handler could not be registered (`pthread_atfork` failed for
    /// lack of memory): [`count`] falls back to the process id.
    const UNWATCHED: u64 = u64::MAX;
    static WATCH: Once = Once::new();

    /// The number of forks that led to this process, or, if they cannot be
    /// watched, a value that changes with the process id. One relaxed load
    /// when watched: the handler runs in the child on the thread that forked,
    /// before `fork` returns there, and the child has no other thread.
    #[inline]
    pub(super) fn count() -> u64 {
        match COUNT.load(Ordering::Relaxed) {
            UNWATCHED => u64::from(std::process::id()) | 1 << 63,
            forks => forks,
        }
    }

    /// Registers the handler that counts forks, once per process (a child
    /// inherits its parent's handlers).
    pub(super) fn watch() {
        WATCH.call_once(|| {
            if ffi::register_counted_fork() != 0 {
                COUNT.store(UNWATCHED, Ordering::Relaxed);
            }
        });
    }

    /// Runs in the child of every `fork()`. Only async-signal-safe work is
    /// allowed there (the parent may have had other threads): one atomic
    /// add, which cannot panic.
    extern "C" fn counted_fork() {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }

    #[allow(unsafe_code)]
    mod ffi {
        use std::ffi::c_int;

        unsafe extern "C" {
            /// POSIX; in the C library that every Rust program on Unix links
            /// (declared as the `libc` crate declares it).
            fn pthread_atfork(
                prepare: Option<unsafe extern "C" fn()>,
                parent: Option<unsafe extern "C" fn()>,
                child: Option<unsafe extern "C" fn()>,
            ) -> c_int;
        }

        /// Runs [`counted_fork`](super::counted_fork) in the child process
        /// after every later `fork()`. Returns 0, or the error number
        /// (`ENOMEM`).
        pub(super) fn register_counted_fork() -> c_int {
            // SAFETY: the declaration matches POSIX's `int
            // pthread_atfork(void (*)(void), void (*)(void), void
            // (*)(void))` (a nullable function pointer is an `Option` of
            // one); it may be called at any time from any thread. The one
            // handler is a safe `extern "C"` function that cannot unwind;
            // `counted_fork` is async-signal-safe, as a handler run in a
            // child must be.
            unsafe { pthread_atfork(None, None, Some(super::counted_fork)) }
        }
    }
}

/// Without `fork()` there is nothing to watch: the count stays 0.
#[cfg(not(unix))]
mod forks {
    #[inline]
    pub(super) fn count() -> u64 {
        0
    }

    pub(super) fn watch() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn hex_round_trips_and_is_lowercase() {
        let id = TraceId::from_bytes([0xAB; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(TraceId::from_hex(&"AB".repeat(16)).ok(), Some(id));
    }

    #[test]
    fn lower_hex_parse_rejects_uppercase_and_names_the_position() {
        let err = SpanId::from_lower_hex("00f067aa0ba902B7").unwrap_err();
        assert_eq!(
            err,
            IdError::Digit {
                what: "span id",
                position: 14,
                lowercase_only: true
            }
        );
    }

    #[test]
    fn wrong_length_is_reported_with_both_lengths() {
        let err = TraceId::from_hex("abc").unwrap_err();
        assert!(err.to_string().contains("32"), "{err}");
        assert!(err.to_string().contains('3'), "{err}");
    }

    #[test]
    fn id_errors_read_well_and_count_characters_not_bytes() {
        let err = TraceId::from_hex(&"g".repeat(32)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "trace id has a character that is not a hex digit at position 0"
        );
        let err = SpanId::from_lower_hex("00f067aa0ba902B7").unwrap_err();
        assert_eq!(
            err.to_string(),
            "span id has a character that is not a lowercase hex digit at position 14"
        );
        // "é" is one character of two bytes.
        let err = SpanId::from_hex("\u{e9}").unwrap_err();
        assert_eq!(
            err,
            IdError::Length {
                what: "span id",
                expected: 16,
                found: 1
            }
        );
        assert_eq!(
            err.to_string(),
            "span id must be 16 hex digits, found 1 characters"
        );
    }

    #[test]
    fn the_right_number_of_characters_with_a_multibyte_one_names_that_character() {
        // 32 characters, 33 bytes: the length is right, the "é" is not a digit.
        let hex = format!("{}\u{e9}{}", "0".repeat(5), "0".repeat(26));
        let err = TraceId::from_hex(&hex).unwrap_err();
        assert_eq!(
            err,
            IdError::Digit {
                what: "trace id",
                position: 5,
                lowercase_only: false
            }
        );
        let err = SpanId::from_lower_hex(&format!("\u{20ac}{}", "a".repeat(15))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "span id has a character that is not a lowercase hex digit at position 0"
        );
        // A wrong number of characters is still a length error.
        let err = SpanId::from_hex(&format!("\u{e9}{}", "0".repeat(15))).unwrap_err();
        assert!(matches!(err, IdError::Digit { position: 0, .. }), "{err}");
        let err = SpanId::from_hex(&format!("\u{e9}{}", "0".repeat(16))).unwrap_err();
        assert_eq!(
            err,
            IdError::Length {
                what: "span id",
                expected: 16,
                found: 17
            }
        );
    }

    /// Two generators whose first states lie on the same spot of wyrand's
    /// cycle (one thread's seed falling where another's sequence has come
    /// to) still draw different trace ids: the second halves come from
    /// states of their own. (With one state per thread, as before, the two
    /// drew the same trace ids from there on.)
    #[test]
    fn trace_ids_differ_when_one_of_two_sequences_lines_up() {
        let first = [Cell::new(0x1234_5678_9abc_def0), Cell::new(42)];
        let second = [Cell::new(0x1234_5678_9abc_def0), Cell::new(4242)];
        let mut shared_halves = 0;
        for _ in 0..1_000 {
            let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
            fill_from(&first, &mut a);
            fill_from(&second, &mut b);
            assert_ne!(a, b);
            shared_halves += usize::from(a[..8] == b[..8]);
        }
        assert_eq!(shared_halves, 1_000, "the first halves line up, as set");
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let ids: HashSet<SpanId> = (0..10_000).map(|_| SpanId::random()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(SpanId::is_valid));
    }
}
