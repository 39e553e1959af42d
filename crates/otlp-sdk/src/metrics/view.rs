//! Views: how a provider changes the streams its instruments produce.
//!
//! A [`View`] selects instruments (by name, with `*` and `?` wildcards, by
//! kind, by unit, by their meter's name, version and schema URL: the
//! specification's criteria) and changes what their stream is: its name and
//! description, its [`Aggregation`] (or none: [`Aggregation::Drop`]), which
//! attribute keys it keeps, and its cardinality limit. An instrument that
//! several views select produces one stream per view; one that no view
//! selects produces its default stream.

use otlp_core::{InstrumentationScope, Str};

use super::MetricsError;
use super::exponential::{MAX_MAX_SIZE, MAX_SCALE, MIN_MAX_SIZE, MIN_SCALE};
use super::instrument_kind::InstrumentKind;

/// The spec's default explicit-bucket boundaries.
pub const DEFAULT_HISTOGRAM_BOUNDARIES: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// How a stream aggregates measurements.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Aggregation {
    /// The instrument kind's default: sums for counters, last value for
    /// gauges, the configured histogram for histograms.
    #[default]
    Default,
    /// No stream at all: measurements are ignored.
    Drop,
    /// Arithmetic sum.
    Sum,
    /// The last measurement.
    LastValue,
    /// Explicit-bucket histogram.
    ExplicitBucketHistogram {
        /// Bucket upper bounds, strictly increasing and finite (empty: one
        /// bucket, count and sum only).
        boundaries: Vec<f64>,
        /// Whether to keep the minimum and maximum.
        record_min_max: bool,
    },
    /// Base-2 exponential histogram.
    Base2ExponentialHistogram {
        /// Most buckets per sign (the spec's default: 160), 2 to 16,384: a
        /// view asking for more is refused (a range at scale 20 can span
        /// 2^31 buckets; 16,384 is 128 KiB of counts per sign and series).
        max_size: u32,
        /// Finest scale, -10 to 20 (the default).
        max_scale: i8,
        /// Whether to keep the minimum and maximum.
        record_min_max: bool,
    },
}

impl Aggregation {
    /// The exponential histogram with the spec's defaults (160 buckets, scale 20).
    pub const fn base2_exponential() -> Aggregation {
        Aggregation::Base2ExponentialHistogram {
            max_size: 160,
            max_scale: 20,
            record_min_max: true,
        }
    }

    /// The explicit-bucket histogram with the spec's default boundaries.
    pub fn explicit_default() -> Aggregation {
        Aggregation::ExplicitBucketHistogram {
            boundaries: DEFAULT_HISTOGRAM_BOUNDARIES.to_vec(),
            record_min_max: true,
        }
    }

    /// Whether an instrument of `kind` can be aggregated so: not a
    /// histogram of an observable instrument (observations are totals or
    /// current values, not a population of measurements; the spec's example
    /// of a view that "would produce semantic errors").
    pub(crate) fn applies_to(&self, kind: InstrumentKind) -> bool {
        !(kind.is_observable()
            && matches!(
                self,
                Aggregation::ExplicitBucketHistogram { .. }
                    | Aggregation::Base2ExponentialHistogram { .. }
            ))
    }

