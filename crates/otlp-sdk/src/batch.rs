//! [`Batch`]: records the export loop takes from the queue, and the export
//! request written around them.
//!
//! The loop takes records in the order they were handed over, up to the batch
//! size and as many as fit in one request, then writes the request: records
//! sorted by resource and scope (a stable sort keeps each group in order) and
//! framed by [`frame::write_request`]. Record bytes are copied once, into the
//! request; the blocks they came from go back to the queue's spares once
//! every record in them is taken.

use std::collections::VecDeque;

use otlp_core::encode::frame;
use otlp_core::wire::len_field_len;

use crate::group_table::GroupTable;
use crate::record_block::{Block, GROUP_PREFIX_SLACK, HEADER};
use crate::record_queue::RecordQueue;

/// `spans`/`log_records` in `ScopeX`: each record's tag and length in a request.
const RECORD_FIELD: u32 = 2;

/// Room for a scope group's length prefix to grow past the one byte it
/// takes around an empty record
/// ([`TableGroup::scope_overhead`](crate::group_table::TableGroup::scope_overhead)), for a
/// group whose resource the request holds already: half of
/// [`GROUP_PREFIX_SLACK`], which is room for two prefixes (the resource
/// group's and the scope group's). A prefix takes up to five bytes for
/// requests under 32 GiB; at the limit, a batch is cut a few bytes early.
const SCOPE_PREFIX_SLACK: usize = GROUP_PREFIX_SLACK / 2;

/// How far ahead of the record being read its block is warmed: a few
/// records' worth, so that their cache misses overlap.
const WARM_AHEAD: usize = 2048;

/// One record of the batch: its group (in the loop's table) and where its
/// bytes are.
#[derive(Debug, Clone, Copy)]
struct Entry {
    group: u32,
    block: usize,
    start: usize,
    len: usize,
}

/// The loop's side of the queue: blocks being read and the batch taken.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Blocks popped from the queue; the front ones may be fully read but
    /// still hold records of the current batch.
    blocks: VecDeque<Box<Block>>,
    /// Where the next record is read: a block of `blocks` and an offset.
    read_block: usize,
    read_offset: usize,
    /// The records of the current batch.
    entries: Vec<Entry>,
    /// The resources and scopes of the records taken.
    groups: GroupTable,
    /// Groups in the batch.
    groups_in_batch: usize,
}

impl Batch {
    /// Takes up to `max_records` records that fit in a request of
    /// `max_request_bytes`; returns how many. Blocks fully read by the
    /// previous batch go back to the queue first.
    pub(crate) fn take(
        &mut self,
        queue: &RecordQueue,
        max_records: usize,
        max_request_bytes: usize,
    ) -> usize {
        self.release_read_blocks(queue);
        self.entries.clear();
        self.groups.begin_take(&mut self.blocks);
        self.groups_in_batch = 0;
        let mut request_len = 0;
        let mut taken_bytes = 0;
        // How far the current block is warmed (see `Block::warm`).
        let mut warmed = (self.read_block, self.read_offset);
        while self.entries.len() < max_records {
            if self.read_block == self.blocks.len() {
                match queue.pop_block() {
                    Some(mut block) => {
                        self.groups.map_block(&mut block);
                        self.blocks.push_back(block);
                    }
                    None => break,
                }
            }
            let block = &self.blocks[self.read_block];
            if warmed.0 != self.read_block {
                warmed = (self.read_block, self.read_offset);
            }
            let ahead = self.read_offset + WARM_AHEAD;
            if warmed.1 < ahead {
                block.warm(warmed.1..ahead);
                warmed.1 = ahead;
            }
            let Some((group, bytes, next)) = block.record_at(self.read_offset) else {
                self.read_block += 1;
                self.read_offset = 0;
                continue;
            };
            let len = bytes.len();
            let group = block.table_index(group);
            let mut grows_by = len_field_len(RECORD_FIELD, len);
            let new_group = !self.groups.in_batch(group);
            if new_group {
                // A group whose resource the request holds already adds
                // its scope group; the resource group's prefix grows within
                // the slack charged when its first group joined.
                grows_by += self.groups.get(group).map_or(0, |table_group| {
                    if self.groups.resource_in_batch(table_group.resource_index) {
                        table_group.scope_overhead + SCOPE_PREFIX_SLACK
                    } else {
                        table_group.overhead + GROUP_PREFIX_SLACK
                    }
                });
            }
            if !self.entries.is_empty() && request_len + grows_by > max_request_bytes {
                break;
            }
            if new_group {
                self.groups.join_batch(group);
                self.groups_in_batch += 1;
            }
            request_len += grows_by;
            taken_bytes += HEADER + len;
            self.entries.push(Entry {
                group,
                block: self.read_block,
                start: self.read_offset + HEADER,
                len,
            });
            self.read_offset = next;
        }
        let taken = self.entries.len();
        if taken > 0 {
            queue.note_taken(taken, taken_bytes);
        }
        // Grouped for the request; a stable sort keeps each group's order.
        if self.groups_in_batch > 1 {
            let groups = &self.groups;
            self.entries.sort_by_key(|entry| {
                let resource = groups
                    .get(entry.group)
                    .map_or(usize::MAX, |group| group.resource_index);
                (resource, entry.group)
            });
        }
        taken
    }

