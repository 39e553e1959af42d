//! The series of one stream: attribute sets to cells, found without a lock.
//!
//! A measurement finds its series in an open-addressing table of write-once
//! slots: it hashes its attributes as given (after the stream's key filter),
//! loads the current table (one atomic load, no lock, no shared write) and probes
//! slots until it finds an entry with that hash and those attributes, or an
//! empty slot. Found: the measurement goes to the cell — no lock, no
//! allocation. Not found: the slow path takes the table's mutex, builds the
//! canonical attribute set, and either finds the series under it (the same
//! set in another order: an alias entry is added, so that order is fast next
//! time) or creates the series. Entries are never removed while the stream
//! lives; a table more than half full is copied into one twice its size,
//! which becomes current. Tables are levels of doubling size kept until the
//! stream is dropped (at most twice the memory of the largest), so a reader
//! that loaded an older level still reads valid slots: it may miss a series
//! added since, and then takes the slow path, which looks in the current
//! level.
//!
//! The cardinality limit bounds the series: once a stream has `limit`
//! series of their own, measurements with new attribute sets go to the
//! overflow series (`otel.metric.overflow = true`), counted in
//! [`SeriesTable::overflowed`]. As the specification requires, no
//! measurement overflows while a stream has at most `limit` attribute sets.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use otlp_core::KeyValue;

use super::aggregation::{Cell, CellKind};
use super::attributes::{KeyFilter, canonical, hash_all, hash_kept, same_kept};
use super::exemplar::Reservoir;

/// The attribute of the overflow series.
pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

/// Levels of the table: 8 << 27 slots is past any cardinality limit.
const LEVELS: usize = 28;

/// Alias entries (other orders of a known set) a table takes, per series.
const ALIASES_PER_SERIES: usize = 4;

/// One series: its canonical attributes, its cell and its exemplars.
#[derive(Debug)]
pub(crate) struct Series {
    /// Sorted by key, one value per key.
    pub(crate) attributes: Arc<[KeyValue]>,
    /// The aggregation state.
    pub(crate) cell: Cell,
    /// Exemplars offered since the last collection.
    pub(crate) reservoir: Reservoir,
    /// When the series was created (start of its cumulative points).
    pub(crate) created: u64,
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    /// The attributes as some call site gives them (after the filter).
    key: Arc<[KeyValue]>,
    series: Arc<Series>,
}

#[derive(Debug)]
struct Slots {
    mask: usize,
    slots: Box<[OnceLock<Entry>]>,
}

impl Slots {
    fn with_capacity(capacity: usize) -> Slots {
        let capacity = capacity.next_power_of_two().max(8);
        Slots {
            mask: capacity - 1,
            slots: (0..capacity).map(|_| OnceLock::new()).collect(),
        }
    }

    #[inline]
    fn find(&self, hash: u64, attributes: &[KeyValue], filter: &KeyFilter) -> Option<&Arc<Series>> {
        let mut index = hash as usize & self.mask;
        loop {
            let entry = self.slots[index].get()?;
            if entry.hash == hash && same_kept(&entry.key, attributes, filter) {
                return Some(&entry.series);
            }
            index = (index + 1) & self.mask;
        }
    }

    /// Puts an entry in the first free slot of its probe sequence. The table
    /// is never full: it is grown at half.
    fn put(&self, entry: Entry) {
        let mut index = entry.hash as usize & self.mask;
        let mut entry = Some(entry);
        loop {
            if let Some(pending) = entry.take() {
                match self.slots[index].set(pending) {
                    Ok(()) => return,
                    Err(back) => entry = Some(back),
                }
            }
            index = (index + 1) & self.mask;
        }
    }
}

/// What the slow path guards.
#[derive(Debug, Default)]
struct Inserts {
    /// Every series but the overflow one, in creation order.
    series: Vec<Arc<Series>>,
    /// Entries in the current table.
    entries: usize,
    /// Every entry's hash, key and series, to rebuild a larger table.
    all_entries: Vec<(u64, Arc<[KeyValue]>, Arc<Series>)>,
}

/// The series of one stream.
#[derive(Debug)]
pub(crate) struct SeriesTable {
    /// Tables of 8, 16, 32... slots, filled in turn; `current` indexes the
    /// newest.
    levels: [OnceLock<Slots>; LEVELS],
    current: AtomicUsize,
    inserts: Mutex<Inserts>,
    overflow: OnceLock<Arc<Series>>,
    overflowed: AtomicU64,
    filter: KeyFilter,
    kind: CellKind,
    float: bool,
    limit: usize,
    buckets_for_exemplars: usize,
}

