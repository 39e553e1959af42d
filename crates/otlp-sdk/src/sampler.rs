//! [`Sampler`]: which new spans are recorded and exported; [`ShouldSample`]:
//! a sampler of the program's own.
//!
//! Cost model: the built-in samplers are arms of one enum, decided by the
//! parent and the trace id alone, inline where the span starts. A custom
//! sampler ([`Sampler::Custom`], anywhere in the tree) is one dynamic call
//! per span start, handed a [`SamplingParameters`] that borrows what the
//! span starts with (name, kind, attributes, links: nothing is copied); a
//! tracer whose sampler holds none never builds those parameters.

use std::fmt;
use std::sync::Arc;

use otlp_core::{KeyValue, Link, SpanContext, SpanKind, TraceId, TraceState};

/// Decides, when a span starts, whether it is sampled (recorded and exported).
/// An unsampled span still carries a valid context, so its children and
/// downstream services see the decision.
///
/// The built-in samplers decide by the parent and the trace id; a
/// [`ShouldSample`] of the program's own ([`Sampler::custom`]) sees the
/// span's name, kind, attributes and links too, as the root or any
/// delegate of a parent-based sampler.
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
#[derive(Clone, Debug)]
pub enum Sampler {
    /// Sample every span.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this fraction of traces, by trace id, so that every service
    /// using the same ratio makes the same decision for a trace. The rule
    /// is `opentelemetry_sdk`'s (0.33: the low eight bytes of the trace id, read
    /// big-endian and shifted right by one, below `ratio × 2⁶³`), so the two
    /// agree on every trace. A ratio of 1 or more (infinity too) samples
    /// everything; 0 or less, and NaN, nothing.
    TraceIdRatio(f64),
    /// Follow the parent's sampled flag when there is a parent; use the inner
    /// sampler for root spans. The default is `ParentBased(AlwaysOn)`.
    ParentBased(Box<Sampler>),
    /// The specification's `ParentBased` with a sampler for each kind of
    /// parent, remote or local, sampled or not (see
    /// [`Sampler::parent_based_with`]).
    ParentBasedWith(Box<ParentBasedSamplers>),
    /// A sampler of the program's own (see [`Sampler::custom`]): it sees the
    /// span's name, kind, attributes and links given at start, and may add
    /// attributes and set the span's trace state. Equal to another
    /// `Custom` only when both hold the same `Arc`.
    Custom(Arc<dyn ShouldSample>),
}

/// Compares the built-in samplers by their settings, and custom ones by
/// identity (the same `Arc`).
impl PartialEq for Sampler {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Sampler::AlwaysOn, Sampler::AlwaysOn) | (Sampler::AlwaysOff, Sampler::AlwaysOff) => {
                true
            }
            (Sampler::TraceIdRatio(a), Sampler::TraceIdRatio(b)) => a == b,
            (Sampler::ParentBased(a), Sampler::ParentBased(b)) => a == b,
            (Sampler::ParentBasedWith(a), Sampler::ParentBasedWith(b)) => a == b,
            (Sampler::Custom(a), Sampler::Custom(b)) => {
                std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
            }
            _ => false,
        }
    }
}

