//! Request body compression: gzip (feature `gzip`) and zstd (feature
//! `zstd`), through [`otlp_sdk::compression`].
//!
//! The body is compressed once per attempt. The pipeline re-sends the same
//! [`ExportRequest`](otlp_sdk::ExportRequest) on retry, so a retry compresses
//! again; retries are the exception, and caching the compressed bytes would
//! have to key on the body's allocation, which the pipeline recycles through
//! its buffer pool (a recycled buffer at the same address with the same
//! length but different spans would get stale bytes). Correctness first.

use bytes::Bytes;
use otlp_sdk::config::Compression;

/// The `Content-Encoding` value for a compression, `None` for no compression.
pub(crate) const fn content_encoding(compression: Compression) -> Option<&'static str> {
    match compression {
        Compression::None => None,
        Compression::Gzip => Some("gzip"),
        Compression::Zstd => Some("zstd"),
    }
}

/// Compresses `body`; with [`Compression::None`] returns it as is (no copy).
/// Bodies of [`BLOCKING_THRESHOLD`](otlp_sdk::compression::BLOCKING_THRESHOLD)
/// bytes or more are compressed on tokio's blocking pool when there is a
/// runtime to ask, so that the I/O threads keep serving the other exports in
/// flight meanwhile ([`otlp_sdk::compression::compress_off_runtime`]).
pub(crate) async fn compress(compression: Compression, body: &Bytes) -> Result<Bytes, String> {
    Ok(
        otlp_sdk::compression::compress_off_runtime(compression, body)
            .await?
            .map_or_else(|| body.clone(), Bytes::from),
    )
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sent = runtime
            .block_on(compress(Compression::None, &body))
            .unwrap();
        assert_eq!(sent.as_ptr(), body.as_ptr());
        assert_eq!(content_encoding(Compression::None), None);
    }

    #[test]
    fn each_compression_names_its_content_encoding() {
        assert_eq!(content_encoding(Compression::Gzip), Some("gzip"));
        assert_eq!(content_encoding(Compression::Zstd), Some("zstd"));
    }
}
