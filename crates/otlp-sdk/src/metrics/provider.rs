//! [`MeterProvider`] and [`Meter`]: where instruments come from, and the
//! collection that reads them all.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otlp_core::{InstrumentationScope, KeyValue, Metric, Resource, Str, Temporality};

use super::aggregation::{CellKind, Measure};
use super::attributes::{AttributeSet, KeyFilter, canonical};
use super::collection_mark::CollectionMark;
use super::exponential::{DEFAULT_MAX_SCALE, DEFAULT_MAX_SIZE};
use super::instrument::{
    Counter, Gauge, Histogram, Number, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
    Observer, SyncCore, UpDownCounter,
};
use super::instrument_kind::InstrumentKind;
use super::reader::{MetricSource, PeriodicReader, ReaderHandle};
use super::stream::{Identity, ObservedStream, Stream};
use super::view::{Aggregation, DEFAULT_HISTOGRAM_BOUNDARIES, View, validate_boundaries};
use super::{MetricsError, MetricsStats};
use crate::config::{
    Config, DefaultHistogramAggregation, ExemplarFilter, ExporterKind, TemporalityPreference,
};
use crate::diagnostics;
use crate::layered::Layered;
use crate::resource_settings::ResourceSettings;

/// The default cardinality limit per stream.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

type Callback = Arc<dyn Fn(&mut Vec<(Measure, Vec<KeyValue>)>) + Send + Sync>;

/// A user callback of an observable instrument of `T`.
type ObserveFn<T> = Box<dyn Fn(&mut Observer<'_, T>) + Send + Sync>;

struct Registration {
    /// The callbacks of every identical registration (the spec: "the SDK
    /// MUST aggregate data from identical Instruments together"). Copied
    /// out before they run, so a callback may register instruments.
    callbacks: Mutex<Arc<Vec<Callback>>>,
    streams: Vec<Arc<ObservedStream>>,
}

/// Identifies an instrument within a provider: a second request for the
/// same one returns the first. Its meter is identified by every parameter
/// (the API spec: meters are distinct when "at least one parameter has a
/// different value"), the scope attributes as a set (their order does not
/// count), and distinct meters are separate namespaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct InstrumentKey {
    scope: String,
    scope_version: String,
    scope_schema_url: String,
    scope_attributes: AttributeSet,
    name: String,
    kind: InstrumentKind,
    unit: String,
    float: bool,
}

/// An exported metric's name within its meter (case-insensitive): two
/// streams of one name and different [`StreamShape`]s are the spec's
/// duplicate instrument registration conflict.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct StreamName {
    scope: String,
    scope_version: String,
    scope_schema_url: String,
    scope_attributes: AttributeSet,
    name: String,
}

/// What a stream's metric says besides its name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StreamShape {
    description: Str,
    unit: Str,
    kind: InstrumentKind,
    float: bool,
}

/// How to resolve a duplicate instrument registration, for its warning: the
/// spec asks for "a renaming View recipe" where a View selector tells the
/// two apart (kind, unit), for a view setting the description where only
/// that differs, and a generic word otherwise (the number type, which no
/// selector names).
fn resolution(spec: &InstrumentSpec, first: &StreamShape, shape: &StreamShape) -> String {
    let view = format!(
        "View::new({:?}).with_meter_name({:?})",
        spec.name.as_str(),
        spec.scope.name.as_str()
    );
    if first.kind != shape.kind {
        format!(
            "a view renaming one resolves it, as {view}.with_kind(InstrumentKind::{:?})\
             .rename(\"<a name of its own>\")",
            shape.kind
        )
    } else if first.unit != shape.unit {
        format!(
            "a view renaming one resolves it, as {view}.with_unit({:?})\
             .rename(\"<a name of its own>\")",
            shape.unit.as_str()
        )
    } else if first.float == shape.float {
        "views setting one description for both resolve it".to_string()
    } else {
        "give one of them a name of its own (no view selects by number type)".to_string()
    }
}

/// What an instrument was first registered with, and keeps when it is asked
/// for again (the spec: "the Meter MUST return an instrument using the
/// first-seen instrument name", "the first-seen advisory parameters").
#[derive(Debug)]
struct FirstSeen {
    name: Str,
    description: Str,
    /// Advised histogram boundaries (valid ones only).
    boundaries: Option<Vec<f64>>,
}

#[derive(Default)]
struct Registry {
    streams: Vec<Arc<Stream>>,
    observed: Vec<Arc<Registration>>,
    observed_instruments: HashMap<InstrumentKey, Arc<Registration>>,
    instruments: HashMap<InstrumentKey, Arc<SyncCore>>,
    /// What each instrument was first registered with.
    firsts: HashMap<InstrumentKey, FirstSeen>,
    /// The shape of the first stream of each name, sync or observable.
    shapes: HashMap<StreamName, StreamShape>,
}

/// What the provider, its meters and its reader share.
pub(crate) struct ProviderShared {
    resource: Arc<Resource>,
    views: Vec<View>,
    temporality: TemporalityPreference,
    histogram: DefaultHistogramAggregation,
    cardinality_limit: usize,
    exemplar_filter: ExemplarFilter,
    registry: Mutex<Registry>,
    live: Arc<AtomicBool>,
    shut_down: AtomicBool,
    invalid_instruments: AtomicU64,
    /// Advisory parameters ignored as invalid.
    ignored_advice: AtomicU64,
    /// Views skipped for an instrument they cannot apply to.
    ignored_views: AtomicU64,
    /// Registrations in conflict with an instrument of the same name.
    conflicting_instruments: AtomicU64,
    /// Measurements the instruments refused (negative counter values,
    /// non-finite values of sums and histograms).
    refused: Arc<AtomicU64>,
    callback_panics: AtomicU64,
    collections: AtomicU64,
}

