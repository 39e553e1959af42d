//! Integration tests: the exporter against the real OTLP receiver of
//! `otlp-contrib`, on loopback, no mocks.

mod compressed_response;
mod delivery;
mod metrics;
mod misbehaving;
mod plain;
mod proxy;
mod retry;
mod support;
mod tls;
