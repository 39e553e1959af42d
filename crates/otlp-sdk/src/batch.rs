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
use crate::record_queue::{Block, GROUP_PREFIX_SLACK, HEADER, RecordQueue};

/// `spans`/`log_records` in `ScopeX`: each record's tag and length in a request.
const RECORD_FIELD: u32 = 2;

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
                grows_by +=
                    self.groups.get(group).map_or(0, |group| group.overhead) + GROUP_PREFIX_SLACK;
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

    /// Records popped from the queue and not taken yet (discarded when the
    /// queue closes); they leave the batch, and their budget goes back to
    /// the queue as if taken.
    pub(crate) fn drop_unread(&mut self, queue: &RecordQueue) -> u64 {
        let mut unread = 0;
        let mut unread_bytes = 0;
        while let Some(block) = self.blocks.get(self.read_block) {
            let mut offset = self.read_offset;
            while let Some((_, bytes, next)) = block.record_at(offset) {
                unread += 1;
                unread_bytes += HEADER + bytes.len();
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
        unread as u64
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
            assert_eq!(batch.take(&queue, 1, usize::MAX), 1, "record {i}");
            body.clear();
            batch.write(0..1, &mut body);
            let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
            let scope_spans = &request.resource_spans[0].scope_spans[0];
            let scope = scope_spans.scope.as_ref().map(|scope| scope.name.as_str());
            assert_eq!(scope_spans.spans[0].name, format!("{i}"));
            assert_eq!(scope, Some(scope_spans.spans[0].name.as_str()));
        }
        assert_eq!(batch.groups.len(), records);
    }
}
