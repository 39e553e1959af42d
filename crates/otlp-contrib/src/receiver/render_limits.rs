//! Limits that keep the text of [`render_traces`](super::render_traces),
//! [`render_logs`](super::render_logs) and
//! [`render_metrics`](super::render_metrics) proportional to the request it
//! shows, so that `otlp-receiver` cannot be made to print (and hold in
//! memory) gigabytes for a small hostile request.
//!
//! Cost model: one line per span, log record or data point, each bounded by
//! a small multiple of that item's own bytes plus one clipped service name
//! (and, for metrics, a clipped metric name and unit). Two things could still
//! multiply: a name repeated on every line, and a long request of tiny items
//! (an empty log record is 2 bytes on the wire, its line a dozen). So names
//! are clipped to [`MAX_NAME_CHARS`], and a [`RenderBudget`] stops a
//! rendering once its text reaches [`BYTES_PER_REQUEST_BYTE`] times the
//! request's encoded size, ending it with a line that says how much was left
//! out. The whole text is then at most that budget plus one line.
//!
//! Text from the request is also made printable ([`printable`]): a control
//! character (an ANSI escape, a carriage return, a newline that would fake a
//! line of its own) is written escaped, as Rust writes it (`\u{1b}`, `\n`),
//! so a request cannot rewrite the operator's terminal or the lines a script
//! reads. So are the Unicode line and paragraph separators (U+2028, U+2029:
//! a line break to editors and log viewers) and the bidirectional formatting
//! characters (U+202A to U+202E, U+2066 to U+2069, the marks U+200E, U+200F
//! and U+061C), which make a terminal or viewer that honours them show the
//! rest of a line reordered (the "Trojan Source" trick): a value could hide
//! what follows it, or fake another. Other characters, any script's, are
//! written as they are.

use std::borrow::Cow;
use std::fmt::Write;

use otlp_core::printable::needs_escape;

/// The longest name printed (a service name, span name, metric name or
/// unit), in characters: far more than any real one. A longer name is cut
/// there and ends with `…`.
pub(crate) const MAX_NAME_CHARS: usize = 256;

/// Bytes of text a rendering may grow to per byte of the encoded request:
/// what real requests need is 1 to 3 (ids print as hex, durations and
/// severities as words). Past it, the rest is summed up in one line.
pub(crate) const BYTES_PER_REQUEST_BYTE: usize = 8;

/// The least budget, whatever the request's size, so a small request is
/// never cut short; being a constant, it cannot be multiplied by a request.
pub(crate) const MIN_BUDGET: usize = 16 << 10;

/// `name` cut to [`MAX_NAME_CHARS`] characters, then `…`, and made
/// [`printable`]; borrowed when it fits and has nothing to escape.
pub(crate) fn clip(name: &str) -> Cow<'_, str> {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => Cow::Owned(format!("{}…", printable(&name[..end]))),
        None => printable(name),
    }
}

/// `text` with its control characters escaped (`\u{1b}`, `\r`, `\n`, `\t`),
/// and its line separators and bidirectional formatting characters too
/// (`\u{2028}`, `\u{202e}`); borrowed when it has none.
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// How much text a rendering may still write, and how many of its items
/// (spans, log records, data points) it has written.
///
/// Invariant: once [`admits`](Self::admits) has said no, it says no for good,
/// so a rendering stops at the first line over the budget.
#[derive(Debug)]
pub(crate) struct RenderBudget {
    limit: usize,
    total: u64,
    printed: u64,
    truncated: bool,
}

impl RenderBudget {
    /// The budget of a request of `encoded_len` bytes holding `total` items.
    pub(crate) fn new(encoded_len: usize, total: u64) -> Self {
        RenderBudget {
            limit: encoded_len
                .saturating_mul(BYTES_PER_REQUEST_BYTE)
                .max(MIN_BUDGET),
            total,
            printed: 0,
            truncated: false,
        }
    }

    /// Whether one more line may be written after `out`.
    pub(crate) fn admits(&mut self, out: &str) -> bool {
        if out.len() >= self.limit {
            self.truncated = true;
        }
        !self.truncated
    }

    /// Counts `items` written.
    pub(crate) fn count(&mut self, items: u64) {
        self.printed = self.printed.saturating_add(items);
    }

    /// Ends a rendering that was cut short with a line saying so, naming the
    /// items (`spans`, `log records`, `data points`); nothing otherwise.
    pub(crate) fn finish(&self, out: &mut String, items: &str) {
        if self.truncated {
            let _ = writeln!(
                out,
                "  … output truncated at {} bytes: {} of {} {items} printed",
                self.limit, self.printed, self.total
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_clipped_at_a_character_boundary() {
        assert_eq!(clip("checkout"), "checkout");
        let exact = "é".repeat(MAX_NAME_CHARS);
        assert_eq!(clip(&exact), exact);
        let long = "é".repeat(MAX_NAME_CHARS + 1);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_NAME_CHARS + 1);
        assert!(clipped.ends_with("é…"), "{clipped}");
    }

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(printable("ünï 名前"), Cow::Borrowed("ünï 名前")));
        assert_eq!(
            printable("\u{1b}[2Jred\rfinal requests=0\n\u{7}"),
            "\\u{1b}[2Jred\\rfinal requests=0\\n\\u{7}"
        );
        let long = format!("{}\n", "a".repeat(MAX_NAME_CHARS - 1));
        assert_eq!(
            clip(&long),
            format!("{}\\n", "a".repeat(MAX_NAME_CHARS - 1))
        );
    }

    #[test]
    fn line_separators_and_bidi_controls_are_escaped() {
        // A right-to-left override would show `requests=0 lanif` reversed
        // as the rest of the line; a line separator starts a line in an editor.
        assert_eq!(
            printable("ok\u{202e}0=stseuqer lanif\u{2028}fake line\u{2066}x\u{2069}\u{200f}"),
            "ok\\u{202e}0=stseuqer lanif\\u{2028}fake line\\u{2066}x\\u{2069}\\u{200f}"
        );
        // Right-to-left scripts and joiners are text, written as they are.
        assert!(matches!(
            printable("שלום عربي \u{200d}"),
            Cow::Borrowed("שלום عربي \u{200d}")
        ));
    }

    #[test]
    fn the_budget_stops_for_good_and_says_what_was_left_out() {
        let mut budget = RenderBudget::new(10, 5);
        let mut out = String::new();
        assert!(budget.admits(&out));
        budget.count(1);
        out.push_str(&"x".repeat(MIN_BUDGET));
        assert!(!budget.admits(&out));
        out.clear();
        assert!(!budget.admits(&out), "no once over, no for good");
        budget.finish(&mut out, "spans");
        assert_eq!(
            out,
            format!("  … output truncated at {MIN_BUDGET} bytes: 1 of 5 spans printed\n")
        );
        let mut out = String::new();
        RenderBudget::new(10, 5).finish(&mut out, "spans");
        assert!(out.is_empty());
        assert_eq!(
            RenderBudget::new(1 << 20, 0).limit,
            BYTES_PER_REQUEST_BYTE << 20
        );
    }
}
