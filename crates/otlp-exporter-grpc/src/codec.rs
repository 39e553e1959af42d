//! [`RawCodec`]: a gRPC codec that moves bytes as they are.
//!
//! The pipeline encodes every request once, straight from the span model; this
//! codec hands those bytes to tonic unchanged and gives back the response
//! message undecoded, so nothing is decoded and re-encoded on the way out.
//! Servers can use it the other way round: take each request message as
//! bytes and decode it themselves (the otlp-contrib receiver does).

use bytes::{Buf, BufMut, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Sends a pre-encoded protobuf message and receives the raw response
/// message (or, in a server, receives raw requests and sends raw responses).
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// Writes the request bytes into tonic's frame buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

/// Takes the response message (one whole message, already decompressed) as [`Bytes`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.len());
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let len = src.remaining();
        Ok(Some(src.copy_to_bytes(len)))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}
