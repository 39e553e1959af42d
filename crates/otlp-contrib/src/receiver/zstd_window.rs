//! The windows a zstd message declares, read from its frame headers before
//! anything is decompressed, so that a gRPC message asking for more memory
//! than its cap warrants is refused (`RESOURCE_EXHAUSTED`) rather than
//! allocated.
//!
//! Cost: one pass over the frame and block headers (3 bytes a block, a
//! block holds up to 128 KiB), no allocation.

/// A zstd frame's magic number (little-endian on the wire).
const FRAME_MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames' magic numbers are these with any low nibble.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;

/// The largest window, in bytes, that the frames of `message` declare (a
/// frame's `Window_Descriptor`, or its content size for a single-segment
/// frame), as zstd's decoder reads them; 0 for none.
///
/// The walk stops at the first frame it cannot follow (not zstd, a reserved
/// block type, cut short), having counted that frame's window if its header
/// was whole: the decoder, which runs next with the same limit, reports
/// the rest as corrupt.
pub(crate) fn largest_window(message: &[u8]) -> u64 {
    let mut largest = 0;
    let mut rest = message;
    while !rest.is_empty() {
        match frame(rest, &mut largest) {
            Some(len) => rest = rest.get(len..).unwrap_or_default(),
            None => break,
        }
    }
    largest
}

/// Walks the frame at the start of `bytes`, raising `largest` to its window
/// once its header is read; its length, or `None` where it cannot be
/// followed.
fn frame(bytes: &[u8], largest: &mut u64) -> Option<usize> {
    let magic = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    if magic & 0xFFFF_FFF0 == SKIPPABLE_MAGIC {
        let size = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
        return 8usize.checked_add(usize::try_from(size).ok()?);
    }
    if magic != FRAME_MAGIC {
        return None;
    }
    let descriptor = *bytes.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    let has_checksum = descriptor & 0x04 != 0;
    let dictionary_id_len = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
    let content_size_len = match descriptor >> 6 {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let mut at = 5;
    let window = if single_segment {
        // The window is the content size.
        let start = at + dictionary_id_len;
        let field = bytes.get(start..start + content_size_len)?;
        let mut le = [0u8; 8];
        le[..content_size_len].copy_from_slice(field);
        let size = u64::from_le_bytes(le);
        if content_size_len == 2 {
            size + 256
        } else {
            size
        }
    } else {
        let window_descriptor = *bytes.get(at)?;
        at += 1;
        let base = 1u64 << (10 + u32::from(window_descriptor >> 3));
        base + base / 8 * u64::from(window_descriptor & 0x07)
    };
    *largest = (*largest).max(window);
    at += dictionary_id_len + content_size_len;
    loop {
        let header = bytes.get(at..at + 3)?;
        let header = u32::from(header[0]) | u32::from(header[1]) << 8 | u32::from(header[2]) << 16;
        at += 3;
        let size = usize::try_from(header >> 3).ok()?;
        at += match (header >> 1) & 0x03 {
            // Raw and compressed blocks carry `size` bytes, RLE one.
            0 | 2 => size,
            1 => 1,
            _ => return None,
        };
        if header & 1 == 1 {
            break;
        }
    }
    if has_checksum {
        at += 4;
    }
    (at <= bytes.len()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_read_as_zstd_declares_them() {
        // What zstd's streaming encoder declares (the size unknown when it
        // starts) for a given window log.
        for window_log in [10, 17, 23, 27] {
            use std::io::Write as _;
            let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
            encoder
                .set_parameter(zstd::zstd_safe::CParameter::WindowLog(window_log))
                .expect("window log");
            encoder.write_all(&[7u8; 3000]).expect("write");
            let frame = encoder.finish().expect("finish");
            assert_eq!(largest_window(&frame), 1 << window_log, "{window_log}");
            assert_eq!(
                largest_window(&[&frame[..], &frame].concat()),
                1 << window_log
            );
        }
        // A single-segment frame: its content size (1 byte, here 200).
        let frame = zstd::bulk::compress(&[1u8; 200], 3).expect("compress");
        assert_eq!(frame[4] & 0x20, 0x20, "single segment");
        assert_eq!(largest_window(&frame), 200);
        // A mantissa: 2^20 + 3/8 of it.
        let frame = [
            0x28,
            0xB5,
            0x2F,
            0xFD,
            0x00,
            (10 << 3) | 3,
            0x01,
            0x00,
            0x00,
        ];
        assert_eq!(largest_window(&frame), (1 << 20) + (3 << 17));
    }

    #[test]
    fn every_frame_counts_and_a_cut_one_by_its_header() {
        let small = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x00, 0x01, 0x00, 0x00];
        let skippable = [0x5A, 0x2A, 0x4D, 0x18, 0x02, 0x00, 0x00, 0x00, 0xAA, 0xBB];
        let huge_cut = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 31 << 3, 0xFF];
        let message = [&small[..], &skippable, &huge_cut].concat();
        assert_eq!(largest_window(&message), 1 << 41);
        assert_eq!(largest_window(&small), 1 << 10);
        assert_eq!(largest_window(b"not zstd"), 0);
        assert_eq!(largest_window(&[]), 0);
    }
}
