//! [`Sampler`]: which new spans are recorded and exported.

use otlp_core::{SpanContext, TraceId};

/// Decides, when a span starts, whether it is sampled (recorded and exported).
/// An unsampled span still carries a valid context, so its children and
/// downstream services see the decision.
///
/// ```
/// use otlp_sdk::Sampler;
/// use otlp_core::TraceId;
///
/// let sampler = Sampler::parent_based(Sampler::TraceIdRatio(0.25));
/// // Roots follow the ratio, deterministically by trace id.
/// let sampled = (0..10_000).filter(|_| sampler.should_sample(None, TraceId::random())).count();
/// assert!((2_000..3_000).contains(&sampled));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// Sample every span.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this fraction of traces, by trace id, so that every service
    /// using the same ratio makes the same decision for a trace.
    TraceIdRatio(f64),
    /// Follow the parent's sampled flag when there is a parent; use the inner
    /// sampler for root spans. The default is `ParentBased(AlwaysOn)`.
    ParentBased(Box<Sampler>),
    /// The specification's `ParentBased` with a sampler for each kind of
    /// parent, remote or local, sampled or not (see
    /// [`Sampler::parent_based_with`]).
    ParentBasedWith(Box<ParentBasedSamplers>),
}

/// The samplers of a [`Sampler::ParentBasedWith`]: one for root spans and
/// one for each kind of parent. [`ParentBasedSamplers::new`] gives the
/// specification's defaults: a sampled parent's children are sampled, an
/// unsampled one's are not, remote or local.
///
/// ```
/// use otlp_sdk::{ParentBasedSamplers, Sampler};
///
/// // Trust a sampled remote caller, but sample a tenth of the traces of
/// // callers that did not sample.
/// let sampler = Sampler::parent_based_with(ParentBasedSamplers {
///     remote_parent_not_sampled: Sampler::TraceIdRatio(0.1),
///     ..ParentBasedSamplers::new(Sampler::AlwaysOn)
/// });
/// assert!(sampler.description().contains("remoteParentNotSampled:TraceIdRatioBased{0.1}"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ParentBasedSamplers {
    /// For spans without a (valid) parent.
    pub root: Sampler,
    /// For children of a remote, sampled parent (default `AlwaysOn`).
    pub remote_parent_sampled: Sampler,
    /// For children of a remote, unsampled parent (default `AlwaysOff`).
    pub remote_parent_not_sampled: Sampler,
    /// For children of a local, sampled parent (default `AlwaysOn`).
    pub local_parent_sampled: Sampler,
    /// For children of a local, unsampled parent (default `AlwaysOff`).
    pub local_parent_not_sampled: Sampler,
}

impl ParentBasedSamplers {
    /// `root` for root spans, the specification's defaults for the others.
    pub fn new(root: Sampler) -> Self {
        ParentBasedSamplers {
            root,
            remote_parent_sampled: Sampler::AlwaysOn,
            remote_parent_not_sampled: Sampler::AlwaysOff,
            local_parent_sampled: Sampler::AlwaysOn,
            local_parent_not_sampled: Sampler::AlwaysOff,
        }
    }

    /// The sampler for a span with `parent` (valid, or `None`).
    fn for_parent(&self, parent: Option<&SpanContext>) -> &Sampler {
        match parent {
            None => &self.root,
            Some(parent) => match (parent.is_remote, parent.trace_flags.is_sampled()) {
                (true, true) => &self.remote_parent_sampled,
                (true, false) => &self.remote_parent_not_sampled,
                (false, true) => &self.local_parent_sampled,
                (false, false) => &self.local_parent_not_sampled,
            },
        }
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::parent_based(Sampler::AlwaysOn)
    }
}

impl Sampler {
    /// `ParentBased` around `root`.
    pub fn parent_based(root: Sampler) -> Self {
        Sampler::ParentBased(Box::new(root))
    }

    /// `ParentBased` with a sampler for roots and for each kind of parent.
    pub fn parent_based_with(samplers: ParentBasedSamplers) -> Self {
        Sampler::ParentBasedWith(Box::new(samplers))
    }

