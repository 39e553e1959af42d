//! One record on disk: its identity ([`RecordId`]), its 32-byte header, and
//! what the queue reports about it ([`PendingRecord`]).
//!
//! The layout (all integers little-endian) is documented in the
//! [module docs](super#the-segment-file-format).

use std::fmt;

use otlp_core::encode::Encoding;

use super::crc::{Crc32c, crc32c};
use crate::exporter::Signal;

/// The identity of a record: a number that only grows, also across restarts.
///
/// Ids are given out by [`DurableQueue::append`](super::DurableQueue::append)
/// in order, so ordering ids orders records by age. `Copy`, 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId(u64);

impl RecordId {
    /// The id with this number (as shown by [`get`](RecordId::get)).
    pub const fn new(value: u64) -> Self {
        RecordId(value)
    }

    /// The number of this id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An encoded request stored in the queue and not yet acknowledged: what the
/// pipeline needs to send it again, except the body (read it with
/// [`DurableQueue::read`](super::DurableQueue::read)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingRecord {
    /// The record's id; acknowledge it with this.
    pub id: RecordId,
    /// How the body is encoded.
    pub encoding: Encoding,
    /// Spans in the body.
    pub span_count: u32,
    /// Length of the body in bytes.
    pub body_len: u32,
}

/// The first bytes of every record.
pub(crate) const RECORD_MAGIC: [u8; 4] = *b"OTLR";
/// The format this code writes and reads.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Bytes before the body.
pub(crate) const HEADER_LEN: usize = 32;
/// `HEADER_LEN` as a file offset.
pub(crate) const HEADER_LEN_U64: u64 = HEADER_LEN as u64;

/// A record's header, decoded and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    pub(crate) id: u64,
    /// Whose request the body is; `None` when written by a queue opened
    /// for no signal ([`open`](super::DurableQueue::open)) or by an
    /// earlier version, which left the byte zero.
    pub(crate) signal: Option<Signal>,
    pub(crate) encoding: Encoding,
    pub(crate) span_count: u32,
    pub(crate) body_len: u32,
    pub(crate) body_crc: u32,
}

/// Why 32 bytes are not a valid header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    Magic,
    Checksum,
    Version(u8),
    Encoding(u8),
    Signal(u8),
    Reserved,
}

impl RecordHeader {
    /// The header of `body`, checksum included.
    pub(crate) fn for_body(
        id: u64,
        signal: Option<Signal>,
        encoding: Encoding,
        span_count: u32,
        body: &[u8],
    ) -> Self {
        let body_len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        RecordHeader {
            id,
            signal,
            encoding,
            span_count,
            body_len,
            body_crc: crc32c(body),
        }
    }

    /// The whole record's length on disk.
    pub(crate) fn record_len(&self) -> u64 {
        HEADER_LEN_U64 + u64::from(self.body_len)
    }

    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..4].copy_from_slice(&RECORD_MAGIC);
        bytes[4] = FORMAT_VERSION;
        bytes[5] = encoding_byte(self.encoding);
        bytes[6] = signal_byte(self.signal);
        // bytes[7]: reserved, zero.
        bytes[8..16].copy_from_slice(&self.id.to_le_bytes());
        bytes[16..20].copy_from_slice(&self.span_count.to_le_bytes());
        bytes[20..24].copy_from_slice(&self.body_len.to_le_bytes());
        bytes[24..28].copy_from_slice(&self.body_crc.to_le_bytes());
        let header_crc = crc32c(&bytes[0..28]);
        bytes[28..32].copy_from_slice(&header_crc.to_le_bytes());
        bytes
    }

    /// Checks magic, header checksum, version, encoding, signal and reserved
    /// byte, in that order: nothing in a header is trusted before its
    /// checksum matched.
    pub(crate) fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, HeaderError> {
        if bytes[0..4] != RECORD_MAGIC {
            return Err(HeaderError::Magic);
        }
        let stored_crc = u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]);
        if crc32c(&bytes[0..28]) != stored_crc {
            return Err(HeaderError::Checksum);
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(HeaderError::Version(bytes[4]));
        }
        let encoding = match bytes[5] {
            0 => Encoding::Protobuf,
            1 => Encoding::Json,
            other => return Err(HeaderError::Encoding(other)),
        };
        let signal = match bytes[6] {
            0 => None,
            1 => Some(Signal::Traces),
            2 => Some(Signal::Logs),
            3 => Some(Signal::Metrics),
            other => return Err(HeaderError::Signal(other)),
        };
        if bytes[7] != 0 {
            return Err(HeaderError::Reserved);
        }
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[8..16]);
        Ok(RecordHeader {
            id: u64::from_le_bytes(id),
            signal,
            encoding,
            span_count: u32_at(16),
            body_len: u32_at(20),
            body_crc: u32_at(24),
        })
    }

    /// Whether `body` is the body this header describes.
    pub(crate) fn matches_body(&self, body: &[u8]) -> bool {
        let mut crc = Crc32c::new();
        crc.update(body);
        body.len() == self.body_len as usize && crc.finish() == self.body_crc
    }
}

