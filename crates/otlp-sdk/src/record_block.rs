//! [`Block`]: the memory a producing thread fills with encoded records,
//! then hands to the export loop; and the [`Group`]s (resource and scope)
//! its records are written under.
//!
//! A record in a block is its encoded bytes (an OTLP `Span` or `LogRecord`
//! message, [`QueuedRecord::encode`]) behind a [`HEADER`]: the index of
//! its group in the block's own list, and its length. The
//! [record queue](crate::record_queue) hands blocks between threads and
//! keeps their budget; the export loop reads their records
//! ([`Block::record_at`]) and maps their groups onto its
//! [`GroupTable`](crate::group_table::GroupTable).
//!
//! # Cost model
//!
//! A record is encoded once, in place behind room for its header
//! ([`Block::draft`]), where the block's memory surely has room, so that
//! the common record costs one pass and no copy; near the block's end it
//! is encoded aside and copied, once per block. Finding a record's group
//! compares two pointers (the last group's handles); a record of another
//! group scans the list while it is short ([`GROUP_SCAN`]) and looks the
//! handles' addresses up in a map past that, and a block's first record of
//! a group clones two handles and measures the group's framing. Blocks are
//! reused: clearing one keeps its memory.

use std::collections::HashMap;
use std::sync::Arc;

use otlp_core::encode::frame;
use otlp_core::{InstrumentationScope, Resource};

use crate::queued_record::QueuedRecord;

/// Bytes in front of every record in a block: its group and its length,
/// two little-endian `u32`.
pub(crate) const HEADER: usize = 8;

/// The cache line size of the machines this runs on (x86-64, most ARM).
const CACHE_LINE: usize = 64;

/// A block is handed over once less than this is left in it.
const ROOM_TO_KEEP_FILLING: usize = 512;
/// A record is encoded straight into its block when the block's memory has
/// this much room left (larger records are rare, and only grow the block);
/// nearer the end it is encoded aside and copied.
const IN_PLACE_ROOM: usize = 4 * 1024;
/// Room for a group's length prefixes (resource and scope) to grow past the
/// one byte each they take around an empty record: a bound on a request's
/// size from a group's overhead and its records' lengths.
pub(crate) const GROUP_PREFIX_SLACK: usize = 10;
/// A block's groups are scanned for a record's handles while there are at
/// most this many; past that they are looked up by the handles' addresses.
const GROUP_SCAN: usize = 16;

/// The addresses of a resource and a scope handle: a key that names the
/// pair for as long as the handles are held.
fn handle_addresses(resource: &Arc<Resource>, scope: &Arc<InstrumentationScope>) -> (usize, usize) {
    (Arc::as_ptr(resource) as usize, Arc::as_ptr(scope) as usize)
}

/// The exact length of a request holding `record` alone, `len` bytes encoded.
#[cold]
pub(crate) fn request_len_of_one<R: QueuedRecord>(record: &R, len: usize) -> usize {
    frame::single_record_request_len(record.resource(), record.scope(), len)
}

/// A resource and a scope records of a block are grouped under.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) resource: Arc<Resource>,
    pub(crate) scope: Arc<InstrumentationScope>,
    /// Size of a request holding this group with one empty record.
    pub(crate) overhead: usize,
}

/// Memory a thread fills with records, then hands to the loop (see the
/// [module documentation](self)).
#[derive(Debug)]
pub(crate) struct Block {
    bytes: Vec<u8>,
    records: usize,
    /// Budget this block holds, the queue's to set: bytes and records it
    /// may still grow to.
    pub(crate) reserved_bytes: usize,
    pub(crate) reserved_records: usize,
    /// Records of this block in the queue's shared count of records in
    /// blocks, the queue's to set.
    pub(crate) counted: usize,
    /// The marker the loop leaves in a slot when the queue closes.
    closed: bool,
    /// The resources and scopes of the block's records: a record's header
    /// names one by its index here. Kept alive by the block until it is
    /// reused.
    groups: Vec<Group>,
    /// `groups` by the addresses of their handles (valid: the block holds
    /// the handles), once the list is longer than [`GROUP_SCAN`]; empty
    /// before.
    groups_by_handles: HashMap<(usize, usize), u32>,
    /// Comparisons of a record's handles with a group's, for tests.
    #[cfg(test)]
    pub(crate) compared: u64,
    /// The loop's indices for `groups`, set when it takes the block
    /// ([`GroupTable`](crate::group_table::GroupTable)).
    table_indices: Vec<u32>,
}

