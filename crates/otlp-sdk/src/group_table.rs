//! [`GroupTable`]: the export loop's table of the resource-and-scope pairs
//! of the records it takes, so that a request groups them.
//!
//! A producing thread names its record's resource and scope by an index
//! into its block's own list of resources and scopes; the loop maps each
//! block's list onto this table when it takes the block. Pairs are told
//! apart by what they encode to: records that carry equal resources and
//! scopes through handles of their own share a group (one `ScopeSpans`),
//! and records under equal resources share one `ResourceSpans`. A pair is
//! looked up by its handles first (a hash of two addresses, kept valid by
//! the handles the table holds); the first time those handles are seen, by
//! its bytes, among the groups of the same hash of their contents (every
//! field that reaches the wire, doubles by their bits): thousands of
//! scopes, even of one name told apart by attributes, or of resources
//! under one scope, cost no scan.
//!
//! Pruned, so that a pipeline meeting new scopes for as long as it runs
//! (tracers named after tenants or versions) takes every record and keeps
//! only the pairs in use alive: once the table has doubled since it was
//! last pruned, or [`PRUNE_EVERY`] takes after, before a batch is taken, it
//! forgets the handles not seen for [`KEEP_TAKES`] takes and the pairs no
//! kept handle and no block in hand names (so the handles of a burst of
//! scopes do not outlive it for good in a table that stops growing).
//! Amortised, that costs a constant per pair added, and a pass over the
//! table every [`PRUNE_EVERY`] takes.

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use otlp_core::encode::frame;
use otlp_core::{InstrumentationScope, Resource};

// Attributes hashed in order, doubles by their bits: as `wire_eq` compares
// them, so pairs equal by `wire_eq` have equal keys.
use crate::attribute_hash::hash_all;
use crate::record_block::{Block, Group};

/// Takes after which handles not seen again are forgotten.
pub(crate) const KEEP_TAKES: u64 = 16;
/// The table is pruned once it holds this many handles, or twice as many
/// as after its last pruning.
const MIN_PRUNE_AT: usize = 64;
/// A table of at least [`MIN_PRUNE_AT`] handles is also pruned this many
/// takes after its last pruning, grown or not.
const PRUNE_EVERY: u64 = 4 * KEEP_TAKES;

/// A resource-and-scope pair of the table.
#[derive(Debug)]
pub(crate) struct TableGroup {
    /// Groups of equal resources share this index (for grouping requests).
    pub(crate) resource_index: usize,
    pub(crate) resource: Arc<Resource>,
    pub(crate) scope: Arc<InstrumentationScope>,
    /// Size of a request holding this group with one empty record.
    pub(crate) overhead: usize,
    /// Size of this group's scope group with one empty record, written
    /// in a resource group a request holds already
    /// ([`frame::single_record_scope_group_len`]).
    pub(crate) scope_overhead: usize,
    /// The take in which a record of this group last joined a batch.
    joined: u64,
    /// [`resource_key`] of its resource and [`pair_key`] of the pair.
    resource_key: u64,
    pair_key: u64,
}

/// Handles seen for a pair: their group, and when they were last seen.
#[derive(Debug)]
struct Handles {
    /// Kept so that the addresses they are found by name them alone.
    _resource: Arc<Resource>,
    _scope: Arc<InstrumentationScope>,
    group: u32,
    seen: u64,
}

/// See the [module documentation](self).
#[derive(Debug, Default)]
pub(crate) struct GroupTable {
    groups: Vec<TableGroup>,
    /// Distinct resources (by their bytes), in the order first seen.
    resources: Vec<Arc<Resource>>,
    /// For each of `resources`, the take in which a record of it last
    /// joined a batch.
    resources_joined: Vec<u64>,
    /// Indices into `resources` by [`resource_key`].
    by_resource: HashMap<u64, Vec<usize>>,
    /// By the addresses of a resource and a scope.
    by_handles: HashMap<(usize, usize), Handles>,
    /// Groups by the hash of their contents ([`pair_key`]).
    by_contents: HashMap<u64, Vec<u32>>,
    /// Takes begun ([`begin_take`](Self::begin_take)).
    take: u64,
    /// Handles held after the last pruning.
    kept: usize,
    /// The take of the last pruning.
    pruned_at: u64,
    /// Groups and resources compared by their contents (tests look at it).
    #[cfg(test)]
    pub(crate) compared: u64,
}