impl ProviderShared {
    /// Runs the callbacks and reads every stream: one collection.
    pub(crate) fn collect(&self) -> Vec<Metric> {
        let (streams, observed) = {
            let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            (registry.streams.clone(), registry.observed.clone())
        };
        self.collections.fetch_add(1, Ordering::Relaxed);
        let now = otlp_core::clock::now_unix_nanos();
        let mut metrics = Vec::new();
        for stream in &streams {
            metrics.extend(stream.collect(&self.resource, now));
        }
        let mut observations = Vec::new();
        // Callbacks that read one source for several instruments read it
        // once in this collection (`collection_mark`).
        let _collection = CollectionMark::new();
        for registration in &observed {
            observations.clear();
            let callbacks = registration
                .callbacks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let mut panicked = 0;
            for callback in callbacks.iter() {
                let before = observations.len();
                let ran = catch_unwind(AssertUnwindSafe(|| callback(&mut observations)));
                if ran.is_err() {
                    self.callback_panics.fetch_add(1, Ordering::Relaxed);
                    observations.truncate(before);
                    panicked += 1;
                }
            }
            if panicked > 0 && panicked == callbacks.len() {
                // Nothing reported this time; the streams keep their series
                // (the next delta covers this interval too). (An
                // instrument built with no callback reports nothing either,
                // but its streams still mark the collection.)
                continue;
            }
            // Some callbacks panicked: the sets only they observe are
            // missing from this round, and the streams keep their series
            // (a delta taken later is taken from their last total).
            let partial = panicked > 0;
            // A sum of non-finite totals would export NaN or an infinity
            // (and a delta taken from it NaN at the next collection too):
            // refused and counted, as the synchronous sums refuse them.
            if registration.streams.iter().any(|s| s.takes_finite_only()) {
                let before = observations.len();
                observations.retain(|(measure, _)| measure.as_f64().is_finite());
                let refused = (before - observations.len()) as u64;
                if refused > 0 {
                    self.refused.fetch_add(refused, Ordering::Relaxed);
                }
            }
            for stream in &registration.streams {
                metrics.extend(stream.collect(&observations, partial, &self.resource, now));
            }
        }
        metrics
    }

    /// The counts of the aggregation side.
    pub(crate) fn stats(&self) -> MetricsStats {
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let overflowed = registry.streams.iter().map(|s| s.overflowed()).sum::<u64>()
            + registry
                .observed
                .iter()
                .flat_map(|r| r.streams.iter())
                .map(|s| s.overflowed())
                .sum::<u64>();
        MetricsStats {
            collections: self.collections.load(Ordering::Relaxed),
            overflowed_measurements: overflowed,
            invalid_instruments: self.invalid_instruments.load(Ordering::Relaxed),
            ignored_advice: self.ignored_advice.load(Ordering::Relaxed),
            ignored_views: self.ignored_views.load(Ordering::Relaxed),
            conflicting_instruments: self.conflicting_instruments.load(Ordering::Relaxed),
            refused_measurements: self.refused.load(Ordering::Relaxed),
            callback_panics: self.callback_panics.load(Ordering::Relaxed),
            ..MetricsStats::default()
        }
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        use InstrumentKind::*;
        match (self.temporality, kind) {
            (TemporalityPreference::Cumulative, _) => Temporality::Cumulative,
            // The spec's table names Counter, Asynchronous Counter and
            // Histogram, and no gauge. A gauge's points carry no temporality
            // field; delta only makes each point start at the previous
            // collection. Both gauges are delta here, as opentelemetry_sdk's
            // `Delta` selector makes `Gauge` and `ObservableGauge`: the
            // observable gauge was cumulative alone before.
            (
                TemporalityPreference::Delta,
                Counter | ObservableCounter | Histogram | Gauge | ObservableGauge,
            ) => Temporality::Delta,
            // The spec's table: only the synchronous Counter and Histogram
            // (opentelemetry_sdk keeps gauges cumulative too).
            (TemporalityPreference::LowMemory, Counter | Histogram) => Temporality::Delta,
            _ => Temporality::Cumulative,
        }
    }

    /// The cell of `aggregation` for `kind`, or `None` for [`Aggregation::Drop`].
    fn cell_kind(
        &self,
        aggregation: &Aggregation,
        kind: InstrumentKind,
        advised_boundaries: Option<&[f64]>,
    ) -> Option<CellKind> {
        use InstrumentKind::*;
        Some(match aggregation {
            Aggregation::Drop => return None,
            Aggregation::Sum => CellKind::Sum {
                monotonic: kind.is_monotonic(),
            },
            Aggregation::LastValue => CellKind::LastValue,
            Aggregation::ExplicitBucketHistogram {
                boundaries,
                record_min_max,
            } => CellKind::Histogram {
                bounds: boundaries.clone(),
                record_min_max: *record_min_max,
            },
            Aggregation::Base2ExponentialHistogram {
                max_size,
                max_scale,
                record_min_max,
            } => CellKind::Exponential {
                max_size: *max_size,
                max_scale: *max_scale,
                record_min_max: *record_min_max,
            },
            Aggregation::Default => match kind {
                Counter | UpDownCounter | ObservableCounter | ObservableUpDownCounter => {
                    CellKind::Sum {
                        monotonic: kind.is_monotonic(),
                    }
                }
                Gauge | ObservableGauge => CellKind::LastValue,
                Histogram => match self.histogram {
                    DefaultHistogramAggregation::Base2ExponentialBucketHistogram => {
                        CellKind::Exponential {
                            max_size: DEFAULT_MAX_SIZE,
                            max_scale: DEFAULT_MAX_SCALE,
                            record_min_max: true,
                        }
                    }
                    DefaultHistogramAggregation::ExplicitBucketHistogram => CellKind::Histogram {
                        bounds: advised_boundaries
                            .map(<[f64]>::to_vec)
                            .unwrap_or_else(|| DEFAULT_HISTOGRAM_BOUNDARIES.to_vec()),
                        record_min_max: true,
                    },
                },
            },
        })
    }

    /// The streams an instrument produces: one per selecting view, or its
    /// default stream. A view whose aggregation the instrument cannot have
    /// (a histogram of an observable instrument: observations are totals or
    /// current values) is skipped whole, as the spec asks of a view that
    /// "would produce semantic errors" ("proceed as if that View did not
    /// exist"), and counted in [`MetricsStats::ignored_views`].
    fn stream_plans(
        &self,
        spec: &InstrumentSpec,
        warnings: &mut Vec<String>,
    ) -> Vec<(Identity, CellKind, KeyFilter, usize)> {
        let selecting: Vec<&View> = self
            .views
            .iter()
            .filter(|view| view.selects(&spec.name, spec.kind, &spec.unit, &spec.scope))
            .filter(|view| {
                let applies = view
                    .aggregation
                    .as_ref()
                    .is_none_or(|aggregation| aggregation.applies_to(spec.kind));
                if !applies {
                    self.ignored_views.fetch_add(1, Ordering::Relaxed);
                    warnings.push(format!(
                        "a view selecting {} asks for an aggregation a {:?} cannot have: \
                         the view is ignored for it",
                        spec.describe(),
                        spec.kind
                    ));
                }
                applies
            })
            .collect();
        let default_view = View::default();
        let views = if selecting.is_empty() {
            vec![&default_view]
        } else {
            selecting
        };
        views
            .into_iter()
            .filter_map(|view| {
                let aggregation = view.aggregation.clone().unwrap_or_default();
                let cell = self.cell_kind(&aggregation, spec.kind, spec.boundaries.as_deref())?;
                let identity = Identity {
                    name: view.name.clone().unwrap_or_else(|| spec.name.clone()),
                    description: view
                        .description
                        .clone()
                        .unwrap_or_else(|| spec.description.clone()),
                    unit: spec.unit.clone(),
                    kind: spec.kind,
                    scope: spec.scope.clone(),
                };
                let filter = match &view.attribute_keys {
                    Some(keys) => KeyFilter::Only(keys.clone().into()),
                    None => KeyFilter::All,
                };
                let limit = view.cardinality_limit.unwrap_or(self.cardinality_limit);
                Some((identity, cell, filter, limit))
            })
            .collect()
    }

