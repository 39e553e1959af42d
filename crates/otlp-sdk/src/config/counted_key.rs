//! [`Counted`]: a key that counts how often it is compared, for the tests
//! that hold a configuration check to a number of comparisons per key.

use std::cell::Cell;

/// A key (its number) that adds one to its counter at every comparison.
#[derive(Clone, Debug)]
pub(super) struct Counted<'a>(pub(super) u32, pub(super) &'a Cell<u64>);

impl std::hash::Hash for Counted<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for Counted<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.1.set(self.1.get() + 1);
        self.0 == other.0
    }
}

impl Eq for Counted<'_> {}
