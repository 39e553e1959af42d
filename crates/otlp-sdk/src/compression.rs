//! Body compression for the transports: gzip (feature `gzip`) and zstd
//! (feature `zstd`). [`compress`] makes one pass over an encoded request into
//! a buffer of its own; [`decompress`] undoes a body's `Content-Encoding`
//! without ever holding more than a cap, so a compression bomb stops there.
//! Both exporters compress through here ([`compress_off_runtime`]: large
//! bodies on tokio's blocking pool), the HTTP exporter reads compressed
//! answers and otlp-contrib's receiver compressed requests through here; each
//! turns on the features its own `gzip` and `zstd` features ask for.

use std::io::Read;

use bytes::Bytes;

use crate::config::Compression;

/// Bodies at least this large are compressed on tokio's blocking pool by
/// [`compress_off_runtime`]. Why this size: gzip at its default level takes
/// milliseconds over 256 KiB, long enough to hold up the other tasks and the
/// timers of the runtime thread doing it (the application's own, on a runtime
/// it lent); smaller bodies are compressed where the export runs, sparing
/// them the hand-over to another thread and back. Nothing is refused at the
/// limit: only where the work runs changes.
pub const BLOCKING_THRESHOLD: usize = 256 * 1024;

/// `body` compressed as [`compress`] does, the work of a bigger one than
/// [`BLOCKING_THRESHOLD`] moved to the current tokio runtime's blocking pool
/// so that the runtime thread driving the export goes on serving its other
/// tasks meanwhile. There it runs as the pipeline's own work
/// ([`own_threads::as_own`](crate::own_threads::as_own)): the blocking pool
/// of a runtime the application lent is the application's. With no runtime
/// current, or a smaller body, it is compressed on the calling thread.
///
/// An `Err` says why there is no body to send: the compression failed, or
/// the blocking task did not finish (the runtime is shutting down, which
/// cancels it).
///
/// Cost: one compression pass into a buffer of its own; from the threshold,
/// a hand-over to a blocking-pool thread (started if none is idle) and back.
///
/// ```
/// use bytes::Bytes;
/// use otlp_sdk::compression::compress_off_runtime;
/// use otlp_sdk::config::Compression;
///
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let body = Bytes::from_static(b"spans");
/// let sent = runtime.block_on(compress_off_runtime(Compression::None, &body));
/// assert_eq!(sent, Ok(None));
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn compress_off_runtime(
    compression: Compression,
    body: &Bytes,
) -> Result<Option<Vec<u8>>, String> {
    if compression == Compression::None || body.len() < BLOCKING_THRESHOLD {
        return compress(compression, body);
    }
    let body = body.clone();
    off_runtime(move || compress(compression, &body)).await?
}

/// Runs `work` on the current runtime's blocking pool as the pipeline's own
/// work, or here when no runtime is current; `Err` if the task did not finish.
async fn off_runtime<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(move || crate::own_threads::as_own(work))
            .await
            .map_err(|error| format!("compression task failed: {error}")),
        Err(_) => Ok(work()),
    }
}

/// `body` compressed with `compression`; `None` for [`Compression::None`]
/// (send the body as it is, no copy).
///
/// ```
/// use otlp_sdk::compression::compress;
/// use otlp_sdk::config::Compression;
///
/// assert_eq!(compress(Compression::None, b"spans"), Ok(None));
/// # #[cfg(feature = "gzip")]
/// assert!(compress(Compression::Gzip, b"spans").unwrap().is_some());
/// ```
pub fn compress(compression: Compression, body: &[u8]) -> Result<Option<Vec<u8>>, String> {
    match compression {
        Compression::None => Ok(None),
        Compression::Gzip => gzip(body).map(Some),
        Compression::Zstd => zstd(body).map(Some),
    }
}

/// Whether this build can compress with `compression` (its feature is on).
pub const fn is_available(compression: Compression) -> bool {
    match compression {
        Compression::None => true,
        Compression::Gzip => cfg!(feature = "gzip"),
        Compression::Zstd => cfg!(feature = "zstd"),
    }
}

/// A body's HTTP `Content-Encoding`, one this crate can undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentCoding {
    /// No coding (no header, `identity`, or an empty value).
    Identity,
    /// `gzip` (or `x-gzip`).
    Gzip,
    /// `zstd`.
    Zstd,
}

impl ContentCoding {
    /// The coding a `Content-Encoding` header names (any case, spaces
    /// trimmed); `None` for one not known here, a list (`gzip, br`) included.
    ///
    /// ```
    /// use otlp_sdk::compression::ContentCoding;
    ///
    /// assert_eq!(ContentCoding::parse(None), Some(ContentCoding::Identity));
    /// assert_eq!(ContentCoding::parse(Some(" X-GZIP ")), Some(ContentCoding::Gzip));
    /// assert_eq!(ContentCoding::parse(Some("br")), None);
    /// ```
    pub fn parse(header: Option<&str>) -> Option<Self> {
        let Some(value) = header.map(str::trim) else {
            return Some(ContentCoding::Identity);
        };
        if value.is_empty() || value.eq_ignore_ascii_case("identity") {
            Some(ContentCoding::Identity)
        } else if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
            Some(ContentCoding::Gzip)
        } else if value.eq_ignore_ascii_case("zstd") {
            Some(ContentCoding::Zstd)
        } else {
            None
        }
    }
}