impl GroupTable {
    /// A new take begins: prunes the table if it has grown (see the
    /// [module documentation](self)); `in_hand`, the blocks the loop holds
    /// records of, keep their groups, and their indices are updated.
    pub(crate) fn begin_take(&mut self, in_hand: &mut VecDeque<Box<Block>>) {
        self.take += 1;
        let handles = self.by_handles.len();
        let grown = handles >= (2 * self.kept).max(MIN_PRUNE_AT);
        let due = handles >= MIN_PRUNE_AT && self.take >= self.pruned_at + PRUNE_EVERY;
        if grown || due {
            self.prune(in_hand);
        }
    }

    /// Maps the groups of a block just taken from the queue onto the table.
    pub(crate) fn map_block(&mut self, block: &mut Block) {
        block.map_groups(|group| self.index_of(group));
    }

    /// The group at `index`.
    pub(crate) fn get(&self, index: u32) -> Option<&TableGroup> {
        self.groups.get(index as usize)
    }

    /// Whether a record of group `index` is in this take's batch already.
    pub(crate) fn in_batch(&self, index: u32) -> bool {
        self.groups
            .get(index as usize)
            .is_some_and(|group| group.joined == self.take)
    }

    /// Whether a record of a group of resource `resource_index` (a
    /// [`TableGroup::resource_index`]) is in this take's batch already:
    /// the request holds that resource's group, written once.
    pub(crate) fn resource_in_batch(&self, resource_index: usize) -> bool {
        self.resources_joined
            .get(resource_index)
            .is_some_and(|&joined| joined == self.take)
    }

    /// A record of group `index` joins this take's batch.
    pub(crate) fn join_batch(&mut self, index: u32) {
        if let Some(group) = self.groups.get_mut(index as usize) {
            group.joined = self.take;
            if let Some(joined) = self.resources_joined.get_mut(group.resource_index) {
                *joined = self.take;
            }
        }
    }

    /// The table's index for `group`, added if new.
    fn index_of(&mut self, group: &Group) -> u32 {
        let take = self.take;
        let key = (
            Arc::as_ptr(&group.resource) as usize,
            Arc::as_ptr(&group.scope) as usize,
        );
        if let Some(handles) = self.by_handles.get_mut(&key) {
            handles.seen = take;
            return handles.group;
        }
        // New handles: the same pair by its bytes, or a new pair. `==`
        // would put a resource with `0.0` in the group of one with `-0.0`
        // (sending its records under the other's attributes), and never
        // group equal resources holding a NaN.
        let same = |known: &TableGroup| {
            (Arc::ptr_eq(&known.scope, &group.scope) || known.scope.wire_eq(&group.scope))
                && (Arc::ptr_eq(&known.resource, &group.resource)
                    || known.resource.wire_eq(&group.resource))
        };
        let resource_key = resource_key(&group.resource);
        let pair_key = pair_key(resource_key, &group.scope);
        let candidates = self.by_contents.entry(pair_key).or_default();
        let found = candidates
            .iter()
            .position(|&index| self.groups.get(index as usize).is_some_and(&same));
        #[cfg(test)]
        {
            self.compared += found.map_or(candidates.len(), |position| position + 1) as u64;
        }
        let index = match found {
            Some(position) => candidates[position],
            None => {
                let index = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
                candidates.push(index);
                let resource_index = self.resource_index(&group.resource, resource_key);
                self.groups.push(TableGroup {
                    resource_index,
                    resource: Arc::clone(&group.resource),
                    scope: Arc::clone(&group.scope),
                    overhead: group.overhead,
                    scope_overhead: frame::single_record_scope_group_len(&group.scope, 0),
                    joined: 0,
                    resource_key,
                    pair_key,
                });
                index
            }
        };
        self.by_handles.insert(
            key,
            Handles {
                _resource: Arc::clone(&group.resource),
                _scope: Arc::clone(&group.scope),
                group: index,
                seen: take,
            },
        );
        index
    }

