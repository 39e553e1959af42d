//! [`Layered`]: one builder setting as a loaded configuration and the
//! program's code give it.
//!
//! Every builder with a `with_config` (the tracer, logger and meter
//! providers, the batch processors, the periodic reader) keeps its settings
//! so: a value set in code wins over the configuration's, whichever call
//! came first, as the resource already did ([`ResourceSettings`](crate::resource_settings)):
//! the specification makes the environment the secondary source, under what
//! the program provides, and a loaded [`Config`](crate::config::Config)
//! holds every setting (the defaults included), so that it could not tell
//! what it sets from what it only defaults. Among calls of one kind the
//! later wins: a second `with_config` replaces the first's values, a second
//! `with_sampler` the first's sampler.
//!
//! Plain data, as the value it holds: no allocation of its own.

/// A setting from the configuration and from code; [`value`](Self::value)
/// gives the code's when set, else the configuration's, else a default.
#[derive(Clone, Debug)]
pub(crate) struct Layered<T> {
    /// From the last `with_config`.
    configured: Option<T>,
    /// From the builder's own method, last call.
    code: Option<T>,
}

impl<T> Default for Layered<T> {
    fn default() -> Self {
        Layered {
            configured: None,
            code: None,
        }
    }
}

impl<T> Layered<T> {
    /// The configuration's value (replacing an earlier configuration's).
    pub(crate) fn configure(&mut self, value: T) {
        self.configured = Some(value);
    }

    /// The configuration's value when it has one; none keeps an earlier
    /// configuration's.
    pub(crate) fn configure_some(&mut self, value: Option<T>) {
        if value.is_some() {
            self.configured = value;
        }
    }

    /// The code's value, which wins over the configuration's.
    pub(crate) fn set(&mut self, value: T) {
        self.code = Some(value);
    }

    /// Whether code set a value (which then wins).
    pub(crate) fn is_set_in_code(&self) -> bool {
        self.code.is_some()
    }

    /// The code's value, else the configuration's.
    pub(crate) fn value(self) -> Option<T> {
        self.code.or(self.configured)
    }

    /// The code's value, else the configuration's, else `default`.
    pub(crate) fn value_or(self, default: T) -> T {
        self.value().unwrap_or(default)
    }

    /// The code's value, else the configuration's, else the type's default.
    pub(crate) fn value_or_default(self) -> T
    where
        T: Default,
    {
        self.value().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_wins_over_the_configuration_whichever_came_first() {
        let mut config_first = Layered::default();
        config_first.configure(1);
        config_first.set(2);
        let mut code_first = Layered::default();
        code_first.set(2);
        code_first.configure(1);
        assert_eq!(
            (config_first.value(), code_first.value()),
            (Some(2), Some(2))
        );

        let mut configured = Layered::default();
        configured.configure(1);
        configured.configure_some(None);
        assert_eq!(configured.clone().value_or(9), 1);
        configured.configure(3);
        assert_eq!(configured.value_or(9), 3);
        assert_eq!(Layered::<u8>::default().value_or_default(), 0);
    }
}
