//! Attribute values: [`AnyValue`] and [`KeyValue`], the whole of OTLP's `AnyValue`.

use std::mem::MaybeUninit;
use std::sync::Arc;

use crate::Str;

/// A value of any OTLP kind: string, bool, int, double, bytes, array or key-value list.
///
/// Cost model: every variant clones without copying data. Strings are [`Str`];
/// bytes, arrays and lists sit behind an `Arc` and clone with one reference-count
/// increment. Scalars are stored inline.
///
/// ```
/// use otlp_core::AnyValue;
///
/// let values: Vec<AnyValue> = vec!["text".into(), true.into(), 7i64.into(), 0.5.into()];
/// let array = AnyValue::from(values);
/// assert!(matches!(array, AnyValue::Array(ref items) if items.len() == 4));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum AnyValue {
    /// A UTF-8 string.
    String(Str),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// Raw bytes.
    Bytes(Arc<[u8]>),
    /// An ordered list of values (may mix kinds).
    Array(Arc<[AnyValue]>),
    /// A list of key-value pairs (a nested map; keys keep their order).
    KvList(Arc<[KeyValue]>),
}

impl AnyValue {
    /// The value as a string slice, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(text) => Some(text),
            _ => None,
        }
    }
}

impl From<Str> for AnyValue {
    fn from(value: Str) -> Self {
        AnyValue::String(value)
    }
}

impl From<&'static str> for AnyValue {
    fn from(value: &'static str) -> Self {
        AnyValue::String(Str::from(value))
    }
}

impl From<String> for AnyValue {
    fn from(value: String) -> Self {
        AnyValue::String(Str::from(value))
    }
}

impl From<bool> for AnyValue {
    fn from(value: bool) -> Self {
        AnyValue::Bool(value)
    }
}

macro_rules! int_into_any_value {
    ($($int:ty),*) => {$(
        impl From<$int> for AnyValue {
            fn from(value: $int) -> Self {
                AnyValue::Int(i64::from(value))
            }
        }
    )*};
}
int_into_any_value!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for AnyValue {
    fn from(value: f64) -> Self {
        AnyValue::Double(value)
    }
}

impl From<f32> for AnyValue {
    fn from(value: f32) -> Self {
        AnyValue::Double(f64::from(value))
    }
}

impl From<Vec<u8>> for AnyValue {
    fn from(value: Vec<u8>) -> Self {
        AnyValue::Bytes(value.into())
    }
}

impl From<Vec<AnyValue>> for AnyValue {
    fn from(value: Vec<AnyValue>) -> Self {
        AnyValue::Array(value.into())
    }
}

impl From<Vec<KeyValue>> for AnyValue {
    fn from(value: Vec<KeyValue>) -> Self {
        AnyValue::KvList(value.into())
    }
}

/// One attribute: a key and its value.
///
/// ```
/// use otlp_core::KeyValue;
///
/// let attr = KeyValue::new("http.request.method", "GET");
/// assert_eq!(attr.key, "http.request.method");
/// assert_eq!(attr.value.as_str(), Some("GET"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    /// The attribute key.
    pub key: Str,
    /// The attribute value.
    pub value: AnyValue,
}

impl KeyValue {
    /// Builds an attribute from anything that converts to a key and a value.
    pub fn new(key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }

    /// An attribute with an empty key and the value `false`, which owns
    /// nothing: what [`KeyValue::move_into`] leaves behind.
    pub const EMPTY: KeyValue = KeyValue {
        key: Str::EMPTY,
        value: AnyValue::Bool(false),
    };

