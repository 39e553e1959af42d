//! What the bridge sends where `opentelemetry-otlp` sends a key once per
//! value set: the key once, with the last value, in its first place (OTLP
//! wants one value per key in every collection). For the reference tests,
//! which build what `opentelemetry-otlp` sends with `opentelemetry-proto`'s
//! conversion (included with `#[path]`; not a test target of its own).

use opentelemetry_proto::tonic::common::v1::KeyValue;

/// Leaves one attribute per key: the last value, in the key's first place.
pub fn one_value_per_key(attributes: &mut Vec<KeyValue>) {
    let mut kept: Vec<KeyValue> = Vec::with_capacity(attributes.len());
    for attribute in attributes.drain(..) {
        match kept.iter_mut().find(|earlier| earlier.key == attribute.key) {
            Some(earlier) => earlier.value = attribute.value,
            None => kept.push(attribute),
        }
    }
    *attributes = kept;
}
