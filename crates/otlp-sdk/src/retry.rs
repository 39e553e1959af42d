//! [`RetryPolicy`]: exponential backoff with jitter, honouring the server's
//! throttle hint, and [`RetryPolicy::send`], the one retry loop of the workspace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::deadline::later;
use crate::error::Records;
use crate::exporter::{ExportError, ExportOutcome, ExportRequest, Exporter};

tokio::task_local! {
    /// The end of the attempt [`RetryPolicy::send`] is making and the time
    /// it gave it: read by [`attempt_deadline`] and [`attempt_window`]
    /// inside the exporter's `export`.
    static ATTEMPT_DEADLINE: (Instant, Duration);
}

/// When the export attempt under way must end, if called from an exporter's
/// `export` run by [`RetryPolicy::send`] (the pipelines, the metrics reader,
/// the bridges): the attempt timeout, or less when the request's total
/// deadline comes sooner (its last attempts after retries). `None` elsewhere
/// (an exporter called directly, or from a task it spawned itself).
///
/// A transport that tells the server how long it may take (gRPC's
/// `grpc-timeout`) sends the time left before this deadline, so that the
/// server does not work on after the client gave up on the answer.
///
/// Cost: a task-local read, no allocation.
pub fn attempt_deadline() -> Option<Instant> {
    ATTEMPT_DEADLINE.try_with(|(deadline, _)| *deadline).ok()
}

/// The end of the export attempt an exporter starts now, whose own timeout
/// is `timeout`, and the time the attempt is given, for the
/// [`ExportError::Timeout`] it reports when it runs out: `timeout` from now,
/// or, when the attempt [`RetryPolicy::send`] is making ends sooner
/// ([`attempt_deadline`]), that end and the time `send` gave the attempt
/// (its attempt timeout, or the time left before the request's deadline).
/// So the error names the limit that ended the attempt (a metrics reader's
/// 500 ms export timeout, not the exporter's 10 s).
///
/// Cost: a clock read and a task-local read, no allocation.
pub fn attempt_window(timeout: Duration) -> (Instant, Duration) {
    let own = later(Instant::now(), timeout);
    match ATTEMPT_DEADLINE.try_with(|attempt| *attempt) {
        Ok((deadline, given)) if deadline < own => (deadline, given),
        _ => (own, timeout),
    }
}

/// A shutdown's deadline, for the requests [`RetryPolicy::send_until`] is
/// sending with it: once given ([`cut_off_at`](Self::cut_off_at)), none of
/// them starts a retry after it. A request whose retry would come later fails
/// at once as out of time, whether it is waiting for that retry or hears the
/// answer that asks for it afterwards, so that a shutdown need not sit out its
/// deadline for an attempt that cannot come before it. Clones share one
/// cutoff: whatever shuts down keeps one, and each request is sent with
/// another (or a reference to it).
///
/// Invariant: the cutoff only moves earlier; the earliest deadline given
/// holds. Cost: a clone is a reference count; [`cut_off_at`](Self::cut_off_at)
/// takes a short write lock and wakes the requests waiting to retry; each
/// [`send_until`](RetryPolicy::send_until) subscribes once (an atomic add).
///
/// ```
/// use std::time::{Duration, Instant};
/// use otlp_sdk::{Encoding, ExportError, ExportOutcome, ExportRequest, Exporter, RetryCutoff, RetryPolicy};
///
/// /// A server that asks for 20 s of quiet each time.
/// struct Throttled;
/// impl Exporter for Throttled {
///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
///     async fn export(&self, _: ExportRequest) -> ExportOutcome {
///         ExportOutcome::Retryable {
///             error: ExportError::Transport("429 Too Many Requests".into()),
///             throttle: Some(Duration::from_secs(20)),
///         }
///     }
/// }
///
/// let cutoff = RetryCutoff::new();
/// // Shutdown begins, with 3 s to go: the retry 20 s away cannot make it.
/// cutoff.cut_off_at(Instant::now() + Duration::from_secs(3));
/// let request = ExportRequest { body: Default::default(), encoding: Encoding::Protobuf, span_count: 2 };
/// let mut last_error = String::new();
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
/// let settled = runtime.block_on(RetryPolicy::default().send_until(
///     &Throttled,
///     &request,
///     Duration::from_secs(5),
///     Instant::now() + Duration::from_secs(60),
///     &cutoff,
///     |event| if let otlp_sdk::SendEvent::Error(error) = event { last_error = error },
/// ));
/// assert_eq!((settled.failed, settled.retries, settled.exhausted), (2, 0, true));
/// assert!(last_error.starts_with("transport error: 429 Too Many Requests"));
/// assert!(last_error.ends_with("(not retried: the next attempt would come after the shutdown deadline)"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct RetryCutoff {
    /// `None` until a shutdown gives its deadline.
    deadline: Arc<watch::Sender<Option<Instant>>>,
}

