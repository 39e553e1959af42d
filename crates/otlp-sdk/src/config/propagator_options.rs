//! [`PropagatorsConfig`]: the propagators a configuration names
//! (`OTEL_PROPAGATORS`; section `propagation`, key `propagators`).

use std::fmt;

use otlp_core::propagation::{Propagator, Propagators};

/// A value of `OTEL_PROPAGATORS` this SDK accepts.
///
/// The specification's other names — `jaeger`, `xray`, `ottrace` — are not
/// built here, and the loader refuses them (warns and ignores them when
/// [lenient](super::ConfigLoader::lenient)), as it does unknown names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PropagatorName {
    /// `tracecontext`: W3C Trace Context, `traceparent` and `tracestate`.
    TraceContext,
    /// `baggage`: W3C Baggage. Accepted, since the specification's default
    /// (`tracecontext,baggage`) names it, but not propagated: this SDK has no
    /// baggage API. Naming it explicitly gets a
    /// [`ConfigWarning`](super::ConfigWarning) that says so.
    Baggage,
    /// `b3`: B3 with the single `b3` header (Zipkin, Istio).
    B3,
    /// `b3multi`: B3 with the `X-B3-*` headers.
    B3Multi,
}

impl PropagatorName {
    /// Every name, with the variable's value for it.
    pub(crate) const ALL: [(&'static str, PropagatorName); 4] = [
        ("tracecontext", PropagatorName::TraceContext),
        ("baggage", PropagatorName::Baggage),
        ("b3", PropagatorName::B3),
        ("b3multi", PropagatorName::B3Multi),
    ];

    /// The value that turns every propagator off.
    pub(crate) const NONE: &'static str = "none";

    /// The names of the specification that this SDK does not build.
    pub(crate) const NOT_BUILT: [&'static str; 3] = ["jaeger", "xray", "ottrace"];

    /// Parses a name this SDK accepts (any case, trimmed); `None` for
    /// `none`, the names not built here and unknown names.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(value))
            .map(|(_, propagator)| *propagator)
    }

    /// The variable's value for this propagator.
    pub const fn as_str(self) -> &'static str {
        match self {
            PropagatorName::TraceContext => "tracecontext",
            PropagatorName::Baggage => "baggage",
            PropagatorName::B3 => "b3",
            PropagatorName::B3Multi => "b3multi",
        }
    }

    /// The propagator built for this name; `None` for
    /// [`Baggage`](Self::Baggage), which is not propagated.
    pub const fn propagator(self) -> Option<Propagator> {
        match self {
            PropagatorName::TraceContext => Some(Propagator::TraceContext),
            PropagatorName::Baggage => None,
            PropagatorName::B3 => Some(Propagator::B3),
            PropagatorName::B3Multi => Some(Propagator::B3Multi),
        }
    }
}

impl fmt::Display for PropagatorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The propagators a configuration names, in order (`OTEL_PROPAGATORS`, key
/// `propagation.propagators`; default `tracecontext,baggage`, the
/// specification's).
///
/// [`propagators`](Self::propagators) builds what `otlp-contrib`'s
/// `extract` and `inject` use: the pipeline builders there install it for
/// the process. When several propagators find a context in a request, the
/// last in the list wins, as in the other OpenTelemetry SDKs; every one
/// writes its headers into an outgoing request. `none` (an empty list)
/// extracts and injects nothing.
///
/// Plain data: cloning copies a short vector.
///
/// ```
/// use otlp_core::propagation::{Propagator, Propagators};
/// use otlp_sdk::config::{ConfigLoader, PropagatorName};
///
/// let config = ConfigLoader::new()
///     .with_config_dir("no-such-dir")
///     .with_env([("OTEL_PROPAGATORS", "b3multi, tracecontext")])
///     .load()?;
/// assert_eq!(
///     config.propagators.names,
///     [PropagatorName::B3Multi, PropagatorName::TraceContext]
/// );
/// assert_eq!(
///     config.propagators.propagators(),
///     Propagators::new([Propagator::B3Multi, Propagator::TraceContext])
/// );
///
/// // The default: W3C Trace Context (baggage is accepted, not propagated).
/// let default = otlp_sdk::config::PropagatorsConfig::default();
/// assert_eq!(default.to_string(), "tracecontext,baggage");
/// assert_eq!(default.propagators(), Propagators::trace_context());
/// # Ok::<(), otlp_sdk::config::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropagatorsConfig {
    /// The names in order, each once; empty for `none`.
    pub names: Vec<PropagatorName>,
}

impl PropagatorsConfig {
    /// No propagator (`OTEL_PROPAGATORS=none`).
    pub fn none() -> Self {
        PropagatorsConfig { names: Vec::new() }
    }

    /// The propagators to extract and inject with, in order: every name but
    /// [`baggage`](PropagatorName::Baggage).
    pub fn propagators(&self) -> Propagators {
        self.names
            .iter()
            .filter_map(|name| name.propagator())
            .collect()
    }

    /// Whether `baggage` is named (and so accepted without being propagated).
    pub fn names_baggage(&self) -> bool {
        self.names.contains(&PropagatorName::Baggage)
    }
}

impl Default for PropagatorsConfig {
    fn default() -> Self {
        PropagatorsConfig {
            names: vec![PropagatorName::TraceContext, PropagatorName::Baggage],
        }
    }
}

/// The `OTEL_PROPAGATORS` value: the names joined by `,`, or `none`.
impl fmt::Display for PropagatorsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            return f.write_str(PropagatorName::NONE);
        }
        for (index, name) in self.names.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(name.as_str())?;
        }
        Ok(())
    }
}