    /// Whether this sampler refuses every span, whatever its trace and
    /// parent: `AlwaysOff`, or a ratio of 0 (or NaN). A parent-based sampler
    /// samples the children of sampled parents, so it never is.
    ///
    /// ```
    /// use otlp_sdk::Sampler;
    ///
    /// assert!(Sampler::AlwaysOff.never_samples());
    /// assert!(Sampler::TraceIdRatio(0.0).never_samples());
    /// assert!(!Sampler::TraceIdRatio(0.01).never_samples());
    /// assert!(!Sampler::parent_based(Sampler::AlwaysOff).never_samples());
    /// ```
    pub fn never_samples(&self) -> bool {
        match self {
            Sampler::AlwaysOff => true,
            Sampler::TraceIdRatio(ratio) => ratio.is_nan() || *ratio <= 0.0,
            Sampler::ParentBasedWith(samplers) => {
                samplers.root.never_samples()
                    && samplers.remote_parent_sampled.never_samples()
                    && samplers.remote_parent_not_sampled.never_samples()
                    && samplers.local_parent_sampled.never_samples()
                    && samplers.local_parent_not_sampled.never_samples()
            }
            Sampler::AlwaysOn | Sampler::ParentBased(_) => false,
        }
    }

    /// The sampler's name and configuration, as the specification's
    /// `GetDescription` has the built-in samplers write it, for logs and
    /// debug pages: `AlwaysOnSampler`, `AlwaysOffSampler`,
    /// `TraceIdRatioBased{RATIO}` (the ratio in decimal, with as many digits
    /// as tell it apart from any other), and `ParentBased{root:…,…}` with
    /// the sampler of each kind of parent, as opentelemetry-java writes it.
    /// Allocates the string.
    ///
    /// ```
    /// use otlp_sdk::Sampler;
    ///
    /// assert_eq!(Sampler::TraceIdRatio(0.0001).description(), "TraceIdRatioBased{0.0001}");
    /// assert!(Sampler::default().description().starts_with("ParentBased{root:AlwaysOnSampler,"));
    /// ```
    pub fn description(&self) -> String {
        match self {
            Sampler::AlwaysOn => "AlwaysOnSampler".to_owned(),
            Sampler::AlwaysOff => "AlwaysOffSampler".to_owned(),
            Sampler::TraceIdRatio(ratio) => format!("TraceIdRatioBased{{{ratio}}}"),
            // A sampled parent's children are sampled, an unsampled one's are
            // not, remote or local: the specification's defaults.
            Sampler::ParentBased(root) => format!(
                "ParentBased{{root:{},remoteParentSampled:AlwaysOnSampler,\
                 remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,\
                 localParentNotSampled:AlwaysOffSampler}}",
                root.description()
            ),
            Sampler::ParentBasedWith(samplers) => format!(
                "ParentBased{{root:{},remoteParentSampled:{},remoteParentNotSampled:{},\
                 localParentSampled:{},localParentNotSampled:{}}}",
                samplers.root.description(),
                samplers.remote_parent_sampled.description(),
                samplers.remote_parent_not_sampled.description(),
                samplers.local_parent_sampled.description(),
                samplers.local_parent_not_sampled.description()
            ),
        }
    }

    /// Whether a span in `trace_id` with parent `parent` is sampled.
    pub fn should_sample(&self, parent: Option<&SpanContext>, trace_id: TraceId) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(ratio) => ratio_samples(*ratio, trace_id),
            Sampler::ParentBased(root) => match parent.filter(|parent| parent.is_valid()) {
                Some(parent) => parent.trace_flags.is_sampled(),
                None => root.should_sample(None, trace_id),
            },
            Sampler::ParentBasedWith(samplers) => {
                let parent = parent.filter(|parent| parent.is_valid());
                samplers.for_parent(parent).should_sample(parent, trace_id)
            }
        }
    }
}

