//! The byte dictionary of otlp-core's hostile suites: delimiters, varint
//! continuation bits, protobuf tags, hex digits and limits. The mutation
//! engine is `otlp_contrib::testing::fuzz`.

/// Bytes the mutations favour.
pub const DICTIONARY: &[u8] = &[
    0x00u8, 0x01, 0x02, 0x07, 0x08, 0x0a, 0x12, 0x1a, 0x22, 0x7f, 0x80, 0xff, b'-', b',', b'=',
    b' ', b'\t', b'0', b'f', b'F', b'z', b'@', b'"', b'{', b'[', b'%', b'\n',
];