/// A sampler of the program's own: the specification's `Sampler` interface
/// (`ShouldSample` and `GetDescription`), as `opentelemetry_sdk`'s
/// `ShouldSample` trait names it. Put it in a provider with
/// [`Sampler::custom`], alone or inside a parent-based sampler.
///
/// It is asked once per span start, on the thread that starts the span,
/// before the span exists: it must not block, and should be cheap (it costs
/// every span, sampled or not). It sees the span's parent (valid, local or
/// remote, or `None` for a root), trace id, name, kind, and the attributes
/// and links given at start ([`SpanBuilder::attribute`](crate::SpanBuilder::attribute),
/// [`SpanBuilder::link`](crate::SpanBuilder::link); through `otlp-contrib`'s
/// `OtlpLayer`, a `tracing` span's fields), not those set later. It is not
/// asked when the provider is disabled (`OTEL_SDK_DISABLED`).
///
/// ```
/// use otlp_core::{AnyValue, KeyValue};
/// use otlp_sdk::{SamplingDecision, SamplingParameters, SamplingResult, Sampler, ShouldSample};
///
/// /// Drops health checks, samples everything else.
/// #[derive(Debug)]
/// struct NoHealthChecks;
///
/// impl ShouldSample for NoHealthChecks {
///     fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
///         let route = span.attribute("http.route").and_then(AnyValue::as_str);
///         let decision = if route == Some("/health") {
///             SamplingDecision::Drop
///         } else {
///             SamplingDecision::RecordAndSample
///         };
///         SamplingResult::new(decision, span)
///     }
///
///     fn description(&self) -> String {
///         "NoHealthChecks".to_owned()
///     }
/// }
///
/// let provider = otlp_sdk::TracerProvider::builder()
///     .with_sampler(Sampler::parent_based(Sampler::custom(NoHealthChecks)))
///     .build();
/// let tracer = provider.tracer("http");
/// let health = tracer.span_builder("GET").attribute(KeyValue::new("http.route", "/health")).start();
/// let cart = tracer.span_builder("GET").attribute(KeyValue::new("http.route", "/cart")).start();
/// assert!(!health.is_recording() && !health.context().trace_flags.is_sampled());
/// assert!(cart.is_recording() && cart.context().trace_flags.is_sampled());
/// ```
pub trait ShouldSample: Send + Sync + fmt::Debug {
    /// The decision for the span about to start, the attributes to add to
    /// it, and the trace state its context carries (which replaces the
    /// parent's: return [`SamplingParameters::parent_trace_state`], as
    /// [`SamplingResult::new`] does, to keep it).
    fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult;

    /// The sampler's name and configuration, for logs and debug pages (the
    /// specification's `GetDescription`), as
    /// [`Sampler::description`] shows it.
    fn description(&self) -> String;
}

/// What a [`ShouldSample`] is asked about: the span about to start, borrowed
/// from the tracer (nothing is copied to build it).
///
/// `#[non_exhaustive]`: a later release may tell a sampler more; build one
/// (to test a sampler) with [`SamplingParameters::new`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SamplingParameters<'a> {
    /// The parent's context when the span has a valid parent (local or
    /// remote: see its `is_remote`, its sampled flag and trace state);
    /// `None` for a root span.
    pub parent: Option<&'a SpanContext>,
    /// The span's trace id: the parent's, or the new trace's for a root.
    pub trace_id: TraceId,
    /// The span's name.
    pub name: &'a str,
    /// The span's kind.
    pub kind: SpanKind,
    /// The attributes given at start, as given (before the span limits).
    pub attributes: &'a [KeyValue],
    /// The links given at start.
    pub links: &'a [Link],
}

impl<'a> SamplingParameters<'a> {
    /// Parameters for a span named `name` in `trace_id`, with no parent,
    /// kind `Internal`, no attributes and no links; set the public fields
    /// for the rest.
    ///
    /// ```
    /// use otlp_core::{KeyValue, SpanKind, TraceId};
    /// use otlp_sdk::SamplingParameters;
    ///
    /// let attributes = [KeyValue::new("tenant.id", "acme")];
    /// let mut span = SamplingParameters::new(TraceId::random(), "GET /cart");
    /// span.kind = SpanKind::Server;
    /// span.attributes = &attributes;
    /// assert_eq!(span.attribute("tenant.id"), Some(&"acme".into()));
    /// ```
    pub fn new(trace_id: TraceId, name: &'a str) -> Self {
        SamplingParameters {
            parent: None,
            trace_id,
            name,
            kind: SpanKind::Internal,
            attributes: &[],
            links: &[],
        }
    }

