//! [`on_every_processor`]: a flush or shutdown of every processor of a
//! provider, all together, by one deadline.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deadline::deadline_after;
use crate::error::PipelineError;
use crate::export_loop::panic_message;
use crate::exporter::Signal;
use crate::processor_calls;

/// Runs `action` on every processor with what is left of `timeout`, on one
/// thread per processor when there are several, so that processors which
/// each take the whole timeout end together, by the deadline, rather than
/// one after another. The call waits for every processor's thread: it
/// returns by the deadline when each processor honours the time it is
/// given (the batch processors do); one that ignores it holds the call. Returns
/// the first error. A processor that panics (one given in code) does not
/// unwind through the provider, whether it is alone or one of several: the
/// panic is caught and reported as [`PipelineError::ProcessorPanicked`],
/// and the other processors are served all the same. Each runs marked as
/// a call to processors ([`processor_calls`]), on whichever thread.
pub(crate) fn on_every_processor<P: ?Sized + Send + Sync>(
    processors: &[Arc<P>],
    signal: Signal,
    timeout: Duration,
    action: impl Fn(&P, Duration) -> Result<(), PipelineError> + Sync,
) -> Result<(), PipelineError> {
    let deadline = deadline_after(timeout);
    let left = || deadline.saturating_duration_since(Instant::now());
    let panicked = |payload: &(dyn std::any::Any + Send)| PipelineError::ProcessorPanicked {
        message: panic_message(payload).to_owned(),
        signal,
    };
    let run = |processor: &P| {
        catch_unwind(AssertUnwindSafe(|| {
            processor_calls::run(|| action(processor, left()))
        }))
        .unwrap_or_else(|payload| Err(panicked(payload.as_ref())))
    };
    let results: Vec<Result<(), PipelineError>> = match processors {
        [] => Vec::new(),
        [only] => vec![run(only.as_ref())],
        several => std::thread::scope(|scope| {
            let running: Vec<_> = several
                .iter()
                .map(|processor| {
                    let run = &run;
                    (
                        processor,
                        std::thread::Builder::new()
                            .name("otlp-provider-shutdown".into())
                            .spawn_scoped(scope, move || run(processor.as_ref())),
                    )
                })
                .collect();
            running
                .into_iter()
                .map(|(processor, thread)| match thread {
                    // `run` caught the processor's panic; one left is the
                    // drop of its payload's.
                    Ok(thread) => thread
                        .join()
                        .unwrap_or_else(|payload| Err(panicked(payload.as_ref()))),
                    // No thread to spare: this one does it, with what is left.
                    Err(_) => run(processor.as_ref()),
                })
                .collect()
        }),
    };
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}
