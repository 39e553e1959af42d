//! The resource the bridge's processors give records: the configuration's,
//! under the one the `opentelemetry_sdk` provider sets.

use otlp_core::{KeyValue, Resource};
use otlp_sdk::config::Config;

use super::value_convert::convert_resource;

/// The resource a [`Config`] describes (`service_name`, `resource_attributes`),
/// if it describes any. Its `service.name` is
/// [`Config::effective_service_name`]: a blank one is none, as in the
/// providers' resources.
pub(crate) fn config_resource(config: &Config) -> Option<Resource> {
    let mut attributes: Vec<KeyValue> = config
        .resource_attributes
        .iter()
        // A blank name is no name, as the providers have it (the effective
        // one, if any, is set below, in the first named entry's place).
        .filter(|(key, value)| key != "service.name" || !value.trim().is_empty())
        .map(|(key, value)| KeyValue::new(key.clone(), value.clone()))
        .collect();
    if let Some(name) = config.effective_service_name() {
        attributes.push(KeyValue::new("service.name", name.to_owned()));
    }
    (!attributes.is_empty()).then(|| Resource::new(attributes))
}

/// The SDK's resource merged over `base`: the SDK's values win, except its
/// placeholder `service.name` (`unknown_service…`) when `base` names the service.
pub(crate) fn merge_over_base(
    base: Option<&Resource>,
    resource: &opentelemetry_sdk::Resource,
) -> Resource {
    let mut converted = convert_resource(resource);
    let Some(base) = base else {
        return converted;
    };
    let placeholder = converted
        .service_name()
        .is_some_and(|name| name == "unknown_service" || name.starts_with("unknown_service:"));
    if placeholder && base.service_name().is_some() {
        converted
            .attributes
            .retain(|attribute| attribute.key != "service.name");
    }
    base.merge(&converted)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blank `service.name` entry of a configuration made in code names no
    /// service, as the providers treat it: the bridge's resource left it in,
    /// so records from the bridge carried `service.name=" "`.
    #[test]
    fn a_blank_service_name_entry_is_no_name() {
        let mut config = Config {
            resource_attributes: vec![
                ("service.name".into(), " ".into()),
                ("deployment.environment.name".into(), "test".into()),
            ],
            ..Config::default()
        };
        let resource = config_resource(&config).expect("an attribute is configured");
        assert_eq!(resource.service_name(), None, "{resource:?}");
        assert_eq!(resource.attributes.len(), 1, "{resource:?}");

        config
            .resource_attributes
            .push(("service.name".into(), "checkout".into()));
        config
            .resource_attributes
            .push(("service.name".into(), "".into()));
        let resource = config_resource(&config).expect("a name is configured");
        assert_eq!(resource.service_name(), Some("checkout"), "{resource:?}");
    }
}
