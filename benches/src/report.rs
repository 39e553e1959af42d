//! The ratio each suite prints when it finishes, and how a suite knows
//! whether it is measuring at all.
//!
//! Criterion reports each benchmark on its own. To state a ratio against the
//! baseline, a suite measures both sides once more after criterion is done,
//! **interleaved**: round after round, one call of each side, alternating
//! which goes first, until a time budget is spent. Each side's figure is the
//! median of its per-call times, so a burst of noise (another process, a
//! frequency change) hits both sides alike and outliers do not move it.
//! Each closure times its own call, so per-call setup (such as cloning the
//! baseline's input batch, which it consumes) stays out of the figure.
//!
//! The figures are close to criterion's, which remain the detailed record
//! (`target/criterion/<group>/<benchmark>/new/estimates.json`).
//!
//! ```
//! use std::time::Duration;
//! use otlp_benches::report::{Comparison, Interleaved, time};
//!
//! let timing = Interleaved { budget: Duration::ZERO, min_rounds: 3 }.run(
//!     || time(|| (0..100u64).sum::<u64>()),
//!     || time(|| (0..100u64).map(|x| x * x).sum::<u64>()),
//! );
//! let line = Comparison::new("demo/sum", "fast", "slow", 100, timing);
//! assert!(line.to_string().starts_with("demo/sum: fast "));
//! ```

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// What the bench binary was asked to do, decided from its arguments the way
/// criterion decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// `cargo bench`: measure.
    Benchmark,
    /// `cargo test --benches` or `cargo bench -- --test`: run each benchmark once.
    Test,
    /// `--list`: only name the benchmarks.
    List,
    /// `--profile-time`: run under a profiler, no analysis.
    Profile,
}

impl RunMode {
    /// The mode for this process's command line.
    pub fn from_env() -> Self {
        RunMode::from_args(std::env::args().skip(1))
    }

    /// The mode for these arguments (without the program name).
    pub fn from_args<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let (mut bench, mut test, mut list, mut profile) = (false, false, false, false);
        for arg in args {
            match arg.as_ref() {
                "--bench" => bench = true,
                "--test" => test = true,
                "--list" => list = true,
                arg if arg.starts_with("--profile-time") => profile = true,
                _ => {}
            }
        }
        if list {
            RunMode::List
        } else if test || !bench {
            // cargo bench passes --bench; cargo test --benches does not.
            RunMode::Test
        } else if profile {
            RunMode::Profile
        } else {
            RunMode::Benchmark
        }
    }
}

/// Puts the system allocator in the steady state of a process that has
/// already freed a large buffer. Call it first thing in a suite's `main`.
///
/// glibc's `malloc` gives the top of its heap back to the kernel whenever
/// more than 128 KiB of it is free, until the process frees a large
/// allocation: then it raises that threshold to twice the allocation's size.
/// A fresh bench process that frees a batch of spans and allocates the next
/// one would otherwise return the memory and fault it back in, page by page,
/// on every iteration, timing the kernel instead of the code (measured: a
/// million minor page faults per run, and one side's clone twice as slow,
/// depending only on where its memory happened to sit). Freeing one 16 MiB
/// buffer sets the threshold to 32 MiB, as any long-running exporter that has
/// sent a large batch has it. Other allocators ignore it; it costs one
/// `mmap`/`munmap` pair.
pub fn settle_allocator() {
    drop(black_box(Vec::<u8>::with_capacity(16 << 20)));
}

/// Runs `work` once and returns how long it took; its result is kept
/// opaque to the optimiser and dropped after the clock stops.
pub fn time<R>(work: impl FnOnce() -> R) -> Duration {
    let start = Instant::now();
    let output = black_box(work());
    let elapsed = start.elapsed();
    drop(output);
    elapsed
}

/// An interleaved measurement of two sides; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interleaved {
    /// Keep adding rounds until this much time has passed...
    pub budget: Duration,
    /// ...and at least this many rounds have run.
    pub min_rounds: usize,
}

