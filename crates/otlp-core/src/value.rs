//! Attribute values: [`AnyValue`] and [`KeyValue`], the whole of OTLP's `AnyValue`.

use std::sync::Arc;

use crate::Str;

/// A value of any OTLP kind: string, bool, int, double, bytes, array or key-value list.
///
/// Cost model: every variant clones without allocating. Strings are [`Str`]
/// (short text inline, copied with the value; longer text shared); bytes,
/// arrays and lists sit behind an `Arc` and clone with one reference-count
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
    /// A list of key-value pairs (a nested map; keys keep their order). OTLP
    /// asks its keys to be unique: the encoders write a repeated key once,
    /// with its last value, in the place where it first appears.
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

    /// Whether the two values encode to the same OTLP bytes: `==`, but with
    /// doubles compared by bit pattern, as the wire carries them. `0.0` and
    /// `-0.0` differ here (they are equal to `==`), a NaN equals the same NaN
    /// (never equal to `==`).
    ///
    /// Key-value lists compare as the encoders write them, each key once
    /// ([`KeyValue::each_key_once`]): `[a=1, a=2]` equals `[a=2]`.
    ///
    /// Cost: shared bytes, arrays and lists are compared by address first,
    /// then element by element, each list first checked for a repeated key
    /// (one pass over its keys): no allocation for lists of up to 64
    /// entries without one, a small plan for a list with one (see
    /// [`KeyValue::each_key_once`]).
    ///
    /// ```
    /// use otlp_core::AnyValue;
    ///
    /// assert!(AnyValue::Double(0.0) == AnyValue::Double(-0.0));
    /// assert!(!AnyValue::Double(0.0).wire_eq(&AnyValue::Double(-0.0)));
    /// assert!(AnyValue::Double(f64::NAN).wire_eq(&AnyValue::Double(f64::NAN)));
    /// ```
    pub fn wire_eq(&self, other: &AnyValue) -> bool {
        match (self, other) {
            (AnyValue::Double(a), AnyValue::Double(b)) => a.to_bits() == b.to_bits(),
            (AnyValue::Array(a), AnyValue::Array(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(a, b)| a.wire_eq(b)))
            }
            (AnyValue::KvList(a), AnyValue::KvList(b)) => Arc::ptr_eq(a, b) || lists_wire_eq(a, b),
            (AnyValue::Bytes(a), AnyValue::Bytes(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => self == other,
        }
    }
}

