//! [`ResourceSettings`]: the resource a provider (tracer or logger) gives
//! its records, from configuration and code.

use otlp_core::{KeyValue, Resource};

use crate::config::Config;

/// What a provider builder collects about its resource.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResourceSettings {
    resource: Option<Resource>,
    service_name: Option<String>,
}

impl ResourceSettings {
    /// Takes the service name and resource attributes of a loaded [`Config`].
    pub(crate) fn apply_config(&mut self, config: &Config) {
        let attributes = config
            .resource_attributes
            .iter()
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone()));
        let mut resource = self.resource.take().unwrap_or_default();
        for attribute in attributes {
            resource.set(attribute);
        }
        self.resource = Some(resource);
        if let Some(name) = &config.service_name {
            self.service_name = Some(name.clone());
        }
    }

    /// Merges these attributes into the resource (later values win).
    pub(crate) fn merge(&mut self, resource: Resource) {
        self.resource = Some(match self.resource.take() {
            Some(existing) => existing.merge(&resource),
            None => resource,
        });
    }

    /// Sets `service.name`, which wins over any resource attribute.
    pub(crate) fn set_service_name(&mut self, name: String) {
        self.service_name = Some(name);
    }

    /// The resource: the SDK's `telemetry.sdk.*` attributes and a
    /// `service.name` (`unknown_service` if none was given), under what was set.
    pub(crate) fn build(self) -> Resource {
        let mut resource = Resource::new([
            KeyValue::new("service.name", "unknown_service"),
            KeyValue::new("telemetry.sdk.name", "otlp-rust"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ]);
        if let Some(user) = &self.resource {
            resource = resource.merge(user);
        }
        if let Some(name) = self.service_name {
            resource.set(KeyValue::new("service.name", name));
        }
        resource
    }
}