impl Interleaved {
    /// The measurement to run after criterion in `mode`: about two seconds
    /// when benchmarking, one round when testing, none when listing or profiling.
    pub fn for_mode(mode: RunMode) -> Option<Self> {
        match mode {
            RunMode::Benchmark => Some(Interleaved {
                budget: Duration::from_secs(2),
                min_rounds: 21,
            }),
            RunMode::Test => Some(Interleaved {
                budget: Duration::ZERO,
                min_rounds: 1,
            }),
            RunMode::List | RunMode::Profile => None,
        }
    }

    /// Alternates calls of `ours` and `baseline` (each returns the duration of
    /// one call of its side) and returns each side's median.
    pub fn run(
        &self,
        mut ours: impl FnMut() -> Duration,
        mut baseline: impl FnMut() -> Duration,
    ) -> Timing {
        let (rounds, medians) = self.run_sides(&mut [&mut ours, &mut baseline]);
        Timing {
            rounds,
            ours: medians[0],
            baseline: medians[1],
        }
    }

    /// Like [`run`](Self::run) for any number of sides: every round calls
    /// each side once, starting with a different side each round. Returns
    /// the rounds run and each side's median, in the order given.
    pub fn run_sides(&self, sides: &mut [&mut dyn FnMut() -> Duration]) -> (usize, Vec<Duration>) {
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
        let start = Instant::now();
        let mut rounds = 0;
        while !sides.is_empty()
            && (rounds < self.min_rounds.max(1) || start.elapsed() < self.budget)
        {
            for offset in 0..sides.len() {
                let side = (rounds + offset) % sides.len();
                samples[side].push(sides[side]());
            }
            rounds += 1;
        }
        (
            rounds,
            samples.iter_mut().map(|side| median(side)).collect(),
        )
    }

    /// This measurement with another time budget.
    pub fn with_budget(self, budget: Duration) -> Self {
        Interleaved { budget, ..self }
    }
}

fn median(samples: &mut [Duration]) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Median per-call times of the two sides of an [`Interleaved`] run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Rounds run (one call of each side per round).
    pub rounds: usize,
    /// Median time of one call of our side.
    pub ours: Duration,
    /// Median time of one call of the baseline side.
    pub baseline: Duration,
}

/// One line of a suite's final report: both sides per element and the ratio.
///
/// Displays as `encode/protobuf: otlp-core 85.1 ns/span, baseline 610.3
/// ns/span, 7.2x faster (21 interleaved rounds)`. Elements are spans unless
/// [`with_unit`](Comparison::with_unit) says otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// What is compared, `group/case`.
    pub name: String,
    /// Our side's label.
    pub ours_label: String,
    /// The baseline's label.
    pub baseline_label: String,
    /// Elements (spans) per call.
    pub elements: u64,
    /// The measurement.
    pub timing: Timing,
    /// The ratio this comparison must reach, if it has a goal.
    pub goal: Option<f64>,
    /// What one element is (`span` unless set), for `ns/<unit>`.
    pub unit: &'static str,
}

impl Comparison {
    /// A comparison of `timing`, whose calls each handle `elements` spans.
    pub fn new(
        name: impl Into<String>,
        ours_label: impl Into<String>,
        baseline_label: impl Into<String>,
        elements: u64,
        timing: Timing,
    ) -> Self {
        Comparison {
            name: name.into(),
            ours_label: ours_label.into(),
            baseline_label: baseline_label.into(),
            elements,
            timing,
            goal: None,
            unit: "span",
        }
    }

    /// Names what one element is (`"buffer"` prints `ns/buffer`).
    pub fn with_unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }

    /// Also reports whether the ratio reaches `goal` (e.g. `5.0` for 5x).
    pub fn with_goal(mut self, goal: f64) -> Self {
        self.goal = Some(goal);
        self
    }

    /// Our side's nanoseconds per span.
    pub fn ours_ns_per_element(&self) -> f64 {
        self.timing.ours.as_nanos() as f64 / self.elements.max(1) as f64
    }

    /// The baseline's nanoseconds per span.
    pub fn baseline_ns_per_element(&self) -> f64 {
        self.timing.baseline.as_nanos() as f64 / self.elements.max(1) as f64
    }

    /// Baseline time over our time: above 1 means we are faster.
    pub fn ratio(&self) -> f64 {
        self.timing.baseline.as_secs_f64() / self.timing.ours.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ratio = self.ratio();
        write!(
            f,
            "{}: {} {:.1} ns/{unit}, {} {:.1} ns/{unit}, ",
            self.name,
            self.ours_label,
            self.ours_ns_per_element(),
            self.baseline_label,
            self.baseline_ns_per_element(),
            unit = self.unit,
        )?;
        if ratio >= 1.0 {
            write!(f, "{ratio:.1}x faster")?;
        } else {
            write!(f, "{:.1}x slower", 1.0 / ratio)?;
        }
        let rounds = self.timing.rounds;
        let plural = if rounds == 1 { "" } else { "s" };
        write!(f, " ({rounds} interleaved round{plural}")?;
        if let Some(goal) = self.goal {
            let verdict = if ratio >= goal { "met" } else { "NOT met" };
            write!(f, "; goal >= {goal}x: {verdict}")?;
        }
        write!(f, ")")
    }
}

