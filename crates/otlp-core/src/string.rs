//! [`Str`]: the string type used for every name, key and string value.

use std::borrow::{Borrow, Cow};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// An immutable string that is free to clone when `'static` and one
/// reference-count increment to clone when shared.
///
/// Cost model: built from a `&'static str` it neither allocates nor counts
/// references; built from a `String` it allocates once (the `Arc<str>`), and
/// every clone after that is an atomic increment. It never copies the text
/// after construction. Equality, ordering and hashing are by content, so a
/// static and a shared `Str` holding the same text are equal.
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
    Shared(Arc<str>),
}

impl Str {
    /// The empty string (static).
    pub const EMPTY: Str = Str::new_static("");

    /// Wraps a static string; usable in `const` contexts.
    pub const fn new_static(text: &'static str) -> Self {
        Str(Repr::Static(text))
    }

    /// Copies `text` into a new shared allocation.
    pub fn copy_from(text: &str) -> Self {
        Str(Repr::Shared(Arc::from(text)))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(text) => text,
            Repr::Shared(text) => text,
        }
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
        Str(Repr::Shared(Arc::from(text)))
    }
}

impl From<Box<str>> for Str {
    fn from(text: Box<str>) -> Self {
        Str(Repr::Shared(Arc::from(text)))
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
        let shared = Str::from(String::from("abc"));
        let copy = shared.clone();
        assert_eq!(shared.as_str().as_ptr(), copy.as_str().as_ptr());
    }

    #[test]
    fn cow_keeps_borrowed_text_static() {
        assert!(Str::from(Cow::Borrowed("x")).is_static());
        assert!(!Str::from(Cow::<str>::Owned("x".into())).is_static());
    }
}