    /// The value of the start attribute `key`, the last given if it is
    /// given twice: a scan of the attributes.
    pub fn attribute(&self, key: &str) -> Option<&'a otlp_core::AnyValue> {
        self.attributes
            .iter()
            .rev()
            .find(|kv| &*kv.key == key)
            .map(|kv| &kv.value)
    }

    /// The parent's trace state, or the empty one for a root: what a
    /// sampler returns to leave the span's trace state as it would be.
    pub fn parent_trace_state(&self) -> TraceState {
        self.parent
            .map_or(TraceState::EMPTY, |parent| parent.trace_state.clone())
    }

    /// These parameters with `parent` (a valid one, or `None`).
    fn with_parent(self, parent: Option<&'a SpanContext>) -> Self {
        SamplingParameters { parent, ..self }
    }
}

/// The specification's sampling decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SamplingDecision {
    /// The span does not record (`is_recording()` is false) and is not
    /// sampled: it keeps only its context, which carries the decision on.
    Drop,
    /// The span records (`is_recording()` is true) but is not sampled (its
    /// context's sampled flag is off, so are its children's under a
    /// parent-based sampler): the provider's processors see it start and
    /// end, and no exporter gets it. The tracer hands it to no
    /// [`BatchSpanProcessor`](crate::BatchSpanProcessor) (nor any processor
    /// that answers [`batch_pipeline`](crate::SpanProcessor::batch_pipeline)),
    /// so it is in none of their [`StatsSnapshot`](crate::StatsSnapshot)s:
    /// not `produced`, since it is never to be exported. For a processor
    /// that computes something from every span (span metrics) while a
    /// sample of them is exported.
    RecordOnly,
    /// The span records and is sampled: processors see it, and it is exported.
    RecordAndSample,
}

impl SamplingDecision {
    /// Whether the span records.
    pub fn is_recording(self) -> bool {
        self != SamplingDecision::Drop
    }

    /// Whether the span's sampled flag is set (it is exported).
    pub fn is_sampled(self) -> bool {
        self == SamplingDecision::RecordAndSample
    }
}

/// A sampler's answer: the decision, attributes to add to the span (when it
/// records; after those given at start, winning over them where a key is
/// the same), and the trace state of the span's context, which replaces the
/// parent's, whatever the decision.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingResult {
    /// Whether the span records and whether it is sampled.
    pub decision: SamplingDecision,
    /// Attributes added to the span when it records; the span limits apply.
    pub attributes: Vec<KeyValue>,
    /// The trace state of the span's context (and of its exported data).
    pub trace_state: TraceState,
}

