//! The resource the bridge's processors give records: the configuration's,
//! under the one the `opentelemetry_sdk` provider sets.

use otlp_core::{KeyValue, Resource};
use otlp_sdk::config::Config;

use super::value_convert::convert_resource;

/// The resource a [`Config`] describes (`service_name`, `resource_attributes`),
/// if it describes any.
pub(crate) fn config_resource(config: &Config) -> Option<Resource> {
    let mut attributes: Vec<KeyValue> = config
        .resource_attributes
        .iter()
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
