//! How numbers are written in the tables: ratios and thousands.

/// `5.23x`, `0.041x`.
pub fn ratio(value: f64) -> String {
    if !value.is_finite() {
        "–".to_owned()
    } else if value >= 10.0 {
        format!("{value:.1}x")
    } else if value >= 0.1 {
        format!("{value:.2}x")
    } else {
        format!("{value:.3}x")
    }
}

/// `1,000,000`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