impl SamplingResult {
    /// `decision` with no attribute to add and the parent's trace state
    /// (the empty one for a root), which a sampler SHOULD return, the
    /// specification says, unless it means to change it.
    pub fn new(decision: SamplingDecision, span: &SamplingParameters<'_>) -> Self {
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: span.parent_trace_state(),
        }
    }

    /// This result with `attributes` added to the span.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// This result with `trace_state` for the span's context.
    pub fn with_trace_state(mut self, trace_state: TraceState) -> Self {
        self.trace_state = trace_state;
        self
    }
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

    /// A sampler of the program's own, to use alone or as a delegate of a
    /// parent-based sampler (see [`ShouldSample`]).
    pub fn custom(sampler: impl ShouldSample + 'static) -> Self {
        Sampler::Custom(Arc::new(sampler))
    }

    /// Whether a [`Sampler::Custom`] is in this sampler's tree: then a span's
    /// start asks with [`SamplingParameters`] ([`sample`](Self::sample)).
    pub(crate) fn has_custom(&self) -> bool {
        match self {
            Sampler::Custom(_) => true,
            Sampler::ParentBased(root) => root.has_custom(),
            Sampler::ParentBasedWith(samplers) => {
                samplers.root.has_custom()
                    || samplers.remote_parent_sampled.has_custom()
                    || samplers.remote_parent_not_sampled.has_custom()
                    || samplers.local_parent_sampled.has_custom()
                    || samplers.local_parent_not_sampled.has_custom()
            }
            Sampler::AlwaysOn | Sampler::AlwaysOff | Sampler::TraceIdRatio(_) => false,
        }
    }

    /// Whether this sampler refuses every span, whatever its trace and
    /// parent: `AlwaysOff`, or a ratio of 0 (or NaN). A parent-based sampler
    /// samples the children of sampled parents, so it never is; nor is a
    /// custom one, whose answers cannot be known beforehand.
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
            Sampler::AlwaysOn | Sampler::ParentBased(_) | Sampler::Custom(_) => false,
        }
    }

    /// The sampler's name and configuration, as the specification's
    /// `GetDescription` has the built-in samplers write it, for logs and
    /// debug pages: `AlwaysOnSampler`, `AlwaysOffSampler`,
    /// `TraceIdRatioBased{RATIO}` (the ratio in decimal, with as many digits
    /// as tell it apart from any other), and `ParentBased{root:…,…}` with
    /// the sampler of each kind of parent, as opentelemetry-java writes it;
    /// a custom sampler's own [`description`](ShouldSample::description).
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
            Sampler::Custom(sampler) => sampler.description(),
        }
    }

    /// Whether a span in `trace_id` with parent `parent` is sampled. A
    /// custom sampler is asked about a span with an empty name, kind
    /// `Internal`, and no attributes or links: [`sample`](Self::sample)
    /// asks about a span as it starts.
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
            Sampler::Custom(sampler) => ask_without_span(sampler.as_ref(), parent, trace_id),
        }
    }

    /// The whole decision for the span `span` describes: whether it records
    /// and is sampled, the attributes to add to it and its trace state. The
    /// built-in samplers add no attribute and keep the parent's trace state
    /// (empty for a root); a parent-based sampler hands `span` to the
    /// sampler it picks, with the parent only if it is valid.
    ///
    /// ```
    /// use otlp_core::TraceId;
    /// use otlp_sdk::{SamplingDecision, SamplingParameters, Sampler};
    ///
    /// let span = SamplingParameters::new(TraceId::random(), "work");
    /// let result = Sampler::parent_based(Sampler::AlwaysOff).sample(&span);
    /// assert_eq!(result.decision, SamplingDecision::Drop);
    /// assert!(result.attributes.is_empty() && result.trace_state.is_empty());
    /// ```
    pub fn sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
        let parent = span.parent.filter(|parent| parent.is_valid());
        let decided = |sampled: bool| {
            let decision = if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            };
            SamplingResult::new(decision, &span.with_parent(parent))
        };
        match self {
            Sampler::AlwaysOn => decided(true),
            Sampler::AlwaysOff => decided(false),
            Sampler::TraceIdRatio(ratio) => decided(ratio_samples(*ratio, span.trace_id)),
            Sampler::ParentBased(root) => match parent {
                Some(parent) => decided(parent.trace_flags.is_sampled()),
                None => root.sample(&span.with_parent(None)),
            },
            Sampler::ParentBasedWith(samplers) => samplers
                .for_parent(parent)
                .sample(&span.with_parent(parent)),
            Sampler::Custom(sampler) => sampler.should_sample(&span.with_parent(parent)),
        }
    }
}