    /// Checks the parameters: boundaries increasing and finite, exponential
    /// sizes in range.
    pub(crate) fn validate(&self, view: &str) -> Result<(), MetricsError> {
        match self {
            Aggregation::ExplicitBucketHistogram { boundaries, .. } => {
                validate_boundaries(boundaries).map_err(|reason| MetricsError::InvalidView {
                    view: view.to_string(),
                    reason,
                })
            }
            Aggregation::Base2ExponentialHistogram {
                max_size,
                max_scale,
                ..
            } => {
                let sizes = MIN_MAX_SIZE..=MAX_MAX_SIZE;
                let scales = MIN_SCALE..=MAX_SCALE;
                if !sizes.contains(max_size) || !scales.contains(max_scale) {
                    return Err(MetricsError::InvalidView {
                        view: view.to_string(),
                        reason: format!(
                            "exponential histogram max_size {max_size} (needs {MIN_MAX_SIZE}..={MAX_MAX_SIZE}) \
                             or max_scale {max_scale} (needs {MIN_SCALE}..={MAX_SCALE}) out of range"
                        ),
                    });
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Checks explicit-bucket boundaries: finite and strictly increasing.
pub(crate) fn validate_boundaries(boundaries: &[f64]) -> Result<(), String> {
    if let Some(bad) = boundaries.iter().find(|bound| !bound.is_finite()) {
        return Err(format!("histogram boundary {bad} is not finite"));
    }
    if let Some(pair) = boundaries.windows(2).find(|pair| pair[0] >= pair[1]) {
        return Err(format!(
            "histogram boundaries must increase: {} is followed by {}",
            pair[0], pair[1]
        ));
    }
    Ok(())
}

/// Selects instruments and changes their stream.
///
/// ```
/// use otlp_sdk::metrics::{Aggregation, InstrumentKind, View};
///
/// // Milliseconds histograms with coarser buckets, keyed by route only.
/// let view = View::new("http.server.*")
///     .with_kind(InstrumentKind::Histogram)
///     .with_aggregation(Aggregation::ExplicitBucketHistogram {
///         boundaries: vec![10.0, 100.0, 1000.0],
///         record_min_max: true,
///     })
///     .with_attribute_keys(["http.route"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct View {
    pub(crate) pattern: Str,
    pub(crate) kind: Option<InstrumentKind>,
    pub(crate) unit: Option<Str>,
    pub(crate) meter_name: Option<Str>,
    pub(crate) meter_version: Option<Str>,
    pub(crate) meter_schema_url: Option<Str>,
    pub(crate) name: Option<Str>,
    pub(crate) description: Option<Str>,
    pub(crate) aggregation: Option<Aggregation>,
    pub(crate) attribute_keys: Option<Vec<Str>>,
    pub(crate) cardinality_limit: Option<usize>,
}

impl View {
    /// A view of the instruments whose name matches `pattern`: exact
    /// (case-insensitive, as instrument names are), or with `*` (any run of
    /// characters) and `?` (one character).
    pub fn new(pattern: impl Into<Str>) -> View {
        View {
            pattern: pattern.into(),
            ..View::default()
        }
    }

    /// Only instruments of this kind.
    pub fn with_kind(mut self, kind: InstrumentKind) -> View {
        self.kind = Some(kind);
        self
    }

    /// Only instruments with this unit (compared exactly: units are
    /// case-sensitive; `""` selects instruments without a unit).
    pub fn with_unit(mut self, unit: impl Into<Str>) -> View {
        self.unit = Some(unit.into());
        self
    }

    /// Only instruments of the meter with this name.
    pub fn with_meter_name(mut self, name: impl Into<Str>) -> View {
        self.meter_name = Some(name.into());
        self
    }

    /// Only instruments of a meter with this version (`""`: a meter given
    /// no version).
    pub fn with_meter_version(mut self, version: impl Into<Str>) -> View {
        self.meter_version = Some(version.into());
        self
    }

    /// Only instruments of a meter with this schema URL (`""`: a meter
    /// given none).
    pub fn with_meter_schema_url(mut self, schema_url: impl Into<Str>) -> View {
        self.meter_schema_url = Some(schema_url.into());
        self
    }

    /// Renames the stream (only sensible for a view that selects one instrument).
    pub fn rename(mut self, name: impl Into<Str>) -> View {
        self.name = Some(name.into());
        self
    }

    /// Replaces the stream's description.
    pub fn with_description(mut self, description: impl Into<Str>) -> View {
        self.description = Some(description.into());
        self
    }

    /// Changes the aggregation. A histogram aggregation does not apply to
    /// observable instruments: for them the whole view is skipped (its
    /// rename, keys and limit too), counted in
    /// [`MetricsStats::ignored_views`](super::MetricsStats::ignored_views).
    pub fn with_aggregation(mut self, aggregation: Aggregation) -> View {
        self.aggregation = Some(aggregation);
        self
    }

    /// Keeps only these attribute keys (the others are dropped before the
    /// series is looked up, so sets differing only in them merge, and
    /// before the cardinality limit counts them).
    ///
    /// The keys dropped still go out with exemplars, as their filtered
    /// attributes (the specification asks that this be said): a key dropped
    /// for a sensitive value is exported with every exemplar of its
    /// measurements, by default those taken in sampled spans. Turn
    /// exemplars off with
    /// [`ExemplarFilter::AlwaysOff`](crate::config::ExemplarFilter::AlwaysOff)
    /// ([`MeterProviderBuilder::with_exemplar_filter`](super::MeterProviderBuilder::with_exemplar_filter),
    /// or `OTEL_METRICS_EXEMPLAR_FILTER=always_off`) if they must not leave.
    pub fn with_attribute_keys<K: Into<Str>>(mut self, keys: impl IntoIterator<Item = K>) -> View {
        self.attribute_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the stream's cardinality limit: the attribute sets with series
    /// of their own, beside the overflow series (at least 1).
    pub fn with_cardinality_limit(mut self, limit: usize) -> View {
        self.cardinality_limit = Some(limit);
        self
    }

    /// Whether the view selects an instrument: every criterion given
    /// matches it.
    pub(crate) fn selects(
        &self,
        name: &str,
        kind: InstrumentKind,
        unit: &str,
        meter: &InstrumentationScope,
    ) -> bool {
        let matches = |wanted: &Option<Str>, value: &str| {
            wanted
                .as_ref()
                .is_none_or(|wanted| wanted.as_str() == value)
        };
        self.kind.is_none_or(|wanted| wanted == kind)
            && matches(&self.unit, unit)
            && matches(&self.meter_name, &meter.name)
            && matches(&self.meter_version, &meter.version)
            && matches(&self.meter_schema_url, &meter.schema_url)
            && wildcard_match(self.pattern.as_bytes(), name.as_bytes())
    }

    /// Checks what the view asks for.
    pub(crate) fn validate(&self) -> Result<(), MetricsError> {
        if let Some(aggregation) = &self.aggregation {
            aggregation.validate(&self.pattern)?;
        }
        if self.cardinality_limit == Some(0) {
            return Err(MetricsError::InvalidView {
                view: self.pattern.to_string(),
                reason: "cardinality limit must be at least 1".into(),
            });
        }
        if self.name.is_some() && self.pattern.contains(['*', '?']) {
            return Err(MetricsError::InvalidView {
                view: self.pattern.to_string(),
                reason: "a view that renames its stream must select one instrument by name, \
                         not a wildcard"
                    .into(),
            });
        }
        Ok(())
    }
}

/// `*` and `?` matching, ASCII case-insensitive.
fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p].eq_ignore_ascii_case(&name[n])) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_runs_and_single_characters_case_insensitively() {
        assert!(wildcard_match(b"http.*", b"http.server.duration"));
        assert!(wildcard_match(b"*", b"anything"));
        assert!(wildcard_match(b"a?c", b"abc"));
        assert!(wildcard_match(b"Requests", b"requests"));
        assert!(!wildcard_match(b"a?c", b"abbc"));
        assert!(!wildcard_match(b"http.*", b"grpc.server"));
        assert!(wildcard_match(b"*.duration", b"http.server.duration"));
    }

    #[test]
    fn invalid_views_are_refused_naming_the_view() {
        let decreasing =
            View::new("latency").with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![5.0, 1.0],
                record_min_max: true,
            });
        let error = decreasing.validate().expect_err("decreasing boundaries");
        assert!(error.to_string().contains("latency"), "{error}");
        assert!(View::new("x*").rename("y").validate().is_err());
        assert!(View::new("x").with_cardinality_limit(0).validate().is_err());
        assert!(View::new("x").with_cardinality_limit(1).validate().is_ok());
        assert!(
            View::new("x")
                .with_aggregation(Aggregation::explicit_default())
                .validate()
                .is_ok()
        );
    }
}
