//! Configuration of the attribute limits: `Config::limits`, filled from the
//! standard `OTEL_*_LIMIT` variables, section `limits` of a file and
//! `OTLP__LIMITS__*` overrides, and resolved into `SpanLimits` and
//! `LogRecordLimits` as the specification says — a model-specific limit wins
//! over the generic one whichever source set either; with neither, the
//! model's default.
//!
//! No test touches the process environment: each passes its variables with
//! `ConfigLoader::with_env` and its files in a directory of its own.
#![cfg_attr(
    not(all(feature = "yaml", feature = "toml")),
    allow(unused_imports, dead_code)
)]

use otlp_sdk::config::{Config, ConfigError, ConfigSource, LimitsConfig};
use otlp_sdk::{LogRecordLimits, SpanLimits};

mod config_support;
use config_support::{TempDir, assert_names, load, load_err, loader};

/// Reads one field of the limits.
type Field = fn(&LimitsConfig) -> Option<usize>;

/// Every standard variable with the field it sets.
const VARIABLES: &[(&str, Field)] = &[
    ("OTEL_ATTRIBUTE_COUNT_LIMIT", |l| l.attribute_count),
    ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", |l| {
        l.attribute_value_length
    }),
    ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", |l| {
        l.span_attribute_count
    }),
    ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", |l| {
        l.span_attribute_value_length
    }),
    ("OTEL_SPAN_EVENT_COUNT_LIMIT", |l| l.span_event_count),
    ("OTEL_SPAN_LINK_COUNT_LIMIT", |l| l.span_link_count),
    ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", |l| {
        l.event_attribute_count
    }),
    ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", |l| {
        l.link_attribute_count
    }),
    ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", |l| {
        l.log_record_attribute_count
    }),
    ("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", |l| {
        l.log_record_attribute_value_length
    }),
];

/// The file key of each variable, in the same order.
const KEYS: &[&str] = &[
    "attribute_count",
    "attribute_value_length",
    "span_attribute_count",
    "span_attribute_value_length",
    "span_event_count",
    "span_link_count",
    "event_attribute_count",
    "link_attribute_count",
    "log_record_attribute_count",
    "log_record_attribute_value_length",
];

// ---------------------------------------------------------------- defaults

#[test]
fn limits_default_to_the_specifications_values() {
    let config = load(&[]);
    assert_eq!(config.limits, LimitsConfig::default());
    assert_eq!(config.limits.span_limits(), SpanLimits::default());
    assert_eq!(
        config.limits.log_record_limits(),
        LogRecordLimits::default()
    );
    let spans = config.limits.span_limits();
    assert_eq!(
        (
            spans.max_attributes,
            spans.max_events,
            spans.max_links,
            spans.max_attributes_per_event,
            spans.max_attributes_per_link,
            spans.max_attribute_value_length
        ),
        (128, 128, 128, 128, 128, None)
    );
    let logs = config.limits.log_record_limits();
    assert_eq!(
        (logs.max_attributes, logs.max_attribute_value_length),
        (128, None)
    );
    assert_eq!(Config::default().limits, LimitsConfig::default());
}

// ---------------------------------------------------------------- variables

#[test]
fn each_variable_sets_its_own_limit_and_no_other() {
    for (index, (var, field)) in VARIABLES.iter().enumerate() {
        let config = load(&[(var, "7")]);
        assert_eq!(field(&config.limits), Some(7), "{var}");
        for (other, other_field) in VARIABLES {
            if other != var {
                assert_eq!(other_field(&config.limits), None, "{var} set {other}");
            }
        }
        // The same key in a file and as an override.
        let key = KEYS[index];
        let file = format!("limits:\n  {key}: 8\n");
        if cfg!(feature = "yaml") {
            let dir = TempDir::new("limits-key");
            dir.write("default.yaml", &file);
            let config = loader(&dir, &[]).load().unwrap();
            assert_eq!(field(&config.limits), Some(8), "limits.{key}");
        }
        let name = format!("OTLP__LIMITS__{}", key.to_ascii_uppercase());
        let config = load(&[(&name, "9")]);
        assert_eq!(field(&config.limits), Some(9), "{name}");
    }
}

#[test]
fn the_generic_limits_reach_every_attribute_count_and_length() {
    let config = load(&[
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
    ]);
    let spans = config.limits.span_limits();
    assert_eq!(
        spans,
        SpanLimits {
            max_attributes: 10,
            max_events: 128,
            max_links: 128,
            max_attributes_per_event: 10,
            max_attributes_per_link: 10,
            max_attribute_value_length: Some(20),
        },
        "event and link counts have no generic fallback"
    );
    assert_eq!(
        config.limits.log_record_limits(),
        LogRecordLimits {
            max_attributes: 10,
            max_attribute_value_length: Some(20),
        }
    );
}

#[test]
fn specific_limits_win_over_the_generic_ones_for_their_model_only() {
    let config = load(&[
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "30"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "40"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "5"),
        ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "50"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "4"),
    ]);
    assert_eq!(
        config.limits.span_limits(),
        SpanLimits {
            max_attributes: 30,
            max_events: 3,
            max_links: 4,
            max_attributes_per_event: 10,
            max_attributes_per_link: 5,
            max_attribute_value_length: Some(40),
        }
    );
    assert_eq!(
        config.limits.log_record_limits(),
        LogRecordLimits {
            max_attributes: 50,
            max_attribute_value_length: Some(20),
        }
    );
}

