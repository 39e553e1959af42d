//! [`Span`]: a span in progress, ended explicitly or when dropped.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use otlp_core::{Event, KeyValue, Link, SpanContext, SpanData, Status, Str};

use crate::provider::ProviderInner;

/// Nanoseconds since the Unix epoch.
pub(crate) mod unix_nanos {
    use std::time::{SystemTime, UNIX_EPOCH};

    pub(crate) fn from_system_time(time: SystemTime) -> u64 {
        time.duration_since(UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    pub(crate) fn now() -> u64 {
        from_system_time(SystemTime::now())
    }
}

/// A span in progress. Record attributes, events, links and status, then
/// [`end`](Span::end) it — or let it drop, which ends it too.
///
/// An unsampled span is *non-recording*: every recording method is a no-op,
/// but [`context`](Span::context) is valid so children and other services
/// follow the same decision.
///
/// ```
/// use otlp_sdk::TracerProvider;
/// use otlp_core::{KeyValue, Status};
///
/// let tracer = TracerProvider::builder().build().tracer("example");
/// let mut span = tracer.start("charge card");
/// span.set_attribute(KeyValue::new("payment.amount", 12.5));
/// span.add_event("retrying", [KeyValue::new("attempt", 2)]);
/// span.set_status(Status::error("card declined"));
/// span.end();
/// ```
pub struct Span {
    context: SpanContext,
    /// `None` for non-recording spans and once ended.
    data: Option<SpanData>,
    provider: Arc<ProviderInner>,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.context)
            .field("recording", &self.data.is_some())
            .finish()
    }
}

impl Span {
    /// A recording span; attributes given at start are deduplicated and capped.
    pub(crate) fn recording(
        context: SpanContext,
        mut data: SpanData,
        provider: Arc<ProviderInner>,
    ) -> Self {
        dedupe_keep_last(&mut data.attributes);
        data.dropped_attributes_count = cap(&mut data.attributes, provider.limits.max_attributes);
        Span {
            context,
            data: Some(data),
            provider,
        }
    }

    pub(crate) fn non_recording(context: SpanContext, provider: Arc<ProviderInner>) -> Self {
        Span {
            context,
            data: None,
            provider,
        }
    }

    /// This span's context, to start children or to propagate (`traceparent`).
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether this span records (sampled and not yet ended).
    pub fn is_recording(&self) -> bool {
        self.data.is_some()
    }

    /// Sets an attribute; an existing key gets the new value. Over the limit,
    /// the attribute is discarded and counted.
    pub fn set_attribute(&mut self, attribute: KeyValue) {
        let max = self.provider.limits.max_attributes;
        if let Some(data) = &mut self.data {
            if let Some(existing) = data
                .attributes
                .iter_mut()
                .find(|kv| kv.key == attribute.key)
            {
                existing.value = attribute.value;
            } else if data.attributes.len() < max {
                if data.attributes.capacity() == 0 {
                    // Most spans carry a handful of attributes: one allocation for them.
                    data.attributes.reserve(8.min(max));
                }
                data.attributes.push(attribute);
            } else {
                data.dropped_attributes_count = data.dropped_attributes_count.saturating_add(1);
            }
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        for attribute in attributes {
            self.set_attribute(attribute);
        }
    }

    /// Adds an event now.
    pub fn add_event(
        &mut self,
        name: impl Into<Str>,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.add_event_at(name, SystemTime::now(), attributes);
    }

    /// Adds an event at a given time.
    pub fn add_event_at(
        &mut self,
        name: impl Into<Str>,
        time: SystemTime,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        let limits = self.provider.limits;
        if let Some(data) = &mut self.data {
            if data.events.len() >= limits.max_events {
                data.dropped_events_count = data.dropped_events_count.saturating_add(1);
                return;
            }
            let mut event = Event::new(name, unix_nanos::from_system_time(time), attributes);
            event.dropped_attributes_count =
                cap(&mut event.attributes, limits.max_attributes_per_event);
            data.events.push(event);
        }
    }

    /// Adds a link to another span.
    pub fn add_link(
        &mut self,
        context: &SpanContext,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) {
        self.add_link_value(Link::new(context, attributes));
    }

    pub(crate) fn add_link_value(&mut self, mut link: Link) {
        let limits = self.provider.limits;
        if let Some(data) = &mut self.data {
            if data.links.len() >= limits.max_links {
                data.dropped_links_count = data.dropped_links_count.saturating_add(1);
                return;
            }
            link.dropped_attributes_count =
                cap(&mut link.attributes, limits.max_attributes_per_link);
            data.links.push(link);
        }
    }

    /// Sets the status. `Ok` is final: later changes are ignored; setting
    /// `Unset` is ignored, as the specification says.
    pub fn set_status(&mut self, status: Status) {
        if let Some(data) = &mut self.data
            && data.status != Status::Ok
            && status != Status::Unset
        {
            data.status = status;
        }
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Str>) {
        if let Some(data) = &mut self.data {
            data.name = name.into();
        }
    }

    /// Ends the span now and hands it to the processors.
    pub fn end(mut self) {
        self.finish(unix_nanos::now());
    }

    /// Ends the span at a given time.
    pub fn end_at(mut self, end: SystemTime) {
        self.finish(unix_nanos::from_system_time(end));
    }

    fn finish(&mut self, end_unix_nano: u64) {
        if let Some(mut data) = self.data.take() {
            data.end_time_unix_nano = end_unix_nano.max(data.start_time_unix_nano);
            self.provider.dispatch(data);
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.finish(unix_nanos::now());
    }
}

/// Truncates to `max`, returning how many were discarded.
fn cap(attributes: &mut Vec<KeyValue>, max: usize) -> u32 {
    let excess = attributes.len().saturating_sub(max);
    attributes.truncate(max);
    u32::try_from(excess).unwrap_or(u32::MAX)
}

/// Removes duplicate keys, keeping the last value at the first position.
fn dedupe_keep_last(attributes: &mut Vec<KeyValue>) {
    let mut index = 1;
    while index < attributes.len() {
        let (before, rest) = attributes.split_at_mut(index);
        match before.iter_mut().find(|kv| kv.key == rest[0].key) {
            Some(earlier) => {
                earlier.value = rest[0].value.clone();
                attributes.remove(index);
            }
            None => index += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_keeps_the_last_value_in_the_first_place() {
        let mut attributes = vec![
            KeyValue::new("a", 1),
            KeyValue::new("b", 2),
            KeyValue::new("a", 3),
        ];
        dedupe_keep_last(&mut attributes);
        assert_eq!(
            attributes,
            vec![KeyValue::new("a", 3), KeyValue::new("b", 2)]
        );
    }
}
