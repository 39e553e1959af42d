//! `request_body_pool`: a request body taken from `otlp_sdk::Pool` and given
//! back, as otlp-sdk's export loop uses its pool, against a fresh `Vec` for
//! every request.
//!
//! ```text
//! cargo bench -p otlp-benches --bench request_body_pool
//! ```
//!
//! Each benchmark writes one export request of 512 spans (the SDKs' default
//! batch: 198,606 bytes of the fixtures' spans) into a body and drops or
//! gives back the body: the 512 spans' records, encoded before the clock
//! starts as `on_end` encodes them (`otlp_core::encode::record`), framed by
//! `otlp_core::encode::frame::write_request`, the function the export loop
//! writes its requests with. Benchmarks (group `request_body_pool`,
//! throughput 1 element = one request):
//!
//! - `pooled`: the export loop's way. Its pool starts empty
//!   (`Pool::with_reset(n, Vec::new, Vec::clear)`); each request takes a
//!   body with `get().detach()`, is written into it, and the body comes back
//!   with `Pool::put` once the export is done. After the first request the
//!   body has room for the next: nothing is allocated or grown.
//! - `fresh_grown`: a `Vec::new()` per request, grown by `write_request` as
//!   it writes (doubling, each growth a copy of what is written so far), then
//!   freed: what the export loop would do without its pool.
//! - `fresh_presized`: a `Vec::with_capacity` of the request's exact size
//!   (`frame::request_len`) per request, then freed: how `opentelemetry-otlp`'s
//!   HTTP exporter makes its bodies (prost's `encode_to_vec` sizes the `Vec`
//!   by `encoded_len` first), and what the loop could do without a pool.
//!
//! What this leaves out, all of it against the pool: single-threaded, the
//! body comes back on the thread that takes it (in the export loop an
//! export task gives it back on the export runtime's thread), and always
//! (the loop gets a body back only if the transport let go of it). The
//! allocator's case is its best one too: the block just freed is handed out
//! again (`settle_allocator` keeps glibc from giving it back to the kernel),
//! which a long-running process with a fragmented heap may not get. The
//! pool keeps up to `n` bodies of the largest request seen alive while the
//! pipeline lives.
//!
//! At the end the suite prints the pool's ratio against both fresh bodies,
//! measured in interleaved rounds (`otlp_benches::report`), and checks that
//! the three ways write the same bytes and that the pool reused its body.
//! There is no `opentelemetry-rust` pipeline in it: the baseline's way of
//! making a body is the `fresh_presized` case.
//!
//! Until 2026-12-08 the suite was `object_pool`: a pre-sized 4 KiB buffer
//! returned by the guard's drop against `Vec` and `BytesMut` allocations of
//! 4 KiB, which is not how the export loop uses its pool.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use otlp_benches::fixtures::Batch;
use otlp_benches::report::{
    Comparison, Interleaved, RunMode, Timing, print_report, settle_allocator, time,
};
use otlp_core::encode::{frame, record};
use otlp_core::{InstrumentationScope, Resource};
use otlp_sdk::Pool;

/// Spans per request: the default `max_export_batch_size` of both SDKs.
const REQUEST_SPANS: usize = 512;

/// Bodies the pool keeps: more than the one in use at a time here. The
/// export loop's default is twice `max_concurrent_exports`.
const POOL_BODIES: usize = 2;

/// A request's records, as `frame` takes them.
type Records<'a> = std::iter::Map<std::slice::Iter<'a, Vec<u8>>, fn(&'a Vec<u8>) -> &'a [u8]>;

/// A request's one resource group holding its one scope group.
type Groups<'a> = [(&'a Resource, [(&'a InstrumentationScope, Records<'a>); 1]); 1];

/// One request's spans, encoded as records, with their resource and scope
/// (the fixtures' spans share one of each).
struct Request {
    resource: Arc<Resource>,
    scope: Arc<InstrumentationScope>,
    records: Vec<Vec<u8>>,
}

impl Request {
    fn new(batch: &Batch) -> Self {
        let records = batch
            .spans
            .iter()
            .take(REQUEST_SPANS)
            .map(|span| {
                let mut bytes = Vec::with_capacity(record::span_len(span));
                record::encode_span(span, &mut bytes);
                bytes
            })
            .collect();
        Request {
            resource: batch.resource.clone(),
            scope: batch.scope.clone(),
            records,
        }
    }

