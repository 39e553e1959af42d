//! Reading a segment back: every record is checked against its checksums,
//! damage is located and measured, and nothing on disk can cause a panic.
//!
//! The scanner walks the records from the start of the file. A record is
//! *sound* when its header checksum matches, its id is in the expected range
//! (above the previous record's, below the next segment's first) and its body
//! checksum matches. When a record is not sound:
//!
//! - its header is sound but its body is not: the length is trustworthy (the
//!   header checksum covers it), so exactly that record is skipped;
//! - its header is not sound: the scanner *resynchronises*, searching forward
//!   byte by byte for the record magic followed by a sound header with an id in
//!   range, and carries on there. A false match needs the magic and a 32-bit
//!   checksum to line up by chance (or a body that contains a well-formed
//!   record header with a plausible id, which is why ids must keep rising).
//!
//! Damage followed by a sound record is *corrupt* (bit rot, a lost page).
//! Damage that runs to the end of the file is the *tail*: in the segment being
//! written when a crash came it is a torn write and is truncated away. Either
//! kind, once counted, is removed from disk (`repair.rs`).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;

use super::crc::Crc32c;
use super::record::{HEADER_LEN, HEADER_LEN_U64, RECORD_MAGIC, RecordHeader};

/// Bytes read at a time when checking bodies and searching for the next record.
pub(crate) const CHUNK_LEN: usize = 64 * 1024;

/// Random-access reads over a segment's bytes: a file, or a slice in tests.
pub(crate) trait Source {
    fn len(&self) -> u64;
    /// Fills `buf` from `offset`; fails (never panics) past the end.
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// A segment file, read with as few seeks as a front-to-back walk allows.
pub(crate) struct FileSource<'a> {
    file: &'a File,
    len: u64,
    position: u64,
}

impl<'a> FileSource<'a> {
    /// `file` positioned at its start, `len` bytes long.
    pub(crate) fn new(file: &'a File, len: u64) -> Self {
        FileSource {
            file,
            len,
            position: 0,
        }
    }
}

impl Source for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut file = self.file;
        if offset != self.position {
            file.seek(SeekFrom::Start(offset))?;
            self.position = offset;
        }
        let result = file.read_exact(buf);
        // After an error the position is unknown: seek next time.
        self.position = match result {
            Ok(()) => offset + buf.len() as u64,
            Err(_) => u64::MAX,
        };
        result
    }
}

/// A sound record found by [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScannedRecord {
    pub(crate) header: RecordHeader,
    /// Where its header starts in the file.
    pub(crate) offset: u64,
}

/// What [`scan`] found in one segment. The file's bytes are exactly the sound
/// records, the corrupt bytes and the tail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    /// The sound records, in file order (so in increasing id order).
    pub(crate) records: Vec<ScannedRecord>,
    /// Damaged stretches followed by a sound record: one per record known to
    /// be damaged, at least one per stretch.
    pub(crate) corrupt_records: u64,
    pub(crate) corrupt_bytes: u64,
    /// Where the last sound record (or damaged record followed by one) ends.
    pub(crate) valid_len: u64,
    /// Damaged or cut-short bytes after `valid_len`, up to the end of the file.
    pub(crate) tail_bytes: u64,
    /// Records known to be lost in the tail (at least one when there is a tail).
    pub(crate) tail_records: u64,
    /// The damaged records whose header is sound (only the body fails its
    /// checksum, or is cut short): counted above, and known by id, so that one already
    /// counted when it was read back (and acknowledged then) is not counted
    /// again.
    pub(crate) damaged: Vec<DamagedRecord>,
}

/// A record with a sound header and a damaged (or cut short) body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DamagedRecord {
    pub(crate) id: u64,
    /// Where its header starts in the file.
    pub(crate) offset: u64,
    /// Its length, header included (cut short: the bytes there are).
    pub(crate) len: u64,
    /// The spans its (sound) header says it held.
    pub(crate) span_count: u32,
}

/// A damaged stretch not yet known to be followed by a sound record.
struct Damage {
    start: u64,
    records: u64,
}