    /// Counts a new instrument in [`MetricsStats::conflicting_instruments`]
    /// if one of its streams has the name of an earlier stream of its meter
    /// (of either registry) and another description, unit, kind or number
    /// type: the spec's duplicate instrument registration. Both are kept and
    /// exported (the spec: "pass through the data by reporting both Metric
    /// objects"). A view that renames one or sets their description makes
    /// their streams differ in name or agree, and so resolves the conflict,
    /// as the spec asks. Records the streams' shapes and the description.
    fn note_conflicts(
        &self,
        registry: &mut Registry,
        key: InstrumentKey,
        spec: &InstrumentSpec,
        float: bool,
        plans: &[(Identity, CellKind, KeyFilter, usize)],
        warnings: &mut Vec<String>,
    ) {
        // The first conflict's earlier shape and this stream's.
        let mut conflict: Option<(StreamShape, StreamShape)> = None;
        // A stream named as a stream made before (of another instrument, or
        // an earlier view of this one) and alike in every other respect:
        // only views make one (an instrument registered again with the
        // same name, kind, unit and number type is the first one), and the
        // two are exported apart under one identity.
        let mut same_identity: Option<&Str> = None;
        for (identity, ..) in plans {
            let name = StreamName {
                scope: key.scope.clone(),
                scope_version: key.scope_version.clone(),
                scope_schema_url: key.scope_schema_url.clone(),
                scope_attributes: key.scope_attributes.clone(),
                name: identity.name.to_ascii_lowercase(),
            };
            let shape = StreamShape {
                description: identity.description.clone(),
                unit: identity.unit.clone(),
                kind: identity.kind,
                float,
            };
            match registry.shapes.get(&name) {
                Some(first) if *first != shape => {
                    conflict = conflict.or_else(|| Some((first.clone(), shape)));
                }
                Some(_) => same_identity = same_identity.or(Some(&identity.name)),
                None => {
                    registry.shapes.insert(name, shape);
                }
            }
        }
        if let Some((first, shape)) = conflict {
            self.conflicting_instruments.fetch_add(1, Ordering::Relaxed);
            warnings.push(format!(
                "{} was registered again with another description, unit, kind or number \
                 type: both are exported; {}",
                spec.describe(),
                resolution(spec, &first, &shape)
            ));
        } else if let Some(stream) = same_identity {
            self.conflicting_instruments.fetch_add(1, Ordering::Relaxed);
            warnings.push(format!(
                "a view gives a stream of {} the name {:?} of another stream of its meter: \
                 both are exported apart under one name (the spec's conflicting metric \
                 identities; give them names of their own)",
                spec.describe(),
                stream.as_str()
            ));
        }
        // Kept if there (an observable instrument whose every stream is
        // dropped is not registered, and comes here again).
        registry.firsts.entry(key).or_insert_with(|| FirstSeen {
            name: spec.name.clone(),
            description: spec.description.clone(),
            boundaries: spec.boundaries.clone(),
        });
    }

    /// Warns of a registration of an existing instrument (same name, kind,
    /// unit and number type) asked for otherwise than it was first, and
    /// returns the name it keeps, the first one. Another case of the name is
    /// warned of (the spec's name conflict: the Meter "MUST return an
    /// instrument using the first-seen instrument name and log an
    /// appropriate error"), not counted: it is the same instrument. Counted
    /// once in [`MetricsStats::conflicting_instruments`] (the spec's
    /// duplicate instrument registration): another description, unless a
    /// view sets the description (the spec: "setting the description
    /// through a configured View SHOULD avoid the warning"); other advised
    /// histogram boundaries, or advice where there was none or none where
    /// there was, while a stream of the instrument takes them (the spec: the
    /// Meter "MUST return an instrument using the first-seen advisory
    /// parameters and log an appropriate error"; a view's aggregation wins
    /// over advice). The instrument keeps its first description and advice.
    fn note_registered_again(
        &self,
        registry: &Registry,
        key: &InstrumentKey,
        spec: &InstrumentSpec,
        warnings: &mut Vec<String>,
    ) -> Str {
        let Some(first) = registry.firsts.get(key) else {
            return spec.name.clone();
        };
        if first.name != spec.name {
            warnings.push(format!(
                "{} is instrument {:?}, registered before under that name (instrument names \
                 are case-insensitive): it is that instrument, and keeps its first name",
                spec.describe(),
                first.name.as_str()
            ));
        }
        let selecting = || {
            self.views
                .iter()
                .filter(|view| view.selects(&spec.name, spec.kind, &spec.unit, &spec.scope))
        };
        let other_description = first.description != spec.description
            && !selecting().any(|view| view.description.is_some());
        if other_description {
            warnings.push(format!(
                "{} was registered again with another description ({:?}): its first one \
                 is kept (a view setting the description resolves it)",
                spec.describe(),
                spec.description.as_str()
            ));
        }
        let advice_taken = spec.kind == InstrumentKind::Histogram
            && self.histogram == DefaultHistogramAggregation::ExplicitBucketHistogram
            && (selecting().next().is_none()
                || selecting()
                    .any(|view| matches!(view.aggregation, None | Some(Aggregation::Default))));
        let other_advice = advice_taken && first.boundaries != spec.boundaries;
        if other_advice {
            warnings.push(format!(
                "{} was registered again advised other histogram boundaries ({:?}): its \
                 first advice is kept ({:?}; a view with an explicit-bucket aggregation \
                 resolves it)",
                spec.describe(),
                spec.boundaries,
                first.boundaries
            ));
        }
        if other_description || other_advice {
            self.conflicting_instruments.fetch_add(1, Ordering::Relaxed);
        }
        first.name.clone()
    }

