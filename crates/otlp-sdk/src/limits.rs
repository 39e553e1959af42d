//! [`SpanLimits`]: caps on what one span may carry.

/// Caps on attributes, events and links per span. What goes over a cap is
/// discarded and counted in the span's `dropped_*_count` fields, which reach
/// the backend. Defaults follow the specification (128 each).
///
/// ```
/// use otlp_sdk::SpanLimits;
///
/// let limits = SpanLimits { max_attributes: 16, ..SpanLimits::default() };
/// assert_eq!(limits.max_events, 128);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span.
    pub max_attributes: usize,
    /// Events per span.
    pub max_events: usize,
    /// Links per span.
    pub max_links: usize,
    /// Attributes per event.
    pub max_attributes_per_event: usize,
    /// Attributes per link.
    pub max_attributes_per_link: usize,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes: 128,
            max_events: 128,
            max_links: 128,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
        }
    }
}
