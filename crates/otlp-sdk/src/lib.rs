//! # otlp-sdk
//!
//! (crate story written with the pipeline)
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod config;
mod retry;

pub use retry::RetryPolicy;