    /// The streams of a synchronous instrument: new, or those of the same
    /// instrument registered before. Warns (after the registry's lock) of
    /// what it does otherwise than asked.
    fn sync_core(&self, spec: InstrumentSpec, float: bool) -> Arc<SyncCore> {
        let mut warnings = Vec::new();
        let core = self.sync_core_warning(spec, float, &mut warnings);
        for warning in warnings {
            diagnostics::warn("metrics", warning);
        }
        core
    }

    fn sync_core_warning(
        &self,
        mut spec: InstrumentSpec,
        float: bool,
        warnings: &mut Vec<String>,
    ) -> Arc<SyncCore> {
        if spec.drop_invalid_advice() {
            self.ignored_advice.fetch_add(1, Ordering::Relaxed);
            warnings.push(format!(
                "{} was advised histogram boundaries that are not finite and increasing: \
                 the default ones are used",
                spec.describe()
            ));
        }
        if let Err(reason) = spec.validate() {
            self.invalid_instruments.fetch_add(1, Ordering::Relaxed);
            warnings.push(format!("{}: {reason}; it records nothing", spec.describe()));
            return Arc::new(SyncCore {
                streams: Vec::new(),
                live: self.live.clone(),
                refused: self.refused.clone(),
                finite_only: false,
                wants_span: false,
            });
        }
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let key = spec.key(float);
        if let Some(core) = registry.instruments.get(&key) {
            let core = core.clone();
            self.note_registered_again(&registry, &key, &spec, warnings);
            return core;
        }
        let plans = self.stream_plans(&spec, warnings);
        self.note_conflicts(&mut registry, key.clone(), &spec, float, &plans, warnings);
        let streams: Vec<Arc<Stream>> = plans
            .into_iter()
            .map(|(identity, cell, filter, limit)| {
                let temporality = self.temporality(spec.kind);
                Arc::new(Stream::new(
                    identity,
                    cell,
                    float,
                    temporality,
                    filter,
                    limit,
                    self.exemplar_filter,
                ))
            })
            .collect();
        registry.streams.extend(streams.iter().cloned());
        let core = Arc::new(SyncCore {
            // Any filter that lets measurements through reads the span: an
            // `AlwaysOn` exemplar still carries the span it was taken in.
            wants_span: self.exemplar_filter != ExemplarFilter::AlwaysOff && !streams.is_empty(),
            finite_only: streams.iter().any(|stream| stream.takes_finite_only()),
            streams,
            live: self.live.clone(),
            refused: self.refused.clone(),
        });
        registry.instruments.insert(key, core.clone());
        core
    }

    /// Registers an observable instrument's callbacks (one builder's),
    /// each run on its own at every collection, so that one panicking does
    /// not silence the others. Warns (after the registry's lock) of what it
    /// does otherwise than asked.
    /// Returns the instrument's name: the first one it was registered with
    /// (another case of it names the same instrument).
    fn register_callbacks(
        &self,
        spec: InstrumentSpec,
        float: bool,
        callbacks: Vec<Callback>,
    ) -> Str {
        let mut warnings = Vec::new();
        let name = self.register_callbacks_warning(spec, float, callbacks, &mut warnings);
        for warning in warnings {
            diagnostics::warn("metrics", warning);
        }
        name
    }

    fn register_callbacks_warning(
        &self,
        spec: InstrumentSpec,
        float: bool,
        callbacks: Vec<Callback>,
        warnings: &mut Vec<String>,
    ) -> Str {
        if let Err(reason) = spec.validate() {
            self.invalid_instruments.fetch_add(1, Ordering::Relaxed);
            warnings.push(format!("{}: {reason}; it records nothing", spec.describe()));
            return spec.name;
        }
        let key = spec.key(float);
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(registration) = registry.observed_instruments.get(&key) {
            let name = self.note_registered_again(&registry, &key, &spec, warnings);
            let new_callbacks = callbacks;
            let mut registered = registration
                .callbacks
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let mut more = Vec::clone(&registered);
            more.extend(new_callbacks);
            *registered = Arc::new(more);
            return name;
        }
        // An instrument whose every stream is dropped is not registered:
        // asked for again, it keeps its first name all the same.
        let name = registry
            .firsts
            .get(&key)
            .map_or_else(|| spec.name.clone(), |first| first.name.clone());
        let plans = self.stream_plans(&spec, warnings);
        self.note_conflicts(&mut registry, key.clone(), &spec, float, &plans, warnings);
        let streams: Vec<Arc<ObservedStream>> = plans
            .into_iter()
            .map(|(identity, cell, filter, limit)| {
                Arc::new(ObservedStream::new(
                    identity,
                    cell,
                    self.temporality(spec.kind),
                    filter,
                    limit,
                ))
            })
            .collect();
        if streams.is_empty() {
            return name;
        }
        let registration = Arc::new(Registration {
            callbacks: Mutex::new(Arc::new(callbacks)),
            streams,
        });
        registry.observed.push(registration.clone());
        registry.observed_instruments.insert(key, registration);
        name
    }
}

/// Where meters come from; owns the streams, the reader and the resource.
///
/// Cloning is cheap and every clone is the same provider.
///
/// ```
/// use otlp_core::{KeyValue, MetricData, NumberValue};
/// use otlp_sdk::metrics::MeterProvider;
///
/// let provider = MeterProvider::builder().with_service_name("checkout").build()?;
/// let meter = provider.meter("checkout");
/// let orders = meter.u64_counter("orders").with_unit("{order}").build();
/// orders.add(2, &[KeyValue::new("payment", "card")]);
/// orders.add(1, &[KeyValue::new("payment", "card")]);
///
/// let metrics = provider.collect();
/// let MetricData::Sum(sum) = &metrics[0].data else { unreachable!() };
/// assert_eq!(sum.data_points[0].value, NumberValue::Int(3));
/// # Ok::<(), otlp_sdk::metrics::MetricsError>(())
/// ```
#[derive(Clone)]
pub struct MeterProvider {
    shared: Arc<ProviderShared>,
    reader: Option<Arc<ReaderHandle>>,
}

impl fmt::Debug for MeterProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeterProvider")
            .field("resource", &self.shared.resource)
            .field("reader", &self.reader.is_some())
            .finish_non_exhaustive()
    }
}

impl MeterProvider {
    /// Starts building a provider.
    pub fn builder() -> MeterProviderBuilder {
        MeterProviderBuilder::default()
    }

