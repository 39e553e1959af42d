//! Request body compression (gzip with feature `gzip`, zstd with feature
//! `zstd`, through [`otlp_sdk::compression`]); and the decompression of a response whose server compressed it
//! ([`decode_response`]): a request without `Accept-Encoding` accepts any
//! coding (RFC 9110, 12.5.3), and a proxy in front of a collector may use it.
//!
//! The body is compressed once per attempt. The pipeline re-sends the same
//! [`ExportRequest`](otlp_sdk::ExportRequest) on retry, so a retry compresses
//! again; retries are the exception, and caching the compressed bytes would
//! have to key on the body's allocation, which the pipeline recycles through
//! its buffer pool (a recycled buffer at the same address with the same
//! length but different spans would get stale bytes). Correctness first.

use bytes::Bytes;
use otlp_sdk::config::Compression;

/// Bodies at least this large are compressed on tokio's blocking pool, so that
/// the I/O threads keep serving the other exports in flight meanwhile.
pub(crate) const BLOCKING_THRESHOLD: usize = 256 * 1024;

/// The `Content-Encoding` value for a compression, `None` for no compression.
pub(crate) const fn content_encoding(compression: Compression) -> Option<&'static str> {
    match compression {
        Compression::None => None,
        Compression::Gzip => Some("gzip"),
        Compression::Zstd => Some("zstd"),
    }
}

/// Compresses `body`; with [`Compression::None`] returns it as is (no copy).
pub(crate) fn compress(compression: Compression, body: &Bytes) -> Result<Bytes, String> {
    Ok(otlp_sdk::compression::compress(compression, body)?
        .map_or_else(|| body.clone(), Bytes::from))
}

/// A response body as the server meant it: decompressed when its
/// `Content-Encoding` is `gzip` (or `x-gzip`) or `zstd`, as is when there is
/// none (or `identity`). The decompressed body may not exceed `cap` bytes
/// either (a small compressed body can expand a thousandfold). An encoding
/// this build cannot decode is an error naming it.
pub(crate) fn decode_response(
    content_encoding: Option<&[u8]>,
    body: Vec<u8>,
    cap: usize,
) -> Result<Vec<u8>, ResponseDecodeError> {
    let Some(coding) = content_encoding.map(<[u8]>::trim_ascii) else {
        return Ok(body);
    };
    if coding.is_empty() || coding.eq_ignore_ascii_case(b"identity") {
        Ok(body)
    } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
        gunzip(&body, cap)
    } else if coding.eq_ignore_ascii_case(b"zstd") {
        unzstd(&body, cap)
    } else {
        Err(ResponseDecodeError::Unsupported(
            String::from_utf8_lossy(coding).into_owned(),
        ))
    }
}

/// Why a compressed response body could not be decoded.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(not(any(feature = "gzip", feature = "zstd")), allow(dead_code))]
pub(crate) enum ResponseDecodeError {
    /// Decompressed, it is larger than the response cap.
    TooLarge,
    /// A coding this build does not decode (its feature is off, or unknown).
    Unsupported(String),
    /// Not valid data in its coding.
    Corrupt(String),
}

/// Reads at most `cap + 1` decompressed bytes from `reader`.
#[cfg(any(feature = "gzip", feature = "zstd"))]
fn read_capped(reader: impl std::io::Read, cap: usize) -> Result<Vec<u8>, ResponseDecodeError> {
    use std::io::Read as _;

    let mut decoded = Vec::new();
    reader
        .take(cap as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|error| ResponseDecodeError::Corrupt(error.to_string()))?;
    if decoded.len() > cap {
        return Err(ResponseDecodeError::TooLarge);
    }
    Ok(decoded)
}

#[cfg(feature = "gzip")]
fn gunzip(body: &[u8], cap: usize) -> Result<Vec<u8>, ResponseDecodeError> {
    read_capped(flate2::read::GzDecoder::new(body), cap)
}

#[cfg(not(feature = "gzip"))]
fn gunzip(_: &[u8], _: usize) -> Result<Vec<u8>, ResponseDecodeError> {
    Err(ResponseDecodeError::Unsupported(
        "gzip (the `gzip` feature of otlp-exporter-http is off)".to_owned(),
    ))
}

#[cfg(feature = "zstd")]
fn unzstd(body: &[u8], cap: usize) -> Result<Vec<u8>, ResponseDecodeError> {
    let decoder = zstd::stream::read::Decoder::new(body)
        .map_err(|error| ResponseDecodeError::Corrupt(error.to_string()))?;
    read_capped(decoder, cap)
}

#[cfg(not(feature = "zstd"))]
fn unzstd(_: &[u8], _: usize) -> Result<Vec<u8>, ResponseDecodeError> {
    Err(ResponseDecodeError::Unsupported(
        "zstd (the `zstd` feature of otlp-exporter-http is off)".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncompressed_response_is_the_same_bytes() {
        for coding in [None, Some(&b"identity"[..]), Some(&b" "[..])] {
            assert_eq!(
                decode_response(coding, b"abc".to_vec(), 3),
                Ok(b"abc".to_vec())
            );
        }
        assert_eq!(
            decode_response(Some(b"br"), b"abc".to_vec(), 3),
            Err(ResponseDecodeError::Unsupported("br".into()))
        );
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn a_gzip_response_is_decoded_within_the_cap() {
        let body = sample();
        let compressed = compress(Compression::Gzip, &body).unwrap().to_vec();
        for coding in [&b"gzip"[..], b"X-Gzip", b" GZIP "] {
            assert_eq!(
                decode_response(Some(coding), compressed.clone(), body.len()).as_deref(),
                Ok(&body[..])
            );
        }
        assert_eq!(
            decode_response(Some(b"gzip"), compressed, body.len() - 1),
            Err(ResponseDecodeError::TooLarge),
            "a thousandfold expansion stops at the cap"
        );
        assert!(matches!(
            decode_response(Some(b"gzip"), b"not gzip".to_vec(), 100),
            Err(ResponseDecodeError::Corrupt(_))
        ));
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn a_zstd_response_is_decoded_within_the_cap() {
        let body = sample();
        let compressed = compress(Compression::Zstd, &body).unwrap().to_vec();
        assert_eq!(
            decode_response(Some(b"zstd"), compressed.clone(), body.len()).as_deref(),
            Ok(&body[..])
        );
        assert_eq!(
            decode_response(Some(b"zstd"), compressed, 10),
            Err(ResponseDecodeError::TooLarge)
        );
    }

    fn sample() -> Bytes {
        Bytes::from(
            (0..10_000u32)
                .flat_map(|i| format!("{{\"key\":\"span-{}\"}}", i % 97).into_bytes())
                .collect::<Vec<u8>>(),
        )
    }

    #[test]
    fn no_compression_is_the_same_bytes() {
        let body = sample();
        let sent = compress(Compression::None, &body).unwrap();
        assert_eq!(sent.as_ptr(), body.as_ptr());
        assert_eq!(content_encoding(Compression::None), None);
    }

    #[test]
    fn each_compression_names_its_content_encoding() {
        assert_eq!(content_encoding(Compression::Gzip), Some("gzip"));
        assert_eq!(content_encoding(Compression::Zstd), Some("zstd"));
    }
}