/// The byte naming `signal` at offset 6 (see [the format](super#the-segment-file-format)).
const fn signal_byte(signal: Option<Signal>) -> u8 {
    match signal {
        None => 0,
        Some(Signal::Traces) => 1,
        Some(Signal::Logs) => 2,
        Some(Signal::Metrics) => 3,
    }
}

const fn encoding_byte(encoding: Encoding) -> u8 {
    match encoding {
        Encoding::Protobuf => 0,
        Encoding::Json => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RecordHeader {
        RecordHeader::for_body(
            42,
            Some(Signal::Logs),
            Encoding::Json,
            7,
            b"{\"resourceSpans\":[]}",
        )
    }

    #[test]
    fn a_header_decodes_to_what_was_encoded() {
        let header = header();
        assert_eq!(RecordHeader::decode(&header.encode()), Ok(header));
        assert!(header.matches_body(b"{\"resourceSpans\":[]}"));
        assert!(!header.matches_body(b"{\"resourceSpans\":[ ]}"));
        assert_eq!(header.record_len(), 32 + 20);
    }

    #[test]
    fn the_layout_is_the_documented_one() {
        let bytes = header().encode();
        assert_eq!(&bytes[0..4], b"OTLR");
        assert_eq!(bytes[4], 1, "version");
        assert_eq!(bytes[5], 1, "json");
        assert_eq!(bytes[6], 2, "logs");
        assert_eq!(bytes[7], 0);
        assert_eq!(&bytes[8..16], &42u64.to_le_bytes());
        assert_eq!(&bytes[16..20], &7u32.to_le_bytes());
        assert_eq!(&bytes[20..24], &20u32.to_le_bytes());
        assert_eq!(
            &bytes[24..28],
            &crc32c(b"{\"resourceSpans\":[]}").to_le_bytes()
        );
        assert_eq!(&bytes[28..32], &crc32c(&bytes[0..28]).to_le_bytes());
    }

    #[test]
    fn every_single_bit_flip_in_a_header_is_detected() {
        let bytes = header().encode();
        for bit in 0..HEADER_LEN * 8 {
            let mut flipped = bytes;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(RecordHeader::decode(&flipped).is_err(), "bit {bit}");
        }
    }

    #[test]
    fn unknown_versions_and_encodings_are_refused_even_with_a_good_checksum() {
        let mut bytes = header().encode();
        bytes[4] = 2;
        let crc = crc32c(&bytes[0..28]);
        bytes[28..32].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(RecordHeader::decode(&bytes), Err(HeaderError::Version(2)));

        let mut bytes = header().encode();
        bytes[5] = 9;
        let crc = crc32c(&bytes[0..28]);
        bytes[28..32].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(RecordHeader::decode(&bytes), Err(HeaderError::Encoding(9)));

        let mut bytes = header().encode();
        bytes[6] = 4;
        let crc = crc32c(&bytes[0..28]);
        bytes[28..32].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(RecordHeader::decode(&bytes), Err(HeaderError::Signal(4)));
    }

    #[test]
    fn every_signal_and_none_read_back() {
        for signal in [
            None,
            Some(Signal::Traces),
            Some(Signal::Logs),
            Some(Signal::Metrics),
        ] {
            let header = RecordHeader::for_body(1, signal, Encoding::Protobuf, 1, b"body");
            assert_eq!(RecordHeader::decode(&header.encode()), Ok(header));
        }
        let none = RecordHeader::for_body(1, None, Encoding::Protobuf, 1, b"body").encode();
        assert_eq!(none[6], 0, "what earlier versions wrote");
    }
}
