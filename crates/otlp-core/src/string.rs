//! [`Str`]: the string type used for every name, key and string value.

use std::borrow::{Borrow, Cow};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string that is free to clone when `'static` or short, and
/// one reference-count increment to clone when long and shared.
///
/// Cost model (24 bytes, no heap of its own in the first two cases):
/// - from a `&'static str`: borrows it; cloning copies a pointer;
/// - text of up to 22 bytes (a typical attribute value, id or route): stored
///   inline; building it copies the bytes, cloning copies 24 bytes, no
///   allocation and no atomic operation ever;
/// - longer text: one shared allocation (`Arc<str>`); cloning is an atomic
///   increment and never copies the text.
///
/// Equality, ordering and hashing are by content, so every representation
/// of the same text compares equal.
///
/// ```
/// use otlp_core::Str;
///
/// let route: Str = "GET /users".into();          // static: no allocation
/// let user: Str = format!("user-{}", 42).into(); // shared: one allocation
/// let copy = user.clone();                       // refcount bump, no copy
/// assert_eq!(copy, "user-42");
/// assert!(route.is_static() && !user.is_static());
/// ```
#[derive(Clone)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Inline(InlineStr),
    Shared(Arc<str>),
}

/// Longest text stored inline: what fits beside a length byte in 24 bytes.
const INLINE_CAPACITY: usize = 22;

/// Short text stored in place. Invariant: `bytes[..len]` is valid UTF-8
/// (copied from a `&str`, never modified) and `len <= INLINE_CAPACITY`.
#[derive(Clone, Copy)]
struct InlineStr {
    len: u8,
    bytes: [u8; INLINE_CAPACITY],
}

impl InlineStr {
    /// Copies `text` in place if it is short enough.
    #[inline]
    fn new(text: &str) -> Option<Self> {
        let source = text.as_bytes();
        let len = source.len();
        if len > INLINE_CAPACITY {
            return None;
        }
        let mut bytes = [0u8; INLINE_CAPACITY];
        // Two fixed-size copies that overlap in the middle cover any length
        // from the width to twice the width: a few moves, no memcpy call.
        fn copy_ends<const WIDTH: usize>(to: &mut [u8], from: &[u8]) {
            let len = from.len();
            to[..WIDTH].copy_from_slice(&from[..WIDTH]);
            to[len - WIDTH..len].copy_from_slice(&from[len - WIDTH..]);
        }
        match len {
            16.. => copy_ends::<16>(&mut bytes, source),
            8..=15 => copy_ends::<8>(&mut bytes, source),
            4..=7 => copy_ends::<4>(&mut bytes, source),
            _ => bytes[..len].copy_from_slice(source),
        }
        Some(InlineStr {
            len: len as u8,
            bytes,
        })
    }

    #[allow(unsafe_code)]
    fn as_str(&self) -> &str {
        let bytes = &self.bytes[..usize::from(self.len)];
        // SAFETY: `InlineStr::new` is the only constructor; it copies exactly
        // the bytes of a `&str` (valid UTF-8) into `bytes[..len]`, and nothing
        // mutates them afterwards (no `&mut` access exists). A prefix of a
        // byte array holding a whole `&str` is that `&str`, so it is UTF-8.
        // Exercised by `inline_strings_round_trip_every_length_and_char_boundary`.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

impl Str {
    /// The empty string (static).
    pub const EMPTY: Str = Str::new_static("");

    /// The longest text, in bytes, stored inline (copied, never shared).
    pub const INLINE_CAPACITY: usize = INLINE_CAPACITY;

    /// Wraps a static string; usable in `const` contexts.
    pub const fn new_static(text: &'static str) -> Self {
        Str(Repr::Static(text))
    }

    /// Copies `text`: in place when short, else into a new shared allocation.
    pub fn copy_from(text: &str) -> Self {
        match InlineStr::new(text) {
            Some(inline) => Str(Repr::Inline(inline)),
            None => Str(Repr::Shared(Arc::from(text))),
        }
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(text) => text,
            Repr::Inline(inline) => inline.as_str(),
            Repr::Shared(text) => text,
        }
    }

    /// Whether the text is stored in place (short text not borrowed from `'static`).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline(_))
    }

    /// Whether this string borrows `'static` text (cloning it touches no counter).
    pub fn is_static(&self) -> bool {
        matches!(self.0, Repr::Static(_))
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::EMPTY
    }
}

impl Deref for Str {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    fn from(text: &'static str) -> Self {
        Str::new_static(text)
    }
}

impl From<String> for Str {
    fn from(text: String) -> Self {
        match InlineStr::new(&text) {
            Some(inline) => Str(Repr::Inline(inline)),
            None => Str(Repr::Shared(Arc::from(text))),
        }
    }
}

impl From<&String> for Str {
    fn from(text: &String) -> Self {
        Str::copy_from(text)
    }
}

impl From<Box<str>> for Str {
    fn from(text: Box<str>) -> Self {
        match InlineStr::new(&text) {
            Some(inline) => Str(Repr::Inline(inline)),
            None => Str(Repr::Shared(Arc::from(text))),
        }
    }
}

impl From<Arc<str>> for Str {
    fn from(text: Arc<str>) -> Self {
        Str(Repr::Shared(text))
    }
}

impl From<Cow<'static, str>> for Str {
    fn from(text: Cow<'static, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Str::new_static(text),
            Cow::Owned(text) => Str::from(text),
        }
    }
}

impl From<&Str> for Str {
    fn from(text: &Str) -> Self {
        text.clone()
    }
}

impl PartialEq for Str {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Str> for &str {
    fn eq(&self, other: &Str) -> bool {
        *self == other.as_str()
    }
}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Str {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn static_and_shared_with_same_text_are_equal_and_hash_alike() {
        let a = Str::from("span");
        let b = Str::from(String::from("span"));
        assert_eq!(a, b);
        let set: HashSet<Str> = [a].into_iter().collect();
        assert!(set.contains(&b));
        assert!(set.contains("span"));
    }

    #[test]
    fn clone_of_shared_string_shares_the_allocation() {
        let shared = Str::from("long enough to be shared: ".repeat(2));
        assert!(!shared.is_inline() && !shared.is_static());
        let copy = shared.clone();
        assert_eq!(shared.as_str().as_ptr(), copy.as_str().as_ptr());
    }

    #[test]
    fn inline_strings_round_trip_every_length_and_char_boundary() {
        // ASCII, 2-, 3- and 4-byte characters at every length up to past the capacity.
        for unit in ["a", "é", "€", "🕴"] {
            for count in 0..=(INLINE_CAPACITY / unit.len() + 1) {
                let text = unit.repeat(count);
                let value = Str::from(text.clone());
                assert_eq!(value.as_str(), text);
                assert_eq!(value.is_inline(), text.len() <= INLINE_CAPACITY, "{text}");
                assert_eq!(value.clone(), Str::copy_from(&text));
                assert_eq!(Str::from(text.clone().into_boxed_str()), value);
            }
        }
    }

    #[test]
    fn a_str_is_three_words_and_values_lend_its_tag() {
        use std::mem::size_of;
        assert_eq!(size_of::<Str>(), 24);
        // AnyValue's tag lives in the free values of Str's tag byte.
        assert_eq!(size_of::<crate::AnyValue>(), 24);
        assert_eq!(size_of::<crate::KeyValue>(), 48);
    }

    #[test]
    fn cow_keeps_borrowed_text_static() {
        assert!(Str::from(Cow::Borrowed("x")).is_static());
        assert!(!Str::from(Cow::<str>::Owned("x".into())).is_static());
    }
}