    /// A meter of the scope named `name`.
    ///
    /// An empty name is not a valid scope name: as the specification asks,
    /// the meter works all the same, its scope keeps the empty name, and a
    /// [`diagnostics::Warning`] says so (once
    /// per process).
    pub fn meter(&self, name: impl Into<Str>) -> Meter {
        self.meter_with_scope(InstrumentationScope::new(name))
    }

    /// A meter of `scope`; an empty name is warned of as in
    /// [`meter`](Self::meter). The scope's attributes get unique keys, as
    /// OTLP asks of every attribute collection: a repeated key keeps its
    /// last value, in its first place.
    pub fn meter_with_scope(&self, mut scope: InstrumentationScope) -> Meter {
        if scope.name.is_empty() {
            diagnostics::empty_scope_name(crate::Signal::Metrics);
        }
        crate::unique_keys::keep_last_value_per_key(&mut scope.attributes);
        Meter {
            shared: self.shared.clone(),
            scope: Arc::new(scope),
        }
    }

    /// The resource every metric carries.
    pub fn resource(&self) -> &Arc<Resource> {
        &self.shared.resource
    }

    /// Collects now and returns the metrics, without exporting them.
    ///
    /// With a periodic reader, this takes the same deltas the reader would:
    /// use it for tests and for a pull exporter, not beside a delta reader.
    pub fn collect(&self) -> Vec<Metric> {
        self.shared.collect()
    }

    /// Collects and exports now; returns when the export has settled or at
    /// `timeout`. Flushes asked while the reader is busy (an export under
    /// way) wait for it and then share one collection, whether or not their
    /// callers still wait. Once [`shutdown`](Self::shutdown) has been called
    /// (even one that ran out of time), answers [`MetricsError::ShutDown`]
    /// at once.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), MetricsError> {
        if self.shared.shut_down.load(Ordering::Acquire) {
            return Err(MetricsError::ShutDown);
        }
        match &self.reader {
            Some(reader) => reader.flush(timeout),
            None => Ok(()),
        }
    }

    /// A final collection and export, then the exporter is shut down;
    /// instruments record nothing afterwards. Returns by `timeout`.
    ///
    /// A provider whose last `MeterProvider` handle is dropped without a
    /// shutdown does one itself, bounded by the reader's export timeout and
    /// at most 5 s, as a dropped span or log pipeline does: what was
    /// recorded since the last export is not lost. Meters and instruments
    /// do not keep the reader alive (as in `opentelemetry_sdk`): what they
    /// record after that is never exported, so keep a handle on the
    /// provider for as long as they record.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), MetricsError> {
        if self.shared.shut_down.swap(true, Ordering::AcqRel) {
            return Err(MetricsError::ShutDown);
        }
        self.shared.live.store(false, Ordering::Release);
        match &self.reader {
            Some(reader) => reader.shutdown(timeout),
            None => Ok(()),
        }
    }

    /// The most attribute sets any stream of this provider gives series of
    /// their own: the provider's cardinality limit, or a view's if larger.
    /// A front door that keeps state per series (the `metrics` recorder of
    /// otlp-contrib) keeps no more than this many per instrument: past it,
    /// measurements of a cumulative stream go to the overflow series anyway.
    ///
    /// ```
    /// use otlp_sdk::metrics::{MeterProvider, View};
    ///
    /// let provider = MeterProvider::builder()
    ///     .with_cardinality_limit(100)
    ///     .with_view(View::new("requests").with_cardinality_limit(500))
    ///     .build()?;
    /// assert_eq!(provider.max_cardinality_limit(), 500);
    /// # Ok::<(), otlp_sdk::metrics::MetricsError>(())
    /// ```
    pub fn max_cardinality_limit(&self) -> usize {
        self.shared
            .views
            .iter()
            .filter_map(|view| view.cardinality_limit)
            .fold(self.shared.cardinality_limit, usize::max)
    }

    /// Counts of collections, exports, overflow and errors.
    pub fn stats(&self) -> MetricsStats {
        let mut stats = self.shared.stats();
        if let Some(reader) = &self.reader {
            reader.add_stats(&mut stats);
        }
        stats
    }
}

/// Builder for [`MeterProvider`].
#[derive(Default)]
pub struct MeterProviderBuilder {
    resource: ResourceSettings,
    views: Vec<View>,
    temporality: Layered<TemporalityPreference>,
    histogram: Layered<DefaultHistogramAggregation>,
    cardinality_limit: Layered<usize>,
    exemplar_filter: Layered<ExemplarFilter>,
    /// Every reader given; a provider runs one (see `build`).
    readers: Vec<PeriodicReader>,
    disabled: Layered<bool>,
    /// The last configuration's metrics exporter is `none`.
    exporter_none: bool,
}

