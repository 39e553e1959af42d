//! # otlp-benches: otlp-rust measured against the opentelemetry-rust baseline
//!
//! Every performance claim in this repository is a ratio against the official
//! `opentelemetry_sdk` + `opentelemetry-proto` path doing the **same work in
//! the same run**. This crate holds what the criterion suites in `benches/`
//! share so that each suite compares like with like:
//!
//! - [`fixtures`]: one batch of spans described once ([`fixtures::SpanSource`])
//!   and built in every model we compare: `otlp_core::SpanData`,
//!   `opentelemetry_sdk::trace::SpanData`, and a deep-copy struct of owned
//!   `String`s and `Vec<u8>`s ([`fixtures::OwnedSpanData`]).
//! - [`baseline`]: the official encoding path (`opentelemetry-proto`'s
//!   transform, then prost or serde_json), exactly as `opentelemetry-otlp`
//!   runs it.
//! - [`verify`]: decodes both sides' output with `opentelemetry-proto` and
//!   checks they are the same request, so a suite never times different work.
//! - [`report`]: how a suite decides whether it is measuring or only testing,
//!   and the short interleaved timing that prints each suite's final ratio.
//! - [`pipeline`]: the `otlp-sdk` and `opentelemetry_sdk` span pipelines set
//!   up alike (same batch settings, no-op exporters that count spans; for the
//!   baseline also one that encodes each batch as `opentelemetry-otlp`'s
//!   exporters do), and the accounting that shows neither dropped a span.
//! - [`hot_path`]: start a span, set eight string attributes, end it, on one
//!   or two threads, through either SDK's public API.
//! - [`alloc_count`]: a counting global allocator, to check what the
//!   producer's path allocates.
//! - [`end_to_end`]: both pipelines over real transports (gRPC,
//!   HTTP/protobuf) to an OTLP receiver, each SDK at its defaults and set up
//!   as its documentation says, with one producer doing the same work on
//!   both sides.
//! - [`front_doors`]: the `opentelemetry` API and `tracing` +
//!   `tracing-opentelemetry` in front of either pipeline (otlp-rust through
//!   `otlp_contrib::bridge::OtlpSpanProcessor`).
//! - [`logs`]: `tracing` events as log records, through
//!   `otlp_contrib::tracing::OtlpLogLayer` into otlp-sdk's log pipeline and
//!   through `opentelemetry-appender-tracing` into the baseline's.
//! - [`metrics`]: otlp-sdk's counter and histogram and `opentelemetry_sdk`'s
//!   set up alike (issue 17), and the timed loops on 1 and 2 threads.
//!
//! ## Suites
//!
//! | command | group | compares |
//! |---|---|---|
//! | `cargo bench -p otlp-benches --bench encode` | `encode` | encoding 1,000 spans: otlp-core vs baseline, protobuf and JSON |
//! | `cargo bench -p otlp-benches --bench span_clone` | `span_clone` | cloning 1,000 finished spans: otlp-core vs `opentelemetry_sdk` (and, without a ratio, an owned deep copy) |
//! | `cargo bench -p otlp-benches --bench hot_path` | `hot_path`, `hot_path_owned_values`, `hot_path_static_values` | start + 8 attributes + end + enqueue, 1 and 2 threads: otlp-sdk vs `opentelemetry_sdk`'s `BatchSpanProcessor`; allocations per span |
//! | `cargo bench -p otlp-benches --bench batch_processor_submit_shutdown` | `batch_processor_submit_shutdown` | 1,000 finished spans into a fresh batch processor, then shutdown: otlp-sdk vs `opentelemetry_sdk`, whose exporter encodes as `opentelemetry-otlp`'s does |
//! | `cargo bench -p otlp-benches --bench request_body_pool` | `request_body_pool` | a 512-span request written into a body from `otlp_sdk::Pool` (`get().detach()`, `put`, as the export loop does) vs a fresh `Vec` per request, grown as it is written or pre-sized as `opentelemetry-otlp`'s HTTP exporter makes its bodies |
//! | `cargo bench -p otlp-benches --bench metrics` | `metrics_counter_add`, `metrics_histogram_record` | `Counter::add` and `Histogram::record` with 3 attributes on an existing series, 1 and 2 threads: otlp-sdk vs `opentelemetry_sdk` |
//! | `cargo bench -p otlp-benches --bench end_to_end` | `end_to_end` | N = 100, 500, 1,000, 2,000 spans created, ended and flushed to a loopback receiver, gRPC and HTTP/protobuf: otlp-rust vs `opentelemetry_sdk` + `opentelemetry-otlp` |
//!
//! ## The end-to-end comparison
//!
//! `cargo run --release -p otlp-benches --bin compare` sends spans through
//! each pipeline to a receiver in its own process, one sender process per
//! row, over gRPC and HTTP/protobuf, and prints a Markdown table per
//! scenario with ratios against the baseline: a burst of 1,000,000 spans
//! (delivered spans/s, spans lost, the sender's CPU seconds and peak RSS), a
//! steady rate (sender CPU per span, share of one core), a slow collector and
//! a short outage (spans lost, producer time in span calls), and the front
//! doors ([`front_doors`]); see `benches/README.md` and `--help`.
//!
//! `cargo test -p otlp-benches --benches` (or `cargo bench -- --test`) runs
//! each benchmark once as a smoke test.
//!
//! ## Example
//!
//! ```
//! use otlp_benches::baseline::BaselineEncoder;
//! use otlp_benches::fixtures::Batch;
//! use otlp_core::encode::{Encoding, TraceEncoder};
//!
//! let batch = Batch::new(10);
//! let mut ours = Vec::new();
//! TraceEncoder::new().encode(Encoding::Protobuf, &batch.spans, &mut ours);
//!
//! let baseline = BaselineEncoder::new(&batch.sdk_resource);
//! let mut theirs = Vec::new();
//! baseline.encode(Encoding::Protobuf, batch.sdk_spans.clone(), &mut theirs);
//!
//! // Same request, field for field (see `verify` for what is compared).
//! otlp_benches::verify::assert_same_requests(&batch);
//! ```
#![warn(missing_docs)]

pub mod alloc_count;
pub mod baseline;
pub mod end_to_end;
pub mod fixtures;
pub mod front_doors;
pub mod hot_path;
pub mod logs;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod verify;