/// A record encoded by [`Block::draft`], not yet a record of the block.
#[derive(Debug)]
pub(crate) struct Draft {
    start: usize,
    len: usize,
    in_place: bool,
    /// The block memory's capacity before the draft: a record larger than
    /// the room left grows it, and a draft that is not sealed gives that
    /// back (see [`Block::drop_draft`]).
    capacity: usize,
}

impl Draft {
    /// The record's encoded length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// What the record takes in a block: its bytes and its header.
    pub(crate) fn need(&self) -> usize {
        HEADER + self.len
    }
}

impl Block {
    /// An empty block of `bytes` capacity.
    pub(crate) fn with_capacity(bytes: usize) -> Box<Block> {
        Box::new(Block {
            bytes: Vec::with_capacity(bytes),
            records: 0,
            reserved_bytes: 0,
            reserved_records: 0,
            counted: 0,
            closed: false,
            groups: Vec::new(),
            groups_by_handles: HashMap::new(),
            #[cfg(test)]
            compared: 0,
            table_indices: Vec::new(),
        })
    }

    /// The marker the loop leaves in a slot when the queue closes.
    pub(crate) fn closed_marker() -> Box<Block> {
        let mut marker = Block::with_capacity(0);
        marker.closed = true;
        marker
    }

    /// Whether this is the queue's closed marker.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Records written.
    pub(crate) fn records(&self) -> usize {
        self.records
    }

    /// Bytes written: records and their headers.
    pub(crate) fn used_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Bytes of the records written, without their headers.
    pub(crate) fn record_bytes(&self) -> usize {
        self.bytes.len() - HEADER * self.records
    }

    /// Bytes the block's memory holds.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// The block's groups, in the order its records' headers number them.
    #[cfg(test)]
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Encodes `record` into the block behind room for its header, where
    /// the block's memory surely has room ([`IN_PLACE_ROOM`]); nearer its
    /// end, into `scratch`. The draft is then sealed, moved aside or
    /// dropped.
    pub(crate) fn draft<R: QueuedRecord>(&mut self, record: &R, scratch: &mut Vec<u8>) -> Draft {
        let start = self.bytes.len();
        let capacity = self.bytes.capacity();
        let in_place = capacity - start >= IN_PLACE_ROOM;
        let len = if in_place {
            self.bytes.extend_from_slice(&[0; HEADER]);
            record.encode(&mut self.bytes);
            self.bytes.len() - start - HEADER
        } else {
            scratch.clear();
            record.encode(scratch);
            scratch.len()
        };
        Draft {
            start,
            len,
            in_place,
            capacity,
        }
    }

    /// Whether `draft` ends within the bytes the block reserved.
    pub(crate) fn fits_reserved(&self, draft: &Draft) -> bool {
        draft.start + draft.need() <= self.reserved_bytes
    }

    /// Forgets `draft`: the block is as before it, its memory too (a record
    /// larger than the room left, encoded in place, grew it: a block that
    /// kept that would hold memory the budget does not count, and could not
    /// be reused).
    pub(crate) fn drop_draft(&mut self, draft: Draft) {
        self.bytes.truncate(draft.start);
        if self.bytes.capacity() > draft.capacity {
            self.bytes.shrink_to(draft.capacity);
        }
    }

    /// Moves `draft`'s bytes into `scratch` (where an aside draft already
    /// is), for another block; this block is as before it, its memory too.
    pub(crate) fn move_draft_aside(&mut self, draft: Draft, scratch: &mut Vec<u8>) {
        if draft.in_place {
            scratch.clear();
            scratch.extend_from_slice(&self.bytes[draft.start + HEADER..]);
            self.drop_draft(draft);
        }
    }