impl fmt::Debug for MeterProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeterProviderBuilder")
            .field("views", &self.views.len())
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl MeterProviderBuilder {
    /// Takes the service name, resource attributes, temporality preference,
    /// default histogram aggregation, cardinality limit, exemplar filter,
    /// `OTEL_SDK_DISABLED` and `OTEL_METRICS_EXPORTER=none` of a loaded
    /// [`Config`] (the reader and its exporter are set apart). What the
    /// program sets in code wins over the configuration, whether it is set
    /// before or after this call (the `with_*` methods below); a second call
    /// replaces the first configuration's settings.
    ///
    /// `OTEL_SDK_DISABLED=true` turns the provider off: its instruments
    /// record nothing and its reader never starts, whatever is given in
    /// code. `OTEL_METRICS_EXPORTER=none` means what the specification
    /// says, no exporter set up by configuration: a reader given in code
    /// ([`with_reader`](Self::with_reader)) is started and exports as it
    /// would without the variable. A reader that [stands for the
    /// configuration's `none`](PeriodicReader::stands_for_none) (over what
    /// `otlp-contrib`'s pipeline builds from such a configuration) never
    /// starts, and with no other reader the instruments record nothing
    /// (one flag checked per measurement, as when disabled), since nothing
    /// would read them. A program that reads through
    /// [`MeterProvider::collect`] alone (a pull exporter) says so with
    /// [`with_disabled(false)`](Self::with_disabled), which keeps the
    /// instruments recording.
    pub fn with_config(mut self, config: &Config) -> Self {
        self.resource.apply_config(config);
        self.disabled.configure(config.disabled);
        self.exporter_none = config.metrics.exporter.kind == ExporterKind::None;
        let metrics = &config.metrics;
        self.temporality.configure(metrics.temporality);
        self.histogram
            .configure(metrics.default_histogram_aggregation);
        self.cardinality_limit.configure(metrics.cardinality_limit);
        self.exemplar_filter.configure(metrics.exemplar_filter);
        self
    }

    /// Merges these attributes into the resource (later values win; they win
    /// over the configuration's). A blank `service.name` among them (an
    /// empty or white-space string) is no name, as for the configuration:
    /// it is left out, and the service name otherwise given stays.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource.merge(resource);
        self
    }

    /// Sets `service.name`, which wins over any resource attribute and over
    /// the configuration's (`OTEL_SERVICE_NAME`). A blank name (empty or
    /// white space) is no name, as for the configuration: it changes
    /// nothing, and the service name otherwise given stays (that of an
    /// earlier call, of [`with_resource`](Self::with_resource), of the
    /// configuration, else `unknown_service:` and the executable's name).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.resource.set_service_name(name.into());
        self
    }

    /// Adds a view.
    pub fn with_view(mut self, view: View) -> Self {
        self.views.push(view);
        self
    }

    /// Which instruments report deltas (default: cumulative for all).
    pub fn with_temporality(mut self, preference: TemporalityPreference) -> Self {
        self.temporality.set(preference);
        self
    }

    /// The aggregation of histograms no view changes.
    pub fn with_default_histogram_aggregation(
        mut self,
        aggregation: DefaultHistogramAggregation,
    ) -> Self {
        self.histogram.set(aggregation);
        self
    }

    /// The number of attribute sets per stream that get series of their
    /// own; measurements with further sets go to the overflow series
    /// (default 2000, at least 1). A delta stream forgets its sets at each
    /// collection, so its limit counts the sets recorded in one interval; a
    /// cumulative stream counts every set it saw.
    pub fn with_cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit.set(limit);
        self
    }

    /// Which measurements become exemplars (default: those in sampled spans).
    pub fn with_exemplar_filter(mut self, filter: ExemplarFilter) -> Self {
        self.exemplar_filter.set(filter);
        self
    }

    /// A disabled provider's instruments record nothing and its reader
    /// never starts (`OTEL_SDK_DISABLED=true`). `false` set here enables it
    /// whatever the configuration says, before or after
    /// [`with_config`](Self::with_config): its instruments record for
    /// [`MeterProvider::collect`] even with `OTEL_METRICS_EXPORTER=none`
    /// and no reader.
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.disabled.set(disabled);
        self
    }

    /// Exports through `reader` at its interval, whatever the
    /// configuration's metrics exporter (`OTEL_METRICS_EXPORTER=none`
    /// included), unless the reader [stands for that
    /// `none`](PeriodicReader::stands_for_none) (see
    /// [`with_config`](Self::with_config)).
    ///
    /// A provider runs one reader: [`build`](Self::build) refuses a second
    /// (one that stands for `none` aside), rather than leave one of them
    /// unread.
    pub fn with_reader(mut self, reader: PeriodicReader) -> Self {
        self.readers.push(reader);
        self
    }

    /// Builds the provider and starts its reader. Fails on an invalid view
    /// or cardinality limit, on more than one reader
    /// ([`MetricsError::SeveralReaders`]), or if the reader's thread cannot
    /// start.
    pub fn build(self) -> Result<MeterProvider, MetricsError> {
        for view in &self.views {
            view.validate()?;
        }
        let cardinality_limit = self.cardinality_limit.value_or(DEFAULT_CARDINALITY_LIMIT);
        if cardinality_limit < 1 {
            return Err(MetricsError::InvalidCardinalityLimit(cardinality_limit));
        }
        // With the configuration's exporter `none`, a reader standing for
        // it is left out; with no reader left (and recording not asked for
        // in code), nothing would read the instruments: they stay off.
        let exporter_none = self.exporter_none;
        let mut readers: Vec<PeriodicReader> = self
            .readers
            .into_iter()
            .filter(|reader| !(exporter_none && reader.stands_for_none()))
            .collect();
        if readers.len() > 1 {
            return Err(MetricsError::SeveralReaders(readers.len()));
        }
        let reader = readers.pop();
        let nothing_reads = exporter_none && reader.is_none() && !self.disabled.is_set_in_code();
        let disabled = self.disabled.value_or(false) || nothing_reads;
        let shared = Arc::new(ProviderShared {
            resource: Arc::new(self.resource.build()),
            views: self.views,
            temporality: self.temporality.value_or_default(),
            histogram: self.histogram.value_or_default(),
            cardinality_limit,
            exemplar_filter: self.exemplar_filter.value_or_default(),
            registry: Mutex::new(Registry::default()),
            live: Arc::new(AtomicBool::new(!disabled)),
            shut_down: AtomicBool::new(false),
            invalid_instruments: AtomicU64::new(0),
            ignored_advice: AtomicU64::new(0),
            ignored_views: AtomicU64::new(0),
            conflicting_instruments: AtomicU64::new(0),
            refused: Arc::new(AtomicU64::new(0)),
            callback_panics: AtomicU64::new(0),
            collections: AtomicU64::new(0),
        });
        let reader = match reader {
            Some(reader) if !disabled => Some(Arc::new(reader.start(shared.clone())?)),
            _ => None,
        };
        Ok(MeterProvider { shared, reader })
    }
}

/// Hands out instruments of one scope.
#[derive(Clone)]
pub struct Meter {
    shared: Arc<ProviderShared>,
    scope: Arc<InstrumentationScope>,
}

impl fmt::Debug for Meter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meter").field("scope", &self.scope).finish()
    }
}

/// What an instrument builder has gathered.
#[derive(Clone, Debug)]
struct InstrumentSpec {
    name: Str,
    description: Str,
    unit: Str,
    kind: InstrumentKind,
    scope: Arc<InstrumentationScope>,
    boundaries: Option<Vec<f64>>,
}

impl InstrumentSpec {
    /// `instrument "name" of meter "scope"`, for warnings.
    fn describe(&self) -> String {
        format!(
            "instrument {:?} of meter {:?}",
            self.name.as_str(),
            self.scope.name.as_str()
        )
    }

    /// The spec's instrument name syntax, and its unit's: ASCII, at most
    /// 63 characters (`opentelemetry_sdk` refuses an instrument whose unit
    /// is not, as one whose name is not).
    fn validate(&self) -> Result<(), String> {
        let name = self.name.as_bytes();
        let valid = !name.is_empty()
            && name.len() <= 255
            && name[0].is_ascii_alphabetic()
            && name
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/'));
        if !valid {
            return Err(format!("invalid instrument name {:?}", self.name.as_str()));
        }
        if self.unit.len() > MAX_UNIT_LEN || !self.unit.is_ascii() {
            return Err(format!(
                "invalid unit {:?} (ASCII, at most {MAX_UNIT_LEN} characters)",
                self.unit.as_str()
            ));
        }
        Ok(())
    }