    /// Appends the export request holding the batch's records `range`
    /// (grouped: a range of the batch stays grouped); returns its length.
    pub(crate) fn write(&self, range: std::ops::Range<usize>, out: &mut Vec<u8>) -> usize {
        let entries = self.entries.get(range).unwrap_or_default();
        let groups = &self.groups;
        let blocks = &self.blocks;
        let record = move |entry: &Entry| blocks[entry.block].slice(entry.start, entry.len);
        let resource_of = move |entry: &Entry| {
            groups
                .get(entry.group)
                .map_or(usize::MAX, |group| group.resource_index)
        };
        let resources = entries
            .chunk_by(move |a, b| resource_of(a) == resource_of(b))
            .filter_map(move |run| {
                let first = groups.get(run[0].group)?;
                let scopes = run
                    .chunk_by(|a, b| a.group == b.group)
                    .filter_map(move |run| {
                        let group = groups.get(run[0].group)?;
                        Some((&*group.scope, run.iter().map(record)))
                    });
                Some((&*first.resource, scopes))
            });
        frame::write_request(resources, out)
    }

    /// The bytes of the batch's records `range`, without their headers.
    pub(crate) fn record_bytes(&self, range: std::ops::Range<usize>) -> u64 {
        let entries = self.entries.get(range).unwrap_or_default();
        entries.iter().map(|entry| entry.len as u64).sum()
    }

    /// Records popped from the queue and not taken yet (discarded when the
    /// queue closes); they leave the batch, and their budget goes back to
    /// the queue as if taken. Returns how many, and their bytes without
    /// headers.
    pub(crate) fn drop_unread(&mut self, queue: &RecordQueue) -> (u64, u64) {
        let mut unread = 0;
        let mut unread_bytes = 0;
        let mut record_bytes = 0;
        while let Some(block) = self.blocks.get(self.read_block) {
            let mut offset = self.read_offset;
            while let Some((_, bytes, next)) = block.record_at(offset) {
                unread += 1;
                unread_bytes += HEADER + bytes.len();
                record_bytes += bytes.len() as u64;
                offset = next;
            }
            self.read_block += 1;
            self.read_offset = 0;
        }
        if unread > 0 {
            queue.note_taken(unread, unread_bytes);
        }
        self.entries.clear();
        self.release_read_blocks(queue);
        (unread as u64, record_bytes)
    }

    /// Ends the batch once its requests are written: blocks read to the end
    /// go back to the queue for reuse.
    pub(crate) fn finish(&mut self, queue: &RecordQueue) {
        self.entries.clear();
        if self
            .blocks
            .get(self.read_block)
            .is_some_and(|block| block.record_at(self.read_offset).is_none())
        {
            self.read_block += 1;
            self.read_offset = 0;
        }
        self.release_read_blocks(queue);
    }