#[test]
fn zero_is_a_limit_too() {
    let config = load(&[
        ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "0"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "0"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "0"),
    ]);
    assert_eq!(
        config.limits.log_record_limits(),
        LogRecordLimits {
            max_attributes: 0,
            max_attribute_value_length: Some(0),
        }
    );
    assert_eq!(config.limits.span_limits().max_events, 0);
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn blank_variables_mean_unset() {
    let config = load(&[
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "  "),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", ""),
    ]);
    assert_eq!(config.limits, LimitsConfig::default());
}

// ---------------------------------------------------------------- files and overrides

#[cfg(feature = "yaml")]
#[test]
fn a_yaml_limits_section_sets_every_key() {
    let dir = TempDir::new("limits-yaml");
    dir.write(
        "default.yaml",
        "
limits:
  attribute_count: 1
  attribute_value_length: 2
  span_attribute_count: 3
  span_attribute_value_length: 4
  span_event_count: 5
  span_link_count: 6
  event_attribute_count: 7
  link_attribute_count: 8
  log_record_attribute_count: 9
  log_record_attribute_value_length: 10
",
    );
    let config = loader(&dir, &[]).load().unwrap();
    for (index, (var, field)) in VARIABLES.iter().enumerate() {
        assert_eq!(field(&config.limits), Some(index + 1), "{var}");
    }
    assert_eq!(
        config.limits.span_limits(),
        SpanLimits {
            max_attributes: 3,
            max_events: 5,
            max_links: 6,
            max_attributes_per_event: 7,
            max_attributes_per_link: 8,
            max_attribute_value_length: Some(4),
        }
    );
    assert_eq!(
        config.limits.log_record_limits(),
        LogRecordLimits {
            max_attributes: 9,
            max_attribute_value_length: Some(10),
        }
    );
}

#[cfg(feature = "toml")]
#[test]
fn a_toml_limits_section_takes_numbers_and_numeric_text() {
    let dir = TempDir::new("limits-toml");
    dir.write(
        "default.toml",
        r#"
[limits]
span_attribute_count = 16
log_record_attribute_value_length = "256"
"#,
    );
    let config = loader(&dir, &[]).load().unwrap();
    assert_eq!(config.limits.span_limits().max_attributes, 16);
    assert_eq!(
        config.limits.log_record_limits().max_attribute_value_length,
        Some(256)
    );
}

#[cfg(feature = "yaml")]
#[test]
fn sources_override_in_order_and_a_specific_file_key_beats_a_generic_variable() {
    let dir = TempDir::new("limits-precedence");
    dir.write(
        "default.yaml",
        "limits: { span_attribute_count: 12, attribute_count: 1, span_event_count: 2 }\n",
    );
    let config = loader(
        &dir,
        &[
            // Over the file's generic value; under the file's span value.
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "40"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "20"),
            // The override wins over the variable.
            ("OTLP__LIMITS__SPAN_EVENT_COUNT", "21"),
        ],
    )
    .load()
    .unwrap();
    let spans = config.limits.span_limits();
    assert_eq!(spans.max_attributes, 12, "specific beats generic");
    assert_eq!(spans.max_attributes_per_event, 40);
    assert_eq!(spans.max_events, 21);
    assert_eq!(config.limits.log_record_limits().max_attributes, 40);
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_limit_variables_name_the_variable_and_the_value() {
    let cases = [
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "many", "not a whole number"),
        (
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "-1",
            "must not be negative",
        ),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1.5", "not a whole number"),
        (
            "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
            "-3",
            "must not be negative",
        ),
        (
            "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "none",
            "not a whole number",
        ),
    ];
    for (var, value, reason) in cases {
        let err = load_err(&[(var, value)]);
        assert_names(&err, var, value, reason);
        assert_eq!(err.origin(), ConfigSource::Env(var.to_string()));
    }
    let err = load_err(&[("OTLP__LIMITS__SPAN_LINK_COUNT", "lots")]);
    assert_names(
        &err,
        "OTLP__LIMITS__SPAN_LINK_COUNT",
        "lots",
        "not a whole number",
    );
}

#[cfg(feature = "yaml")]
#[test]
fn bad_limit_file_values_name_the_file_key() {
    let dir = TempDir::new("limits-bad-file");
    let path = dir.write("default.yaml", "limits:\n  span_link_count: -2\n");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert_names(&err, "limits.span_link_count", "-2", "must not be negative");
    assert_eq!(err.origin(), ConfigSource::File(path));
}

#[cfg(feature = "yaml")]
#[test]
fn unknown_limit_keys_are_errors_listing_the_keys() {
    let dir = TempDir::new("limits-unknown");
    dir.write("default.yaml", "limits:\n  span_attributes: 3\n");
    let err = loader(&dir, &[]).load().unwrap_err();
    assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
    assert_eq!(err.key(), Some("limits.span_attributes"));
    let message = err.to_string();
    assert!(message.contains("span_attribute_count"), "{message}");
    assert!(message.contains("log_record_attribute_count"), "{message}");

    let err = load_err(&[("OTLP__LIMITS__ATTRIBUTES", "3")]);
    assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err}");
}

#[test]
fn lenient_loading_ignores_a_bad_limit_with_a_warning() {
    let dir = TempDir::new("limits-lenient");
    let (config, warnings) = loader(
        &dir,
        &[
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "lots"),
            ("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "12"),
        ],
    )
    .lenient()
    .load_with_warnings()
    .unwrap();
    assert_eq!(config.limits.span_limits(), SpanLimits::default());
    assert_eq!(config.limits.log_record_limits().max_attributes, 12);
    let keys: Vec<Option<&str>> = warnings.iter().map(|w| w.0.key()).collect();
    assert_eq!(keys, [Some("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT")]);
}