impl RetryCutoff {
    /// No cutoff yet: retries come as the policy and the request's own
    /// deadline allow.
    pub fn new() -> Self {
        RetryCutoff {
            deadline: Arc::new(watch::Sender::new(None)),
        }
    }

    /// No retry of a request sent with this cutoff starts after `deadline`
    /// (or after an earlier deadline given before): the requests waiting for
    /// a later one fail now. An attempt under way is not cut.
    pub fn cut_off_at(&self, deadline: Instant) {
        self.deadline.send_modify(|cut| {
            *cut = Some(cut.map_or(deadline, |earlier| earlier.min(deadline)));
        });
    }

    /// Where a request's [`RetryPolicy::send_until`] hears of the cutoff.
    fn subscribe(&self) -> watch::Receiver<Option<Instant>> {
        self.deadline.subscribe()
    }
}

impl Default for RetryCutoff {
    fn default() -> Self {
        RetryCutoff::new()
    }
}

impl std::fmt::Debug for RetryCutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryCutoff")
            .field("deadline", &*self.deadline.borrow())
            .finish()
    }
}

/// The largest random extra added to a server's throttle hint, as a fraction
/// of the hint: it spreads clients throttled alike over a tenth of the hint,
/// and keeps a long hint from growing much longer (30 s becomes 30 to 33 s).
const THROTTLE_JITTER: f64 = 0.1;