    /// Forgets advised boundaries that are not finite and increasing, as
    /// the spec asks of an invalid advisory parameter ("proceed as if the
    /// parameter was not provided"); whether it did.
    fn drop_invalid_advice(&mut self) -> bool {
        let invalid = self
            .boundaries
            .as_deref()
            .is_some_and(|boundaries| validate_boundaries(boundaries).is_err());
        if invalid {
            self.boundaries = None;
        }
        invalid
    }

    fn key(&self, float: bool) -> InstrumentKey {
        InstrumentKey {
            scope: self.scope.name.to_string(),
            scope_version: self.scope.version.to_string(),
            scope_schema_url: self.scope.schema_url.to_string(),
            scope_attributes: AttributeSet(canonical(&self.scope.attributes, &KeyFilter::All)),
            name: self.name.to_ascii_lowercase(),
            kind: self.kind,
            unit: self.unit.to_string(),
            float,
        }
    }
}

/// The longest unit the metrics API allows (ASCII characters).
const MAX_UNIT_LEN: usize = 63;

/// Builds a synchronous instrument: [`Meter::u64_counter`] and the others.
pub struct InstrumentBuilder<I> {
    meter: Meter,
    spec: InstrumentSpec,
    make: fn(Arc<SyncCore>) -> I,
    float: bool,
}

impl<I> fmt::Debug for InstrumentBuilder<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentBuilder")
            .field("spec", &self.spec)
            .finish()
    }
}

impl<I> InstrumentBuilder<I> {
    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<Str>) -> Self {
        self.spec.description = description.into();
        self
    }

    /// Sets the unit (UCUM: `ms`, `By`, `{request}`).
    pub fn with_unit(mut self, unit: impl Into<Str>) -> Self {
        self.spec.unit = unit.into();
        self
    }

    /// Builds the instrument. An invalid name (the spec's syntax: a letter,
    /// then letters, digits, `_ . - /`, at most 255) or unit (ASCII, at
    /// most 63 characters) gives an instrument that records nothing,
    /// counted in
    /// [`MetricsStats::invalid_instruments`]. Invalid advised boundaries are
    /// ignored (the default ones apply), counted in
    /// [`MetricsStats::ignored_advice`]. (The SDK specification says a
    /// Meter SHOULD NOT validate units; this SDK holds them to the API's
    /// unit syntax, as `opentelemetry_sdk` does, rather than export a unit
    /// a backend may refuse the whole request for.) Asking again for the same
    /// instrument (its name in any case: names are case-insensitive)
    /// returns one that records into the same streams, under the first
    /// name, description and advised boundaries; another case of the name
    /// is warned of ([`diagnostics`]), and another
    /// description or advice counted in
    /// [`MetricsStats::conflicting_instruments`] too.
    pub fn build(self) -> I {
        (self.make)(self.meter.shared.sync_core(self.spec, self.float))
    }
}

impl<T> InstrumentBuilder<Histogram<T>> {
    /// Advises bucket boundaries for the default explicit-bucket aggregation
    /// (views win over advice). Boundaries that are not finite and strictly
    /// increasing are ignored: the default boundaries apply and
    /// [`MetricsStats::ignored_advice`] counts it.
    pub fn with_boundaries(mut self, boundaries: Vec<f64>) -> Self {
        self.spec.boundaries = Some(boundaries);
        self
    }
}

/// Builds an observable instrument: [`Meter::u64_observable_counter`] and
/// the others.
pub struct ObservableBuilder<I, T> {
    meter: Meter,
    spec: InstrumentSpec,
    callbacks: Vec<ObserveFn<T>>,
    make: fn(Str) -> I,
}

impl<I, T> fmt::Debug for ObservableBuilder<I, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservableBuilder")
            .field("spec", &self.spec)
            .finish()
    }
}

