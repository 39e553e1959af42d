//! # otlp-examples: runnable programs for otlp-rust
//!
//! The examples are thin `main`s over this library so that tests can run the
//! same code:
//!
//! - [`quickstart`]: `cargo run --release --example quickstart [-- --spans N]`
//!   sends spans, log records carrying their spans' ids, and request
//!   metrics through the pipelines to a collector — the embedded receiver unless
//!   `OTEL_EXPORTER_OTLP_ENDPOINT` names one — and reports what arrived,
//!   ending with one JSON line.
//! - [`microservices`]: `cargo run --release --example microservices` runs three
//!   HTTP services (gateway → orders → inventory), instrumented with `tracing`
//!   and recorded by `otlp_contrib::tracing::OtlpLayer`, that propagate W3C
//!   `traceparent` and export through one pipeline, then shows the connected trace.
//!
//! [`collector`] has what both share: the embedded collector and a view of
//! the traces (and their log records) it received; [`output`], how they
//! write their report and errors; [`interrupt`], their SIGINT (Ctrl-C) and
//! SIGTERM (the first stops the run, which still reports; the second quits).
#![deny(missing_docs)]

pub mod collector;
pub mod interrupt;
pub mod microservices;
pub mod output;
pub mod quickstart;

// The workspace README's examples, compiled as doctests (and run, but for the
// `no_run` ones) so that they keep up with the API. Here, not in a published
// crate: the snippets span every crate, and the migration guide's "before"
// halves need opentelemetry-otlp and tracing-opentelemetry (dev-dependencies).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadmeDoctests;
