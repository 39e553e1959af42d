//! Configuration of propagation: `Config::propagators`, filled from
//! `OTEL_PROPAGATORS`, the key `propagation.propagators` of a file and the
//! `OTLP__PROPAGATION__PROPAGATORS` override, and turned into the
//! `otlp_core::propagation::Propagators` that extract and inject.
//!
//! No test touches the process environment: each passes its variables with
//! `ConfigLoader::with_env` and its files in a directory of its own.
#![cfg_attr(
    not(all(feature = "yaml", feature = "toml")),
    allow(unused_imports, dead_code)
)]

use otlp_core::propagation::{Propagator, Propagators};
use otlp_sdk::config::{
    ConfigError, ConfigSource, ConfigWarning, PropagatorName, PropagatorsConfig,
};

mod config_support;
use config_support::{TempDir, assert_names, load, load_err, loader};

const VARIABLE: &str = "OTEL_PROPAGATORS";

/// The configuration and warnings of a strict load of `env`.
fn load_warned(env: &[(&str, &str)]) -> (PropagatorsConfig, Vec<ConfigWarning>) {
    let dir = TempDir::new("propagators");
    let (config, warnings) = loader(&dir, env).load_with_warnings().unwrap();
    (config.propagators, warnings)
}

/// The configuration and warnings of a lenient load of `env`.
fn load_lenient(env: &[(&str, &str)]) -> (PropagatorsConfig, Vec<ConfigWarning>) {
    let dir = TempDir::new("propagators-lenient");
    let (config, warnings) = loader(&dir, env).lenient().load_with_warnings().unwrap();
    (config.propagators, warnings)
}

// ---------------------------------------------------------------- values

#[test]
fn the_default_is_the_specifications_and_propagates_trace_context_without_a_warning() {
    for env in [&[][..], &[(VARIABLE, "")], &[(VARIABLE, "  ")]] {
        let (config, warnings) = load_warned(env);
        assert_eq!(config, PropagatorsConfig::default(), "{env:?}");
        assert_eq!(
            config.names,
            [PropagatorName::TraceContext, PropagatorName::Baggage]
        );
        assert_eq!(config.propagators(), Propagators::trace_context());
        assert!(
            warnings.is_empty(),
            "the default's baggage is not reported: {warnings:?}"
        );
    }
}

#[test]
fn each_supported_value_selects_its_propagator() {
    for (value, names, propagators) in [
        (
            "tracecontext",
            &[PropagatorName::TraceContext][..],
            Propagators::trace_context(),
        ),
        (
            "b3",
            &[PropagatorName::B3],
            Propagators::new([Propagator::B3]),
        ),
        (
            "b3multi",
            &[PropagatorName::B3Multi],
            Propagators::new([Propagator::B3Multi]),
        ),
        ("none", &[], Propagators::none()),
        ("baggage", &[PropagatorName::Baggage], Propagators::none()),
        (
            "TraceContext,B3",
            &[PropagatorName::TraceContext, PropagatorName::B3],
            Propagators::new([Propagator::TraceContext, Propagator::B3]),
        ),
    ] {
        let config = load(&[(VARIABLE, value)]).propagators;
        assert_eq!(config.names, names, "{value}");
        assert_eq!(config.propagators(), propagators, "{value}");
    }
}

#[test]
fn the_list_keeps_its_order_and_each_name_once() {
    let config = load(&[(VARIABLE, " b3multi , tracecontext,,B3MULTI, b3 ")]).propagators;
    assert_eq!(config.to_string(), "b3multi,tracecontext,b3");
    assert_eq!(
        config.propagators().iter().collect::<Vec<_>>(),
        [
            Propagator::B3Multi,
            Propagator::TraceContext,
            Propagator::B3
        ]
    );
}

// ---------------------------------------------------------------- baggage

#[test]
fn naming_baggage_is_accepted_with_a_warning_that_it_is_not_propagated() {
    let (config, warnings) = load_warned(&[(VARIABLE, "tracecontext,baggage")]);
    assert_eq!(config.propagators(), Propagators::trace_context());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let ConfigWarning(warning) = &warnings[0];
    assert_names(warning, VARIABLE, "baggage", "this SDK has no baggage API");
    assert!(
        warning
            .reason()
            .contains("neither extracted nor injected (the propagators used: tracecontext)"),
        "{warning}"
    );
    assert_eq!(warning.origin(), ConfigSource::Env(VARIABLE.into()));
    // Accepted, so neither "ignored" nor "invalid": a note that it does nothing.
    assert_eq!(
        warnings[0].to_string(),
        "note: \"baggage\" for OTEL_PROPAGATORS (from environment) is accepted but does \
         nothing: this SDK has no baggage API: W3C `baggage` headers are neither extracted nor \
         injected (the propagators used: tracecontext)"
    );

    // Alone, nothing is propagated, and the warning says so.
    let (config, warnings) = load_warned(&[(VARIABLE, "baggage")]);
    assert_eq!(config.propagators(), Propagators::none());
    assert!(
        warnings[0]
            .0
            .reason()
            .contains("(the propagators used: none)"),
        "{}",
        warnings[0]
    );
    // Lenient loading warns once too.
    assert_eq!(load_lenient(&[(VARIABLE, "b3,baggage")]).1.len(), 1);
}

// ---------------------------------------------------------------- refused