/// Why [`decompress`] gave no body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecompressError {
    /// Decompressed, the body is larger than the cap.
    TooLarge,
    /// The compressed stream is corrupt or truncated (or, with its feature
    /// off, the coding cannot be undone by this build): why.
    Corrupt(String),
}

/// `body` with its `coding` undone, at most `cap` bytes of it; `None` for
/// [`ContentCoding::Identity`] (use the body as it is, no copy).
///
/// ```
/// use otlp_sdk::compression::{ContentCoding, DecompressError, compress, decompress};
/// use otlp_sdk::config::Compression;
///
/// assert_eq!(decompress(ContentCoding::Identity, b"spans", 1), Ok(None));
/// # #[cfg(feature = "gzip")]
/// # {
/// let bomb = compress(Compression::Gzip, &vec![0; 1 << 20])?.unwrap();
/// assert_eq!(decompress(ContentCoding::Gzip, &bomb, 1024), Err(DecompressError::TooLarge));
/// # }
/// # Ok::<(), String>(())
/// ```
pub fn decompress(
    coding: ContentCoding,
    body: &[u8],
    cap: usize,
) -> Result<Option<Vec<u8>>, DecompressError> {
    match coding {
        ContentCoding::Identity => Ok(None),
        ContentCoding::Gzip => gunzip(body, cap).map(Some),
        ContentCoding::Zstd => unzstd(body, cap).map(Some),
    }
}

/// Reads at most `cap` bytes from `decoder`, and one more to tell "over" from
/// "exactly the cap" (saturating, so `cap = usize::MAX` reads everything).
#[cfg_attr(not(any(feature = "gzip", feature = "zstd")), allow(dead_code))]
fn read_capped(
    decoder: impl Read,
    compressed_len: usize,
    cap: usize,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::with_capacity(compressed_len.saturating_mul(4).min(cap));
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|error| DecompressError::Corrupt(error.to_string()))?;
    if out.len() > cap {
        return Err(DecompressError::TooLarge);
    }
    Ok(out)
}

#[cfg(feature = "gzip")]
fn gunzip(body: &[u8], cap: usize) -> Result<Vec<u8>, DecompressError> {
    read_capped(flate2::read::MultiGzDecoder::new(body), body.len(), cap)
}

#[cfg(not(feature = "gzip"))]
fn gunzip(_: &[u8], _: usize) -> Result<Vec<u8>, DecompressError> {
    Err(DecompressError::Corrupt(
        "gzip cannot be undone without the `gzip` feature of otlp-sdk".to_owned(),
    ))
}

#[cfg(feature = "zstd")]
fn unzstd(body: &[u8], cap: usize) -> Result<Vec<u8>, DecompressError> {
    let corrupt = |error: std::io::Error| DecompressError::Corrupt(format!("zstd: {error}"));
    let mut decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(corrupt)?;
    decoder
        .window_log_max(zstd_window_log_max(cap))
        .map_err(corrupt)?;
    read_capped(decoder, body.len(), cap)
}

/// The base-2 logarithm of the largest zstd window [`decompress`] grants a
/// frame of a body capped at `cap` bytes; a frame that declares a larger
/// window (in its header, before any data) is refused as corrupt.
///
/// A frame may declare a window of up to 3.75 TiB, which the decoder allocates
/// before it decodes a byte; this grants what a body of `cap` bytes can
/// need, but never less than 8 MiB (`23`, what common streaming encoders
/// declare) nor more than zstd's own default limit of 128 MiB (`27`).
/// otlp-contrib's receiver applies the same limit to gRPC messages.
///
/// ```
/// use otlp_sdk::compression::zstd_window_log_max;
///
/// assert_eq!(zstd_window_log_max(64 << 10), 23);
/// assert_eq!(zstd_window_log_max(64 << 20), 26);
/// assert_eq!(zstd_window_log_max(usize::MAX), 27);
/// ```
pub fn zstd_window_log_max(cap: usize) -> u32 {
    let window_log = usize::BITS - cap.saturating_sub(1).leading_zeros();
    window_log.clamp(23, 27)
}

#[cfg(not(feature = "zstd"))]
fn unzstd(_: &[u8], _: usize) -> Result<Vec<u8>, DecompressError> {
    Err(DecompressError::Corrupt(
        "zstd cannot be undone without the `zstd` feature of otlp-sdk".to_owned(),
    ))
}

#[cfg(feature = "gzip")]
fn gzip(body: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write as _;

    // OTLP bodies compress well (repeated keys, ids in hex for JSON): start at a quarter.
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::default(),
    );
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|error| format!("gzip compression failed: {error}"))
}