/// How failed exports are retried. The one retry policy of the pipeline:
/// transports only classify outcomes, they never retry themselves.
///
/// The n-th retry waits `initial_backoff * multiplier^(n-1)`, capped at
/// `max_backoff`, then spread by ±`randomization_factor` (so that many
/// clients do not retry in lockstep). When the server sent a throttle hint
/// (gRPC `RetryInfo`, HTTP `Retry-After`) the wait is at least that hint, plus
/// a random extra of up to 10% of it (up to `randomization_factor` of it when
/// that is smaller, none when it is 0): clients throttled by the same answer
/// come back spread over a tenth of the hint instead of all at the instant it
/// ends. Retries stop when the next wait would end after the batch's total
/// deadline (`BatchConfig::export_timeout`), or, in a pipeline that is shutting
/// down, after the shutdown's deadline: a request waiting for such a retry
/// fails as soon as shutdown begins, rather than hold it to its deadline for
/// an attempt that cannot come. The extra is cut so that it never costs a
/// retry the hint alone would make in time.
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
/// // With jitter, the hint is spread over up to a tenth more.
/// let policy = RetryPolicy::default();
/// assert_eq!(policy.delay(1, 0.5, Some(Duration::from_secs(10))), Duration::from_millis(10_500));
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
    /// uniform random number `random` in `[0, 1)` and the server's throttle
    /// hint: the jittered backoff, or the hint plus its random extra if longer.
    pub fn delay(&self, retry: u32, random: f64, throttle: Option<Duration>) -> Duration {
        let backoff = self.backoff(retry, random);
        match throttle {
            Some(hint) => backoff.max(hint.saturating_add(self.throttle_extra(hint, random))),
            None => backoff,
        }
    }

    /// [`delay`](Self::delay) with `left` before the request's deadline, or
    /// `None` when the retry would not start in time. A throttle hint's extra
    /// is cut to half the time between the hint and the deadline: it spreads
    /// the retry, it never costs one.
    pub(crate) fn delay_within(
        &self,
        retry: u32,
        random: f64,
        throttle: Option<Duration>,
        left: Duration,
    ) -> Option<Duration> {
        let backoff = self.backoff(retry, random);
        let wait = match throttle {
            Some(hint) => {
                let extra = self.throttle_extra(hint, random);
                backoff.max(hint.saturating_add(extra.min(left.saturating_sub(hint) / 2)))
            }
            None => backoff,
        };
        (wait < left).then_some(wait)
    }

    /// The exponential backoff before retry number `retry`, jittered.
    fn backoff(&self, retry: u32, random: f64) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.initial_backoff.as_secs_f64() * self.multiplier.max(1.0).powi(exponent);
        let capped = base.min(self.max_backoff.as_secs_f64());
        let spread = self.randomization_factor.clamp(0.0, 1.0);
        let jittered = capped * (1.0 - spread + 2.0 * spread * random.clamp(0.0, 1.0));
        Duration::try_from_secs_f64(jittered).unwrap_or(self.max_backoff)
    }

    /// The random extra on a throttle hint: up to [`THROTTLE_JITTER`] of it,
    /// or up to `randomization_factor` of it when that is smaller.
    fn throttle_extra(&self, hint: Duration, random: f64) -> Duration {
        let spread = self.randomization_factor.clamp(0.0, THROTTLE_JITTER);
        Duration::try_from_secs_f64(hint.as_secs_f64() * spread * random.clamp(0.0, 1.0))
            .unwrap_or(Duration::ZERO)
    }
}

/// What [`RetryPolicy::send`] reports while it works, as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendEvent {
    /// An attempt failed, or the server sent a partial-success message.
    Error(String),
    /// Another attempt follows (after the backoff).
    Retry,
}

/// How one request ended after [`RetryPolicy::send`]: its spans split by
/// outcome (they add up to the request's `span_count`), and the retries taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Spans the backend accepted.
    pub exported: u64,
    /// Spans the backend rejected through a partial success.
    pub rejected: u64,
    /// Spans that failed: permanent error, or retries exhausted by the deadline
    /// (or called off by a shutdown's).
    pub failed: u64,
    /// Attempts retried (a retry that a shutdown called off during its
    /// wait included: it was reported as [`SendEvent::Retry`]).
    pub retries: u64,
    /// Whether the request failed with a retryable error that no further
    /// attempt could fix in time (the deadline, or retries disabled) — as
    /// opposed to a permanent error. A durable queue keeps such requests for
    /// later instead of giving them up.
    pub exhausted: bool,
}

