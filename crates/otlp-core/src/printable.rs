//! Text from outside (a server's error message, a configuration key, a
//! request's names) shown on a terminal or in a log line, so that it cannot
//! change what the text around it looks like: no escape sequence that
//! rewrites the terminal, no newline that fakes a line of its own, no
//! bidirectional override that shows its characters in another order.
//!
//! [`needs_escape`] says which characters are written escaped, and
//! [`Printable`] writes a text with them escaped (`\u{1b}`, `\n`,
//! `\u{202e}`), every other character as it is. [`one_line`] makes a
//! server's message (an error body, a status or partial-success message)
//! fit for one log line: every character [`needs_escape`] names (control
//! characters, line and paragraph separators, bidirectional formatting)
//! becomes a space, and it is cut to a byte budget.
//!
//! ```
//! use otlp_core::printable::Printable;
//!
//! let shown = Printable("bad\u{1b}[2Jkey\nfake line").to_string();
//! assert_eq!(shown, "bad\\u{1b}[2Jkey\\nfake line");
//! ```

use std::fmt;

/// Whether `c` could change how the text around it shows: a control
/// character, a Unicode line or paragraph separator, or a bidirectional
/// formatting character (an embedding, override or isolate, or a mark).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
        )
}

/// A text written with every character [`needs_escape`] names escaped as
/// Rust writes it (`char::escape_default`), the others as they are.
#[derive(Clone, Copy, Debug)]
pub struct Printable<'a>(pub &'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(f, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// `text`, a server's message, made fit for one log line: the characters
/// [`needs_escape`] names (control characters such as an ANSI escape or a
/// newline that would fake a line of its own, the Unicode line and paragraph
/// separators, bidirectional formatting that reorders the rest of the line)
/// become spaces, surrounding whitespace goes, and it is cut at a character
/// boundary to at most `max_bytes` bytes, ending with `…` when cut.
pub fn one_line(text: &str, max_bytes: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if needs_escape(c) { ' ' } else { c })
        .collect();
    let text = cleaned.trim();
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    const ELLIPSIS: char = '…';
    let mut end = max_bytes.saturating_sub(ELLIPSIS.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text[..end].to_owned();
    cut.push(ELLIPSIS);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_characters_that_change_the_line_are_escaped() {
        let text = "é\u{2028}a\u{202e}b\u{7}\tc\u{2066}🙂";
        assert_eq!(
            Printable(text).to_string(),
            "é\\u{2028}a\\u{202e}b\\u{7}\\tc\\u{2066}🙂"
        );
        assert_eq!(Printable("plain text").to_string(), "plain text");
        assert_eq!(Printable("").to_string(), "");
    }

    #[test]
    fn a_message_made_one_line_has_no_control_characters_and_fits_its_budget() {
        assert_eq!(one_line("\n\u{1b}[2Jfake\r\nline\t ", 64), "[2Jfake  line");
        let long = "é".repeat(100);
        let cut = one_line(&long, 51);
        assert!(cut.len() <= 51 && cut.ends_with('…'), "{cut}");
        assert_eq!(one_line("short", 5), "short");
    }

    #[test]
    fn a_message_made_one_line_has_no_line_separator_or_bidirectional_control() {
        // U+2028 breaks the line in many viewers; U+202E shows the rest of
        // the line reversed: neither is a control character to `char`.
        assert_eq!(
            one_line(
                "refused\u{2028}fake: ok\u{2029}x \u{202e}kcatta\u{2066}y",
                64
            ),
            "refused fake: ok x  kcatta y"
        );
    }
}
