//! `object_pool`: a 4 KiB buffer taken from `otlp_sdk::Pool` and given back,
//! against allocating and freeing one.
//!
//! ```text
//! cargo bench -p otlp-benches --bench object_pool
//! ```
//!
//! Benchmarks (group `object_pool`, throughput 1 element = one buffer used
//! once), each writing a 64-byte header into the buffer so that it is used,
//! not just obtained:
//!
//! - `pool_get_return_4k`: `Pool::get` on a pool of `Vec<u8>` with 4 KiB of
//!   capacity and a `Vec::clear` reset hook, then the guard's drop gives it
//!   back.
//! - `vec_alloc_4k`: `Vec::<u8>::with_capacity(4096)`, then dropped.
//! - `bytes_mut_4k`: `bytes::BytesMut::with_capacity(4096)`, then dropped.
//!
//! Single-threaded: one buffer in use at a time. The allocator's case is its
//! best one (the block just freed is handed out again); a long-running
//! process with a fragmented heap does worse.
//!
//! What this is not: the way otlp-sdk's export loop uses its pool. The loop's
//! pool starts its buffers empty (`Pool::with_reset(n, Vec::new,
//! Vec::clear)`), takes each request body out with `get().detach()`, writes
//! a whole request into it (a batch of 512 spans of the fixtures' kind is
//! about 190 KiB) and gives it back with `Pool::put` once the export is
//! done. What the pool saves there is growing a body of that size again for
//! every request, which no benchmark here measures; this suite gives only
//! the pool's own cost per use of a small buffer against one allocation and
//! free of the same size.
//!
//! At the end the suite prints the pool's ratio against both, measured in
//! interleaved rounds (`otlp_benches::report`).

use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput};
use otlp_benches::report::{
    Comparison, Interleaved, RunMode, Timing, print_report, settle_allocator, time,
};
use otlp_sdk::Pool;

/// Capacity of every buffer.
const BUFFER_BYTES: usize = 4096;

/// What each benchmark writes into its buffer.
const HEADER: [u8; 64] = [0x0A; 64];

/// Buffers per call in the interleaved rounds.
const BUFFERS_PER_CALL: u64 = 10_000;

fn buffer_pool() -> Pool<Vec<u8>> {
    Pool::with_reset(4, || Vec::with_capacity(BUFFER_BYTES), Vec::clear)
}

#[inline]
fn use_pooled(pool: &Pool<Vec<u8>>) {
    let mut buffer = pool.get();
    buffer.extend_from_slice(&HEADER);
    black_box(&mut *buffer);
}

#[inline]
fn use_vec() {
    let mut buffer = Vec::<u8>::with_capacity(BUFFER_BYTES);
    buffer.extend_from_slice(&HEADER);
    black_box(&mut buffer);
}

#[inline]
fn use_bytes_mut() {
    let mut buffer = BytesMut::with_capacity(BUFFER_BYTES);
    buffer.extend_from_slice(&HEADER);
    black_box(&mut buffer);
}

fn bench_pool(criterion: &mut Criterion, pool: &Pool<Vec<u8>>) {
    let mut group = criterion.benchmark_group("object_pool");
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::from_parameter("pool_get_return_4k"), |b| {
        b.iter(|| use_pooled(pool))
    });
    group.bench_function(BenchmarkId::from_parameter("vec_alloc_4k"), |b| {
        b.iter(use_vec)
    });
    group.bench_function(BenchmarkId::from_parameter("bytes_mut_4k"), |b| {
        b.iter(use_bytes_mut)
    });
    group.finish();
}

/// The pool against both allocations, all three interleaved.
fn compare(pool: &Pool<Vec<u8>>, interleaved: Interleaved) -> Vec<Comparison> {
    let repeat = |work: &dyn Fn()| {
        time(|| {
            for _ in 0..BUFFERS_PER_CALL {
                work();
            }
        })
    };
    let (rounds, medians) = interleaved.run_sides(&mut [
        &mut || repeat(&|| use_pooled(pool)),
        &mut || repeat(&use_vec),
        &mut || repeat(&use_bytes_mut),
    ]);
    let line = |label: &str, baseline: Duration| {
        let timing = Timing {
            rounds,
            ours: medians[0],
            baseline,
        };
        Comparison::new(
            "object_pool/4k",
            "otlp_sdk::Pool",
            label,
            BUFFERS_PER_CALL,
            timing,
        )
        .with_unit("buffer")
    };
    vec![
        line("Vec::with_capacity", medians[1]),
        line("BytesMut::with_capacity", medians[2]),
    ]
}

fn main() {
    let mode = RunMode::from_env();
    settle_allocator();
    let pool = buffer_pool();
    if mode != RunMode::List {
        use_pooled(&pool);
        use_pooled(&pool);
        let stats = pool.stats();
        assert_eq!(
            (stats.hits, stats.misses),
            (1, 1),
            "the pool reuses its buffer"
        );
        let buffer = pool.get();
        assert!(buffer.capacity() >= BUFFER_BYTES && buffer.is_empty());
    }

    // About 3 s per benchmark; command-line flags override these.
    let mut criterion = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_pool(&mut criterion, &pool);
    criterion.final_summary();

    if let Some(interleaved) = Interleaved::for_mode(mode) {
        print_report("object_pool", mode, &compare(&pool, interleaved));
        let stats = pool.stats();
        println!(
            "object_pool: pool counters: {} hits, {} misses, {} discarded",
            stats.hits, stats.misses, stats.discarded
        );
    }
}
