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
/// Cost model (32 bytes: a tag word and three words of payload; no heap of
/// its own in the first two cases):
/// - from a `&'static str`: borrows it; cloning copies a pointer;
/// - text of up to 23 bytes (a typical attribute value, id or route): stored
///   inline; building it copies the bytes a word at a time, cloning copies
///   32 bytes, no allocation and no atomic operation ever;
/// - longer text: one shared allocation (`Arc<str>`); cloning is an atomic
///   increment and never copies the text.
///
/// Equality, ordering and hashing are by content, so every representation
/// of the same text compares equal.
///
/// ```
/// use otlp_core::Str;
///
/// let route: Str = "GET /users".into(); // static: no allocation
/// let user: Str = format!("user-{}", 42).into(); // 7 bytes, inline: the `String` is freed
/// let query: Str = format!("SELECT * FROM carts WHERE user = {}", 42).into(); // shared
/// let copy = query.clone(); // refcount bump, the text is not copied
/// assert_eq!(copy, "SELECT * FROM carts WHERE user = 42");
/// assert!(route.is_static() && user.is_inline() && query.is_shared());
/// assert_eq!(copy.as_ptr(), query.as_ptr());
/// ```
#[derive(Clone)]
pub struct Str(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Inline(InlineStr),
    Shared(Arc<str>),
}

/// Longest text stored inline: what fits beside a length byte in three words.
const INLINE_CAPACITY: usize = 23;

