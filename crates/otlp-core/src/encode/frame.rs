//! Writing an OTLP export request around records that are already encoded.
//!
//! The export loop holds records (see [`record`](super::record)), each the
//! body of one message (a `Span`, a `LogRecord` or a `Metric`) and a
//! key naming its resource and scope. It groups them by resource, then by
//! scope, and [`write_request`] writes the request: the framing it adds is the
//! `ResourceX` and `ScopeX` messages (resource, scope, schema URLs and length
//! prefixes); the records themselves are copied as they are, each behind its
//! tag and length. [`request_len`] is the exact size of what
//! [`write_request`] writes, for checking a request against
//! [`MAX_REQUEST_BYTES`](super::MAX_REQUEST_BYTES) before writing it.
//!
//! The framing is the same for every signal: `ExportTraceServiceRequest`,
//! `ExportLogsServiceRequest` and `ExportMetricsServiceRequest` hold their
//! resource groups in field 1; `ResourceSpans`/`ResourceLogs`/
//! `ResourceMetrics` are `{resource = 1, scope_X = 2, schema_url = 3}` and
//! `ScopeSpans`/`ScopeLogs`/`ScopeMetrics` are `{scope = 1, X = 2,
//! schema_url = 3}` (`trace.proto`, `logs.proto`, `metrics.proto` and their
//! `*_service.proto`). Which request the bytes are is decided by the records
//! and by where they are sent: records from [`record::encode_log`](super::record::encode_log)
//! framed here are an `ExportLogsServiceRequest`, the same bytes
//! [`LogEncoder`](super::LogEncoder) writes (`tests/logs.rs` decodes them with
//! `opentelemetry-proto`).
//!
//! Groups are passed as nested iterators, in the order they are to be
//! written: resources yielding `(&Resource, scopes)`, scopes yielding
//! `(&InstrumentationScope, records)`, records yielding `&[u8]`. The output
//! is what [`TraceEncoder`](super::TraceEncoder) writes for the same spans in
//! the same grouping, byte for byte: the resource and scope messages come
//! from the same code, `resource` and `scope` are always written (empty ones
//! as an empty message) and each `schema_url` only when not empty, after the
//! group's scopes or records, in field order as prost writes them.
//!
//! Empty groups are not written: a scope group without records writes
//! nothing, nor does a resource group none of whose scope groups has a record
//! (OTLP receivers expect no empty groups). A request without records is
//! therefore zero bytes, which is not to be sent. An empty record is a record
//! (a `Span` with every field at its default) and is written. Groups are not
//! merged: the same resource passed twice becomes two `ResourceX` messages,
//! valid OTLP but larger, so the caller groups each resource and scope once.
//!
//! Cost model: no allocation and no scratch space; the output grows (or
//! nothing at all is allocated when it has room). Record bytes are copied
//! once, into the output, and read nowhere else. Lengths are computed, never
//! guessed nor patched: each scope group's record lengths are summed twice
//! (for the resource's prefix and for the scope's), and each resource
//! message is measured twice and each scope message three times before it is
//! written once, so the framing costs a few additions per record and a few
//! passes per group over the resource's or scope's attributes, however large
//! the records are.

use bytes::BufMut;

use super::protobuf::{
    put_resource, put_scope, put_str, resource_group_overhead, scope_group_overhead,
};
use crate::wire::{len_field_len, put_len_prefix};
use crate::{InstrumentationScope, Resource};

/// `resource_spans` / `resource_logs` / `resource_metrics` in the request.
const REQUEST_RESOURCE_GROUPS: u32 = 1;
/// `scope_spans` / `scope_logs` / `scope_metrics` in `ResourceX`.
const RESOURCE_SCOPE_GROUPS: u32 = 2;
/// `spans` / `log_records` / `metrics` in `ScopeX`.
const SCOPE_RECORDS: u32 = 2;
/// `schema_url` in both `ResourceX` and `ScopeX`.
const SCHEMA_URL: u32 = 3;

