//! How `otlp-receiver` and `otlp-loadgen` read the values of their options
//! (included by both with `#[path]`; not a target of its own), so that a bad
//! value is refused naming the option and the value, exit status 2, where
//! clap alone names neither:
//!
//! - [`parse_words`]: a word starting with a single `-` right after an
//!   option that takes a value (`--http -1`, `--rate -1`, `--jsonl -x`) is
//!   that option's value, judged by its parser (`invalid value '-1' for
//!   '--http <ADDR>': not an IP:PORT address`); clap took it for an unknown
//!   option ("unexpected argument '-1' found"). A word starting with `--` is
//!   still an option: one of the command's leaves the option before it
//!   without a value (`--http --grpc x`: "a value is required for
//!   `'--http <ADDR>'`"), another is an unexpected argument with clap's suggestion
//!   (`--http --gprc x`: "a similar argument exists: '--grpc'").
//! - [`OptionValue`]: a value that is not UTF-8, given to an option that
//!   takes text, is refused naming the option, the value shown with U+FFFD
//!   for what is not UTF-8; clap's own error ("invalid UTF-8 was detected in
//!   one or more arguments") names neither.
//! - [`FileName`]: a file name starting with `-` is refused, more likely a
//!   mistyped option than a file; `./-x` names such a file. A file name that
//!   is not UTF-8 is taken as given.
//!
//! Not clap's `allow_hyphen_values`: it makes an option take any next word,
//! one of the command's options too, so `--http --grpc x` gave `--grpc` to
//! `--http`, and clap, which judges a value written apart only when the next
//! word comes, drops that error for the next word's ("unexpected argument
//! 'x' found"). No option sets it; each command's unit tests check every
//! option that takes a value against `-1` and `--quiet` after it.
//!
//! Cost: none on a command line clap takes as it is; on one where it stops
//! at an unknown word, one parse per word before it to find it, and one more
//! parse per value so attached.

use std::convert::Infallible;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap::builder::{PathBufValueParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Arg, Command, Parser};

/// Parses `words` (the program's name first) as clap does, but for a word
/// starting with a single `-` right after an option that takes a value: clap
/// stops there as at an unknown option, and the words are parsed again with
/// that word attached to the option (`--http -1` read as `--http=-1`), so
/// that the option's parser judges it (see the module).
pub fn parse_words<T: Parser>(
    words: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<T, clap::Error> {
    let mut words: Vec<OsString> = words.into_iter().map(Into::into).collect();
    let mut command = T::command();
    command.build();
    loop {
        match T::try_parse_from(&words) {
            Err(error) if error.kind() == ErrorKind::UnknownArgument => {
                let Some(at) = value_taken_for_an_option(&command, &words) else {
                    return Err(error);
                };
                let mut attached = words[at - 1].clone();
                attached.push("=");
                attached.push(&words[at]);
                words.splice(at - 1..=at, [attached]);
            }
            parsed => return parsed,
        }
    }
}

/// Where clap stopped at an unknown word (the end of the shortest run of
/// words it refuses so) that starts with a single `-` and comes right after
/// an option that takes a value, written apart (`--http -1`): that word's
/// index. Before the word, clap read `--http` as the option (a word starting
/// with `-` is never a value to it), which left it waiting for a value.
fn value_taken_for_an_option(command: &Command, words: &[OsString]) -> Option<usize> {
    let at = (1..words.len()).find(|&end| {
        matches!(
            command.clone().try_get_matches_from(&words[..=end]),
            Err(error) if error.kind() == ErrorKind::UnknownArgument
        )
    })?;
    let word = words[at].as_encoded_bytes();
    if at < 2 || word.len() < 2 || !word.starts_with(b"-") || word.starts_with(b"--") {
        return None;
    }
    let option = words[at - 1].to_str()?.strip_prefix("--")?;
    let takes_a_value = |arg: &Arg| {
        arg.get_action().takes_values()
            && (arg.get_long() == Some(option)
                || arg
                    .get_all_aliases()
                    .is_some_and(|aliases| aliases.contains(&option)))
    };
    command.get_arguments().any(takes_a_value).then_some(at)
}

/// The value parser of an option that takes text: `parse` (a function
/// `fn(&str) -> Result<T, String>`, or any clap value parser), with a value
/// that is not UTF-8 refused naming the option (see the module).
#[derive(Clone, Copy)]
pub struct OptionValue<P>(P);

impl<P> OptionValue<P> {
    /// `parse`, with a value that is not UTF-8 refused naming the option.
    pub const fn new(parse: P) -> Self {
        OptionValue(parse)
    }
}

impl<P: TypedValueParser> TypedValueParser for OptionValue<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<P::Value, clap::Error> {
        self.0.parse_ref(cmd, arg, value).map_err(|error| {
            if error.kind() == ErrorKind::InvalidUtf8 {
                refused(cmd, arg, &value.to_string_lossy(), "not valid UTF-8".into())
            } else {
                error
            }
        })
    }
}

/// The value parser of an option that names a file: a path, empty refused
/// (as by clap's own `PathBuf` parser) and one starting with `-` too, but
/// for `-` alone (see the module).
#[derive(Clone, Copy)]
pub struct FileName;

impl TypedValueParser for FileName {
    type Value = PathBuf;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<PathBuf, clap::Error> {
        let name = value.as_encoded_bytes();
        if name.len() > 1 && name.starts_with(b"-") {
            let shown = value.to_string_lossy();
            let reason =
                format!("starts with '-' as an option does (for a file of that name: ./{shown})");
            return Err(refused(cmd, arg, &shown, reason));
        }
        PathBufValueParser::new().parse_ref(cmd, arg, value)
    }
}

/// clap's error for a value its parser refused, `shown` as the value:
/// `"invalid value 'SHOWN' for '--flag <V>': REASON"`
/// (`ErrorKind::ValueValidation`, the option and the value in its context,
/// where `otlp-loadgen` redacts the values of `--endpoint` and `--header`).
fn refused(cmd: &Command, arg: Option<&Arg>, shown: &str, reason: String) -> clap::Error {
    // clap has no public constructor of this error with a reason: a parser
    // that refuses every value, given `shown`, builds it as for any value.
    let refuse = move |_: &str| Err::<Infallible, String>(reason.clone());
    match refuse.parse_ref(cmd, arg, OsStr::new(shown)) {
        Ok(never) => match never {},
        Err(error) => error,
    }
}