/// Reads every record of a segment whose ids must lie in `ids` (each also
/// above the previous one). `chunk` is scratch space, grown to [`CHUNK_LEN`].
/// Only the source's own read errors are errors: damage is measured, not reported.
pub(crate) fn scan(
    source: &mut impl Source,
    ids: Range<u64>,
    chunk: &mut Vec<u8>,
) -> io::Result<SegmentScan> {
    chunk.resize(CHUNK_LEN, 0);
    let len = source.len();
    let mut scan = SegmentScan::default();
    let mut damage: Option<Damage> = None;
    let mut next_id = ids.start;
    let mut position = 0u64;
    while len - position >= HEADER_LEN_U64 {
        let mut bytes = [0u8; HEADER_LEN];
        source.read_exact_at(position, &mut bytes)?;
        match RecordHeader::decode(&bytes) {
            Ok(header) if (next_id..ids.end).contains(&header.id) => {
                let end = position.saturating_add(header.record_len());
                if end > len {
                    // Cut short: the tail; its sound header still says
                    // which record it was and how many spans it held.
                    damage
                        .get_or_insert(Damage {
                            start: position,
                            records: 0,
                        })
                        .records += 1;
                    scan.damaged.push(DamagedRecord {
                        id: header.id,
                        offset: position,
                        len: len - position,
                        span_count: header.span_count,
                    });
                    position = len;
                    break;
                }
                if body_matches(source, position + HEADER_LEN_U64, &header, chunk)? {
                    if let Some(damage) = damage.take() {
                        scan.corrupt_records += damage.records;
                        scan.corrupt_bytes += position - damage.start;
                    }
                    scan.records.push(ScannedRecord {
                        header,
                        offset: position,
                    });
                    next_id = header.id + 1;
                } else {
                    damage
                        .get_or_insert(Damage {
                            start: position,
                            records: 0,
                        })
                        .records += 1;
                    scan.damaged.push(DamagedRecord {
                        id: header.id,
                        offset: position,
                        len: header.record_len(),
                        span_count: header.span_count,
                    });
                }
                position = end;
            }
            _ => {
                damage
                    .get_or_insert(Damage {
                        start: position,
                        records: 0,
                    })
                    .records += 1;
                match find_header(source, position + 1, next_id..ids.end, chunk)? {
                    Some(next) => position = next,
                    None => break,
                }
            }
        }
    }
    let damage = match damage {
        Some(damage) => Some(damage),
        None if position < len => Some(Damage {
            start: position,
            records: 1,
        }),
        None => None,
    };
    match damage {
        Some(damage) => {
            scan.valid_len = damage.start;
            scan.tail_bytes = len - damage.start;
            scan.tail_records = damage.records;
        }
        None => scan.valid_len = len,
    }
    Ok(scan)
}

/// Whether the body of `header`, at `offset`, matches its checksum.
fn body_matches(
    source: &mut impl Source,
    offset: u64,
    header: &RecordHeader,
    chunk: &mut [u8],
) -> io::Result<bool> {
    let mut crc = Crc32c::new();
    let total = u64::from(header.body_len);
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(chunk.len() as u64) as usize;
        source.read_exact_at(offset + done, &mut chunk[..n])?;
        crc.update(&chunk[..n]);
        done += n as u64;
    }
    Ok(crc.finish() == header.body_crc)
}