impl SeriesTable {
    /// An empty table for a stream aggregating with `kind`.
    pub(crate) fn new(kind: CellKind, float: bool, filter: KeyFilter, limit: usize) -> Self {
        let buckets_for_exemplars = match &kind {
            CellKind::Histogram { bounds, .. } => bounds.len() + 1,
            _ => 1,
        };
        SeriesTable {
            levels: {
                let levels: [OnceLock<Slots>; LEVELS] = std::array::from_fn(|_| OnceLock::new());
                let _ = levels[0].set(Slots::with_capacity(8));
                levels
            },
            current: AtomicUsize::new(0),
            inserts: Mutex::new(Inserts::default()),
            overflow: OnceLock::new(),
            overflowed: AtomicU64::new(0),
            filter,
            kind,
            float,
            limit: limit.max(2),
            buckets_for_exemplars,
        }
    }

    /// Runs `f` on the series named by `attributes`, creating it (or
    /// falling to the overflow series) if needed.
    #[inline]
    pub(crate) fn with_series<R>(
        &self,
        attributes: &[KeyValue],
        f: impl FnOnce(&Series) -> R,
    ) -> R {
        let hash = hash_kept(attributes, &self.filter);
        {
            let slots = self.slots();
            if let Some(series) = slots.find(hash, attributes, &self.filter) {
                return f(series);
            }
        }
        let series = self.find_or_create(hash, attributes);
        f(&series)
    }

    /// Records `measure` in the series named by `attributes`.
    #[cfg(test)]
    pub(crate) fn record(&self, measure: super::aggregation::Measure, attributes: &[KeyValue]) {
        self.with_series(attributes, |series| series.cell.record(measure));
    }

    #[cold]
    fn find_or_create(&self, hash: u64, attributes: &[KeyValue]) -> Arc<Series> {
        let mut inserts = self.inserts.lock().unwrap_or_else(|p| p.into_inner());
        let slots = self.slots();
        if let Some(series) = slots.find(hash, attributes, &self.filter) {
            return series.clone();
        }
        let set = canonical(attributes, &self.filter);
        let set_hash = hash_all(&set);
        let existing = slots
            .find(set_hash, &set, &KeyFilter::All)
            .cloned()
            .or_else(|| {
                // The overflow series is found by its attribute only when
                // the caller gives exactly that attribute.
                self.overflow
                    .get()
                    .filter(|overflow| *overflow.attributes == *set)
                    .cloned()
            });
        let series = match existing {
            Some(series) => series,
            None if inserts.series.len() >= self.limit => {
                self.overflowed.fetch_add(1, Ordering::Relaxed);
                return self.overflow_series();
            }
            None => {
                // The series' attributes are its canonical entry's key.
                let series = Arc::new(self.new_series(Arc::from(set.clone())));
                inserts.series.push(series.clone());
                self.insert(&mut inserts, set_hash, series.attributes.clone(), &series);
                series
            }
        };
        let given: Vec<KeyValue> = super::attributes::kept(attributes, &self.filter)
            .cloned()
            .collect();
        let aliases = inserts.entries.saturating_sub(inserts.series.len());
        if given != set && aliases < ALIASES_PER_SERIES * inserts.series.len() {
            self.insert(&mut inserts, hash, Arc::from(given), &series);
        }
        series
    }

    fn insert(&self, inserts: &mut Inserts, hash: u64, key: Arc<[KeyValue]>, series: &Arc<Series>) {
        inserts
            .all_entries
            .push((hash, key.clone(), series.clone()));
        inserts.entries += 1;
        let slots = self.slots();
        if inserts.entries * 2 > slots.slots.len() {
            let next = self.current.load(Ordering::Relaxed) + 1;
            let larger = Slots::with_capacity(slots.slots.len() * 2);
            for (hash, key, series) in &inserts.all_entries {
                larger.put(Entry {
                    hash: *hash,
                    key: key.clone(),
                    series: series.clone(),
                });
            }
            if next < LEVELS && self.levels[next].set(larger).is_ok() {
                self.current.store(next, Ordering::Release);
            }
        } else {
            slots.put(Entry {
                hash,
                key,
                series: series.clone(),
            });
        }
    }

    /// The current level.
    #[inline]
    fn slots(&self) -> &Slots {
        let current = self.current.load(Ordering::Acquire);
        // Set before `current` was stored (Release), never unset.
        self.levels[current]
            .get()
            .unwrap_or_else(|| unreachable!("level {current} is set before it is current"))
    }

