//! Cutting a batch into requests that stay under a size limit.

use std::ops::Range;

use super::grouping::Groups;
use super::signal::Signal;
use super::{json, protobuf};
use crate::wire::len_field_len;

/// One piece of a batch cut by [`TraceEncoder::split`](super::TraceEncoder::split),
/// [`LogEncoder::split`](super::LogEncoder::split) or
/// [`MetricEncoder::split`](super::MetricEncoder::split).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// These records (a range of the batch) encode within the limit.
    Fits(Range<usize>),
    /// The record at this index alone encodes above the limit and cannot be sent.
    Oversized(usize),
}

/// Worst-case bytes a length prefix adds around a payload: tag (1) + 5-byte
/// varint (enough for any length below 32 GiB).
const PREFIX_SLACK: usize = 6;

/// How a split prices spans and groups.
struct Costs<S, G, A> {
    /// Fixed bytes of every request.
    request_overhead: usize,
    /// Upper bound of what a span adds to its scope group's list.
    span: S,
    /// Upper bound of what a scope group (and its resource header) adds the
    /// first time a chunk contains it.
    group: G,
    /// Exact answer to "does a request holding only this span fit?", asked only
    /// when the bounds say no, so that `Oversized` is never a false alarm.
    fits_alone: A,
}

/// Greedy cut driven by upper-bound costs: every chunk's real size is at most
/// what is summed here.
fn cut<S, G, A>(
    groups: &Groups,
    span_count: usize,
    max_bytes: usize,
    mut costs: Costs<S, G, A>,
) -> Vec<Chunk>
where
    S: FnMut(usize) -> usize,
    G: FnMut(usize) -> usize,
    A: FnMut(usize) -> bool,
{
    let request_overhead = costs.request_overhead;
    let mut chunks = Vec::new();
    let mut seen: Vec<usize> = Vec::new();
    let mut start = 0;
    let mut size = request_overhead;
    let mut index = 0;
    while index < span_count {
        let scope = groups.scope_of_span(index);
        let new_group = !seen.contains(&scope);
        let added = (costs.span)(index) + if new_group { (costs.group)(scope) } else { 0 };
        if size + added <= max_bytes {
            size += added;
            if new_group {
                seen.push(scope);
            }
            index += 1;
            continue;
        }
        if index > start {
            // Close the chunk and retry this span in a fresh one.
            chunks.push(Chunk::Fits(start..index));
        } else if (costs.fits_alone)(index) {
            // The bounds were pessimistic: it fits in a request of its own.
            chunks.push(Chunk::Fits(index..index + 1));
            index += 1;
        } else {
            chunks.push(Chunk::Oversized(index));
            index += 1;
        }
        start = index;
        size = request_overhead;
        seen.clear();
    }
    if index > start {
        chunks.push(Chunk::Fits(start..index));
    }
    chunks
}

pub(super) fn split_protobuf<T: Signal>(
    groups: &Groups,
    span_lens: &[usize],
    spans: &[T],
    max_bytes: usize,
) -> Vec<Chunk> {
    let group_overheads = |scope: usize| {
        let group = &groups.scopes[scope];
        let resource = &groups.resources[groups.resource_of_scope(scope)];
        (
            protobuf::resource_group_overhead(spans[resource.span].resource()),
            protobuf::scope_group_overhead(spans[group.span].scope()),
        )
    };
    cut(
        groups,
        spans.len(),
        max_bytes,
        Costs {
            request_overhead: 0,
            span: |index| len_field_len(2, span_lens[index]),
            group: |scope| {
                let (resource, scope) = group_overheads(scope);
                PREFIX_SLACK + resource + PREFIX_SLACK + scope
            },
            fits_alone: |index| {
                let (resource, scope) = group_overheads(groups.scope_of_span(index));
                let scope_spans = scope + len_field_len(2, span_lens[index]);
                let resource_spans = resource + len_field_len(2, scope_spans);
                len_field_len(1, resource_spans) <= max_bytes
            },
        },
    )
}

/// JSON punctuation and member names around one resource and one scope group,
/// rounded up: `{"resource":,"scopeSpans":[{"scope":,"spans":[],"schemaUrl":""}],"schemaUrl":""},`
/// (81 bytes; with `scopeLogs` and `logRecords`, 85; with `scopeMetrics`
/// and `metrics`, 85).
const JSON_GROUP_SLACK: usize = 96;
/// `{"resourceSpans":[]}` (`{"resourceLogs":[]}` is a byte shorter); at
/// least `{"<resource groups key>":[]}` for every signal (see [`json_request_overhead`]).
const JSON_REQUEST_OVERHEAD: usize = 20;

/// Bytes of the empty request `{"<T::RESOURCE_GROUPS_KEY>":[]}`, never less
/// than [`JSON_REQUEST_OVERHEAD`] (so spans and logs split as they always
/// have; `{"resourceMetrics":[]}` is 22 bytes).
const fn json_request_overhead<T: Signal>() -> usize {
    let exact = T::RESOURCE_GROUPS_KEY.len() + 7;
    if exact > JSON_REQUEST_OVERHEAD {
        exact
    } else {
        JSON_REQUEST_OVERHEAD
    }
}

pub(super) fn split_json<T: Signal>(
    groups: &Groups,
    spans: &[T],
    max_bytes: usize,
    scratch: &mut Vec<u8>,
) -> Vec<Chunk> {
    let mut measure = |write: &dyn Fn(&mut Vec<u8>)| {
        scratch.clear();
        write(scratch);
        scratch.len()
    };
    let span_sizes: Vec<usize> = spans
        .iter()
        .map(|span| measure(&|out| span.put_json(out)) + 1)
        .collect();
    let group_sizes: Vec<usize> = (0..groups.scopes.len())
        .map(|scope| {
            let group = &groups.scopes[scope];
            let resource = &groups.resources[groups.resource_of_scope(scope)];
            let resource = spans[resource.span].resource();
            let scope = spans[group.span].scope();
            measure(&|out| json::put_resource(out, resource))
                + measure(&|out| json::put_string(out, &resource.schema_url))
                + measure(&|out| json::put_scope(out, scope))
                + measure(&|out| json::put_string(out, &scope.schema_url))
                + JSON_GROUP_SLACK
        })
        .collect();
    cut(
        groups,
        spans.len(),
        max_bytes,
        Costs {
            request_overhead: json_request_overhead::<T>(),
            span: |index| span_sizes[index],
            group: |scope| group_sizes[scope],
            fits_alone: |index| {
                let mut single = Groups::default();
                let span = std::slice::from_ref(&spans[index]);
                single.build(span);
                scratch.clear();
                json::write_request(&single, span, scratch);
                scratch.len() <= max_bytes
            },
        },
    )
}