/// The first offset at or after `from` where a sound header with an id in
/// `ids` starts, if any.
fn find_header(
    source: &mut impl Source,
    from: u64,
    ids: Range<u64>,
    chunk: &mut [u8],
) -> io::Result<Option<u64>> {
    let len = source.len();
    let overlap = RECORD_MAGIC.len() - 1;
    let mut window = from;
    while len.saturating_sub(window) >= HEADER_LEN_U64 {
        let n = (len - window).min(chunk.len() as u64) as usize;
        source.read_exact_at(window, &mut chunk[..n])?;
        let mut at = 0;
        while let Some(found) = chunk[at..n]
            .windows(RECORD_MAGIC.len())
            .position(|candidate| candidate == RECORD_MAGIC)
        {
            let start = at + found;
            let offset = window + start as u64;
            if len - offset < HEADER_LEN_U64 {
                return Ok(None);
            }
            let mut bytes = [0u8; HEADER_LEN];
            match chunk.get(start..start + HEADER_LEN) {
                Some(inside) if start + HEADER_LEN <= n => bytes.copy_from_slice(inside),
                _ => source.read_exact_at(offset, &mut bytes)?,
            }
            if RecordHeader::decode(&bytes).is_ok_and(|header| ids.contains(&header.id)) {
                return Ok(Some(offset));
            }
            at = start + 1;
        }
        if window + n as u64 >= len {
            break;
        }
        // Keep the last bytes: a magic may straddle two windows.
        window += (n - overlap) as u64;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use otlp_core::encode::Encoding;
    use proptest::prelude::*;

    use super::*;

    /// A segment in memory.
    struct SliceSource<'a>(&'a [u8]);

    impl Source for SliceSource<'_> {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }

        fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let bytes = start
                .checked_add(buf.len())
                .and_then(|end| self.0.get(start..end))
                .ok_or(io::ErrorKind::UnexpectedEof)?;
            buf.copy_from_slice(bytes);
            Ok(())
        }
    }

    /// A segment of records with ids `first..`, and each record's `(start, end)`.
    fn segment(first: u64, bodies: &[Vec<u8>]) -> (Vec<u8>, Vec<(u64, u64)>) {
        let mut bytes = Vec::new();
        let mut extents = Vec::new();
        for (index, body) in bodies.iter().enumerate() {
            let start = bytes.len() as u64;
            let header =
                RecordHeader::for_body(first + index as u64, None, Encoding::Protobuf, 3, body);
            bytes.extend_from_slice(&header.encode());
            bytes.extend_from_slice(body);
            extents.push((start, bytes.len() as u64));
        }
        (bytes, extents)
    }

    fn scan_bytes(bytes: &[u8], ids: Range<u64>) -> SegmentScan {
        let mut chunk = Vec::new();
        match scan(&mut SliceSource(bytes), ids, &mut chunk) {
            Ok(scan) => scan,
            Err(error) => panic!("a slice never fails to read: {error}"),
        }
    }

    /// Invariants of every scan, whatever the input.
    fn check_invariants(bytes: &[u8], scan: &SegmentScan) {
        let mut previous = None;
        let mut record_bytes = 0;
        for record in &scan.records {
            let start = record.offset as usize;
            let header_bytes: [u8; HEADER_LEN] = bytes[start..start + HEADER_LEN]
                .try_into()
                .expect("32 bytes");
            assert_eq!(RecordHeader::decode(&header_bytes), Ok(record.header));
            let body = &bytes[start + HEADER_LEN..start + record.header.record_len() as usize];
            assert!(record.header.matches_body(body));
            assert!(previous.is_none_or(|id| record.header.id > id));
            previous = Some(record.header.id);
            record_bytes += record.header.record_len();
        }
        assert_eq!(
            record_bytes + scan.corrupt_bytes + scan.tail_bytes,
            bytes.len() as u64,
            "every byte is a record, corrupt or tail"
        );
        assert_eq!(scan.valid_len + scan.tail_bytes, bytes.len() as u64);
        assert_eq!(scan.tail_bytes > 0, scan.tail_records > 0);
        assert_eq!(scan.corrupt_bytes > 0, scan.corrupt_records > 0);
    }

    fn bodies() -> Vec<Vec<u8>> {
        (0..5u8).map(|i| vec![i; 10 + 40 * i as usize]).collect()
    }

    #[test]
    fn a_clean_segment_reads_back_whole() {
        let (bytes, _) = segment(10, &bodies());
        let scan = scan_bytes(&bytes, 10..u64::MAX);
        check_invariants(&bytes, &scan);
        assert_eq!(scan.records.len(), 5);
        assert_eq!((scan.valid_len, scan.tail_bytes), (bytes.len() as u64, 0));
        assert_eq!(scan.corrupt_records, 0);
    }

    #[test]
    fn an_empty_segment_is_clean() {
        assert_eq!(scan_bytes(&[], 0..u64::MAX), SegmentScan::default());
    }

    #[test]
    fn a_cut_at_every_offset_of_the_last_record_is_a_tail() {
        let (bytes, extents) = segment(1, &bodies());
        let (last_start, last_end) = extents[4];
        for cut in last_start + 1..last_end {
            let cut_bytes = &bytes[..cut as usize];
            let scan = scan_bytes(cut_bytes, 1..u64::MAX);
            check_invariants(cut_bytes, &scan);
            assert_eq!(scan.records.len(), 4, "cut at {cut}");
            assert_eq!(scan.valid_len, last_start);
            assert_eq!(scan.tail_bytes, cut - last_start);
            assert_eq!(scan.corrupt_records, 0);
        }
    }

    #[test]
    fn a_damaged_body_costs_exactly_that_record() {
        let (mut bytes, extents) = segment(1, &bodies());
        let (start, end) = extents[2];
        bytes[start as usize + HEADER_LEN + 3] ^= 0x40;
        let scan = scan_bytes(&bytes, 1..u64::MAX);
        check_invariants(&bytes, &scan);
        let ids: Vec<u64> = scan.records.iter().map(|r| r.header.id).collect();
        assert_eq!(ids, [1, 2, 4, 5]);
        assert_eq!((scan.corrupt_records, scan.corrupt_bytes), (1, end - start));
    }

    #[test]
    fn a_damaged_header_is_skipped_by_resynchronising() {
        let (mut bytes, extents) = segment(1, &bodies());
        let (start, end) = extents[1];
        bytes[start as usize + 20] ^= 0x01; // the length field
        let scan = scan_bytes(&bytes, 1..u64::MAX);
        check_invariants(&bytes, &scan);
        let ids: Vec<u64> = scan.records.iter().map(|r| r.header.id).collect();
        assert_eq!(ids, [1, 3, 4, 5]);
        assert_eq!((scan.corrupt_records, scan.corrupt_bytes), (1, end - start));
    }

    #[test]
    fn records_out_of_the_id_range_are_not_accepted() {
        let (bytes, _) = segment(5, &bodies());
        // Ids 5..10 in a segment that should hold 7..9 only.
        let scan = scan_bytes(&bytes, 7..9);
        check_invariants(&bytes, &scan);
        let ids: Vec<u64> = scan.records.iter().map(|r| r.header.id).collect();
        assert_eq!(ids, [7, 8]);
        assert_eq!(scan.corrupt_records, 1, "5 and 6");
        assert_eq!(scan.tail_records, 1, "9");
    }

    #[test]
    fn resynchronising_finds_a_magic_split_across_windows() {
        // A long damaged stretch so the next header lies past the first window.
        let mut bytes = vec![0xAB; CHUNK_LEN - 2];
        let (records, _) = segment(1, &bodies());
        bytes.extend_from_slice(&records);
        let scan = scan_bytes(&bytes, 1..u64::MAX);
        check_invariants(&bytes, &scan);
        assert_eq!(scan.records.len(), 5);
        assert_eq!(scan.corrupt_bytes, CHUNK_LEN as u64 - 2);
    }

    /// Bodies that sometimes contain the record magic, to exercise resynchronisation.
    fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
        (proptest::collection::vec(any::<u8>(), 0..300), 0..40usize).prop_map(
            |(mut body, spacing)| {
                if spacing >= 4 {
                    for start in (0..body.len().saturating_sub(4)).step_by(spacing) {
                        body[start..start + 4].copy_from_slice(&RECORD_MAGIC);
                    }
                }
                body
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic_and_keep_the_invariants(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
        ) {
            let scan = scan_bytes(&bytes, 0..u64::MAX);
            check_invariants(&bytes, &scan);
        }

        #[test]
        fn a_truncated_segment_recovers_every_complete_record(
            bodies in proptest::collection::vec(body_strategy(), 1..12),
            cut in any::<proptest::sample::Index>(),
        ) {
            let (bytes, extents) = segment(100, &bodies);
            let cut = cut.index(bytes.len() + 1);
            let scan = scan_bytes(&bytes[..cut], 100..u64::MAX);
            check_invariants(&bytes[..cut], &scan);
            let complete = extents.iter().filter(|(_, end)| *end as usize <= cut).count();
            prop_assert_eq!(scan.records.len(), complete);
            prop_assert_eq!(scan.corrupt_records, 0);
            let valid = extents.get(complete.wrapping_sub(1)).map_or(0, |(_, end)| *end);
            prop_assert_eq!(scan.valid_len, if complete == 0 { 0 } else { valid });
            prop_assert_eq!(scan.tail_bytes, cut as u64 - scan.valid_len);
        }

        #[test]
        fn damage_costs_only_the_damaged_records(
            bodies in proptest::collection::vec(body_strategy(), 1..12),
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1..=255u8), 1..6),
        ) {
            let (mut bytes, extents) = segment(1, &bodies);
            let mut flipped = Vec::new();
            for (index, mask) in flips {
                let at = index.index(bytes.len());
                bytes[at] ^= mask;
                flipped.push(at as u64);
            }
            let scan = scan_bytes(&bytes, 1..u64::MAX);
            check_invariants(&bytes, &scan);
            // Nothing is made up: every record returned is one that was written, byte for byte.
            for record in &scan.records {
                let index = (record.header.id - 1) as usize;
                prop_assert!(index < bodies.len());
                prop_assert_eq!(record.offset, extents[index].0);
                let start = record.offset as usize + HEADER_LEN;
                prop_assert_eq!(&bytes[start..start + bodies[index].len()], &bodies[index][..]);
            }
            // And nothing untouched is lost.
            for (index, (start, end)) in extents.iter().enumerate() {
                let untouched = flipped.iter().all(|at| at < start || at >= end);
                if untouched {
                    prop_assert!(
                        scan.records.iter().any(|record| record.header.id == index as u64 + 1),
                        "record {} was untouched but not recovered", index + 1
                    );
                }
            }
        }
    }
}
