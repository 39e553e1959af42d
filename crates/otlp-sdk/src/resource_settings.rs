//! [`ResourceSettings`]: the resource a provider (tracer, logger or meter)
//! gives its records, from configuration and code.
//!
//! Precedence, lowest first: the SDK's own attributes (`telemetry.sdk.*`
//! and the placeholder `service.name`), the configuration's
//! (`OTEL_RESOURCE_ATTRIBUTES`, then `OTEL_SERVICE_NAME`, files and
//! `OTLP__` keys as [`Config`] resolved them), then the builder's in code
//! (`with_resource`, then `with_service_name`), whatever order the builder's
//! methods were called in: the specification makes the environment's
//! resource the secondary one, under what the program provides.
//!
//! A blank service name (empty or white space, from any of these) is no
//! name, as the configuration's rule has it for `OTEL_SERVICE_NAME`: it
//! changes nothing, and the name of lower precedence stays (at the bottom,
//! the placeholder `unknown_service:` and the executable's name).

use otlp_core::{KeyValue, Resource};

use crate::config::Config;

/// What a provider builder collects about its resource.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResourceSettings {
    /// From [`Config`]: its attributes and its service name.
    configured: Option<Resource>,
    configured_service_name: Option<String>,
    /// From the builder's methods.
    resource: Option<Resource>,
    service_name: Option<String>,
}

impl ResourceSettings {
    /// Takes the service name and resource attributes of a loaded [`Config`]
    /// (those of an earlier call are replaced).
    /// A blank service name, or `service.name` attribute, is left out.
    pub(crate) fn apply_config(&mut self, config: &Config) {
        let attributes = config
            .resource_attributes
            .iter()
            .filter(|(key, value)| !(key == SERVICE_NAME && is_blank(value)))
            .map(|(key, value)| KeyValue::new(key.clone(), value.clone()));
        self.configured = Some(Resource::new(attributes));
        self.configured_service_name = config.service_name.clone().filter(|name| !is_blank(name));
    }

    /// Merges these attributes into the resource (later values win), but a
    /// blank `service.name`, which changes nothing.
    pub(crate) fn merge(&mut self, mut resource: Resource) {
        resource.attributes.retain(|attribute| {
            !(attribute.key == SERVICE_NAME && attribute.value.as_str().is_some_and(is_blank))
        });
        self.resource = Some(match self.resource.take() {
            Some(existing) => existing.merge(&resource),
            None => resource,
        });
    }

    /// Sets `service.name`, which wins over any resource attribute; a blank
    /// name changes nothing.
    pub(crate) fn set_service_name(&mut self, name: String) {
        if !is_blank(&name) {
            self.service_name = Some(name);
        }
    }

