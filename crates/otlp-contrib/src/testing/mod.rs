//! Test support for code built on otlp-rust: an independent reference
//! conversion of otlp-core spans into `opentelemetry-proto`'s generated types
//! ([`proto`]), and an allocation counter for "allocates nothing" tests
//! ([`alloc`]).
//!
//! The workspace's own tests use these to check the encoders and transports
//! against an implementation that shares no code with them.

pub mod alloc;
pub mod proto;
