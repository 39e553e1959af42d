//! Request bodies: reading them with a cap and undoing `Content-Encoding`
//! with the same cap, so neither a huge body nor a compression bomb can make
//! the receiver hold more than the cap in bytes. What decoding them may take
//! is bounded apart, in [`decoded_size`](super::decoded_size): see
//! [`ReceiverConfig::max_request_bytes`](super::ReceiverConfig::max_request_bytes).

use bytes::Bytes;
use http_body_util::BodyExt;
use otlp_sdk::compression::{self, ContentCoding, DecompressError};

/// After the cap is hit, up to this many more bytes are read and thrown away
/// so the client can read the 413 instead of seeing a reset connection.
const DRAIN_LIMIT: u64 = 64 << 20;

/// The most a body's announced length (`Content-Length`) reserves before its
/// bytes arrive: 4 MiB holds a large export (thousands of spans) in one
/// allocation. A longer body grows the buffer as its bytes come, so an
/// announced length, which is only the client's word, never allocates more
/// than this (with a cap near `usize::MAX`, a huge one aborted the process).
const MAX_RESERVED_FOR_ANNOUNCED: usize = 4 << 20;

/// Why a body was not usable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// More than the cap, on the wire or decompressed.
    TooLarge { cap: usize },
    /// A zstd frame declares a window larger than a body of the cap can
    /// need: refused before the decoder allocates it.
    WindowTooLarge { window: u64, granted: u64 },
    /// The compressed stream is corrupt or truncated.
    Corrupt(String),
    /// The client went away or broke the protocol while sending.
    Transport(String),
}

/// Reads a whole body, stopping at `cap` bytes. Past the cap the rest is
/// drained (up to [`DRAIN_LIMIT`]) without being kept. A body that ends
/// short of its announced length is a [`BodyError::Transport`].
pub(crate) async fn read_capped<B>(body: B, cap: usize) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut body = body;
    let announced = body.size_hint().exact();
    // Announced lengths over the cap were refused before; trust the rest up to
    // the cap, and reserve for them no more than `MAX_RESERVED_FOR_ANNOUNCED`.
    let reserved = announced
        .unwrap_or(0)
        .min(cap as u64)
        .min(MAX_RESERVED_FOR_ANNOUNCED as u64) as usize;
    let mut collected: Vec<u8> = Vec::with_capacity(reserved);
    let mut drained: u64 = 0;
    let mut too_large = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| BodyError::Transport(error.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if too_large || collected.len() + data.len() > cap {
            too_large = true;
            collected = Vec::new();
            drained += data.len() as u64;
            if drained > DRAIN_LIMIT {
                break;
            }
            continue;
        }
        collected.extend_from_slice(&data);
    }
    if too_large {
        return Err(BodyError::TooLarge { cap });
    }
    // An HTTP/2 stream reset with `NO_ERROR` ends the body without an error
    // (hyper reads it as a server's early answer), whatever was announced: a
    // body short of its `content-length` was cut off, not sent whole.
    if let Some(announced) = announced
        && (collected.len() as u64) < announced
    {
        return Err(BodyError::Transport(format!(
            "the body ended after {} of the {announced} bytes its content-length announced",
            collected.len()
        )));
    }
    Ok(Bytes::from(collected))
}

/// Drains a body whose announced length is already over the cap, so the
/// client can read the answer; gives up after [`DRAIN_LIMIT`] bytes.
pub(crate) async fn drain<B>(body: B)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut body = body;
    let mut drained: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            drained += data.len() as u64;
            if drained > DRAIN_LIMIT {
                break;
            }
        }
    }
}

/// Undoes the content coding, producing at most `cap` bytes
/// ([`compression::decompress`]). A zstd body whose frames declare a window
/// past what the cap can need ([`compression::zstd_window_log_max`]) is
/// refused first, as the gRPC side refuses it, before the decoder would
/// allocate it.
pub(crate) fn decode_content(
    coding: ContentCoding,
    body: Bytes,
    cap: usize,
) -> Result<Bytes, BodyError> {
    if coding == ContentCoding::Zstd {
        let granted = 1u64 << compression::zstd_window_log_max(cap);
        let window = super::zstd_window::largest_window(&body);
        if window > granted {
            return Err(BodyError::WindowTooLarge { window, granted });
        }
    }
    match compression::decompress(coding, &body, cap) {
        Ok(None) => Ok(body),
        Ok(Some(decoded)) => Ok(Bytes::from(decoded)),
        Err(DecompressError::TooLarge) => Err(BodyError::TooLarge { cap }),
        Err(DecompressError::Corrupt(reason)) => Err(BodyError::Corrupt(reason)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Bytes {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).ok();
        Bytes::from(encoder.finish().unwrap_or_default())
    }

    #[test]
    fn gzip_and_zstd_round_trip_under_the_cap() {
        let data = vec![7u8; 10_000];
        assert_eq!(
            decode_content(ContentCoding::Gzip, gzip(&data), 10_000).as_deref(),
            Ok(&data[..])
        );
        let zstd = Bytes::from(zstd::stream::encode_all(&data[..], 3).unwrap_or_default());
        assert_eq!(
            decode_content(ContentCoding::Zstd, zstd, 10_000).as_deref(),
            Ok(&data[..])
        );
    }

    #[test]
    fn bombs_stop_at_the_cap() {
        let bomb = vec![0u8; 50 << 20];
        let gz = gzip(&bomb);
        assert!(gz.len() < 100_000);
        assert_eq!(
            decode_content(ContentCoding::Gzip, gz, 1 << 20),
            Err(BodyError::TooLarge { cap: 1 << 20 })
        );
        let zs = Bytes::from(zstd::stream::encode_all(&bomb[..], 3).unwrap_or_default());
        assert_eq!(
            decode_content(ContentCoding::Zstd, zs, 1 << 20),
            Err(BodyError::TooLarge { cap: 1 << 20 })
        );
    }

    #[test]
    fn the_largest_cap_keeps_the_whole_body() {
        assert_eq!(
            decode_content(ContentCoding::Gzip, gzip(b"abc"), usize::MAX).as_deref(),
            Ok(&b"abc"[..])
        );
        let zstd = Bytes::from(zstd::stream::encode_all(&b"abc"[..], 3).unwrap_or_default());
        assert_eq!(
            decode_content(ContentCoding::Zstd, zstd, usize::MAX).as_deref(),
            Ok(&b"abc"[..])
        );
    }

    #[test]
    fn corrupt_streams_are_errors() {
        let mut gz = gzip(b"hello world, hello world").to_vec();
        gz.truncate(gz.len() - 6);
        assert!(matches!(
            decode_content(ContentCoding::Gzip, Bytes::from(gz), 1000),
            Err(BodyError::Corrupt(_))
        ));
        assert!(matches!(
            decode_content(ContentCoding::Gzip, Bytes::from_static(b"not gzip"), 1000),
            Err(BodyError::Corrupt(_))
        ));
        assert!(matches!(
            decode_content(ContentCoding::Zstd, Bytes::from_static(b"not zstd"), 1000),
            Err(BodyError::Corrupt(_))
        ));
    }
}
