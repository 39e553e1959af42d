//! The choices of the metrics pipeline that configuration names by word:
//! temporality preference, default histogram aggregation, exemplar filter.
//!
//! Each parses its variable's values case-insensitively ([`TemporalityPreference::parse`], for one)
//! and names them back ([`TemporalityPreference::as_str`]).

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: which instruments
/// report deltas (the specification's table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TemporalityPreference {
    /// `cumulative`: every instrument reports totals since its start.
    #[default]
    Cumulative,
    /// `delta`: counters, histograms and observable counters report deltas,
    /// and gauges (both kinds) start each point at the previous collection;
    /// up-down counters stay cumulative.
    Delta,
    /// `lowmemory`: counters and histograms report deltas; observable
    /// counters and up-down counters stay cumulative.
    LowMemory,
}

impl TemporalityPreference {
    /// Parses `cumulative`, `delta` or `lowmemory` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Some(Self::Cumulative),
            "delta" => Some(Self::Delta),
            "lowmemory" => Some(Self::LowMemory),
            _ => None,
        }
    }

    /// The variable's value for this choice.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Cumulative => "cumulative",
            Self::Delta => "delta",
            Self::LowMemory => "lowmemory",
        }
    }
}

/// `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`: how histograms
/// that no view changes aggregate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DefaultHistogramAggregation {
    /// `explicit_bucket_histogram`: the default boundaries (or the
    /// instrument's advice).
    #[default]
    ExplicitBucketHistogram,
    /// `base2_exponential_bucket_histogram`: 160 buckets, scale 20.
    Base2ExponentialBucketHistogram,
}

impl DefaultHistogramAggregation {
    /// Parses `explicit_bucket_histogram` or `base2_exponential_bucket_histogram` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "explicit_bucket_histogram" => Some(Self::ExplicitBucketHistogram),
            "base2_exponential_bucket_histogram" => Some(Self::Base2ExponentialBucketHistogram),
            _ => None,
        }
    }

    /// The variable's value for this choice.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ExplicitBucketHistogram => "explicit_bucket_histogram",
            Self::Base2ExponentialBucketHistogram => "base2_exponential_bucket_histogram",
        }
    }
}

/// `OTEL_METRICS_EXEMPLAR_FILTER`: which measurements may become exemplars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ExemplarFilter {
    /// `trace_based`: those taken inside a sampled span.
    #[default]
    TraceBased,
    /// `always_on`: every measurement (each offer takes a lock: costly).
    AlwaysOn,
    /// `always_off`: none.
    AlwaysOff,
}

impl ExemplarFilter {
    /// Parses `trace_based`, `always_on` or `always_off` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "trace_based" => Some(Self::TraceBased),
            "always_on" => Some(Self::AlwaysOn),
            "always_off" => Some(Self::AlwaysOff),
            _ => None,
        }
    }

    /// The variable's value for this choice.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TraceBased => "trace_based",
            Self::AlwaysOn => "always_on",
            Self::AlwaysOff => "always_off",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_in_any_case_and_name_themselves_back() {
        for choice in [
            TemporalityPreference::Cumulative,
            TemporalityPreference::Delta,
            TemporalityPreference::LowMemory,
        ] {
            assert_eq!(
                TemporalityPreference::parse(&choice.as_str().to_uppercase()),
                Some(choice)
            );
        }
        assert_eq!(
            TemporalityPreference::parse("LowMemory"),
            Some(TemporalityPreference::LowMemory)
        );
        assert_eq!(TemporalityPreference::parse("deltas"), None);
        assert_eq!(
            DefaultHistogramAggregation::parse("BASE2_EXPONENTIAL_BUCKET_HISTOGRAM"),
            Some(DefaultHistogramAggregation::Base2ExponentialBucketHistogram)
        );
        assert_eq!(DefaultHistogramAggregation::parse("exponential"), None);
        assert_eq!(
            ExemplarFilter::parse(" always_off "),
            Some(ExemplarFilter::AlwaysOff)
        );
        assert_eq!(ExemplarFilter::parse("sometimes"), None);
    }
}