    /// Gives the blocks before the one being read back to the queue.
    fn release_read_blocks(&mut self, queue: &RecordQueue) {
        let read = self.read_block.min(self.blocks.len());
        for block in self.blocks.drain(..read) {
            queue.recycle(block);
        }
        self.read_block -= read;
        if self.blocks.is_empty() {
            self.read_offset = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use otlp_core::{InstrumentationScope, KeyValue, Resource, SpanData};
    use prost::Message;

    use crate::group_table::KEEP_TAKES;
    use crate::record_queue::Push;

    #[test]
    fn records_of_several_groups_come_out_grouped_in_order() {
        let queue = RecordQueue::new(1 << 20, None, 1 << 20, 1);
        let resources = [
            Arc::new(Resource::new([KeyValue::new("service.name", "a")])),
            Arc::new(Resource::new([KeyValue::new("service.name", "b")])),
        ];
        let scopes = [
            Arc::new(InstrumentationScope::new("x")),
            Arc::new(InstrumentationScope::new("y")),
        ];
        for i in 0..40 {
            let span = SpanData::builder(format!("s{i}"))
                .resource(resources[i % 2].clone())
                .scope(scopes[(i / 2) % 2].clone())
                .build();
            assert_eq!(queue.push(&span), Push::Queued);
        }
        queue.steal_partial_blocks();
        let mut batch = Batch::default();
        assert_eq!(batch.take(&queue, 100, 1 << 20), 40);
        let mut body = Vec::new();
        batch.write(0..40, &mut body);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        assert_eq!(request.resource_spans.len(), 2);
        for (r, resource_spans) in request.resource_spans.iter().enumerate() {
            assert_eq!(resource_spans.scope_spans.len(), 2);
            for (s, scope_spans) in resource_spans.scope_spans.iter().enumerate() {
                let names: Vec<_> = scope_spans.spans.iter().map(|s| s.name.clone()).collect();
                let wanted: Vec<_> = (0..40)
                    .filter(|i| i % 2 == r && (i / 2) % 2 == s)
                    .map(|i| format!("s{i}"))
                    .collect();
                assert_eq!(names, wanted);
            }
        }
        assert_eq!(queue.used_bytes(), 0);
    }

    /// A small deterministic generator (xorshift), so that a failure replays.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Resource `r` of [`pairs_through_prunings_batch_limits_and_splits`]:
    /// wire-different by a double's bits (`0.0`, `-0.0`, two NaNs) or by its
    /// schema URL.
    fn resource_of(r: usize) -> Resource {
        let bits = [
            0.0f64.to_bits(),
            (-0.0f64).to_bits(),
            f64::NAN.to_bits(),
            0x7ff8_0000_0000_0001,
            0,
        ];
        let resource = Resource::new([KeyValue::new("x", f64::from_bits(bits[r]))]);
        if r == 4 {
            resource.with_schema_url("u")
        } else {
            resource
        }
    }

    /// Scope `s`: all named `lib` (one name-and-version key for most), told
    /// apart by a tenant attribute, schema URL, dropped count or version.
    fn scope_of(s: usize) -> InstrumentationScope {
        let mut scope = InstrumentationScope::new("lib")
            .with_version(if s.is_multiple_of(7) { "2" } else { "1" })
            .with_schema_url(if s % 2 == 1 { "a" } else { "" })
            .with_attributes([KeyValue::new("tenant", (s / 4) as i64)]);
        scope.dropped_attributes_count = ((s / 2) % 2) as u32;
        scope
    }

    /// Records of 5 resources and 40 scopes, through shared and fresh
    /// handles, taken by batches of random sizes and request caps while
    /// more are written (blocks read across batches, the table pruned and
    /// renumbered), each request also written in halves: every record
    /// arrives once, under its own resource and scope, in order within
    /// them, and no request of two records or more exceeds its cap.
    #[test]
    fn pairs_through_prunings_batch_limits_and_splits() {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        const RESOURCES: usize = 5;
        const SCOPES: usize = 40;
        const RECORDS: usize = 20_000;
        let queue = RecordQueue::new(1 << 22, None, 1 << 20, 1);
        let shared_resources: Vec<_> = (0..RESOURCES).map(|r| Arc::new(resource_of(r))).collect();
        let shared_scopes: Vec<_> = (0..SCOPES).map(|s| Arc::new(scope_of(s))).collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut expected = Vec::with_capacity(RECORDS);
        let mut arrived = vec![0u32; RECORDS];
        let mut last_of_pair = std::collections::HashMap::<(usize, usize), usize>::new();
        let mut batch = Batch::default();
        let mut body = Vec::new();
        let check = |records: &[(usize, usize)], body: &[u8], arrived: &mut Vec<u32>| {
            let request = ExportTraceServiceRequest::decode(body).expect("decodes");
            let mut count = 0;
            for resource_spans in &request.resource_spans {
                let resource = resource_spans.resource.as_ref().expect("a resource");
                let bits = match resource.attributes[0]
                    .value
                    .as_ref()
                    .and_then(|v| v.value.as_ref())
                {
                    Some(Value::DoubleValue(x)) => x.to_bits(),
                    other => panic!("resource attribute {other:?}"),
                };
                for scope_spans in &resource_spans.scope_spans {
                    let scope = scope_spans.scope.as_ref().expect("a scope");
                    let tenant = match scope.attributes[0]
                        .value
                        .as_ref()
                        .and_then(|v| v.value.as_ref())
                    {
                        Some(Value::IntValue(t)) => *t as usize,
                        other => panic!("scope attribute {other:?}"),
                    };
                    for span in &scope_spans.spans {
                        let i: usize = span.name.parse().expect("a record index");
                        let (r, s) = records[i];
                        let want_r = resource_of(r);
                        let want_s = scope_of(s);
                        let want_bits = match &want_r.attributes[0].value {
                            otlp_core::AnyValue::Double(x) => x.to_bits(),
                            _ => unreachable!(),
                        };
                        assert_eq!(
                            (bits, resource_spans.schema_url.as_str()),
                            (want_bits, want_r.schema_url.as_str()),
                            "resource of record {i}"
                        );
                        assert_eq!(
                            (
                                scope.version.as_str(),
                                scope_spans.schema_url.as_str(),
                                scope.dropped_attributes_count,
                                tenant
                            ),
                            (
                                want_s.version.as_str(),
                                want_s.schema_url.as_str(),
                                want_s.dropped_attributes_count,
                                s / 4
                            ),
                            "scope of record {i}"
                        );
                        arrived[i] += 1;
                        count += 1;
                    }
                }
            }
            count
        };
        let mut pair = (0, 0);
        while expected.len() < RECORDS {
            for _ in 0..rng.below(300) {
                if expected.len() == RECORDS {
                    break;
                }
                if rng.below(3) > 0 {
                    pair = (
                        rng.below(RESOURCES as u64) as usize,
                        rng.below(SCOPES as u64) as usize,
                    );
                }
                let resource = if rng.below(3) == 0 {
                    Arc::new(resource_of(pair.0))
                } else {
                    Arc::clone(&shared_resources[pair.0])
                };
                let scope = if rng.below(2) == 0 {
                    Arc::new(scope_of(pair.1))
                } else {
                    Arc::clone(&shared_scopes[pair.1])
                };
                let span = SpanData::builder(expected.len().to_string())
                    .resource(resource)
                    .scope(scope)
                    .build();
                assert_eq!(queue.push(&span), Push::Queued);
                expected.push(pair);
            }
            if rng.below(2) == 0 || expected.len() == RECORDS {
                queue.steal_partial_blocks();
            }
            let takes = if expected.len() == RECORDS {
                usize::MAX
            } else {
                rng.below(4) as usize
            };
            for _ in 0..takes {
                let max_records = 1 + rng.below(120) as usize;
                let max_bytes = match rng.below(4) {
                    0 => usize::MAX,
                    _ => 150 + rng.below(6_000) as usize,
                };
                let taken = batch.take(&queue, max_records, max_bytes);
                if taken == 0 {
                    break;
                }
                assert!(taken <= max_records);
                body.clear();
                let len = batch.write(0..taken, &mut body);
                assert_eq!(len, body.len());
                assert!(
                    taken == 1 || body.len() <= max_bytes,
                    "{taken} records in {} bytes, over {max_bytes}",
                    body.len()
                );
                let mut split = vec![0u32; RECORDS];
                let mut halves = 0;
                let middle = taken / 2;
                for range in [0..middle, middle..taken] {
                    let mut half = Vec::new();
                    batch.write(range, &mut half);
                    halves += check(&expected, &half, &mut split);
                }
                assert_eq!(halves, taken);
                let before: Vec<usize> = (0..RECORDS).filter(|&i| arrived[i] == 0).collect();
                assert_eq!(check(&expected, &body, &mut arrived), taken);
                for i in before.into_iter().filter(|&i| arrived[i] > 0) {
                    assert_eq!(split[i], 1, "record {i} in the halves");
                    if let Some(last) = last_of_pair.insert(expected[i], i) {
                        assert!(last < i, "record {i} after {last} of the same pair");
                    }
                }
                batch.finish(&queue);
            }
        }
        assert!(arrived.iter().all(|&n| n == 1), "every record once");
        assert_eq!(queue.used_bytes(), 0);
    }

    /// Records of one resource, under eight scopes of their own, taken
    /// under every request cap from one record's request to a little above
    /// that of them all: a scope group whose resource the request holds
    /// already is charged its own framing, not the resource's again (16 KB
    /// here: the batch took one scope's records under any of these caps),
    /// so the batch takes every record whose request, with the estimate's
    /// room for length prefixes to grow, fits; and no request of two
    /// records or more goes over its cap, also as the resource group's
    /// length prefix grows from two bytes to three and scope groups' from
    /// one to two.
    #[test]
    fn a_scope_under_a_resource_in_the_batch_is_charged_only_its_scope_framing() {
        const SCOPES: usize = 8;
        const PER_SCOPE: usize = 3;
        const RECORDS: usize = SCOPES * PER_SCOPE;
        // Just under 16 KiB of resource: its group's length prefix takes
        // two bytes with the first scope groups, three with all of them.
        let resource = Arc::new(Resource::new([KeyValue::new(
            "host.description",
            "r".repeat(16_200),
        )]));
        let scopes: Vec<_> = (0..SCOPES)
            .map(|s| Arc::new(InstrumentationScope::new(format!("scope {s}"))))
            .collect();
        let push_all = |queue: &RecordQueue| {
            for (s, scope) in scopes.iter().enumerate() {
                for r in 0..PER_SCOPE {
                    // Names of 9 to 55 bytes: a scope group's length prefix
                    // takes two bytes from its second or third record.
                    let name = format!("{s}.{r}.{}", "n".repeat((s * PER_SCOPE + r) * 2 + 5));
                    let span = SpanData::builder(name)
                        .resource(Arc::clone(&resource))
                        .scope(Arc::clone(scope))
                        .build();
                    assert_eq!(queue.push(&span), Push::Queued);
                }
            }
            queue.steal_partial_blocks();
        };
        // The exact size of the request holding the first `k` records (in
        // the order written, which is the order of their groups).
        let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
        push_all(&queue);
        let mut batch = Batch::default();
        assert_eq!(batch.take(&queue, RECORDS, usize::MAX), RECORDS);
        let mut body = Vec::new();
        let exact: Vec<usize> = (0..=RECORDS)
            .map(|k| {
                body.clear();
                batch.write(0..k, &mut body)
            })
            .collect();
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        assert_eq!(request.resource_spans.len(), 1, "one resource group");
        assert_eq!(request.resource_spans[0].scope_spans.len(), SCOPES);
        // What the estimate may charge above the exact size: the slack of
        // the first group, and of each other one, and the empty record each
        // group's overhead is measured with.
        let room = |k: usize| {
            let groups = k.div_ceil(PER_SCOPE);
            GROUP_PREFIX_SLACK + 2 + (groups - 1) * (SCOPE_PREFIX_SLACK + 2)
        };
        for cap in exact[1]..=exact[RECORDS] + room(RECORDS) {
            let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
            push_all(&queue);
            let mut batch = Batch::default();
            let taken = batch.take(&queue, RECORDS, cap);
            body.clear();
            let len = batch.write(0..taken, &mut body);
            assert_eq!(len, exact[taken], "cap {cap}");
            assert!(
                taken == 1 || len <= cap,
                "cap {cap}: {taken} records in {len} bytes"
            );
            let fits = (1..=RECORDS)
                .rfind(|&k| exact[k] + room(k) <= cap)
                .unwrap_or(1);
            assert!(
                taken >= fits,
                "cap {cap}: {taken} records taken, {fits} fit ({} bytes)",
                exact[fits]
            );
            batch.drop_unread(&queue);
        }
        // The resource group's body (the request less its prefix of two or
        // three bytes) crosses 16 KiB.
        assert!(exact[1] < 16_384 && exact[RECORDS] > 16_384 + 4);
    }

    /// Tracers made per request for thousands of tenants told apart by a
    /// scope attribute (one name and version), and resources made per
    /// request for thousands of tenants under one scope: each fresh handle
    /// is looked up among the groups of equal contents, not compared with
    /// every group of the same scope name (a scan of thousands per record:
    /// 35 s of the loop for 60,000 such spans of 6,000 tenants); and every
    /// record keeps its tenant.
    #[test]
    fn fresh_handles_of_thousands_of_tenants_are_not_compared_with_each_group() {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        const TENANTS: usize = 2_000;
        const RECORDS: usize = 8_000;
        let queue = RecordQueue::new(1 << 24, None, usize::MAX, 1);
        let shared_resource = Arc::new(Resource::new([KeyValue::new("service.name", "gw")]));
        let shared_scope = Arc::new(InstrumentationScope::new("lib"));
        let tenant_of = |i: usize| i * 7_919 % TENANTS;
        let mut batch = Batch::default();
        let mut seen = 0;
        let mut body = Vec::new();
        for i in 0..RECORDS {
            let tenant = tenant_of(i) as i64;
            let builder = SpanData::builder(i.to_string());
            let span = if i % 2 == 0 {
                let scope = InstrumentationScope::new("lib")
                    .with_attributes([KeyValue::new("tenant", tenant)]);
                builder
                    .resource(Arc::clone(&shared_resource))
                    .scope(Arc::new(scope))
            } else {
                let resource = Resource::new([
                    KeyValue::new("service.name", "gw"),
                    KeyValue::new("tenant", tenant),
                ]);
                builder
                    .resource(Arc::new(resource))
                    .scope(Arc::clone(&shared_scope))
            }
            .build();
            assert_eq!(queue.push(&span), Push::Queued);
            if i % 1_000 < 999 {
                continue;
            }
            queue.steal_partial_blocks();
            loop {
                let taken = batch.take(&queue, 512, usize::MAX);
                if taken == 0 {
                    break;
                }
                body.clear();
                batch.write(0..taken, &mut body);
                let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
                for resource_spans in &request.resource_spans {
                    let resource = resource_spans.resource.as_ref().unwrap();
                    for scope_spans in &resource_spans.scope_spans {
                        let scope = scope_spans.scope.as_ref().unwrap();
                        for span in &scope_spans.spans {
                            let i: usize = span.name.parse().unwrap();
                            let attributes = if i.is_multiple_of(2) {
                                (&scope.attributes[..], resource.attributes.len())
                            } else {
                                (&resource.attributes[1..], 1 + scope.attributes.len())
                            };
                            assert_eq!(attributes.1, 1, "record {i}: one tenant");
                            let tenant = attributes.0[0]
                                .value
                                .as_ref()
                                .and_then(|v| v.value.as_ref());
                            assert_eq!(
                                tenant,
                                Some(&Value::IntValue(tenant_of(i) as i64)),
                                "record {i}"
                            );
                            seen += 1;
                        }
                    }
                }
                batch.finish(&queue);
            }
        }
        assert_eq!(seen, RECORDS);
        // One or two comparisons a fresh handle (found or added), not one
        // with each of the thousands of groups of the same scope name.
        let compared = batch.groups.compared;
        assert!(
            compared <= 2 * RECORDS as u64,
            "{compared} comparisons of contents for {RECORDS} fresh handles"
        );
    }

    /// A burst of a thousand tenants' scopes, then records under one scope
    /// for as many batches as the pipeline runs: the burst's scopes are
    /// released some batches after their records were exported, although
    /// the loop's table does not grow again (kept for good before, until
    /// as many new handles came).
    #[test]
    fn scopes_of_a_burst_are_released_once_their_records_are_exported() {
        let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
        let mut batch = Batch::default();
        let mut burst = Vec::new();
        for i in 0..1_000 {
            let scope = Arc::new(InstrumentationScope::new(format!("tenant {i}")));
            burst.push(Arc::downgrade(&scope));
            let span = SpanData::builder(format!("{i}")).scope(scope).build();
            assert_eq!(queue.push(&span), Push::Queued);
        }
        queue.steal_partial_blocks();
        while batch.take(&queue, 512, usize::MAX) > 0 {
            batch.finish(&queue);
        }
        let steady = Arc::new(InstrumentationScope::new("steady"));
        for take in 0..(8 * KEEP_TAKES) {
            let span = SpanData::builder(format!("steady {take}"))
                .scope(Arc::clone(&steady))
                .build();
            assert_eq!(queue.push(&span), Push::Queued);
            queue.steal_partial_blocks();
            assert_eq!(batch.take(&queue, 512, usize::MAX), 1);
            batch.finish(&queue);
        }
        let alive = burst
            .iter()
            .filter(|scope| scope.strong_count() > 0)
            .count();
        assert_eq!(alive, 0, "scopes of the burst still alive");
        assert!(Arc::strong_count(&steady) > 1, "the steady scope is kept");
    }

    /// A block read one record a batch, through prunings of the loop's
    /// table, each record under its own scope; then the queue closes with
    /// the block in hand: its unread records are counted once, the budget
    /// comes back whole, and no scope outlives the loop's table.
    #[test]
    fn a_block_in_hand_at_close_is_counted_once_and_releases_its_scopes() {
        let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
        let mut batch = Batch::default();
        let mut scopes = Vec::new();
        let records = 300;
        for i in 0..records {
            let scope = Arc::new(InstrumentationScope::new(format!("{i}")));
            scopes.push(Arc::downgrade(&scope));
            let span = SpanData::builder(format!("{i}")).scope(scope).build();
            assert_eq!(queue.push(&span), Push::Queued);
        }
        queue.steal_partial_blocks();
        let read = 200;
        let mut body = Vec::new();
        for i in 0..read {
            take_one_under_its_own_scope(&mut batch, &queue, i, &mut body);
            batch.finish(&queue);
        }
        assert_eq!(batch.drop_unread(&queue).0, (records - read) as u64);
        assert_eq!(queue.close().records, 0);
        assert_eq!(queue.used_bytes(), 0);
        drop(batch);
        let alive = scopes
            .iter()
            .filter(|scope| scope.strong_count() > 0)
            .count();
        assert_eq!(alive, 0, "scopes alive with the loop gone");
    }

    /// Takes one record, span `i`, and checks that its request carries it
    /// under the scope of its own name.
    fn take_one_under_its_own_scope(
        batch: &mut Batch,
        queue: &RecordQueue,
        i: usize,
        body: &mut Vec<u8>,
    ) {
        assert_eq!(batch.take(queue, 1, usize::MAX), 1, "record {i}");
        body.clear();
        batch.write(0..1, body);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let scope_spans = &request.resource_spans[0].scope_spans[0];
        let scope = scope_spans.scope.as_ref().map(|scope| scope.name.as_str());
        assert_eq!(scope_spans.spans[0].name, format!("{i}"));
        assert_eq!(scope, Some(scope_spans.spans[0].name.as_str()));
    }

    /// The loop's group table is pruned, and renumbered, while a block is
    /// being read one record per batch: the block's records keep their
    /// scopes, and the scopes of records long gone are forgotten.
    #[test]
    fn records_of_a_block_in_hand_keep_their_scopes_through_a_pruning() {
        let queue = RecordQueue::new(1 << 22, None, usize::MAX, 1);
        let push = |name: String, scope: String| {
            let span = SpanData::builder(name)
                .scope(Arc::new(InstrumentationScope::new(scope)))
                .build();
            assert_eq!(queue.push(&span), Push::Queued);
        };
        // Early records, under scopes of their own, taken at once; then
        // enough batches for their scopes to be old.
        let early = 40;
        for i in 0..early {
            push(format!("early {i}"), format!("early {i}"));
        }
        queue.steal_partial_blocks();
        let mut batch = Batch::default();
        assert_eq!(batch.take(&queue, 1_000, usize::MAX), early);
        for _ in 0..KEEP_TAKES {
            assert_eq!(batch.take(&queue, 1_000, usize::MAX), 0);
        }
        let records = 100;
        for i in 0..records {
            push(format!("{i}"), format!("{i}"));
        }
        queue.steal_partial_blocks();
        let mut body = Vec::new();
        for i in 0..records {
            take_one_under_its_own_scope(&mut batch, &queue, i, &mut body);
        }
        assert_eq!(batch.groups.len(), records);
    }
}