    /// The resource: the SDK's `telemetry.sdk.*` attributes and a
    /// `service.name` (`unknown_service:` and the executable's name if none
    /// was given), under the configuration's, under the builder's.
    pub(crate) fn build(self) -> Resource {
        let mut resource = Resource::new([
            KeyValue::new(SERVICE_NAME, unknown_service()),
            KeyValue::new("telemetry.sdk.name", "otlp-rust"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ]);
        if let Some(configured) = &self.configured {
            resource = resource.merge(configured);
        }
        if let Some(name) = self.configured_service_name {
            resource.set(KeyValue::new(SERVICE_NAME, name));
        }
        if let Some(user) = &self.resource {
            resource = resource.merge(user);
        }
        if let Some(name) = self.service_name {
            resource.set(KeyValue::new(SERVICE_NAME, name));
        }
        resource
    }
}

/// The attribute that names the service.
const SERVICE_NAME: &str = "service.name";

/// Whether a service name is blank, and so no name: what the configuration
/// takes for unset (`keys.rs`) and validation refuses (`validate.rs`).
fn is_blank(name: &str) -> bool {
    name.trim().is_empty()
}

/// The specification's placeholder service name: `unknown_service:` and the
/// process's executable name (`unknown_service:bash`), or `unknown_service`
/// when that name is not known.
fn unknown_service() -> String {
    let executable = std::env::current_exe().ok().and_then(|path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
    });
    match executable {
        Some(name) if !name.is_empty() => format!("unknown_service:{name}"),
        _ => "unknown_service".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_core::AnyValue;

    fn configured() -> Config {
        Config {
            service_name: Some("from-config".into()),
            resource_attributes: vec![
                ("team".into(), "config".into()),
                ("region".into(), "config".into()),
            ],
            ..Config::default()
        }
    }

    fn get(resource: &Resource, key: &str) -> Option<AnyValue> {
        resource.get(key).cloned()
    }

    #[test]
    fn the_builders_resource_wins_over_the_configuration_in_either_order() {
        let code = || Resource::new([KeyValue::new("team", "code")]);
        let mut config_first = ResourceSettings::default();
        config_first.apply_config(&configured());
        config_first.merge(code());
        config_first.set_service_name("from-code".into());
        let mut code_first = ResourceSettings::default();
        code_first.merge(code());
        code_first.set_service_name("from-code".into());
        code_first.apply_config(&configured());
        for resource in [config_first.build(), code_first.build()] {
            assert_eq!(resource.service_name(), Some("from-code"));
            assert_eq!(get(&resource, "team"), Some(AnyValue::from("code")));
            assert_eq!(get(&resource, "region"), Some(AnyValue::from("config")));
        }
    }

    #[test]
    fn the_configured_service_name_wins_over_the_sdks_but_not_over_a_resource_in_code() {
        let mut settings = ResourceSettings::default();
        settings.apply_config(&configured());
        assert_eq!(settings.clone().build().service_name(), Some("from-config"));
        settings.merge(Resource::new([KeyValue::new(
            "service.name",
            "resource-in-code",
        )]));
        assert_eq!(settings.build().service_name(), Some("resource-in-code"));
    }

    /// The placeholder service name of this test binary.
    fn placeholder() -> String {
        ResourceSettings::default()
            .build()
            .service_name()
            .expect("a placeholder")
            .to_owned()
    }

    fn named(name: &'static str) -> Resource {
        Resource::new([KeyValue::new("service.name", name)])
    }

    #[test]
    fn a_blank_service_name_in_code_is_no_name_and_the_lower_one_stays() {
        // As the configuration treats a blank `OTEL_SERVICE_NAME`: not set.
        for blank in ["", " ", "\t\n"] {
            let mut alone = ResourceSettings::default();
            alone.set_service_name(blank.into());
            alone.merge(named(blank));
            assert_eq!(alone.build().service_name(), Some(placeholder().as_str()));

            let mut configured_only = ResourceSettings::default();
            configured_only.apply_config(&configured());
            configured_only.merge(named(blank));
            configured_only.set_service_name(blank.into());
            assert_eq!(configured_only.build().service_name(), Some("from-config"));

            let mut in_a_resource = ResourceSettings::default();
            in_a_resource.apply_config(&configured());
            in_a_resource.merge(named("resource-in-code"));
            in_a_resource.merge(named(blank));
            in_a_resource.set_service_name(blank.into());
            assert_eq!(
                in_a_resource.build().service_name(),
                Some("resource-in-code")
            );

            let mut named_twice = ResourceSettings::default();
            named_twice.set_service_name("from-code".into());
            named_twice.set_service_name(blank.into());
            assert_eq!(named_twice.build().service_name(), Some("from-code"));
        }
    }

    #[test]
    fn a_blank_service_name_in_a_configuration_built_in_code_is_no_name() {
        // The loader never gives one; `Config` built in code may.
        let mut settings = ResourceSettings::default();
        settings.apply_config(&Config {
            service_name: Some(" ".into()),
            resource_attributes: vec![("service.name".into(), String::new())],
            ..Config::default()
        });
        assert_eq!(
            settings.build().service_name(),
            Some(placeholder().as_str())
        );

        let mut settings = ResourceSettings::default();
        settings.apply_config(&Config {
            service_name: Some(String::new()),
            resource_attributes: vec![
                ("service.name".into(), "attribute".into()),
                ("service.name".into(), " ".into()),
            ],
            ..Config::default()
        });
        assert_eq!(settings.build().service_name(), Some("attribute"));
    }

    #[test]
    fn without_a_service_name_the_placeholder_names_the_executable() {
        let executable = std::env::current_exe().expect("the test binary");
        let name = executable
            .file_name()
            .and_then(|name| name.to_str())
            .expect("a name");
        let resource = ResourceSettings::default().build();
        assert_eq!(
            resource.service_name(),
            Some(format!("unknown_service:{name}").as_str())
        );
    }
}