    /// The request's groups as `frame` takes them.
    fn groups(&self) -> Groups<'_> {
        let records: Records<'_> = self.records.iter().map(Vec::as_slice);
        [(&*self.resource, [(&*self.scope, records)])]
    }

    /// The request's size in bytes.
    fn len(&self) -> usize {
        frame::request_len(self.groups())
    }

    /// Writes the request at the end of `body`.
    #[inline]
    fn write(&self, body: &mut Vec<u8>) {
        frame::write_request(self.groups(), body);
    }
}

fn body_pool() -> Pool<Vec<u8>> {
    Pool::with_reset(POOL_BODIES, Vec::new, Vec::clear)
}

/// The export loop's way: a body out of the pool, written, given back.
#[inline]
fn pooled(pool: &Pool<Vec<u8>>, request: &Request) {
    let mut body = pool.get().detach();
    request.write(&mut body);
    black_box(&mut body);
    pool.put(body);
}

/// A fresh body grown as the request is written, then freed.
#[inline]
fn fresh_grown(request: &Request) {
    let mut body = Vec::new();
    request.write(&mut body);
    black_box(&mut body);
}

/// A fresh body of the request's exact size, then freed.
#[inline]
fn fresh_presized(request: &Request) {
    let mut body = Vec::with_capacity(request.len());
    request.write(&mut body);
    black_box(&mut body);
}

fn bench_bodies(criterion: &mut Criterion, pool: &Pool<Vec<u8>>, request: &Request) {
    let mut group = criterion.benchmark_group("request_body_pool");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::from_parameter("pooled"), |b| {
        b.iter(|| pooled(pool, request))
    });
    group.bench_function(BenchmarkId::from_parameter("fresh_grown"), |b| {
        b.iter(|| fresh_grown(request))
    });
    group.bench_function(BenchmarkId::from_parameter("fresh_presized"), |b| {
        b.iter(|| fresh_presized(request))
    });
    group.finish();
}

/// The pool against both fresh bodies, all three interleaved.
fn compare(pool: &Pool<Vec<u8>>, request: &Request, interleaved: Interleaved) -> Vec<Comparison> {
    let (rounds, medians) = interleaved.run_sides(&mut [
        &mut || time(|| pooled(pool, request)),
        &mut || time(|| fresh_grown(request)),
        &mut || time(|| fresh_presized(request)),
    ]);
    let line = |label: &str, baseline: Duration| {
        let timing = Timing {
            rounds,
            ours: medians[0],
            baseline,
        };
        Comparison::new("request_body_pool", "otlp_sdk::Pool", label, 1, timing)
            .with_unit("request")
    };
    vec![
        line("fresh Vec grown", medians[1]),
        line("fresh Vec pre-sized", medians[2]),
    ]
}

/// The three ways write the same request, and the pool reuses its body.
fn check(pool: &Pool<Vec<u8>>, request: &Request) {
    let len = request.len();
    let mut grown = Vec::new();
    request.write(&mut grown);
    let mut presized = Vec::with_capacity(len);
    request.write(&mut presized);
    let mut first = pool.get().detach();
    request.write(&mut first);
    assert_eq!(
        (grown.len(), presized.len(), first.len()),
        (len, len, len),
        "every body holds the whole request"
    );
    assert!(grown == presized && first == grown, "the same bytes");
    pool.put(first);
    let second = pool.get().detach();
    assert!(
        second.is_empty() && second.capacity() >= len,
        "the body comes back cleared, with room for the next request"
    );
    pool.put(second);
    let stats = pool.stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (1, 1),
        "the pool reuses its body"
    );
}

fn main() {
    let mode = RunMode::from_env();
    settle_allocator();
    let request = Request::new(&Batch::standard());
    let pool = body_pool();
    if mode != RunMode::List {
        check(&pool, &request);
    }

    // About 3 s per benchmark; command-line flags override these.
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_bodies(&mut criterion, &pool, &request);
    criterion.final_summary();

    if let Some(interleaved) = Interleaved::for_mode(mode) {
        print_report(
            "request_body_pool",
            mode,
            &compare(&pool, &request, interleaved),
        );
        let stats = pool.stats();
        println!(
            "request_body_pool: {} spans, {} bytes a request; pool counters: {} hits, {} misses, \
             {} discarded",
            request.records.len(),
            request.len(),
            stats.hits,
            stats.misses,
            stats.discarded
        );
    }
}