/// The specification's rule: compare the trace id's lower 8 bytes (as an
/// unsigned 63-bit number) with `ratio * 2^63`.
fn ratio_samples(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 || ratio.is_nan() {
        return false;
    }
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..16]);
    let value = u64::from_be_bytes(low) >> 1;
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    value < bound
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_core::{SpanId, TraceFlags};

    #[test]
    fn parent_based_follows_the_parent() {
        let sampler = Sampler::parent_based(Sampler::AlwaysOff);
        let mut parent = SpanContext::new(TraceId::random(), SpanId::random(), TraceFlags::SAMPLED);
        assert!(sampler.should_sample(Some(&parent), parent.trace_id));
        parent.trace_flags = TraceFlags::NONE;
        let sampler = Sampler::parent_based(Sampler::AlwaysOn);
        assert!(!sampler.should_sample(Some(&parent), parent.trace_id));
        assert!(sampler.should_sample(None, TraceId::random()));
    }

    #[test]
    fn parent_based_with_asks_the_sampler_of_each_kind_of_parent() {
        let sampler = Sampler::parent_based_with(ParentBasedSamplers {
            remote_parent_not_sampled: Sampler::AlwaysOn,
            local_parent_sampled: Sampler::AlwaysOff,
            ..ParentBasedSamplers::new(Sampler::AlwaysOff)
        });
        let parent = |remote: bool, flags: TraceFlags| {
            let mut parent = SpanContext::new(TraceId::random(), SpanId::random(), flags);
            parent.is_remote = remote;
            parent
        };
        let decide = |parent: &SpanContext| sampler.should_sample(Some(parent), parent.trace_id);
        assert!(
            decide(&parent(true, TraceFlags::SAMPLED)),
            "default: AlwaysOn"
        );
        assert!(
            decide(&parent(true, TraceFlags::NONE)),
            "remoteParentNotSampled"
        );
        assert!(
            !decide(&parent(false, TraceFlags::SAMPLED)),
            "localParentSampled"
        );
        assert!(
            !decide(&parent(false, TraceFlags::NONE)),
            "default: AlwaysOff"
        );
        assert!(!sampler.should_sample(None, TraceId::random()), "root");
        assert!(!sampler.never_samples());
        assert_eq!(
            sampler.description(),
            "ParentBased{root:AlwaysOffSampler,remoteParentSampled:AlwaysOnSampler,\
             remoteParentNotSampled:AlwaysOnSampler,localParentSampled:AlwaysOffSampler,\
             localParentNotSampled:AlwaysOffSampler}"
        );
        // With the defaults, it is `ParentBased`: same decisions, same description.
        let defaults = Sampler::parent_based_with(ParentBasedSamplers::new(Sampler::AlwaysOn));
        assert_eq!(
            defaults.description(),
            Sampler::parent_based(Sampler::AlwaysOn).description()
        );
        let all_off = ParentBasedSamplers {
            remote_parent_sampled: Sampler::AlwaysOff,
            local_parent_sampled: Sampler::AlwaysOff,
            ..ParentBasedSamplers::new(Sampler::AlwaysOff)
        };
        assert!(Sampler::parent_based_with(all_off).never_samples());
    }

    #[test]
    fn descriptions_are_the_specifications() {
        assert_eq!(Sampler::AlwaysOn.description(), "AlwaysOnSampler");
        assert_eq!(Sampler::AlwaysOff.description(), "AlwaysOffSampler");
        assert_eq!(
            Sampler::TraceIdRatio(0.25).description(),
            "TraceIdRatioBased{0.25}"
        );
        // Decimal, never an exponent, and precise enough to tell ratios apart.
        assert_eq!(
            Sampler::TraceIdRatio(1e-7).description(),
            "TraceIdRatioBased{0.0000001}"
        );
        assert_ne!(
            Sampler::TraceIdRatio(0.1).description(),
            Sampler::TraceIdRatio(0.100_000_000_1).description()
        );
        assert_eq!(
            Sampler::parent_based(Sampler::TraceIdRatio(0.5)).description(),
            "ParentBased{root:TraceIdRatioBased{0.5},remoteParentSampled:AlwaysOnSampler,\
             remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,\
             localParentNotSampled:AlwaysOffSampler}"
        );
    }

    #[test]
    fn ratio_is_deterministic_and_bounded() {
        let id = TraceId::random();
        let sampler = Sampler::TraceIdRatio(0.5);
        assert_eq!(
            sampler.should_sample(None, id),
            sampler.should_sample(None, id)
        );
        assert!(!Sampler::TraceIdRatio(0.0).should_sample(None, id));
        assert!(Sampler::TraceIdRatio(1.0).should_sample(None, id));
        let low = TraceId::from_bytes([0; 16]);
        assert!(Sampler::TraceIdRatio(0.0001).should_sample(None, low));
    }
}
