//! [`InstrumentationScope`]: the library or module that produced a span.

use std::sync::{Arc, OnceLock};

use crate::{KeyValue, Str};

/// The instrumentation library, module or component that produced a span.
///
/// Shared by `Arc`: every span of a tracer points at the same scope.
///
/// ```
/// use otlp_core::InstrumentationScope;
///
/// let scope = InstrumentationScope::new("my-http-server").with_version("2.1.0");
/// assert_eq!(scope.name, "my-http-server");
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstrumentationScope {
    /// Name of the scope, e.g. the crate name.
    pub name: Str,
    /// Version of the scope (`""` if none).
    pub version: Str,
    /// Schema URL the span's attribute names follow (`""` if none).
    pub schema_url: Str,
    /// Scope attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes discarded before this scope was built.
    pub dropped_attributes_count: u32,
}

impl InstrumentationScope {
    /// A scope with a name only.
    pub fn new(name: impl Into<Str>) -> Self {
        InstrumentationScope {
            name: name.into(),
            ..InstrumentationScope::default()
        }
    }

    /// The shared scope with an empty name.
    pub fn empty() -> Arc<InstrumentationScope> {
        static EMPTY: OnceLock<Arc<InstrumentationScope>> = OnceLock::new();
        EMPTY
            .get_or_init(|| Arc::new(InstrumentationScope::default()))
            .clone()
    }

    /// Whether the two scopes encode to the same OTLP bytes: `==`, but with
    /// double attributes compared by bit pattern ([`AnyValue::wire_eq`](crate::AnyValue::wire_eq)).
    pub fn wire_eq(&self, other: &InstrumentationScope) -> bool {
        self.name == other.name
            && self.version == other.version
            && self.schema_url == other.schema_url
            && self.dropped_attributes_count == other.dropped_attributes_count
            && KeyValue::all_wire_eq(&self.attributes, &other.attributes)
    }

    /// This scope with a version.
    pub fn with_version(mut self, version: impl Into<Str>) -> Self {
        self.version = version.into();
        self
    }

    /// This scope with a schema URL.
    pub fn with_schema_url(mut self, schema_url: impl Into<Str>) -> Self {
        self.schema_url = schema_url.into();
        self
    }

    /// This scope with attributes.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes = attributes.into_iter().collect();
        self
    }
}
