//! [`SamplerConfig`]: the sampler configuration names (`OTEL_TRACES_SAMPLER`,
//! `OTEL_TRACES_SAMPLER_ARG`; section `sampler`).

use crate::Sampler;

/// `OTEL_TRACES_SAMPLER`: the specification's built-in samplers, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SamplerName {
    /// `always_on`: every span is sampled.
    AlwaysOn,
    /// `always_off`: no span is sampled.
    AlwaysOff,
    /// `traceidratio`: the argument's fraction of traces, by trace id.
    TraceIdRatio,
    /// `parentbased_always_on`: the parent's decision; roots sampled.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: the parent's decision; roots not sampled.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: the parent's decision; roots by the ratio.
    ParentBasedTraceIdRatio,
}

impl SamplerName {
    /// Every name, with the variable's value for it.
    pub(crate) const ALL: [(&'static str, SamplerName); 6] = [
        ("always_on", SamplerName::AlwaysOn),
        ("always_off", SamplerName::AlwaysOff),
        ("traceidratio", SamplerName::TraceIdRatio),
        ("parentbased_always_on", SamplerName::ParentBasedAlwaysOn),
        ("parentbased_always_off", SamplerName::ParentBasedAlwaysOff),
        (
            "parentbased_traceidratio",
            SamplerName::ParentBasedTraceIdRatio,
        ),
    ];

    /// The samplers the specification names for `OTEL_TRACES_SAMPLER` that
    /// this SDK does not build: loading refuses them saying so (lenient
    /// loading warns and keeps the provider's sampler).
    pub(crate) const NOT_BUILT: [&'static str; 3] =
        ["jaeger_remote", "parentbased_jaeger_remote", "xray"];

    /// Parses a name of the specification (any case).
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(value))
            .map(|(_, sampler)| *sampler)
    }

    /// Whether the sampler takes `OTEL_TRACES_SAMPLER_ARG` (the ratio ones).
    pub(crate) fn uses_arg(self) -> bool {
        matches!(
            self,
            SamplerName::TraceIdRatio | SamplerName::ParentBasedTraceIdRatio
        )
    }

    /// The variable's value for this sampler.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, sampler)| *sampler == self)
            .map_or("", |(name, _)| name)
    }
}

/// The sampler a configuration asks for.
///
/// ```
/// use otlp_sdk::Sampler;
/// use otlp_sdk::config::{SamplerConfig, SamplerName};
///
/// let config = SamplerConfig {
///     name: Some(SamplerName::ParentBasedTraceIdRatio),
///     arg: Some(0.25),
/// };
/// assert_eq!(
///     config.sampler(),
///     Some(Sampler::parent_based(Sampler::TraceIdRatio(0.25)))
/// );
/// // No name: the provider keeps its own (parent-based, always on, unless set in code).
/// assert_eq!(SamplerConfig::default().sampler(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SamplerConfig {
    /// Which sampler (`OTEL_TRACES_SAMPLER`, key `sampler.name`); `None`
    /// leaves the provider's.
    pub name: Option<SamplerName>,
    /// The ratio-based samplers' probability, between 0 and 1
    /// (`OTEL_TRACES_SAMPLER_ARG`, key `sampler.arg`); 1 when unset. The other
    /// samplers ignore it: loading one that is not a probability fails only
    /// when the sampler named is a ratio sampler (otherwise it is a warning).
    pub arg: Option<f64>,
}

impl SamplerConfig {
    /// The sampler named, if one is.
    pub fn sampler(&self) -> Option<Sampler> {
        let ratio = || Sampler::TraceIdRatio(self.arg.unwrap_or(1.0));
        Some(match self.name? {
            SamplerName::AlwaysOn => Sampler::AlwaysOn,
            SamplerName::AlwaysOff => Sampler::AlwaysOff,
            SamplerName::TraceIdRatio => ratio(),
            SamplerName::ParentBasedAlwaysOn => Sampler::parent_based(Sampler::AlwaysOn),
            SamplerName::ParentBasedAlwaysOff => Sampler::parent_based(Sampler::AlwaysOff),
            SamplerName::ParentBasedTraceIdRatio => Sampler::parent_based(ratio()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_in_any_case_and_names_itself_back() {
        for (name, sampler) in SamplerName::ALL {
            assert_eq!(SamplerName::parse(name), Some(sampler));
            assert_eq!(
                SamplerName::parse(&name.to_ascii_uppercase()),
                Some(sampler)
            );
            assert_eq!(sampler.as_str(), name);
        }
        assert_eq!(SamplerName::parse("jaeger_remote"), None);
    }

    #[test]
    fn the_ratio_samplers_take_the_argument_and_default_to_one() {
        let with = |name, arg| {
            SamplerConfig {
                name: Some(name),
                arg,
            }
            .sampler()
        };
        assert_eq!(
            with(SamplerName::TraceIdRatio, Some(0.1)),
            Some(Sampler::TraceIdRatio(0.1))
        );
        assert_eq!(
            with(SamplerName::TraceIdRatio, None),
            Some(Sampler::TraceIdRatio(1.0))
        );
        assert_eq!(
            with(SamplerName::ParentBasedAlwaysOff, Some(0.1)),
            Some(Sampler::parent_based(Sampler::AlwaysOff))
        );
        assert_eq!(with(SamplerName::AlwaysOff, None), Some(Sampler::AlwaysOff));
    }
}