/// Body size of the `ScopeX` message for one scope group; `None` when the
/// group has no record and is not written.
fn scope_group_len<'a>(
    scope: &InstrumentationScope,
    records: impl IntoIterator<Item = &'a [u8]>,
) -> Option<usize> {
    let mut count = 0usize;
    let mut records_len = 0;
    for record in records {
        count += 1;
        records_len += len_field_len(SCOPE_RECORDS, record.len());
    }
    (count > 0).then(|| scope_group_overhead(scope) + records_len)
}

/// Body size of the `ResourceX` message for one resource group; `None` when
/// none of its scope groups has a record and it is not written.
fn resource_group_len<'a, S, I>(resource: &Resource, scopes: S) -> Option<usize>
where
    S: IntoIterator<Item = (&'a InstrumentationScope, I)>,
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut written = false;
    let mut scopes_len = 0;
    for (scope, records) in scopes {
        if let Some(len) = scope_group_len(scope, records) {
            written = true;
            scopes_len += len_field_len(RESOURCE_SCOPE_GROUPS, len);
        }
    }
    written.then(|| resource_group_overhead(resource) + scopes_len)
}

/// Exact size of the request [`write_request`] writes for the same groups.
/// Zero when no group has a record.
///
/// The iterators are walked once; cloning is not needed here.
pub fn request_len<'a, R, S, I>(resources: R) -> usize
where
    R: IntoIterator<Item = (&'a Resource, S)>,
    S: IntoIterator<Item = (&'a InstrumentationScope, I)>,
    I: IntoIterator<Item = &'a [u8]>,
{
    resources
        .into_iter()
        .filter_map(|(resource, scopes)| resource_group_len(resource, scopes))
        .map(|len| len_field_len(REQUEST_RESOURCE_GROUPS, len))
        .sum()
}

/// Exact size of a request holding one record of `record_len` bytes of
/// `resource` and `scope`: what one group costs around its records, for a
/// producer checking a record against the request size cap before queueing
/// it, and for the export loop bounding a batch.
///
/// ```
/// use otlp_core::encode::frame;
/// use otlp_core::{InstrumentationScope, KeyValue, Resource};
///
/// let resource = Resource::new([KeyValue::new("service.name", "shop")]);
/// let scope = InstrumentationScope::new("db");
/// let record = [0u8; 300];
/// let groups = [(&resource, [(&scope, [&record[..]])])];
/// assert_eq!(frame::single_record_request_len(&resource, &scope, 300), frame::request_len(groups));
/// ```
pub fn single_record_request_len(
    resource: &Resource,
    scope: &InstrumentationScope,
    record_len: usize,
) -> usize {
    let resource_len =
        resource_group_overhead(resource) + single_record_scope_group_len(scope, record_len);
    len_field_len(REQUEST_RESOURCE_GROUPS, resource_len)
}

/// Exact size of a scope group holding one record of `record_len` bytes,
/// as it is written inside a resource group (its tag and length prefix
/// included): what a group costs around its records in a request that
/// holds its resource already, for the export loop bounding a batch. The
/// resource group's own length prefix grows with it, by up to four bytes
/// over all its scope groups; that is not counted here.
///
/// ```
/// use otlp_core::encode::frame;
/// use otlp_core::{InstrumentationScope, KeyValue, Resource};
///
/// let resource = Resource::new([KeyValue::new("service.name", "shop")]);
/// let (http, db) = (InstrumentationScope::new("http"), InstrumentationScope::new("db"));
/// let record = [0u8; 30];
/// let groups = [(&resource, [(&http, [&record[..]]), (&db, [&record[..]])])];
/// // Small enough for the resource group's length prefix to stay one byte.
/// assert_eq!(
///     frame::single_record_request_len(&resource, &http, 30)
///         + frame::single_record_scope_group_len(&db, 30),
///     frame::request_len(groups),
/// );
/// ```
pub fn single_record_scope_group_len(scope: &InstrumentationScope, record_len: usize) -> usize {
    let scope_len = scope_group_overhead(scope) + len_field_len(SCOPE_RECORDS, record_len);
    len_field_len(RESOURCE_SCOPE_GROUPS, scope_len)
}

/// Appends to `out` the export request holding `resources`' records, grouped
/// as given; returns the bytes written, exactly
/// [`request_len`] of the same groups. Empty groups are skipped (see the
/// [module documentation](self)).
///
/// Each resource's scopes and each scope's records are walked twice, to
/// measure and then to write, through clones of their iterators: a clone must
/// yield the same items (as iterators over slices and collections, and maps
/// of them, do). Iterators that capture only references are cheap to clone.
///
/// Records sorted by their group key and split into runs with
/// [`slice::chunk_by`] are the groups as they are:
///
/// ```
/// use std::sync::Arc;
///
/// use otlp_core::encode::{Encoding, TraceEncoder, frame, record};
/// use otlp_core::{InstrumentationScope, KeyValue, Resource, SpanData};
///
/// let resource = Arc::new(Resource::new([KeyValue::new("service.name", "shop")]));
/// let scopes = [
///     Arc::new(InstrumentationScope::new("http")),
///     Arc::new(InstrumentationScope::new("db")),
/// ];
/// let spans: Vec<SpanData> = [("GET /cart", 0), ("SELECT cart", 1), ("POST /pay", 0)]
///     .into_iter()
///     .map(|(name, scope)| {
///         let builder = SpanData::builder(name).resource(resource.clone());
///         builder.scope(scopes[scope].clone()).build()
///     })
///     .collect();
///
/// // Each span became a record when it ended, kept with a key naming its
/// // scope (one resource here): the index of the scope.
/// let mut records: Vec<(usize, Vec<u8>)> = spans
///     .iter()
///     .map(|span| {
///         let mut bytes = Vec::new();
///         record::encode_span(span, &mut bytes);
///         let scope = scopes.iter().position(|s| Arc::ptr_eq(s, &span.scope));
///         (scope.expect("one of ours"), bytes)
///     })
///     .collect();
///
/// // The export loop groups them (a stable sort keeps batch order within a
/// // group) and writes the framing around them.
/// records.sort_by_key(|(scope, _)| *scope);
/// let scope_groups = records.chunk_by(|a, b| a.0 == b.0).map(|run| {
///     let bytes = run.iter().map(|(_, bytes)| bytes.as_slice());
///     (&*scopes[run[0].0], bytes)
/// });
/// let groups = [(&*resource, scope_groups)];
/// let mut body = Vec::new();
/// let written = frame::write_request(groups.clone(), &mut body);
/// assert_eq!(written, body.len());
/// assert_eq!(frame::request_len(groups), body.len());
///
/// // The request the encoder writes for the spans, byte for byte.
/// let mut encoded = Vec::new();
/// TraceEncoder::new().encode(Encoding::Protobuf, &spans, &mut encoded);
/// assert_eq!(body, encoded);
/// ```
pub fn write_request<'a, R, S, I, B>(resources: R, out: &mut B) -> usize
where
    R: IntoIterator<Item = (&'a Resource, S)>,
    S: IntoIterator<Item = (&'a InstrumentationScope, I)>,
    S::IntoIter: Clone,
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: Clone,
    B: BufMut + ?Sized,
{
    let mut written = 0;
    for (resource, scopes) in resources {
        let scopes = scopes.into_iter();
        let Some(resource_len) = resource_group_len(
            resource,
            scopes
                .clone()
                .map(|(scope, records)| (scope, records.into_iter())),
        ) else {
            continue;
        };
        put_len_prefix(out, REQUEST_RESOURCE_GROUPS, resource_len);
        put_resource(out, resource);
        for (scope, records) in scopes {
            let records = records.into_iter();
            let Some(scope_len) = scope_group_len(scope, records.clone()) else {
                continue;
            };
            put_len_prefix(out, RESOURCE_SCOPE_GROUPS, scope_len);
            put_scope(out, scope);
            for record in records {
                put_len_prefix(out, SCOPE_RECORDS, record.len());
                out.put_slice(record);
            }
            put_str(out, SCHEMA_URL, &scope.schema_url);
        }
        put_str(out, SCHEMA_URL, &resource.schema_url);
        written += len_field_len(REQUEST_RESOURCE_GROUPS, resource_len);
    }
    written
}
