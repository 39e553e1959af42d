//! The acknowledgement file of a segment: which of its records were delivered.
//!
//! Each segment `N.seg` may have an `N.ack` beside it: an append-only list of
//! 16-byte entries, one per acknowledged record, in the order the
//! acknowledgements came (any order). An entry is the magic `OTLA`, the record
//! id (u64, little-endian) and the CRC-32C of those 12 bytes. Entries have a
//! fixed size, so a damaged entry costs only itself: it is ignored, and its
//! record is sent again after a restart (at-least-once). A partial entry at the
//! end (a crash mid-write) is cut off when the queue opens.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

use super::crc::crc32c;
use super::error::DurableError;
use super::fs::check_openable;

/// The first bytes of every entry.
pub(crate) const ACK_MAGIC: [u8; 4] = *b"OTLA";
/// Bytes per entry.
pub(crate) const ACK_ENTRY_LEN: usize = 16;

/// The entry recording that record `id` was delivered.
pub(crate) fn encode_ack(id: u64) -> [u8; ACK_ENTRY_LEN] {
    let mut entry = [0u8; ACK_ENTRY_LEN];
    entry[0..4].copy_from_slice(&ACK_MAGIC);
    entry[4..12].copy_from_slice(&id.to_le_bytes());
    let crc = crc32c(&entry[0..12]);
    entry[12..16].copy_from_slice(&crc.to_le_bytes());
    entry
}

/// What an acknowledgement file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AckScan {
    /// Acknowledged ids, in file order.
    pub(crate) ids: Vec<u64>,
    /// Entries that failed their checks (ignored).
    pub(crate) damaged: u64,
    /// Bytes of whole entries; anything after is a partial entry.
    pub(crate) whole_len: u64,
}

/// Reads an acknowledgement file's bytes. Never fails: damage is counted.
pub(crate) fn parse_acks(bytes: &[u8]) -> AckScan {
    let mut scan = AckScan::default();
    let mut entries = bytes.chunks_exact(ACK_ENTRY_LEN);
    for entry in &mut entries {
        let crc = u32::from_le_bytes([entry[12], entry[13], entry[14], entry[15]]);
        if entry[0..4] == ACK_MAGIC && crc32c(&entry[0..12]) == crc {
            let mut id = [0u8; 8];
            id.copy_from_slice(&entry[4..12]);
            scan.ids.push(u64::from_le_bytes(id));
        } else {
            scan.damaged += 1;
        }
    }
    scan.whole_len = (bytes.len() - entries.remainder().len()) as u64;
    scan
}

/// Reads the acknowledgement file at `path`, if there is one, calling
/// `acknowledged` with each id, and cuts off a partial entry at its end.
/// Reads `chunk`-sized pieces (a whole number of entries) at a time.
pub(crate) fn read_ack_file(
    path: &Path,
    chunk: &mut Vec<u8>,
    mut acknowledged: impl FnMut(u64),
) -> Result<(), DurableError> {
    check_openable(path).map_err(DurableError::io(path, "open"))?;
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(DurableError::io(path, "open")(error)),
    };
    let piece = (chunk.len() / ACK_ENTRY_LEN).max(1) * ACK_ENTRY_LEN;
    chunk.resize(piece, 0);
    let mut whole_len = 0u64;
    loop {
        let filled = read_up_to(&mut file, chunk).map_err(DurableError::io(path, "read"))?;
        let scan = parse_acks(&chunk[..filled]);
        scan.ids.into_iter().for_each(&mut acknowledged);
        whole_len += scan.whole_len;
        if filled < chunk.len() {
            if scan.whole_len < filled as u64 {
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .and_then(|file| file.set_len(whole_len))
                    .map_err(DurableError::io(path, "cut a partial entry off"))?;
            }
            return Ok(());
        }
    }
}

/// Fills as much of `buf` as the file has left.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn entries_read_back_in_order_and_a_partial_one_is_left_out() {
        let mut bytes = Vec::new();
        for id in [7u64, 3, 9] {
            bytes.extend_from_slice(&encode_ack(id));
        }
        bytes.extend_from_slice(&encode_ack(11)[..5]);
        let scan = parse_acks(&bytes);
        assert_eq!(scan.ids, [7, 3, 9]);
        assert_eq!(scan.damaged, 0);
        assert_eq!(scan.whole_len, 48);
    }

    #[test]
    fn a_damaged_entry_costs_only_itself() {
        let mut bytes = Vec::new();
        for id in [1u64, 2, 3] {
            bytes.extend_from_slice(&encode_ack(id));
        }
        bytes[16 + 6] ^= 0x10;
        let scan = parse_acks(&bytes);
        assert_eq!(scan.ids, [1, 3]);
        assert_eq!(scan.damaged, 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_never_panic_and_never_invent_acks(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
        ) {
            let scan = parse_acks(&bytes);
            prop_assert_eq!(scan.whole_len as usize, bytes.len() / ACK_ENTRY_LEN * ACK_ENTRY_LEN);
            prop_assert_eq!(scan.ids.len() as u64 + scan.damaged, scan.whole_len / ACK_ENTRY_LEN as u64);
        }
    }
}