/// Reads a list of names: the entries of a file's list, or the
/// comma-separated `OTEL_PROPAGATORS` syntax (entries trimmed, blank ones
/// skipped, any case). Repeated names count once, in their first place.
/// `none` must stand alone. A name of the specification not built here
/// (`jaeger`, `xray`, `ottrace`) or an unknown one is refused with every
/// such name in the reason.
pub(crate) fn parse_names<'a>(
    entries: impl IntoIterator<Item = &'a str>,
) -> Result<PropagatorsConfig, String> {
    let mut names = Vec::new();
    let mut none = false;
    let mut not_built = Vec::new();
    let mut unknown = Vec::new();
    let mut any = false;
    for entry in entries {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        any = true;
        if entry.eq_ignore_ascii_case(PropagatorName::NONE) {
            none = true;
        } else if let Some(name) = PropagatorName::parse(entry) {
            if !names.contains(&name) {
                names.push(name);
            }
        } else if PropagatorName::NOT_BUILT
            .iter()
            .any(|known| known.eq_ignore_ascii_case(entry))
        {
            not_built.push(format!("{entry:?}"));
        } else {
            unknown.push(format!("{entry:?}"));
        }
    }
    let mut problems = Vec::new();
    if !not_built.is_empty() {
        problems.push(format!(
            "{} {} of the specification that this SDK does not build",
            not_built.join(", "),
            if not_built.len() == 1 {
                "is a propagator"
            } else {
                "are propagators"
            }
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "unknown propagator{} {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(format!("{}; {}", problems.join("; "), expected()));
    }
    match (none, names.is_empty(), any) {
        (true, false, _) => Err(format!(
            "{:?} turns every propagator off and cannot be listed with others",
            PropagatorName::NONE
        )),
        (true, true, _) => Ok(PropagatorsConfig::none()),
        (false, _, false) => Err(format!("no propagator named; {}", expected())),
        (false, _, true) => Ok(PropagatorsConfig { names }),
    }
}

/// The entries of `text` that [`parse_names`] accepts (known names and
/// `none`), joined by `,`, when some were refused and some remain: what
/// lenient loading keeps of a rejected `OTEL_PROPAGATORS`. `None` when
/// nothing was refused or nothing remains.
pub(crate) fn accepted_names(text: &str) -> Option<String> {
    let entries: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let accepted: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|entry| {
            PropagatorName::parse(entry).is_some()
                || entry.eq_ignore_ascii_case(PropagatorName::NONE)
        })
        .collect();
    (!accepted.is_empty() && accepted.len() < entries.len()).then(|| accepted.join(","))
}

/// What a value may hold, for error reasons.
fn expected() -> String {
    let names: Vec<&str> = PropagatorName::ALL.iter().map(|(name, _)| *name).collect();
    format!(
        "expected a comma-separated list of {}, or {}",
        names.join(", "),
        PropagatorName::NONE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PropagatorsConfig, String> {
        parse_names(text.split(','))
    }

    #[test]
    fn every_name_parses_in_any_case_and_names_itself_back() {
        for (name, propagator) in PropagatorName::ALL {
            assert_eq!(PropagatorName::parse(name), Some(propagator));
            assert_eq!(
                PropagatorName::parse(&name.to_ascii_uppercase()),
                Some(propagator)
            );
            assert_eq!(propagator.as_str(), name);
        }
        for other in ["none", "jaeger", "xray", "ottrace", "zipkin", ""] {
            assert_eq!(PropagatorName::parse(other), None, "{other}");
        }
    }

    #[test]
    fn lists_are_trimmed_deduplicated_and_kept_in_order() {
        let config = parse(" B3 ,tracecontext,, b3,baggage ").unwrap();
        assert_eq!(config.to_string(), "b3,tracecontext,baggage");
        assert_eq!(
            config.propagators(),
            Propagators::new([Propagator::B3, Propagator::TraceContext])
        );
        assert!(config.names_baggage());
        assert_eq!(parse("none").unwrap(), PropagatorsConfig::none());
        assert_eq!(parse(" NONE ,").unwrap().propagators(), Propagators::none());
        assert_eq!(PropagatorsConfig::none().to_string(), "none");
    }

    #[test]
    fn names_not_built_and_unknown_names_are_all_named() {
        let reason = parse("tracecontext,jaeger,zipkin,XRay").unwrap_err();
        assert!(
            reason.starts_with(
                "\"jaeger\", \"XRay\" are propagators of the specification that this SDK does not build; \
                 unknown propagator \"zipkin\"; expected a comma-separated list of tracecontext, baggage, b3, b3multi, or none"
            ),
            "{reason}"
        );
        assert!(
            parse("ottrace")
                .unwrap_err()
                .contains("\"ottrace\" is a propagator")
        );
        assert!(
            parse("none,b3")
                .unwrap_err()
                .contains("cannot be listed with others")
        );
        assert!(parse(", ,").unwrap_err().starts_with("no propagator named"));
    }

    #[test]
    fn lenient_loading_keeps_the_accepted_names() {
        assert_eq!(
            accepted_names("b3, jaeger ,baggage").as_deref(),
            Some("b3,baggage")
        );
        assert_eq!(accepted_names("none,xray").as_deref(), Some("none"));
        assert_eq!(accepted_names("jaeger,xray"), None, "nothing remains");
        assert_eq!(accepted_names("b3,tracecontext"), None, "nothing refused");
    }
}