#[cfg(not(feature = "gzip"))]
fn gzip(_: &[u8]) -> Result<Vec<u8>, String> {
    Err("gzip compression needs the `gzip` feature of otlp-sdk".to_owned())
}

#[cfg(feature = "zstd")]
fn zstd(body: &[u8]) -> Result<Vec<u8>, String> {
    zstd::bulk::compress(body, zstd::DEFAULT_COMPRESSION_LEVEL)
        .map_err(|error| format!("zstd compression failed: {error}"))
}

#[cfg(not(feature = "zstd"))]
fn zstd(_: &[u8]) -> Result<Vec<u8>, String> {
    Err("zstd compression needs the `zstd` feature of otlp-sdk".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..10_000u32)
            .flat_map(|i| format!("{{\"key\":\"span-{}\"}}", i % 97).into_bytes())
            .collect()
    }

    /// A blocking task that does not finish (here it panics; a runtime
    /// shutting down cancels one not yet started) is an `Err` naming the
    /// compression, which the exporters turn into a failed export, not a
    /// panic on the runtime thread.
    #[test]
    fn a_compression_task_that_does_not_finish_is_an_error() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let outcome = runtime.block_on(off_runtime(|| -> Vec<u8> {
            panic!("the compressor broke (a panic this test provokes)")
        }));
        let Err(why) = outcome else {
            panic!("a task that panicked gave {outcome:?}");
        };
        assert!(why.starts_with("compression task failed: "), "{why}");
        // The runtime goes on: the next task finishes.
        assert_eq!(runtime.block_on(off_runtime(|| 7)), Ok(7));
    }

    #[test]
    fn no_compression_is_no_new_buffer() {
        assert_eq!(compress(Compression::None, &sample()), Ok(None));
        assert!(is_available(Compression::None));
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;

        let body = sample();
        let compressed = compress(Compression::Gzip, &body).unwrap().unwrap();
        assert!(compressed.len() < body.len() / 4);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_round_trips() {
        let body = sample();
        let compressed = compress(Compression::Zstd, &body).unwrap().unwrap();
        assert!(compressed.len() < body.len() / 4);
        assert_eq!(zstd::decode_all(&compressed[..]).unwrap(), body);
    }

    #[cfg(all(feature = "gzip", feature = "zstd"))]
    #[test]
    fn decompressing_undoes_compressing_within_the_cap_only() {
        let body = sample();
        for (compression, coding) in [
            (Compression::Gzip, ContentCoding::Gzip),
            (Compression::Zstd, ContentCoding::Zstd),
        ] {
            let compressed = compress(compression, &body).unwrap().unwrap();
            let whole = decompress(coding, &compressed, body.len());
            assert_eq!(whole, Ok(Some(body.clone())), "{coding:?}");
            assert_eq!(
                decompress(coding, &compressed, body.len() - 1),
                Err(DecompressError::TooLarge),
                "{coding:?}"
            );
            let truncated = &compressed[..compressed.len() - 6];
            assert!(
                matches!(
                    decompress(coding, truncated, body.len()),
                    Err(DecompressError::Corrupt(_))
                ),
                "{coding:?}"
            );
        }
    }

    #[test]
    fn offloaded_work_runs_off_the_runtime_thread_as_the_pipelines_own() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let runtime_thread = std::thread::current().id();
        let (thread, own) = runtime
            .block_on(off_runtime(|| {
                (
                    std::thread::current().id(),
                    crate::own_threads::is_own_thread(),
                )
            }))
            .unwrap();
        assert_ne!(thread, runtime_thread);
        assert!(
            own,
            "the blocking pool's thread is the pipeline's for the work"
        );
        assert!(!crate::own_threads::is_own_thread());
    }

    #[test]
    fn offloaded_work_without_a_runtime_runs_here() {
        let here = std::thread::current().id();
        let mut future = std::pin::pin!(off_runtime(|| std::thread::current().id()));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let ran_on = future.as_mut().poll(&mut context);
        assert_eq!(ran_on, std::task::Poll::Ready(Ok(here)));
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn a_large_body_compressed_off_the_runtime_round_trips() {
        let body = Bytes::from(sample().repeat(2));
        assert!(body.len() >= BLOCKING_THRESHOLD, "{} bytes", body.len());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let compressed = runtime
            .block_on(compress_off_runtime(Compression::Gzip, &body))
            .unwrap()
            .unwrap();
        assert_eq!(
            decompress(ContentCoding::Gzip, &compressed, body.len()),
            Ok(Some(body.to_vec()))
        );
    }

    #[cfg(not(feature = "gzip"))]
    #[test]
    fn without_its_feature_gzip_is_an_error_naming_it() {
        assert!(!is_available(Compression::Gzip));
        let error = compress(Compression::Gzip, b"x").unwrap_err();
        assert!(error.contains("`gzip` feature"), "{error}");
    }
}