impl RetryPolicy {
    /// Sends `request` through `exporter` until it settles: success, partial
    /// success (never retried), a permanent error, or a retryable one whose
    /// next attempt would start after `deadline`. Each attempt is bounded by
    /// `attempt_timeout` (and by the deadline), an end the exporter reads with
    /// [`attempt_deadline`]; a timed-out attempt is retryable. Retries resend the same bytes. `report` hears every error,
    /// partial-success message and retry as it happens (for live stats and a
    /// "last error" display, even if the future is dropped midway).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use otlp_sdk::{Encoding, ExportError, ExportOutcome, ExportRequest, Exporter, RetryPolicy};
    ///
    /// struct Flaky(std::sync::atomic::AtomicU32);
    /// impl Exporter for Flaky {
    ///     fn encoding(&self) -> Encoding { Encoding::Protobuf }
    ///     async fn export(&self, _: ExportRequest) -> ExportOutcome {
    ///         if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
    ///             ExportOutcome::Retryable { error: ExportError::Transport("reset".into()), throttle: None }
    ///         } else {
    ///             ExportOutcome::Success
    ///         }
    ///     }
    /// }
    ///
    /// let policy = RetryPolicy { initial_backoff: Duration::from_millis(1), ..RetryPolicy::default() };
    /// let request = ExportRequest { body: Default::default(), encoding: Encoding::Protobuf, span_count: 3 };
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
    /// let settled = runtime.block_on(policy.send(
    ///     &Flaky(Default::default()),
    ///     &request,
    ///     Duration::from_secs(1),
    ///     Instant::now() + Duration::from_secs(5),
    ///     |_| {},
    /// ));
    /// assert_eq!((settled.exported, settled.retries), (3, 2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn send<E: Exporter>(
        &self,
        exporter: &E,
        request: &ExportRequest,
        attempt_timeout: Duration,
        deadline: Instant,
        report: impl FnMut(SendEvent),
    ) -> Settlement {
        self.settle(exporter, request, attempt_timeout, deadline, None, report)
            .await
    }

    /// [`send`](Self::send), and no retry starts after a shutdown's deadline
    /// (`cutoff`, once [cut off](RetryCutoff::cut_off_at)): a retry whose
    /// wait would end after it is called off at once, when the answer comes
    /// or when shutdown begins during the wait, and the request fails as a
    /// retryable one out of time (`exhausted`), its last error the cause
    /// followed by "(not retried: the next attempt would come after the
    /// shutdown deadline)". Nothing is left to wait for, so shutdown need not
    /// sit out its deadline; a retry that starts before it is still made. An
    /// attempt under way is not cut (the shutdown's deadline settles it).
    /// Example: [`RetryCutoff`].
    pub async fn send_until<E: Exporter>(
        &self,
        exporter: &E,
        request: &ExportRequest,
        attempt_timeout: Duration,
        deadline: Instant,
        cutoff: &RetryCutoff,
        report: impl FnMut(SendEvent),
    ) -> Settlement {
        let cutoff = Some(cutoff.subscribe());
        self.settle(exporter, request, attempt_timeout, deadline, cutoff, report)
            .await
    }

    /// [`send`](Self::send) and [`send_until`](Self::send_until): the one
    /// retry loop, with a shutdown's cutoff or without.
    async fn settle<E: Exporter>(
        &self,
        exporter: &E,
        request: &ExportRequest,
        attempt_timeout: Duration,
        deadline: Instant,
        mut cutoff: Option<watch::Receiver<Option<Instant>>>,
        mut report: impl FnMut(SendEvent),
    ) -> Settlement {
        let spans = request.span_count as u64;
        let mut settlement = Settlement::default();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = attempt_timeout.min(remaining);
            if timeout.is_zero() {
                // No attempt is made: saying one timed out would send the
                // reader looking at the backend.
                report(SendEvent::Error(format!(
                    "not sent: the export deadline passed before {} attempt",
                    if settlement.retries == 0 {
                        "a first"
                    } else {
                        "another"
                    }
                )));
                settlement.failed = spans;
                settlement.exhausted = true;
                return settlement;
            }
            // What a timeout reports: the time left before the deadline
            // (an export timeout read a moment ago) in whole milliseconds,
            // rounded up, so that it reads as the limit that was set.
            let given = whole_millis_up(timeout);
            let attempt = ATTEMPT_DEADLINE.scope(
                (later(Instant::now(), timeout), given),
                exporter.export(request.clone()),
            );
            let outcome =
                tokio::time::timeout(timeout, attempt)
                    .await
                    .unwrap_or(ExportOutcome::Retryable {
                        error: ExportError::Timeout {
                            after: given,
                            target: None,
                        },
                        throttle: None,
                    });
            match outcome {
                ExportOutcome::Success => {
                    settlement.exported = spans;
                    return settlement;
                }
                ExportOutcome::PartialSuccess {
                    rejected_spans,
                    message,
                } => {
                    let rejected = rejected_spans.min(spans);
                    if rejected > 0 || !message.is_empty() {
                        report(SendEvent::Error(format!(
                            "partial success: {} rejected: {message}",
                            Records(rejected, exporter.signal())
                        )));
                    }
                    settlement.exported = spans - rejected;
                    settlement.rejected = rejected;
                    return settlement;
                }
                ExportOutcome::Permanent { error } => {
                    report(SendEvent::Error(error.to_string()));
                    settlement.failed = spans;
                    return settlement;
                }
                ExportOutcome::Retryable { error, throttle } => {
                    let error = error.to_string();
                    report(SendEvent::Error(error.clone()));
                    let retry = u32::try_from(settlement.retries + 1).unwrap_or(u32::MAX);
                    // A server's hint can be absurd (u64::MAX seconds): it is
                    // compared with the time left, never added to an instant.
                    let now = Instant::now();
                    let left = deadline.saturating_duration_since(now);
                    let random = jitter_random();
                    let delay = self.delay_within(retry, random, throttle, left);
                    let Some(mut delay) = delay.filter(|_| self.enabled) else {
                        settlement.failed = spans;
                        settlement.exhausted = true;
                        return settlement;
                    };
                    // Shutdown under way: the retry must start before its
                    // deadline (a hint's extra is cut to fit it, as to fit
                    // the request's own deadline).
                    let shutdown = cutoff.as_ref().and_then(|cutoff| *cutoff.borrow());
                    if let Some(cut) = shutdown {
                        let before_cut = cut.saturating_duration_since(now).min(left);
                        match self.delay_within(retry, random, throttle, before_cut) {
                            Some(shorter) => delay = shorter,
                            None => return called_off(settlement, spans, &error, &mut report),
                        }
                    }
                    settlement.retries += 1;
                    report(SendEvent::Retry);
                    if !wait_for_retry(later(now, delay), cutoff.as_mut()).await {
                        return called_off(settlement, spans, &error, &mut report);
                    }
                }
            }
        }
    }
}