    /// Writes `draft` as a record of `group`: its header in place, or the
    /// record from `scratch` appended.
    pub(crate) fn seal(&mut self, draft: Draft, group: u32, scratch: &[u8]) {
        if draft.in_place {
            self.seal_record(draft.start, group, draft.len);
        } else {
            self.append_record(group, scratch);
        }
    }

    /// Empties the block for reuse: no record, no group, no budget.
    pub(crate) fn clear_for_reuse(&mut self) {
        self.bytes.clear();
        self.records = 0;
        self.reserved_bytes = 0;
        self.reserved_records = 0;
        self.counted = 0;
        self.groups.clear();
        // A block that met thousands of scopes does not keep their room.
        if self.groups_by_handles.capacity() > 4 * GROUP_SCAN {
            self.groups_by_handles = HashMap::new();
        } else {
            self.groups_by_handles.clear();
        }
        self.table_indices.clear();
    }

    /// The `len` bytes at `start` (a record located by [`record_at`](Self::record_at)).
    pub(crate) fn slice(&self, start: usize, len: usize) -> &[u8] {
        self.bytes.get(start..start + len).unwrap_or_default()
    }

    /// The index in this block of the group of `record`, added if new, the
    /// group's request overhead, and whether it was added (a record that is
    /// not written after all takes it back, [`Block::unadd_group`]).
    /// Handles are compared, not contents
    /// (the loop merges equal groups): the last group first, as a thread's
    /// records mostly share one; then the list, scanned while it is short
    /// and looked up by the handles' addresses once it is longer than
    /// [`GROUP_SCAN`] (a thread switching between many tenants' scopes).
    pub(crate) fn group_of<R: QueuedRecord>(&mut self, record: &R) -> (u32, usize, bool) {
        let (resource, scope) = (record.resource(), record.scope());
        let same_handles = |group: &Group| {
            Arc::ptr_eq(&group.scope, scope) && Arc::ptr_eq(&group.resource, resource)
        };
        // Handles of their own but equal to the last group's (a tracer made
        // per request: a fresh scope handle every time) share its group, so
        // the list does not grow by one such record at a time.
        let same_as_last = |group: &Group| {
            (Arc::ptr_eq(&group.scope, scope) || group.scope.wire_eq(scope))
                && (Arc::ptr_eq(&group.resource, resource) || group.resource.wire_eq(resource))
        };
        let found = if self.groups.last().is_some_and(same_handles) {
            Some(self.groups.len() - 1)
        } else if self.groups.len() <= GROUP_SCAN {
            #[cfg(test)]
            {
                self.compared += self.groups.len() as u64;
            }
            self.groups.iter().rposition(same_handles)
        } else {
            #[cfg(test)]
            {
                self.compared += 1;
            }
            self.groups_by_handles
                .get(&handle_addresses(resource, scope))
                .map(|&index| index as usize)
        };
        let (index, added) = match found {
            Some(index) => (index, false),
            None if self.groups.last().is_some_and(same_as_last) => (self.groups.len() - 1, false),
            None => {
                self.groups.push(Group {
                    resource: Arc::clone(resource),
                    scope: Arc::clone(scope),
                    overhead: request_len_of_one(record, 0),
                });
                self.index_groups_by_handles();
                (self.groups.len() - 1, true)
            }
        };
        let overhead = self.groups[index].overhead;
        (u32::try_from(index).unwrap_or(u32::MAX), overhead, added)
    }

    /// Keeps [`groups_by_handles`](Self::groups_by_handles) up to date
    /// after a group was added: from the group that makes the list longer
    /// than [`GROUP_SCAN`] on, all of them.
    fn index_groups_by_handles(&mut self) {
        if self.groups.len() <= GROUP_SCAN {
            return;
        }
        let from = if self.groups_by_handles.is_empty() {
            0
        } else {
            self.groups.len() - 1
        };
        for (index, group) in self.groups.iter().enumerate().skip(from) {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            self.groups_by_handles
                .insert(handle_addresses(&group.resource, &group.scope), index);
        }
    }

