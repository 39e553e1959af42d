//! Integration tests of `otlp_contrib::receiver` and the `otlp-receiver` binary,
//! using independent clients: tonic's generated `TraceServiceClient`,
//! `LogsServiceClient` and `MetricsServiceClient`, a raw gRPC codec, and plain
//! hyper HTTP clients.

mod binary;
mod logs;
mod metrics;
mod modes;
mod over_grpc;
mod over_http;
mod request_timeout;
mod support;
mod tls;
