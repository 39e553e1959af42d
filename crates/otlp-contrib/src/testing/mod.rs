//! Test support for code built on otlp-rust: an independent reference
//! conversion of otlp-core spans into `opentelemetry-proto`'s generated types
//! ([`proto`]), and an allocation counter for "allocates nothing" tests
//! ([`alloc`]); with the `fuzzing` feature, byte-level mutations of valid
//! inputs as proptest strategies for hostile-input suites (`fuzz`).
//!
//! The workspace's own tests use these to check the encoders and transports
//! against an implementation that shares no code with them.

pub mod alloc;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
pub mod proto;