/// Short text stored in place: three words, the text in the first
/// `len` bytes and `len` in the last byte. Invariant: `bytes[..len]` is valid
/// UTF-8 (copied from a `&str`, never modified) and `len <= INLINE_CAPACITY`.
///
/// Word-aligned and built a word at a time, so that a `Str` is always built
/// and moved in whole words (in [`Repr`] every payload starts at offset 8).
/// A fresh `Str` is moved at least once on its way into a span; when the
/// text sat at offset 1 and was assembled with overlapping byte-range
/// copies, that move read words straddling the stores that built it, which
/// stalls store-to-load forwarding on every attribute.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct InlineStr {
    bytes: [u8; INLINE_CAPACITY + 1],
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
        let [first, second, third] = words(source);
        let mut bytes = [0u8; INLINE_CAPACITY + 1];
        bytes[0..8].copy_from_slice(&first.to_le_bytes());
        bytes[8..16].copy_from_slice(&second.to_le_bytes());
        // `third`'s top byte is free (the text ends by byte 23): the length.
        bytes[16..24].copy_from_slice(&(third | (len as u64) << 56).to_le_bytes());
        Some(InlineStr { bytes })
    }

    #[inline]
    fn len(&self) -> usize {
        usize::from(self.bytes[INLINE_CAPACITY])
    }

    #[allow(unsafe_code)]
    #[inline]
    fn as_str(&self) -> &str {
        let bytes = &self.bytes[..self.len()];
        // SAFETY: `InlineStr::new` is the only constructor; it writes exactly
        // the bytes of a `&str` (valid UTF-8) into `bytes[..len]` (`words`
        // reads them in order into little-endian words, zero beyond the text;
        // `len <= 23` goes to the last byte), and nothing mutates them
        // afterwards (no `&mut` access exists). So `bytes[..len]` is that
        // `&str`, which is UTF-8. Exercised by
        // `inline_strings_round_trip_every_length_and_char_boundary`.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

/// `text` (at most [`INLINE_CAPACITY`] bytes) as three little-endian words,
/// zero-padded, read with whole-word loads where the text allows: two that
/// overlap cover any length between one and two words.
#[inline(always)]
fn words(text: &[u8]) -> [u64; 3] {
    /// Up to seven bytes as a word: two overlapping 4-byte loads, or bytes.
    #[inline(always)]
    fn short(bytes: &[u8]) -> u64 {
        let len = bytes.len();
        if len >= 4 {
            let mut low = [0u8; 4];
            let mut high = [0u8; 4];
            low.copy_from_slice(&bytes[..4]);
            high.copy_from_slice(&bytes[len - 4..]);
            u64::from(u32::from_le_bytes(low))
                | u64::from(u32::from_le_bytes(high)) << (8 * (len - 4))
        } else {
            bytes
                .iter()
                .rev()
                .fold(0, |word, &byte| word << 8 | u64::from(byte))
        }
    }
    #[inline(always)]
    fn load(bytes: &[u8], at: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    }
    /// The bytes `[from, len)` of `text`, as a word starting at `from`, read
    /// with one load that ends at `len` (`len - from` in 1..=8, `len >= 8`).
    #[inline(always)]
    fn tail(text: &[u8], from: usize) -> u64 {
        let len = text.len();
        load(text, len - 8) >> (8 * (8 - (len - from)))
    }
    let len = text.len();
    match len {
        17..=24 => [load(text, 0), load(text, 8), tail(text, 16)],
        16 => [load(text, 0), load(text, 8), 0],
        9..=15 => [load(text, 0), tail(text, 8), 0],
        8 => [load(text, 0), 0, 0],
        _ => [short(text), 0, 0],
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
    // Always inlined, so that a short copy is built where it goes (a returned
    // `Str` moved again stalls store-to-load forwarding); the allocating
    // path stays out of line.
    #[inline(always)]
    pub fn copy_from(text: &str) -> Self {
        match InlineStr::new(text) {
            Some(inline) => Str(Repr::Inline(inline)),
            None => Str::copy_shared(text),
        }
    }

    /// Copies `text` into a new shared allocation.
    #[cold]
    #[inline(never)]
    fn copy_shared(text: &str) -> Self {
        Str(Repr::Shared(Arc::from(text)))
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

    /// Whether the text is in a shared allocation (cloning or dropping it
    /// touches a reference count). Anything but `'static` and inline text
    /// counts as shared, so that a representation added later is released
    /// by `KeyValue::clear_vec` unless it is listed here as owning nothing.
    #[inline]
    pub fn is_shared(&self) -> bool {
        !matches!(self.0, Repr::Static(_) | Repr::Inline(_))
    }
}

impl Default for Str {
    #[inline]
    fn default() -> Self {
        Str::EMPTY
    }
}

impl Deref for Str {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    #[inline]
    fn from(text: &'static str) -> Self {
        Str::new_static(text)
    }
}

impl From<String> for Str {
    #[inline]
    fn from(text: String) -> Self {
        match InlineStr::new(&text) {
            Some(inline) => Str(Repr::Inline(inline)),
            None => Str(Repr::Shared(Arc::from(text))),
        }
    }
}

impl From<&String> for Str {
    #[inline]
    fn from(text: &String) -> Self {
        Str::copy_from(text)
    }
}

impl From<Box<str>> for Str {
    #[inline]
    fn from(text: Box<str>) -> Self {
        match InlineStr::new(&text) {
            Some(inline) => Str(Repr::Inline(inline)),
            None => Str(Repr::Shared(Arc::from(text))),
        }
    }
}

impl From<Arc<str>> for Str {
    #[inline]
    fn from(text: Arc<str>) -> Self {
        Str(Repr::Shared(text))
    }
}

impl From<Cow<'static, str>> for Str {
    #[inline]
    fn from(text: Cow<'static, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Str::new_static(text),
            Cow::Owned(text) => Str::from(text),
        }
    }
}

impl From<&Str> for Str {
    #[inline]
    fn from(text: &Str) -> Self {
        text.clone()
    }
}

impl PartialEq for Str {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Str {}

impl PartialEq<str> for Str {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<Str> for &str {
    #[inline]
    fn eq(&self, other: &Str) -> bool {
        *self == other.as_str()
    }
}

impl PartialOrd for Str {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Str {
    #[inline]
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
        // Every byte different, so that a word or a byte out of place shows.
        let alphabet = "abcdefghijklmnopqrstuvwxyz";
        for len in 0..=INLINE_CAPACITY {
            let text = &alphabet[..len];
            let value = Str::copy_from(text);
            assert!(value.is_inline());
            assert_eq!(value.as_str(), text);
            assert_eq!(value.len(), len);
        }
    }

    #[test]
    fn a_str_is_four_words_and_values_lend_its_tag() {
        use std::mem::size_of;
        assert_eq!(size_of::<Str>(), 32);
        // AnyValue's tag lives in the free values of Str's tag byte.
        assert_eq!(size_of::<crate::AnyValue>(), 32);
        assert_eq!(size_of::<crate::KeyValue>(), 64);
    }

    #[test]
    fn cow_keeps_borrowed_text_static() {
        assert!(Str::from(Cow::Borrowed("x")).is_static());
        assert!(!Str::from(Cow::<str>::Owned("x".into())).is_static());
    }
}