    /// Moves the attribute onto the end of `attributes`, leaving
    /// [`KeyValue::EMPTY`] in its place: `attributes.push(mem::replace(self,
    /// KeyValue::EMPTY))`, but moved a word at a time, from where it lies.
    ///
    /// Use it where an attribute built a moment ago is stored, as a span's
    /// `set_attribute` does. Building one writes it word by word; a move
    /// (`Vec::push`, or passing it on by value) copies it with 16-byte
    /// loads, each spanning two of those writes (or a write and untouched
    /// padding). A load the CPU cannot serve from a single pending write
    /// waits until the writes reach the cache, on every attribute: on
    /// otlp-sdk's hot path that wait was a third of the time spent setting
    /// eight attributes. Word-sized loads are served from the pending writes
    /// at once. Taking the attribute by reference means it is read where it
    /// was built, not from a copy made on the way in.
    ///
    /// ```
    /// use otlp_core::KeyValue;
    ///
    /// let mut attributes = Vec::new();
    /// let mut route = KeyValue::new("http.route", "/orders/{id}");
    /// route.move_into(&mut attributes);
    /// assert_eq!(attributes, [KeyValue::new("http.route", "/orders/{id}")]);
    /// assert_eq!(route, KeyValue::EMPTY);
    /// ```
    #[inline]
    #[allow(unsafe_code)]
    pub fn move_into(&mut self, attributes: &mut Vec<KeyValue>) {
        /// Words in a `KeyValue` (checked below to be a whole number of them).
        const WORDS: usize = size_of::<KeyValue>() / size_of::<usize>();
        const _: () = assert!(
            size_of::<KeyValue>().is_multiple_of(size_of::<usize>())
                && align_of::<KeyValue>() >= align_of::<usize>()
        );
        attributes.reserve(1);
        let len = attributes.len();
        let source = std::ptr::from_mut(self).cast::<MaybeUninit<usize>>();
        let slot = attributes.spare_capacity_mut()[0]
            .as_mut_ptr()
            .cast::<MaybeUninit<usize>>();
        for word in 0..WORDS {
            // SAFETY: `source` points to `*self`, which is live, exclusively
            // borrowed, `WORDS * size_of::<usize>()` bytes long and aligned
            // for `usize` (the assertion above), so word `word < WORDS` is in
            // bounds and aligned; `MaybeUninit<usize>` accepts any bytes,
            // padding included, and keeps pointer provenance. `slot` points
            // to the vector's first spare element (there is one after
            // `reserve(1)`), of the same size and alignment, and nothing else
            // refers to it. The read is volatile only so that the compiler
            // keeps it word sized instead of merging the loop into a wide copy.
            unsafe { slot.add(word).write(source.add(word).read_volatile()) };
        }
        // The bytes of `*self` now live on in the vector: the original must
        // not be dropped, so it is replaced and forgotten (nothing between
        // the copy and here can panic).
        std::mem::forget(std::mem::replace(self, KeyValue::EMPTY));
        // SAFETY: element `len` holds every byte of a valid `KeyValue` (the
        // copy above), it is within the capacity reserved above, and the
        // original was forgotten, so the value is owned exactly once.
        unsafe { attributes.set_len(len + 1) };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{AnyValue, KeyValue};
    use crate::Str;

    /// One attribute of every kind, the shared ones holding `shared`.
    fn every_kind(shared: &Arc<str>) -> Vec<KeyValue> {
        vec![
            KeyValue::new("static", "text"),
            KeyValue::new(Str::copy_from("inline key"), Str::copy_from("inline value")),
            KeyValue::new(Str::from(Arc::clone(shared)), Str::from(Arc::clone(shared))),
            KeyValue::new("bool", true),
            KeyValue::new("int", -7i64),
            KeyValue::new("double", 0.25),
            KeyValue::new("bytes", AnyValue::Bytes(Arc::from(&b"\x00\xff"[..]))),
            KeyValue::new("array", vec![AnyValue::from("a"), AnyValue::from(1i64)]),
            KeyValue::new(
                "list",
                vec![KeyValue::new("nested", Str::from(Arc::clone(shared)))],
            ),
        ]
    }

    #[test]
    fn move_into_appends_what_push_does_and_owns_it_once() {
        let shared: Arc<str> = Arc::from("a shared string longer than twenty-three bytes");
        let expected = every_kind(&shared);
        let references = Arc::strong_count(&shared);
        // Into an empty vector (grows on the first push), one with room, and
        // one that is full (grows in the middle).
        for initial_capacity in [0, 64, 3] {
            let mut pushed = Vec::with_capacity(initial_capacity);
            for mut attribute in every_kind(&shared) {
                attribute.move_into(&mut pushed);
                assert_eq!(attribute, KeyValue::EMPTY);
            }
            assert_eq!(pushed, expected, "capacity {initial_capacity}");
            // Each shared string is referenced by `expected` and `pushed`
            // alone: nothing was dropped twice or leaked.
            assert_eq!(Arc::strong_count(&shared), 2 * references - 1);
            drop(pushed);
            assert_eq!(Arc::strong_count(&shared), references);
        }
    }
}
