//! Request body compression: gzip (feature `gzip`) and zstd (feature `zstd`).
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

/// Whether this build can compress with `compression` (its cargo feature is on).
pub(crate) const fn is_available(compression: Compression) -> bool {
    match compression {
        Compression::None => true,
        Compression::Gzip => cfg!(feature = "gzip"),
        Compression::Zstd => cfg!(feature = "zstd"),
    }
}

/// Compresses `body`; with [`Compression::None`] returns it as is (no copy).
pub(crate) fn compress(compression: Compression, body: &Bytes) -> Result<Bytes, String> {
    match compression {
        Compression::None => Ok(body.clone()),
        Compression::Gzip => gzip(body).map(Bytes::from),
        Compression::Zstd => zstd(body).map(Bytes::from),
    }
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
    Err("gzip compression needs the `gzip` feature of otlp-exporter-http".to_owned())
}

#[cfg(feature = "zstd")]
fn zstd(body: &[u8]) -> Result<Vec<u8>, String> {
    zstd::bulk::compress(body, zstd::DEFAULT_COMPRESSION_LEVEL)
        .map_err(|error| format!("zstd compression failed: {error}"))
}

#[cfg(not(feature = "zstd"))]
fn zstd(_: &[u8]) -> Result<Vec<u8>, String> {
    Err("zstd compression needs the `zstd` feature of otlp-exporter-http".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[cfg(feature = "gzip")]
    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;

        let body = sample();
        let compressed = compress(Compression::Gzip, &body).unwrap();
        assert!(compressed.len() < body.len() / 4);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        assert_eq!(content_encoding(Compression::Gzip), Some("gzip"));
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_round_trips() {
        let body = sample();
        let compressed = compress(Compression::Zstd, &body).unwrap();
        assert!(compressed.len() < body.len() / 4);
        assert_eq!(zstd::decode_all(&compressed[..]).unwrap(), body);
        assert_eq!(content_encoding(Compression::Zstd), Some("zstd"));
    }
}
