//! [`InstrumentKind`]: the seven kinds of instrument, and what each kind
//! implies for its stream (monotonic sums, negative measurements, callbacks).

/// The kinds of instrument, as views select them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// Monotonic sum, recorded synchronously.
    Counter,
    /// Non-monotonic sum, recorded synchronously.
    UpDownCounter,
    /// Distribution, recorded synchronously.
    Histogram,
    /// Last value, recorded synchronously.
    Gauge,
    /// Monotonic sum, observed by a callback.
    ObservableCounter,
    /// Non-monotonic sum, observed by a callback.
    ObservableUpDownCounter,
    /// Last value, observed by a callback.
    ObservableGauge,
}

impl InstrumentKind {
    /// Whether its sums only increase (what OTLP's `is_monotonic` says).
    pub(crate) const fn is_monotonic(self) -> bool {
        matches!(
            self,
            InstrumentKind::Counter | InstrumentKind::ObservableCounter | InstrumentKind::Histogram
        )
    }

    /// Whether its measurements may be negative, so that a histogram of
    /// them carries no sum (the spec: the sum "SHOULD NOT be collected when
    /// used with instruments that record negative measurements (e.g.
    /// UpDownCounter or ObservableGauge)").
    pub(crate) const fn records_negative(self) -> bool {
        matches!(
            self,
            InstrumentKind::UpDownCounter
                | InstrumentKind::ObservableUpDownCounter
                | InstrumentKind::Gauge
                | InstrumentKind::ObservableGauge
        )
    }

    /// Whether a callback observes it.
    pub(crate) const fn is_observable(self) -> bool {
        matches!(
            self,
            InstrumentKind::ObservableCounter
                | InstrumentKind::ObservableUpDownCounter
                | InstrumentKind::ObservableGauge
        )
    }
}
