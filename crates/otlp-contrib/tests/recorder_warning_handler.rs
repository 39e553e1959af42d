//! The process's warning handler (`otlp_sdk::diagnostics::set_warning_handler`)
//! runs on the thread whose call warns: for a `metrics` instrument, inside
//! the recorder's registration. A program may count those warnings through
//! the `metrics` facade, that is through the same recorder. Its own binary:
//! the handler is the process's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use otlp_contrib::recorder::OtlpRecorder;
use otlp_sdk::metrics::MeterProvider;

const PATIENCE: Duration = Duration::from_secs(30);

/// Names registered both as a gauge and as a counter: each counter is in
/// conflict with the gauge (another kind), which the meter warns of while
/// the recorder builds it. The handler counts each warning in a series of
/// its own, a new series of the recorder's counters. The recorder built
/// the instrument while it held the lock of its counters' map where the
/// new series would go, and the handler's registration, wanting the same
/// lock on the same thread, hung whenever both series hashed to one shard
/// (one in eight here: a few hundred names make it certain).
#[test]
fn a_warning_handler_counting_through_the_recorder_does_not_hang_the_registration_it_warns_about() {
    const NAMES: u64 = 400;
    let warnings = Arc::new(AtomicU64::new(0));
    let counted = warnings.clone();
    otlp_sdk::diagnostics::set_warning_handler(move |warning| {
        counted.fetch_add(1, Ordering::SeqCst);
        metrics::counter!("otlp_rust_warnings", "message" => warning.message.clone()).increment(1);
    });
    let provider = MeterProvider::builder()
        .build()
        .expect("the provider builds");
    let (done, finished) = mpsc::channel();
    // On its own thread, so that a hang fails the test instead of the run.
    let recording = std::thread::spawn(move || {
        let recorder = OtlpRecorder::new(&provider);
        metrics::with_local_recorder(&recorder, || {
            for name in 0..NAMES {
                let name = format!("queue_{name}");
                metrics::gauge!(name.clone()).set(1.0);
                metrics::counter!(name).increment(1);
            }
        });
        let _ = done.send(provider.stats().conflicting_instruments);
    });
    let conflicts = finished
        .recv_timeout(PATIENCE)
        .expect("the registrations finish: a warning handler recording through the recorder hung");
    recording.join().expect("the recording thread");
    assert_eq!(conflicts, NAMES);
    assert_eq!(warnings.load(Ordering::SeqCst), NAMES);
}