/// Prints a suite's final report: a header saying how it was measured, then
/// one line per comparison. Outside [`RunMode::Benchmark`] the figures come
/// from a single round (of a debug build under `cargo test`), so the header
/// says they are not a measurement and goals are not judged.
pub fn print_report(suite: &str, mode: RunMode, comparisons: &[Comparison]) {
    println!();
    let measured = mode == RunMode::Benchmark;
    if measured {
        println!(
            "{suite}: ratio against the baseline (median per-call time of interleaved \
             rounds, measured after criterion; lower ns per element is better)"
        );
    } else {
        println!("{suite}: test mode, one round each: NOT a measurement");
    }
    for comparison in comparisons {
        if measured {
            println!("  {comparison}");
        } else {
            let unjudged = Comparison {
                goal: None,
                ..comparison.clone()
            };
            println!("  {unjudged}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_follows_criterion() {
        assert_eq!(RunMode::from_args(["--bench"]), RunMode::Benchmark);
        assert_eq!(
            RunMode::from_args(["--bench", "protobuf"]),
            RunMode::Benchmark
        );
        assert_eq!(RunMode::from_args(["--bench", "--test"]), RunMode::Test);
        assert_eq!(RunMode::from_args(Vec::<String>::new()), RunMode::Test);
        assert_eq!(RunMode::from_args(["--bench", "--list"]), RunMode::List);
        assert_eq!(
            RunMode::from_args(["--bench", "--profile-time", "5"]),
            RunMode::Profile
        );
    }

    #[test]
    fn a_comparison_states_both_sides_and_the_ratio() {
        let timing = Timing {
            rounds: 21,
            ours: Duration::from_micros(85),
            baseline: Duration::from_micros(610),
        };
        let line = Comparison::new("encode/protobuf", "otlp-core", "baseline", 1_000, timing)
            .with_goal(5.0)
            .to_string();
        assert_eq!(
            line,
            "encode/protobuf: otlp-core 85.0 ns/span, baseline 610.0 ns/span, 7.2x faster \
             (21 interleaved rounds; goal >= 5x: met)"
        );
    }

    #[test]
    fn interleaving_runs_both_sides_every_round() {
        let (mut a, mut b) = (0, 0);
        let timing = Interleaved {
            budget: Duration::ZERO,
            min_rounds: 4,
        }
        .run(
            || {
                a += 1;
                Duration::from_nanos(10)
            },
            || {
                b += 1;
                Duration::from_nanos(30)
            },
        );
        assert_eq!((a, b, timing.rounds), (4, 4, 4));
        assert_eq!(timing.ours, Duration::from_nanos(10));
        assert_eq!(timing.baseline, Duration::from_nanos(30));
    }

    #[test]
    fn every_side_starts_a_round_in_turn() {
        let order = std::cell::RefCell::new(Vec::new());
        let side = |name| {
            let order = &order;
            move || {
                order.borrow_mut().push(name);
                Duration::from_nanos(1)
            }
        };
        let (mut a, mut b, mut c) = (side('a'), side('b'), side('c'));
        let (rounds, medians) = Interleaved {
            budget: Duration::ZERO,
            min_rounds: 3,
        }
        .run_sides(&mut [&mut a, &mut b, &mut c]);
        assert_eq!(rounds, 3);
        assert_eq!(medians, vec![Duration::from_nanos(1); 3]);
        assert_eq!(order.into_inner(), "abcbcacab".chars().collect::<Vec<_>>());
    }
}