#[test]
fn names_not_built_here_are_errors_naming_the_variable_and_the_value() {
    for (value, reason) in [
        (
            "jaeger",
            "\"jaeger\" is a propagator of the specification that this SDK does not build",
        ),
        (
            "tracecontext,xray",
            "\"xray\" is a propagator of the specification that this SDK does not build",
        ),
        (
            "ottrace,b3",
            "\"ottrace\" is a propagator of the specification that this SDK does not build",
        ),
        ("zipkin", "unknown propagator \"zipkin\""),
        (
            "b3,w3c,b3single",
            "unknown propagators \"w3c\", \"b3single\"",
        ),
        (
            "none,b3",
            "\"none\" turns every propagator off and cannot be listed with others",
        ),
        (",", "no propagator named"),
    ] {
        let err = load_err(&[(VARIABLE, value)]);
        assert_names(&err, VARIABLE, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(VARIABLE.into()), "{value}");
        let message = err.to_string();
        assert!(
            message.contains(VARIABLE) && message.contains(value),
            "{message}"
        );
    }
    let err = load_err(&[(VARIABLE, "jaeger")]);
    assert!(
        err.reason().ends_with(
            "expected a comma-separated list of tracecontext, baggage, b3, b3multi, or none"
        ),
        "{err}"
    );
}

#[test]
fn lenient_loading_ignores_the_refused_names_and_keeps_the_others() {
    let (config, warnings) = load_lenient(&[(VARIABLE, "b3, jaeger ,b3multi,zipkin")]);
    assert_eq!(config.names, [PropagatorName::B3, PropagatorName::B3Multi]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_names(
        &warnings[0].0,
        VARIABLE,
        "b3, jaeger ,b3multi,zipkin",
        "\"jaeger\" is a propagator of the specification that this SDK does not build; \
         unknown propagator \"zipkin\"",
    );

    // Nothing accepted: the variable is ignored, the default stays.
    let (config, warnings) = load_lenient(&[(VARIABLE, "xray,ottrace")]);
    assert_eq!(config, PropagatorsConfig::default());
    assert_eq!(warnings.len(), 1);

    // What remains is refused too: a second warning, the default stays.
    let (config, warnings) = load_lenient(&[(VARIABLE, "none,b3,jaeger")]);
    assert_eq!(config, PropagatorsConfig::default());
    let reasons: Vec<&str> = warnings.iter().map(|w| w.0.reason()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("\"jaeger\""), "{reasons:?}");
    assert!(
        reasons[1].contains("cannot be listed with others"),
        "{reasons:?}"
    );
    assert_eq!(warnings[1].0.value(), Some("none,b3"));

    // `none` with others alone: ignored.
    let (config, warnings) = load_lenient(&[(VARIABLE, "b3,none")]);
    assert_eq!((config, warnings.len()), (PropagatorsConfig::default(), 1));
}

// ---------------------------------------------------------------- other sources

#[cfg(feature = "yaml")]
#[test]
fn a_file_names_propagators_as_a_list_or_a_string_and_is_reported_as_the_file_key() {
    let dir = TempDir::new("propagators-yaml");
    let path = dir.write(
        "default.yaml",
        "propagation:\n  propagators: [b3multi, baggage, TRACECONTEXT]\n",
    );
    let (config, warnings) = loader(&dir, &[]).load_with_warnings().unwrap();
    assert_eq!(
        config.propagators.names,
        [
            PropagatorName::B3Multi,
            PropagatorName::Baggage,
            PropagatorName::TraceContext
        ]
    );
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].0.key(), Some("propagation.propagators"));
    assert_eq!(warnings[0].0.origin(), ConfigSource::File(path.clone()));

    // The variable wins over the file, and the override over both.
    let config = loader(&dir, &[(VARIABLE, "b3")]).load().unwrap();
    assert_eq!(config.propagators.names, [PropagatorName::B3]);
    let env = [(VARIABLE, "b3"), ("OTLP__PROPAGATION__PROPAGATORS", "none")];
    let config = loader(&dir, &env).load().unwrap();
    assert_eq!(config.propagators.propagators(), Propagators::none());

    // A bad name in a file is an error even when lenient, naming the file key.
    dir.write(
        "default.yaml",
        "propagation:\n  propagators: [b3, jaeger]\n",
    );
    let err = loader(&dir, &[]).lenient().load().unwrap_err();
    assert_names(
        &err,
        "propagation.propagators",
        "[b3, jaeger]",
        "\"jaeger\" is a propagator",
    );
    assert_eq!(err.origin(), ConfigSource::File(path));
}

#[cfg(feature = "toml")]
#[test]
fn a_toml_file_takes_the_comma_separated_string() {
    let dir = TempDir::new("propagators-toml");
    dir.write(
        "default.toml",
        "[propagation]\npropagators = \"b3, tracecontext\"\n",
    );
    let config = loader(&dir, &[]).load().unwrap();
    assert_eq!(
        config.propagators.names,
        [PropagatorName::B3, PropagatorName::TraceContext]
    );
}

#[cfg(feature = "yaml")]
#[test]
fn unknown_keys_of_the_section_are_errors_listing_the_keys() {
    let dir = TempDir::new("propagators-unknown");
    dir.write("default.yaml", "propagation:\n  propagator: b3\n");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
    assert_eq!(err.key(), Some("propagation.propagator"));
    assert!(err.to_string().contains("propagators"), "{err}");
}

#[test]
fn an_override_is_an_error_even_when_lenient() {
    let dir = TempDir::new("propagators-override");
    let env = [("OTLP__PROPAGATION__PROPAGATORS", "b3,xray")];
    let err = loader(&dir, &env).lenient().load().unwrap_err();
    assert_names(
        &err,
        "OTLP__PROPAGATION__PROPAGATORS",
        "b3,xray",
        "\"xray\" is a propagator",
    );
    let config = load(&[("OTLP__PROPAGATION__PROPAGATORS", "b3multi")]);
    assert_eq!(config.propagators.names, [PropagatorName::B3Multi]);
}