/// Waits until `wake`, unless a shutdown whose deadline comes first begins
/// (or has begun): whether the wait ran its course. Without a `cutoff`, or
/// once its sender is gone, a plain sleep.
async fn wait_for_retry(
    wake: Instant,
    cutoff: Option<&mut watch::Receiver<Option<Instant>>>,
) -> bool {
    let sleep = tokio::time::sleep_until(wake.into());
    let Some(cutoff) = cutoff else {
        sleep.await;
        return true;
    };
    tokio::pin!(sleep);
    loop {
        if cutoff.borrow_and_update().is_some_and(|cut| wake >= cut) {
            return false;
        }
        tokio::select! {
            () = &mut sleep => return true,
            changed = cutoff.changed() => {
                if changed.is_err() {
                    sleep.await;
                    return true;
                }
            }
        }
    }
}

/// A retry called off by a shutdown whose deadline comes first: the
/// request fails as out of time, and the last error says why it was not
/// retried, after what it would have been retried for.
fn called_off(
    mut settlement: Settlement,
    spans: u64,
    error: &str,
    report: &mut impl FnMut(SendEvent),
) -> Settlement {
    report(SendEvent::Error(format!(
        "{error} (not retried: the next attempt would come after the shutdown deadline)"
    )));
    settlement.failed = spans;
    settlement.exhausted = true;
    settlement
}

