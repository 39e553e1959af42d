//! CRC-32C (Castagnoli), the checksum of records and acknowledgements.
//!
//! Table-driven, sixteen bytes per step ("slice-by-16": about 3 GB/s on a
//! current x86-64 core), safe Rust, no dependency. CRC-32C is the checksum of
//! iSCSI, ext4 metadata and many write-ahead logs: it detects every burst of
//! up to 32 bits, every error of up to three bits in records up to 256 MiB,
//! and anything else with probability `1 - 2^-32`.

/// The reflected Castagnoli polynomial.
const POLYNOMIAL: u32 = 0x82F6_3B78;

/// Bytes consumed per step.
const STRIDE: usize = 16;

/// `TABLES[k][b]`: the CRC contribution of byte `b` followed by `k` zero bytes. 16 KiB.
static TABLES: [[u32; 256]; STRIDE] = tables();

const fn tables() -> [[u32; 256]; STRIDE] {
    let mut tables = [[0u32; 256]; STRIDE];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut byte = 0;
    while byte < 256 {
        let mut k = 1;
        while k < STRIDE {
            let previous = tables[k - 1][byte];
            tables[k][byte] = (previous >> 8) ^ tables[0][(previous & 0xFF) as usize];
            k += 1;
        }
        byte += 1;
    }
    tables
}

/// A running CRC-32C: feed bytes with [`update`](Crc32c::update), read with
/// [`finish`](Crc32c::finish). Cost: about one table lookup per byte, no allocation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Crc32c {
    /// The register, kept inverted as the algorithm specifies.
    state: u32,
}

impl Crc32c {
    pub(crate) const fn new() -> Self {
        Crc32c { state: !0 }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        let t = &TABLES;
        // The contribution of the byte `k` places before the end of the block.
        let at = |k: usize, byte: u32| t[k][byte as u8 as usize];
        let word = |bytes: &[u8]| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let mut crc = self.state;
        let mut blocks = data.chunks_exact(STRIDE);
        for block in &mut blocks {
            let mut next = 0;
            for (index, bytes) in block.chunks_exact(4).enumerate() {
                let mut value = word(bytes);
                if index == 0 {
                    value ^= crc;
                }
                let last = STRIDE - 1 - 4 * index;
                next ^= at(last, value)
                    ^ at(last - 1, value >> 8)
                    ^ at(last - 2, value >> 16)
                    ^ at(last - 3, value >> 24);
            }
            crc = next;
        }
        for &byte in blocks.remainder() {
            crc = t[0][(crc as u8 ^ byte) as usize] ^ (crc >> 8);
        }
        self.state = crc;
    }

    pub(crate) const fn finish(self) -> u32 {
        !self.state
    }
}

/// The CRC-32C of `data`.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut crc = Crc32c::new();
    crc.update(data);
    crc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit by bit, straight from the definition.
    fn reference(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLYNOMIAL
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn matches_the_published_check_values() {
        // The catalogue's check value for CRC-32/ISCSI, and RFC 3720's test vectors.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_checksum() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 31 + 7) as u8).collect();
        let whole = crc32c(&data);
        assert_eq!(whole, reference(&data));
        for split in 0..data.len() {
            let mut crc = Crc32c::new();
            crc.update(&data[..split]);
            crc.update(&data[split..]);
            assert_eq!(crc.finish(), whole, "split at {split}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        #[test]
        fn the_table_driven_checksum_agrees_with_the_bitwise_definition(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            proptest::prop_assert_eq!(crc32c(&data), reference(&data));
        }
    }
}