/// Whether two key-value lists encode to the same entries: each key once,
/// compared by [`AnyValue::wire_eq`].
fn lists_wire_eq(a: &[KeyValue], b: &[KeyValue]) -> bool {
    let mut a = KeyValue::each_key_once(a);
    let mut b = KeyValue::each_key_once(b);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some((key_a, value_a)), Some((key_b, value_b)))
                if key_a == key_b && value_a.wire_eq(value_b) => {}
            _ => return false,
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

    /// Whether the two attributes encode to the same OTLP bytes: same key,
    /// and values equal by [`AnyValue::wire_eq`] (doubles by bit pattern).
    pub fn wire_eq(&self, other: &KeyValue) -> bool {
        self.key == other.key && self.value.wire_eq(&other.value)
    }

    /// Whether two lists of attributes encode to the same OTLP bytes: as
    /// many, in the same order, each equal by [`KeyValue::wire_eq`].
    pub fn all_wire_eq(a: &[KeyValue], b: &[KeyValue]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.wire_eq(b))
    }

    /// The entries of a key-value list ([`AnyValue::KvList`]) as the
    /// encoders write it: each distinct key once, with the last value given
    /// for it, in the place where the key first appears (OTLP's
    /// `KeyValueList` keys "MUST be unique").
    ///
    /// Cost: a list without a repeated key (nearly every one) is given back
    /// as it is, after one pass over its keys (no allocation up to 64
    /// entries); a list with one allocates a plan of where each value goes.
    ///
    /// ```
    /// use otlp_core::{AnyValue, KeyValue};
    ///
    /// let list = [KeyValue::new("a", 1), KeyValue::new("b", 2), KeyValue::new("a", 3)];
    /// let written: Vec<(&str, &AnyValue)> = KeyValue::each_key_once(&list).collect();
    /// assert_eq!(written, [("a", &AnyValue::Int(3)), ("b", &AnyValue::Int(2))]);
    /// ```
    pub fn each_key_once(list: &[KeyValue]) -> impl Iterator<Item = (&str, &AnyValue)> {
        crate::encode::kv_list::unique_entries(list)
    }

    /// Whether dropping this attribute releases nothing: its key and value
    /// hold no shared text, bytes or list (inline or `'static` text,
    /// booleans and numbers).
    #[inline]
    fn releases_nothing(&self) -> bool {
        !self.key.is_shared()
            && match &self.value {
                AnyValue::String(text) => !text.is_shared(),
                AnyValue::Bool(_) | AnyValue::Int(_) | AnyValue::Double(_) => true,
                AnyValue::Bytes(_) | AnyValue::Array(_) | AnyValue::KvList(_) => false,
            }
    }

    /// Empties `attributes`, keeping its allocation: what `Vec::clear` does,
    /// without running each attribute's drop when none of them releases
    /// anything (one pass over the tags instead of a call and an indirect
    /// jump per value: 1–2% of a span's cost on the producing thread).
    pub fn clear_vec(attributes: &mut Vec<KeyValue>) {
        if attributes.iter().all(KeyValue::releases_nothing) {
            // SAFETY: 0 is at most the capacity, and the elements past the
            // new length are never read again. They are not dropped: that
            // is always sound (a leak at worst), and here leaks nothing,
            // since none of them owns memory or a reference count (checked
            // just above), so their drop would have done nothing.
            #[allow(unsafe_code)]
            unsafe {
                attributes.set_len(0);
            }
        } else {
            attributes.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_attributes_keeps_the_allocation_and_releases_what_they_share() {
        let bytes: Arc<[u8]> = Arc::from(&b"shared"[..]);
        let long_key = "k".repeat(Str::INLINE_CAPACITY + 1);
        let plain = || {
            vec![
                KeyValue::new("static", "value"),
                KeyValue::new(Str::copy_from("inline"), Str::copy_from("inline value")),
                KeyValue::new("flag", true),
                KeyValue::new("count", 7_i64),
                KeyValue::new("ratio", 0.5),
            ]
        };

        // Nothing shared: emptied in one step, room kept.
        let mut attributes = plain();
        let capacity = attributes.capacity();
        KeyValue::clear_vec(&mut attributes);
        assert!(attributes.is_empty());
        assert_eq!(attributes.capacity(), capacity);

        // Shared bytes, a shared key, a shared string: each is released.
        let shared: [&dyn Fn() -> KeyValue; 4] = [
            &|| KeyValue::new("bytes", AnyValue::Bytes(bytes.clone())),
            &|| KeyValue::new(Str::copy_from(&long_key), "v"),
            &|| KeyValue::new("k", Str::copy_from(&long_key)),
            &|| {
                KeyValue::new(
                    "list",
                    vec![KeyValue::new("inner", AnyValue::Bytes(bytes.clone()))],
                )
            },
        ];
        for shared in shared {
            let mut attributes = plain();
            attributes.insert(2, shared());
            let capacity = attributes.capacity();
            KeyValue::clear_vec(&mut attributes);
            assert!(attributes.is_empty());
            assert_eq!(attributes.capacity(), capacity);
            assert_eq!(
                Arc::strong_count(&bytes),
                1,
                "the value sharing the bytes was dropped"
            );
        }
    }

    #[test]
    fn only_shared_text_counts_as_shared() {
        assert!(!Str::new_static("static").is_shared());
        assert!(!Str::copy_from("short").is_shared());
        assert!(Str::copy_from(&"x".repeat(Str::INLINE_CAPACITY + 1)).is_shared());
    }
}