/// [`Sampler::should_sample`] of a custom sampler: asked about a span with
/// no name, attributes or links. Out of line: the built-in arms are inlined
/// into the tracer's span start.
#[cold]
#[inline(never)]
fn ask_without_span(
    sampler: &dyn ShouldSample,
    parent: Option<&SpanContext>,
    trace_id: TraceId,
) -> bool {
    let span = SamplingParameters {
        parent,
        ..SamplingParameters::new(trace_id, "")
    };
    sampler.should_sample(&span).decision.is_sampled()
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

    /// What a sampler was asked: the parent's span id, the name, the kind
    /// and how many attributes.
    type Question = (Option<SpanId>, String, SpanKind, usize);

    /// Keeps what it is asked about, answers `answer`, and tags the spans
    /// it samples.
    #[derive(Debug)]
    struct Asked {
        answer: SamplingDecision,
        asked: std::sync::Mutex<Vec<Question>>,
    }

    impl ShouldSample for Asked {
        fn should_sample(&self, span: &SamplingParameters<'_>) -> SamplingResult {
            self.asked.lock().unwrap().push((
                span.parent.map(|parent| parent.span_id),
                span.name.to_owned(),
                span.kind,
                span.attributes.len(),
            ));
            SamplingResult::new(self.answer, span).with_attributes([KeyValue::new("asked", true)])
        }

        fn description(&self) -> String {
            "Asked".to_owned()
        }
    }

    fn asked(answer: SamplingDecision) -> Arc<Asked> {
        Arc::new(Asked {
            answer,
            asked: std::sync::Mutex::new(Vec::new()),
        })
    }

    #[test]
    fn a_custom_sampler_is_asked_as_the_root_and_as_a_delegate_with_the_whole_span() {
        let root = asked(SamplingDecision::RecordAndSample);
        let remote_unsampled = asked(SamplingDecision::Drop);
        let sampler = Sampler::parent_based_with(ParentBasedSamplers {
            remote_parent_not_sampled: Sampler::Custom(remote_unsampled.clone()),
            ..ParentBasedSamplers::new(Sampler::Custom(root.clone()))
        });
        assert!(sampler.has_custom());
        assert!(!Sampler::default().has_custom());
        assert!(!sampler.never_samples());
        let attributes = [KeyValue::new("http.route", "/cart")];
        let trace_id = TraceId::random();
        let span = SamplingParameters {
            kind: SpanKind::Server,
            attributes: &attributes,
            ..SamplingParameters::new(trace_id, "GET /cart")
        };
        let result = sampler.sample(&span);
        assert_eq!(result.decision, SamplingDecision::RecordAndSample);
        assert_eq!(result.attributes, [KeyValue::new("asked", true)]);
        assert_eq!(
            *root.asked.lock().unwrap(),
            [(None, "GET /cart".to_owned(), SpanKind::Server, 1)]
        );
        // A remote unsampled parent: its delegate is asked, with the parent,
        // and its trace state is the result's unless the sampler changes it.
        let mut parent = SpanContext::new(trace_id, SpanId::random(), TraceFlags::NONE);
        parent.is_remote = true;
        parent.trace_state = TraceState::parse("vendor=1").unwrap();
        let child = SamplingParameters {
            parent: Some(&parent),
            ..span
        };
        let result = sampler.sample(&child);
        assert_eq!(result.decision, SamplingDecision::Drop);
        assert_eq!(result.trace_state.header(), "vendor=1");
        assert_eq!(
            remote_unsampled.asked.lock().unwrap()[0].0,
            Some(parent.span_id)
        );
        // A sampled local parent: the built-in default, no custom call.
        parent.is_remote = false;
        parent.trace_flags = TraceFlags::SAMPLED;
        let result = sampler.sample(&SamplingParameters {
            parent: Some(&parent),
            ..span
        });
        assert_eq!(result.decision, SamplingDecision::RecordAndSample);
        assert!(result.attributes.is_empty());
        assert_eq!(result.trace_state.header(), "vendor=1");
        assert_eq!(root.asked.lock().unwrap().len(), 1);
        assert_eq!(remote_unsampled.asked.lock().unwrap().len(), 1);
        // The yes/no of `should_sample` asks it about a span without name.
        assert!(sampler.should_sample(None, trace_id));
        assert_eq!(root.asked.lock().unwrap()[1].1, "");
        assert!(
            sampler
                .description()
                .starts_with("ParentBased{root:Asked,remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:Asked,")
        );
        // Equal when it is the same sampler, not another of the same kind.
        let same = Sampler::Custom(root.clone());
        assert_eq!(same, Sampler::Custom(root));
        assert_ne!(
            same,
            Sampler::Custom(asked(SamplingDecision::RecordAndSample))
        );
        assert_ne!(same, Sampler::AlwaysOn);
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
