//! Request body compression for the transports: gzip (feature `gzip`) and
//! zstd (feature `zstd`), one pass over the encoded request into a buffer
//! of its own. Both exporters compress through here; each turns the
//! features on that its own `gzip` and `zstd` features ask for, and refuses
//! a compression whose feature is off when it is built, so the errors below
//! only guard a misuse.

use crate::config::Compression;

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

    #[cfg(not(feature = "gzip"))]
    #[test]
    fn without_its_feature_gzip_is_an_error_naming_it() {
        assert!(!is_available(Compression::Gzip));
        let error = compress(Compression::Gzip, b"x").unwrap_err();
        assert!(error.contains("`gzip` feature"), "{error}");
    }
}