    fn new_series(&self, attributes: Arc<[KeyValue]>) -> Series {
        Series {
            attributes,
            cell: Cell::new(&self.kind, self.float),
            reservoir: Reservoir::new(self.buckets_for_exemplars),
            created: otlp_core::clock::now_unix_nanos(),
        }
    }

    fn overflow_series(&self) -> Arc<Series> {
        self.overflow
            .get_or_init(|| {
                Arc::new(self.new_series(Arc::from([KeyValue::new(OVERFLOW_ATTRIBUTE, true)])))
            })
            .clone()
    }

    /// Every series, the overflow one last if it exists.
    pub(crate) fn series(&self) -> Vec<Arc<Series>> {
        let mut all = self
            .inserts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .series
            .clone();
        all.extend(self.overflow.get().cloned());
        all
    }

    /// Measurements that went to the overflow series because the limit was reached.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// The stream's attribute filter.
    pub(crate) fn filter(&self) -> &KeyFilter {
        &self.filter
    }
}

#[cfg(test)]
mod tests {
    use otlp_core::Str;

    use super::super::aggregation::Measure;

    use super::*;

    fn table(limit: usize) -> SeriesTable {
        SeriesTable::new(
            CellKind::Sum { monotonic: true },
            false,
            KeyFilter::All,
            limit,
        )
    }

    #[test]
    fn the_same_set_in_any_order_is_one_series() {
        let table = table(100);
        table.record(
            Measure::Int(1),
            &[KeyValue::new("a", 1), KeyValue::new("b", 2)],
        );
        table.record(
            Measure::Int(1),
            &[KeyValue::new("b", 2), KeyValue::new("a", 1)],
        );
        table.record(
            Measure::Int(1),
            &[KeyValue::new("b", 2), KeyValue::new("a", 1)],
        );
        let series = table.series();
        assert_eq!(series.len(), 1);
        assert_eq!(
            series[0].attributes.to_vec(),
            vec![KeyValue::new("a", 1), KeyValue::new("b", 2)]
        );
    }

    #[test]
    fn thousands_of_series_survive_growth_and_are_found_again() {
        let table = table(10_000);
        for i in 0..3000 {
            table.record(Measure::Int(i), &[KeyValue::new("i", i)]);
        }
        for i in 0..3000 {
            table.with_series(&[KeyValue::new("i", i)], |series| {
                assert_eq!(series.attributes.to_vec(), vec![KeyValue::new("i", i)]);
            });
        }
        assert_eq!(table.series().len(), 3000);
        assert_eq!(table.overflowed(), 0);
    }

    #[test]
    fn past_the_limit_new_sets_go_to_the_overflow_series_and_are_counted() {
        let table = table(4);
        for i in 0..10 {
            table.record(Measure::Int(1), &[KeyValue::new("i", i)]);
        }
        let series = table.series();
        // limit ordinary series, and the overflow series.
        assert_eq!(series.len(), 5);
        let overflow = series.last().expect("overflow series");
        assert_eq!(
            overflow.attributes.to_vec(),
            vec![KeyValue::new(OVERFLOW_ATTRIBUTE, true)]
        );
        assert_eq!(table.overflowed(), 6);
        // Known sets still reach their own series.
        table.with_series(&[KeyValue::new("i", 0)], |series| {
            assert_eq!(series.attributes.to_vec(), vec![KeyValue::new("i", 0)]);
        });
    }

    #[test]
    fn a_key_filter_merges_sets_that_differ_only_in_dropped_keys() {
        let filter = KeyFilter::Only(Arc::from([Str::from("route")]));
        let table = SeriesTable::new(CellKind::Sum { monotonic: true }, false, filter, 100);
        table.record(
            Measure::Int(1),
            &[KeyValue::new("route", "/a"), KeyValue::new("user", 1)],
        );
        table.record(
            Measure::Int(1),
            &[KeyValue::new("user", 2), KeyValue::new("route", "/a")],
        );
        let series = table.series();
        assert_eq!(series.len(), 1);
        assert_eq!(
            series[0].attributes.to_vec(),
            vec![KeyValue::new("route", "/a")]
        );
    }

    #[test]
    fn threads_creating_the_same_sets_concurrently_share_series() {
        let table = Arc::new(table(10_000));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let table = table.clone();
                std::thread::spawn(move || {
                    for round in 0..20 {
                        for i in 0..500 {
                            table.record(Measure::Int(round), &[KeyValue::new("i", i)]);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("recorder");
        }
        assert_eq!(table.series().len(), 500);
    }
}
