//! The lower and the higher of two measurements, as IEEE 754's `minimum`
//! and `maximum` order them: shared by the explicit and the exponential
//! histograms' minimum and maximum.

/// The lower of two values, -0.0 below 0.0 (IEEE 754's `minimum`), so that
/// a minimum does not depend on the order of its values (`f64::min` and `<`
/// keep whichever zero came first). Neither value is NaN: aggregations that
/// keep a minimum leave NaN out.
#[inline]
pub(crate) fn lower(a: f64, b: f64) -> f64 {
    if b.total_cmp(&a).is_lt() { b } else { a }
}

/// The higher of two values, 0.0 above -0.0 (IEEE 754's `maximum`); see
/// [`lower`].
#[inline]
pub(crate) fn higher(a: f64, b: f64) -> f64 {
    if b.total_cmp(&a).is_gt() { b } else { a }
}