/// `duration` rounded up to whole milliseconds (unchanged when it is whole).
fn whole_millis_up(duration: Duration) -> Duration {
    let millis = duration.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).map_or(duration, Duration::from_millis)
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
    fn a_timeout_is_reported_in_whole_milliseconds_rounded_up() {
        assert_eq!(
            whole_millis_up(Duration::from_nanos(499_929_976)),
            Duration::from_millis(500)
        );
        assert_eq!(
            whole_millis_up(Duration::from_millis(300)),
            Duration::from_millis(300)
        );
        assert_eq!(whole_millis_up(Duration::MAX), Duration::MAX);
    }

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

    #[test]
    fn a_throttle_hint_is_spread_over_a_tenth_more_within_the_deadline() {
        let policy = RetryPolicy::default();
        let hint = Duration::from_secs(10);
        // At least the hint, and the extra spreads clients apart.
        assert_eq!(policy.delay(1, 0.0, Some(hint)), hint);
        assert_eq!(
            policy.delay(1, 0.5, Some(hint)),
            Duration::from_millis(10_500)
        );
        assert_eq!(
            policy.delay(1, 0.99, Some(hint)),
            Duration::from_millis(10_990)
        );
        // A smaller randomization factor spreads less; none, not at all.
        let narrow = RetryPolicy {
            randomization_factor: 0.05,
            ..RetryPolicy::default()
        };
        assert_eq!(
            narrow.delay(1, 0.5, Some(hint)),
            Duration::from_millis(10_250)
        );
        let exact = RetryPolicy {
            randomization_factor: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(exact.delay(1, 0.99, Some(hint)), hint);
        // A backoff longer than the hint and its extra still wins.
        assert_eq!(
            policy.delay(1, 0.5, Some(Duration::from_millis(100))),
            Duration::from_secs(1)
        );
        // Near the deadline the extra shrinks to half the room the hint
        // leaves: it never costs the retry the hint alone allows.
        let left = Duration::from_millis(10_400);
        assert_eq!(
            policy.delay_within(1, 0.99, Some(hint), left),
            Some(Duration::from_millis(10_200))
        );
        assert_eq!(
            policy.delay_within(1, 0.5, Some(hint), Duration::from_secs(20)),
            Some(Duration::from_millis(10_500))
        );
        assert_eq!(policy.delay_within(1, 0.5, Some(hint), hint), None);
        assert_eq!(
            policy.delay_within(1, 0.5, Some(Duration::MAX), Duration::from_secs(5)),
            None
        );
        assert_eq!(policy.delay(1, 0.5, Some(Duration::MAX)), Duration::MAX);
        assert_eq!(
            policy.delay_within(1, 0.5, None, Duration::from_secs(5)),
            Some(Duration::from_secs(1))
        );
    }

    /// A runtime to drive `send` on, and a request of `spans` records.
    fn runtime_and_request(spans: usize) -> (tokio::runtime::Runtime, ExportRequest) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let request = ExportRequest {
            body: Default::default(),
            encoding: otlp_core::encode::Encoding::Protobuf,
            span_count: spans,
        };
        (runtime, request)
    }

    #[test]
    fn a_request_past_its_deadline_is_not_sent_and_not_called_timed_out() {
        struct Counted(std::sync::atomic::AtomicUsize);
        impl Exporter for Counted {
            fn encoding(&self) -> otlp_core::encode::Encoding {
                otlp_core::encode::Encoding::Protobuf
            }
            async fn export(&self, _: ExportRequest) -> ExportOutcome {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                ExportOutcome::Success
            }
        }
        let (runtime, request) = runtime_and_request(3);
        let exporter = Counted(Default::default());
        let mut errors = Vec::new();
        let settled = runtime.block_on(RetryPolicy::default().send(
            &exporter,
            &request,
            Duration::from_secs(10),
            Instant::now(),
            |event| {
                if let SendEvent::Error(error) = event {
                    errors.push(error);
                }
            },
        ));
        assert_eq!((settled.failed, settled.exhausted), (3, true));
        assert_eq!(exporter.0.into_inner(), 0);
        assert_eq!(
            errors,
            ["not sent: the export deadline passed before a first attempt"]
        );
    }

    #[test]
    fn an_absurd_throttle_hint_gives_up_instead_of_overflowing() {
        // A server may say `Retry-After: 99999999999999999999` (read as
        // u64::MAX seconds) or send a RetryInfo of i64::MAX seconds.
        struct Throttled(Duration);
        impl Exporter for Throttled {
            fn encoding(&self) -> otlp_core::encode::Encoding {
                otlp_core::encode::Encoding::Protobuf
            }
            async fn export(&self, _: ExportRequest) -> ExportOutcome {
                ExportOutcome::Retryable {
                    error: ExportError::Transport("throttled".into()),
                    throttle: Some(self.0),
                }
            }
        }
        let (runtime, request) = runtime_and_request(2);
        for hint in [Duration::MAX, Duration::from_secs(i64::MAX as u64)] {
            let settled = runtime.block_on(RetryPolicy::default().send(
                &Throttled(hint),
                &request,
                Duration::from_secs(1),
                Instant::now() + Duration::from_secs(5),
                |_| {},
            ));
            assert_eq!((settled.failed, settled.retries), (2, 0), "{hint:?}");
        }
    }

    /// Answers a retryable error with `hint` as the throttle for its first
    /// `throttled` attempts, then success; counts the attempts.
    struct ThrottledFirst {
        throttled: usize,
        hint: Duration,
        attempts: std::sync::atomic::AtomicUsize,
    }

    impl Exporter for ThrottledFirst {
        fn encoding(&self) -> otlp_core::encode::Encoding {
            otlp_core::encode::Encoding::Protobuf
        }
        async fn export(&self, _: ExportRequest) -> ExportOutcome {
            let attempt = self
                .attempts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if attempt < self.throttled {
                ExportOutcome::Retryable {
                    error: ExportError::Transport("429 Too Many Requests".into()),
                    throttle: Some(self.hint),
                }
            } else {
                ExportOutcome::Success
            }
        }
    }

    #[test]
    fn a_cutoff_given_during_the_wait_calls_off_a_retry_that_would_come_after_it() {
        let (runtime, request) = runtime_and_request(2);
        let exporter = ThrottledFirst {
            throttled: usize::MAX,
            hint: Duration::from_secs(20),
            attempts: Default::default(),
        };
        let cutoff = RetryCutoff::new();
        let shutdown = std::sync::Arc::new(tokio::sync::Notify::new());
        let mut errors = Vec::new();
        let settled = runtime.block_on(async {
            // Shutdown begins while the request waits for its retry; a
            // later deadline given after it does not move the cutoff.
            let (shutting_down, began) = (cutoff.clone(), std::sync::Arc::clone(&shutdown));
            tokio::spawn(async move {
                began.notified().await;
                shutting_down.cut_off_at(Instant::now() + Duration::from_secs(3));
                shutting_down.cut_off_at(Instant::now() + Duration::from_secs(3600));
            });
            RetryPolicy::default()
                .send_until(
                    &exporter,
                    &request,
                    Duration::from_secs(5),
                    Instant::now() + Duration::from_secs(60),
                    &cutoff,
                    |event| match event {
                        SendEvent::Error(error) => errors.push(error),
                        SendEvent::Retry => shutdown.notify_one(),
                    },
                )
                .await
        });
        assert_eq!(
            (settled.failed, settled.retries, settled.exhausted),
            (2, 1, true)
        );
        assert_eq!(exporter.attempts.into_inner(), 1);
        assert_eq!(
            errors,
            [
                "transport error: 429 Too Many Requests",
                "transport error: 429 Too Many Requests (not retried: the next attempt would \
                 come after the shutdown deadline)"
            ]
        );
    }

    #[test]
    fn a_retry_that_comes_before_the_cutoff_is_still_made() {
        let (runtime, request) = runtime_and_request(2);
        let exporter = ThrottledFirst {
            throttled: 1,
            hint: Duration::from_millis(10),
            attempts: Default::default(),
        };
        let cutoff = RetryCutoff::new();
        cutoff.cut_off_at(Instant::now() + Duration::from_secs(60));
        let settled = runtime.block_on(RetryPolicy::default().send_until(
            &exporter,
            &request,
            Duration::from_secs(5),
            Instant::now() + Duration::from_secs(3600),
            &cutoff,
            |_| {},
        ));
        assert_eq!((settled.exported, settled.retries), (2, 1));
        assert_eq!(exporter.attempts.into_inner(), 2);
    }
}