    /// Takes back the group [`group_of`](Self::group_of) just added for a
    /// record not written to this block after all (refused, or moved to
    /// another block): no record names it, and its handles are not kept.
    pub(crate) fn unadd_group(&mut self, added: bool) {
        if added && let Some(group) = self.groups.pop() {
            if self.groups.len() <= GROUP_SCAN {
                self.groups_by_handles.clear();
            } else {
                self.groups_by_handles
                    .remove(&handle_addresses(&group.resource, &group.scope));
            }
        }
    }

    /// Sets the loop's index of each of the block's groups.
    pub(crate) fn map_groups(&mut self, mut index_of: impl FnMut(&Group) -> u32) {
        self.table_indices.clear();
        let Block {
            groups,
            table_indices,
            ..
        } = self;
        table_indices.extend(groups.iter().map(&mut index_of));
    }

    /// The loop's indices of the block's groups ([`map_groups`](Self::map_groups)).
    pub(crate) fn table_indices(&self) -> &[u32] {
        &self.table_indices
    }

    /// The loop's index of the block's group `group` (`u32::MAX` if unknown).
    pub(crate) fn table_index(&self, group: u32) -> u32 {
        self.table_indices
            .get(group as usize)
            .copied()
            .unwrap_or(u32::MAX)
    }

    /// The loop renumbered its table.
    pub(crate) fn renumber_groups(&mut self, new_index: impl Fn(u32) -> u32) {
        for index in &mut self.table_indices {
            *index = new_index(*index);
        }
    }

    /// Whether the block is to be handed over: its reserved records are
    /// written, or less than [`ROOM_TO_KEEP_FILLING`] of its reserved bytes
    /// is left.
    pub(crate) fn is_full(&self) -> bool {
        self.records >= self.reserved_records
            || self.reserved_bytes - self.bytes.len() < ROOM_TO_KEEP_FILLING
    }

    /// Completes the record encoded at `start`, behind room for its header.
    fn seal_record(&mut self, start: usize, group: u32, len: usize) {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        if let Some(header) = self.bytes.get_mut(start..start + HEADER) {
            header[..4].copy_from_slice(&group.to_le_bytes());
            header[4..].copy_from_slice(&len.to_le_bytes());
        }
        self.records += 1;
    }

    /// Appends a record encoded elsewhere.
    pub(crate) fn append_record(&mut self, group: u32, record: &[u8]) {
        let len = u32::try_from(record.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&group.to_le_bytes());
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(record);
        self.records += 1;
    }

    /// Loads the cache lines of `range` (clipped to the block) ahead of
    /// their reading. The loop finds each record from the previous one's
    /// length, so without this every record is a cache miss waited for in
    /// turn (the producers wrote them on other cores); these loads depend on
    /// nothing and run side by side.
    pub(crate) fn warm(&self, range: std::ops::Range<usize>) {
        let end = range.end.min(self.bytes.len());
        let mut touched = 0u8;
        for at in (range.start..end).step_by(CACHE_LINE) {
            touched ^= self.bytes.get(at).copied().unwrap_or_default();
        }
        std::hint::black_box(touched);
    }

    /// The record at `offset`: its group, its bytes, and where the next one
    /// starts. `None` past the last record.
    pub(crate) fn record_at(&self, offset: usize) -> Option<(u32, &[u8], usize)> {
        let header = self.bytes.get(offset..offset + HEADER)?;
        let group = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let start = offset + HEADER;
        let bytes = self.bytes.get(start..start + len)?;
        Some((group, bytes, start + len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warming_reads_nothing_past_the_block() {
        let mut block = Block::with_capacity(256);
        block.append_record(0, &[7u8; 100]);
        // Ranges over, past and inside the 108 written bytes.
        block.warm(0..4096);
        block.warm(500..600);
        block.warm(usize::MAX - 10..usize::MAX);
        block.warm(50..50);
        assert_eq!(block.record_at(0), Some((0, &[7u8; 100][..], 108)));
    }
}
