//! [`on_every_processor`]: a flush or shutdown of every processor of a
//! provider, all together, by one deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::deadline::deadline_after;
use crate::error::PipelineError;
use crate::exporter::Signal;

/// Runs `action` on every processor with what is left of `timeout`, on one
/// thread per processor when there are several, so that the whole call
/// returns by the deadline even if each processor takes all of it. Returns
/// the first error; a processor whose thread panicked reports a timeout of
/// `signal`'s records.
pub(crate) fn on_every_processor<P: ?Sized + Send + Sync>(
    processors: &[Arc<P>],
    signal: Signal,
    timeout: Duration,
    action: impl Fn(&P, Duration) -> Result<(), PipelineError> + Sync,
) -> Result<(), PipelineError> {
    let deadline = deadline_after(timeout);
    let left = || deadline.saturating_duration_since(Instant::now());
    let results: Vec<Result<(), PipelineError>> = match processors {
        [] => Vec::new(),
        [only] => vec![action(only.as_ref(), left())],
        several => std::thread::scope(|scope| {
            let running: Vec<_> = several
                .iter()
                .map(|processor| {
                    let action = &action;
                    (
                        processor,
                        std::thread::Builder::new()
                            .name("otlp-provider-shutdown".into())
                            .spawn_scoped(scope, move || action(processor.as_ref(), left())),
                    )
                })
                .collect();
            running
                .into_iter()
                .map(|(processor, thread)| match thread {
                    Ok(thread) => thread
                        .join()
                        .unwrap_or(Err(PipelineError::Timeout { pending: 0, signal })),
                    // No thread to spare: this one does it, with what is left.
                    Err(_) => action(processor.as_ref(), left()),
                })
                .collect()
        }),
    };
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}