    /// The index shared by the groups of resources equal to `resource`.
    /// `key` is its [`resource_key`].
    fn resource_index(&mut self, resource: &Arc<Resource>, key: u64) -> usize {
        let resources = &mut self.resources;
        let resources_joined = &mut self.resources_joined;
        let candidates = self.by_resource.entry(key).or_default();
        let found = candidates.iter().position(|&index| {
            resources
                .get(index)
                .is_some_and(|known| Arc::ptr_eq(known, resource) || known.wire_eq(resource))
        });
        #[cfg(test)]
        {
            self.compared += found.map_or(candidates.len(), |position| position + 1) as u64;
        }
        match found {
            Some(position) => candidates[position],
            None => {
                resources.push(Arc::clone(resource));
                resources_joined.push(0);
                candidates.push(resources.len() - 1);
                resources.len() - 1
            }
        }
    }

    /// Forgets handles not seen for [`KEEP_TAKES`] takes, and the groups no
    /// kept handle and no block in hand names; renumbers the rest.
    fn prune(&mut self, in_hand: &mut VecDeque<Box<Block>>) {
        let take = self.take;
        self.by_handles
            .retain(|_, handles| handles.seen + KEEP_TAKES > take);
        let mut kept = vec![false; self.groups.len()];
        for handles in self.by_handles.values() {
            if let Some(kept) = kept.get_mut(handles.group as usize) {
                *kept = true;
            }
        }
        for block in in_hand.iter() {
            for &index in block.table_indices() {
                if let Some(kept) = kept.get_mut(index as usize) {
                    *kept = true;
                }
            }
        }
        // Old index to new, for the groups kept.
        let mut renumbered = vec![u32::MAX; self.groups.len()];
        let groups = std::mem::take(&mut self.groups);
        // Pruned before a take's first record joins: no resource is in
        // this take's batch yet.
        self.resources.clear();
        self.resources_joined.clear();
        self.by_resource.clear();
        self.by_contents.clear();
        for (old, group) in groups.into_iter().enumerate() {
            if !kept[old] {
                continue;
            }
            let index = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
            renumbered[old] = index;
            self.by_contents
                .entry(group.pair_key)
                .or_default()
                .push(index);
            let resource_index = self.resource_index(&group.resource, group.resource_key);
            self.groups.push(TableGroup {
                resource_index,
                ..group
            });
        }
        let new_index = |old: u32| renumbered.get(old as usize).copied().unwrap_or(u32::MAX);
        for handles in self.by_handles.values_mut() {
            handles.group = new_index(handles.group);
        }
        for block in in_hand.iter_mut() {
            block.renumber_groups(new_index);
        }
        self.kept = self.by_handles.len();
        self.pruned_at = take;
    }

    /// Pairs the table holds (tests look at it).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }
}

/// A hash of what a resource encodes to: resources equal by
/// [`Resource::wire_eq`] have equal keys.
fn resource_key(resource: &Resource) -> u64 {
    let mut hasher = DefaultHasher::new();
    resource.schema_url.as_str().hash(&mut hasher);
    resource.dropped_attributes_count.hash(&mut hasher);
    hash_all(&resource.attributes).hash(&mut hasher);
    hasher.finish()
}

/// A hash of what a resource (by its [`resource_key`]) and a scope encode
/// to: pairs equal by `wire_eq` have equal keys.
fn pair_key(resource_key: u64, scope: &InstrumentationScope) -> u64 {
    let mut hasher = DefaultHasher::new();
    resource_key.hash(&mut hasher);
    scope.name.as_str().hash(&mut hasher);
    scope.version.as_str().hash(&mut hasher);
    scope.schema_url.as_str().hash(&mut hasher);
    scope.dropped_attributes_count.hash(&mut hasher);
    hash_all(&scope.attributes).hash(&mut hasher);
    hasher.finish()
}
