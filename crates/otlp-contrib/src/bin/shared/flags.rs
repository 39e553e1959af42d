//! Command-line flags read by hand, shared by the crate's binaries (a dozen
//! flags each do not need a parser crate): `--flag value` or `--flag=value`.

use std::ffi::OsString;

/// The arguments, one flag at a time.
pub struct Flags<I> {
    args: I,
}

impl<I: Iterator<Item = OsString>> Flags<I> {
    /// Reads `args` (without the program name).
    pub fn new(args: impl IntoIterator<Item = OsString, IntoIter = I>) -> Self {
        Flags {
            args: args.into_iter(),
        }
    }

    /// The next flag and its inline value (`--flag=value`), if any.
    pub fn next_flag(&mut self) -> Option<Result<(String, Option<String>), String>> {
        let arg = self.args.next()?;
        Some(
            arg.into_string()
                .map_err(|arg| format!("argument {arg:?} is not UTF-8"))
                .map(|arg| match arg.split_once('=') {
                    Some((flag, value)) if flag.starts_with("--") => {
                        (flag.to_owned(), Some(value.to_owned()))
                    }
                    _ => (arg, None),
                }),
        )
    }

    /// The value of `flag`: its inline one, or else the next argument.
    pub fn value(&mut self, flag: &str, inline: Option<String>) -> Result<String, String> {
        match inline {
            Some(value) => Ok(value),
            None => self
                .args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|value| format!("value {value:?} of {flag} is not UTF-8")),
        }
    }
}
