//! Integration tests of `otlp_contrib::bridge` against the real receiver on
//! loopback: the stock `opentelemetry_sdk` provider feeding our pipeline, our
//! exporters under the stock processors, `tracing` through
//! `tracing-opentelemetry`, and bounded flush and shutdown.

mod deadlines;
#[path = "../support/one_value_per_key.rs"]
mod one_value_per_key;
mod processor;
mod reference;
mod sdk_exporter;
mod support;
mod tracing_spans;