impl<I, T: Number> ObservableBuilder<I, T> {
    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<Str>) -> Self {
        self.spec.description = description.into();
        self
    }

    /// Sets the unit.
    pub fn with_unit(mut self, unit: impl Into<Str>) -> Self {
        self.spec.unit = unit.into();
        self
    }

    /// Adds a callback, run at every collection: on the reader's thread (at
    /// its interval, and for [`MeterProvider::force_flush`] and
    /// [`MeterProvider::shutdown`]), on the caller's for
    /// [`MeterProvider::collect`]. The reader's thread is one of the
    /// pipeline's own ([`crate::own_threads`]): what the callback records
    /// there through `tracing`, or through otlp-rust's `log` and `metrics`
    /// front doors, is not recorded; hand it to a thread of the program.
    /// A callback that panics reports nothing for that collection and is
    /// counted in [`MetricsStats::callback_panics`]; the series of the sets
    /// it observes are kept, so that their next delta is what they grew
    /// since their last total. Each callback runs on its own: the others,
    /// of this builder or another, still report.
    ///
    /// What a callback should do (the API specification asks that it be
    /// said):
    /// - be safe to run again while it runs: [`MeterProvider::collect`]
    ///   on a thread of the program and the reader may collect at once,
    ///   each running it;
    /// - return promptly: no timeout bounds a callback (the specification
    ///   suggests one), so one that blocks holds the reader's collections,
    ///   whose flushes and shutdown then give up at their timeout;
    /// - observe each attribute set once, across all the instrument's
    ///   callbacks. A set observed more than once in a collection is summed
    ///   for a counter or up-down counter (as the sets a view's attribute
    ///   keys merge are), and its last observation wins for a gauge.
    pub fn with_callback(
        mut self,
        callback: impl Fn(&mut Observer<'_, T>) + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    /// Registers the callbacks, each on its own (a panic in one is caught
    /// apart from the others). Asked for again (its name in any case), the
    /// instrument is the first one: these callbacks are added to its
    /// callbacks, and the handle has its first name. An invalid name or unit
    /// (as for [`InstrumentBuilder::build`]) registers nothing: the
    /// callbacks never run, and
    /// [`MetricsStats::invalid_instruments`] counts it. So does a view
    /// dropping every stream of it ([`Aggregation::Drop`]), without counting.
    pub fn build(self) -> I {
        let callbacks: Vec<Callback> = self
            .callbacks
            .into_iter()
            .map(|callback| {
                Arc::new(move |observations: &mut Vec<(Measure, Vec<KeyValue>)>| {
                    let mut observer = Observer {
                        observations,
                        number: PhantomData,
                    };
                    callback(&mut observer);
                }) as Callback
            })
            .collect();
        let name = self
            .meter
            .shared
            .register_callbacks(self.spec, T::IS_FLOAT, callbacks);
        (self.make)(name)
    }
}

macro_rules! sync_constructor {
    ($(#[$doc:meta])* $method:ident, $instrument:ident, $number:ty, $kind:ident) => {
        $(#[$doc])*
        pub fn $method(&self, name: impl Into<Str>) -> InstrumentBuilder<$instrument<$number>> {
            InstrumentBuilder {
                meter: self.clone(),
                spec: self.spec(name.into(), InstrumentKind::$kind),
                make: $instrument::<$number>::new,
                float: <$number as Number>::IS_FLOAT,
            }
        }
    };
}

macro_rules! observable_constructor {
    ($(#[$doc:meta])* $method:ident, $instrument:ident, $number:ty, $kind:ident) => {
        $(#[$doc])*
        pub fn $method(&self, name: impl Into<Str>) -> ObservableBuilder<$instrument<$number>, $number> {
            ObservableBuilder {
                meter: self.clone(),
                spec: self.spec(name.into(), InstrumentKind::$kind),
                callbacks: Vec::new(),
                make: |name| $instrument { name, number: PhantomData },
            }
        }
    };
}

impl Meter {
    /// The meter's scope.
    pub fn scope(&self) -> &Arc<InstrumentationScope> {
        &self.scope
    }

    fn spec(&self, name: Str, kind: InstrumentKind) -> InstrumentSpec {
        InstrumentSpec {
            name,
            description: Str::default(),
            unit: Str::default(),
            kind,
            scope: self.scope.clone(),
            boundaries: None,
        }
    }

    sync_constructor!(
        /// A counter of `u64`.
        u64_counter, Counter, u64, Counter);
    sync_constructor!(
        /// A counter of `f64`.
        f64_counter, Counter, f64, Counter);
    sync_constructor!(
        /// An up-down counter of `i64`.
        i64_up_down_counter, UpDownCounter, i64, UpDownCounter);
    sync_constructor!(
        /// An up-down counter of `f64`.
        f64_up_down_counter, UpDownCounter, f64, UpDownCounter);
    sync_constructor!(
        /// A histogram of `u64`.
        u64_histogram, Histogram, u64, Histogram);
    sync_constructor!(
        /// A histogram of `f64`.
        f64_histogram, Histogram, f64, Histogram);
    sync_constructor!(
        /// A gauge of `u64`.
        u64_gauge, Gauge, u64, Gauge);
    sync_constructor!(
        /// A gauge of `i64`.
        i64_gauge, Gauge, i64, Gauge);
    sync_constructor!(
        /// A gauge of `f64`.
        f64_gauge, Gauge, f64, Gauge);
    observable_constructor!(
        /// An observable counter of `u64`.
        u64_observable_counter, ObservableCounter, u64, ObservableCounter);
    observable_constructor!(
        /// An observable counter of `f64`.
        f64_observable_counter, ObservableCounter, f64, ObservableCounter);
    observable_constructor!(
        /// An observable up-down counter of `i64`.
        i64_observable_up_down_counter, ObservableUpDownCounter, i64, ObservableUpDownCounter);
    observable_constructor!(
        /// An observable up-down counter of `f64`.
        f64_observable_up_down_counter, ObservableUpDownCounter, f64, ObservableUpDownCounter);
    observable_constructor!(
        /// An observable gauge of `u64`.
        u64_observable_gauge, ObservableGauge, u64, ObservableGauge);
    observable_constructor!(
        /// An observable gauge of `i64`.
        i64_observable_gauge, ObservableGauge, i64, ObservableGauge);
    observable_constructor!(
        /// An observable gauge of `f64`.
        f64_observable_gauge, ObservableGauge, f64, ObservableGauge);
}

impl MetricSource for ProviderShared {
    fn collect(&self) -> Vec<Metric> {
        ProviderShared::collect(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicate_registration_warning_gives_a_view_recipe_where_a_selector_tells_them_apart() {
        let spec = InstrumentSpec {
            name: Str::from("latency"),
            description: Str::default(),
            unit: Str::from("s"),
            kind: InstrumentKind::Histogram,
            scope: Arc::new(InstrumentationScope::new("shop")),
            boundaries: None,
        };
        let shape = |unit: &'static str, kind, float| StreamShape {
            description: Str::default(),
            unit: Str::from(unit),
            kind,
            float,
        };
        let histogram = shape("s", InstrumentKind::Histogram, true);
        assert_eq!(
            resolution(
                &spec,
                &shape("s", InstrumentKind::Counter, true),
                &histogram
            ),
            r#"a view renaming one resolves it, as View::new("latency").with_meter_name("shop").with_kind(InstrumentKind::Histogram).rename("<a name of its own>")"#
        );
        assert_eq!(
            resolution(
                &spec,
                &shape("ms", InstrumentKind::Histogram, true),
                &histogram
            ),
            r#"a view renaming one resolves it, as View::new("latency").with_meter_name("shop").with_unit("s").rename("<a name of its own>")"#
        );
        assert!(
            resolution(
                &spec,
                &shape("s", InstrumentKind::Histogram, false),
                &histogram
            )
            .contains("no view selects by number type")
        );
    }

    #[test]
    fn meter_settings_set_in_code_win_over_a_configuration_in_either_order() {
        // Before: `with_config` replaced what calls before it had set, with
        // the configuration's defaults too (cumulative, 2000, ...).
        let config = Config::default();
        let code_first = MeterProvider::builder()
            .with_temporality(TemporalityPreference::Delta)
            .with_cardinality_limit(10)
            .with_exemplar_filter(ExemplarFilter::AlwaysOff)
            .with_config(&config)
            .build()
            .unwrap();
        let config_first = MeterProvider::builder()
            .with_config(&config)
            .with_temporality(TemporalityPreference::Delta)
            .with_cardinality_limit(10)
            .with_exemplar_filter(ExemplarFilter::AlwaysOff)
            .build()
            .unwrap();
        for provider in [code_first, config_first] {
            let shared = &provider.shared;
            assert_eq!(shared.temporality, TemporalityPreference::Delta);
            assert_eq!(shared.cardinality_limit, 10);
            assert_eq!(shared.exemplar_filter, ExemplarFilter::AlwaysOff);
        }
        let mut configured = Config::default();
        configured.metrics.cardinality_limit = 5;
        let provider = MeterProvider::builder()
            .with_config(&configured)
            .build()
            .unwrap();
        assert_eq!(provider.shared.cardinality_limit, 5);
    }
}
