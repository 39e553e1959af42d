//! [`Rotation`]: size-based rotation of a [`FileExporter`](super::FileExporter)'s
//! file, with the options of the Collector's `fileexporter` (`rotation:
//! max_megabytes, max_days, max_backups`) and the backup names of the
//! `lumberjack` library it uses (`traces-2026-12-08T00-15-30.123.jsonl`).
//!
//! Cost model: one `fstat` per line (the size of the open file). A rotation costs a `rename`, an `open`
//! and one listing of the file's directory to remove the backups beyond the
//! limits, on the writer thread.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::civil_date::civil_from_days;

/// Bytes in one of `max_megabytes`' megabytes: lumberjack's (and so the
/// Collector's) megabyte, 1024 × 1024.
const MEGABYTE: u64 = 1024 * 1024;

/// The Collector's default `max_megabytes`.
const DEFAULT_MAX_MEGABYTES: u64 = 100;

/// The Collector's default `max_backups`.
const DEFAULT_MAX_BACKUPS: usize = 100;

/// The largest `max_megabytes`: its bytes must fit a `u64`. Beyond it the
/// builder refuses the value.
const LARGEST_MAX_MEGABYTES: u64 = u64::MAX / MEGABYTE;

/// The largest `max_days` (about 27 centuries), so that the age in
/// milliseconds fits a `u64`. Beyond it the builder refuses the value.
const LARGEST_MAX_DAYS: u32 = 1_000_000;

/// Names tried for one backup, a millisecond apart, when a backup of the
/// same millisecond exists (rotations quicker than a millisecond): one
/// second's worth. Past it the file is not rotated and a warning says so.
const BACKUP_NAME_ATTEMPTS: u64 = 1000;

/// `YYYY-MM-DDTHH-MM-SS.mmm`: lumberjack's `2006-01-02T15-04-05.000`.
const TIMESTAMP_LEN: usize = 23;

const MILLIS_PER_DAY: u64 = 86_400_000;

/// Size-based rotation of a file exporter's file, set with
/// [`FileExporterBuilder::rotation`](super::FileExporterBuilder::rotation).
///
/// Before writing a line, the writer checks the size of its file: when the
/// line would take a file that is not empty past
/// [`max_megabytes`](Rotation::max_megabytes), the file is renamed to a
/// backup beside it, named after it and the time of the rotation in UTC
/// (`traces.jsonl` becomes `traces-2026-12-08T00-15-30.123.jsonl`, as the
/// Collector's `fileexporter` names them), and the line starts a new file at
/// the path. A line is never split between two files, and never dropped for
/// its size: a line larger than `max_megabytes` is written whole, alone in
/// a file of its own. Then the backups beyond
/// [`max_backups`](Rotation::max_backups), the oldest first, and those older
/// than [`max_days`](Rotation::max_days) (by the time in their name) are
/// removed. A backup is a file of the directory named `<stem>-<time>.<ext>`
/// with a time of that form; nothing else there is touched.
///
/// Defaults are the Collector's: 100 megabytes, 100 backups, any age.
/// Backup times are in UTC, the Collector's default (`localtime: false`);
/// local time is not offered (the standard library has no time zones).
///
/// Rotating loses no line (only the limits remove backups, as asked): if
/// the file cannot be renamed (permissions of its directory), the line goes
/// to it all the same, past the limit, the process's warning handler is
/// told ([`otlp_sdk::diagnostics::warn`]), and the next line tries again; a
/// backup that cannot be removed is a warning too. Only regular files are
/// rotated (a named pipe or `/dev/null` is not). One exporter per file:
/// two exporters rotating one file may each rotate it (more, smaller
/// backups; no line lost).
///
/// Cost: one `fstat` per line (the size of the open file); a rotation costs a `rename`, an
/// `open` and one listing of the file's directory, on the exporter's writer
/// thread. A `Rotation` is a plain value (`Copy`); its values are checked by
/// [`FileExporterBuilder::build`](super::FileExporterBuilder::build), which
/// refuses a value out of range with
/// [`FileExporterError::InvalidRotation`](super::FileExporterError::InvalidRotation)
/// naming the option and the value.
///
/// ```
/// use otlp_contrib::file_exporter::{FileExporter, Rotation};
///
/// # let dir = std::env::temp_dir().join(format!("otlp-file-rotation-doc-{}", std::process::id()));
/// let exporter = FileExporter::builder(dir.join("traces.jsonl"))
///     .rotation(Rotation::new().max_megabytes(10).max_backups(3).max_days(7))
///     .build()?;
/// # drop(exporter);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    max_megabytes: u64,
    max_backups: usize,
    /// `None`: backups of any age are kept.
    max_days: Option<u32>,
}

impl Default for Rotation {
    /// The Collector's defaults: 100 megabytes, 100 backups, any age.
    fn default() -> Rotation {
        Rotation {
            max_megabytes: DEFAULT_MAX_MEGABYTES,
            max_backups: DEFAULT_MAX_BACKUPS,
            max_days: None,
        }
    }
}

/// An option of a [`Rotation`] out of range: the option's name, its value,
/// why it was refused.
pub(super) type InvalidOption = (&'static str, u64, &'static str);

impl Rotation {
    /// Rotation with the Collector's defaults (see [`Default`]).
    pub fn new() -> Rotation {
        Rotation::default()
    }

    /// The size in megabytes (of 1024 × 1024 bytes) a file may reach before
    /// it is rotated (default 100; the Collector's `max_megabytes`). At
    /// least 1.
    pub fn max_megabytes(mut self, megabytes: u64) -> Rotation {
        self.max_megabytes = megabytes;
        self
    }

    /// The number of backups kept, the newest (default 100; the Collector's
    /// `max_backups`). At least 1: the Collector's `0`, which keeps every
    /// backup, is `usize::MAX` here.
    pub fn max_backups(mut self, backups: usize) -> Rotation {
        self.max_backups = backups;
        self
    }

    /// The age in days (of 24 hours, by the time in a backup's name) past
    /// which a backup is removed at the next rotation (default: none, any
    /// age is kept; the Collector's `max_days`). At least 1.
    pub fn max_days(mut self, days: u32) -> Rotation {
        self.max_days = Some(days);
        self
    }

    /// The first option out of range, if any.
    pub(super) fn check(&self) -> Result<(), InvalidOption> {
        if self.max_megabytes == 0 {
            return Err((
                "max_megabytes",
                0,
                "a file must be allowed at least one megabyte",
            ));
        }
        if self.max_megabytes > LARGEST_MAX_MEGABYTES {
            return Err((
                "max_megabytes",
                self.max_megabytes,
                "its size in bytes does not fit 64 bits",
            ));
        }
        if self.max_backups == 0 {
            return Err((
                "max_backups",
                0,
                "every rotated file would be removed at once; keep at least one backup \
                 (usize::MAX keeps every backup, as the Collector's 0 does)",
            ));
        }
        match self.max_days {
            Some(0) => Err((
                "max_days",
                0,
                "every rotated file would be removed at once; leave max_days unset to keep \
                 backups of any age",
            )),
            Some(days) if days > LARGEST_MAX_DAYS => Err((
                "max_days",
                u64::from(days),
                "more than a million days; leave max_days unset to keep backups of any age",
            )),
            _ => Ok(()),
        }
    }
}

/// A checked [`Rotation`] of one file, on the writer thread.
#[derive(Debug)]
pub(super) struct RotatingFile {
    /// The file's path, absolute.
    pub(super) path: PathBuf,
    max_bytes: u64,
    max_backups: usize,
    max_age: Option<Duration>,
}

impl RotatingFile {
    /// `rotation` of the file at `path` (absolute); `rotation` was checked.
    pub(super) fn new(path: PathBuf, rotation: Rotation) -> RotatingFile {
        RotatingFile {
            path,
            max_bytes: rotation.max_megabytes.saturating_mul(MEGABYTE),
            max_backups: rotation.max_backups,
            max_age: rotation
                .max_days
                .map(|days| Duration::from_millis(u64::from(days) * MILLIS_PER_DAY)),
        }
    }

    /// Whether a line of `line_len` bytes must start a new file, the open
    /// one holding `size` bytes: it would take a file that is not empty past
    /// the limit. An empty file takes any line, whole.
    pub(super) fn is_due(&self, size: u64, line_len: usize) -> bool {
        size > 0
            && size.saturating_add(u64::try_from(line_len).unwrap_or(u64::MAX)) > self.max_bytes
    }

    /// Renames the file at the path to a backup named after `now`, a free
    /// name (a millisecond later while one is taken). Returns the backup's
    /// path.
    pub(super) fn rename_to_backup(&self, now: SystemTime) -> io::Result<PathBuf> {
        let millis = millis_since_epoch(now);
        for later in 0..BACKUP_NAME_ATTEMPTS {
            let backup = backup_path(&self.path, millis.saturating_add(later));
            // A rename replaces what is at its target: only to a free name.
            if fs::symlink_metadata(&backup).is_ok() {
                continue;
            }
            fs::rename(&self.path, &backup)?;
            return Ok(backup);
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "the {BACKUP_NAME_ATTEMPTS} backup names after {} are taken",
                backup_path(&self.path, millis).display()
            ),
        ))
    }

    /// Removes the backups beyond `max_backups` (the oldest) and those older
    /// than `max_age` at `now`. Returns the backups that could not be
    /// removed, with why.
    pub(super) fn remove_old_backups(&self, now: SystemTime) -> Vec<(PathBuf, io::Error)> {
        let mut failures = Vec::new();
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) => {
                failures.push((dir.to_path_buf(), error));
                return failures;
            }
        };
        let Some((stem, ext)) = stem_and_extension(&self.path) else {
            return failures;
        };
        let mut backups: Vec<(u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .filter_map(|entry| {
                let name = entry.file_name();
                let millis = backup_millis(name.to_str()?, &stem, &ext)?;
                Some((millis, entry.path()))
            })
            .collect();
        // Newest first.
        backups.sort_unstable_by(|a, b| b.cmp(a));
        let cutoff = self.max_age.map(|age| {
            millis_since_epoch(now).saturating_sub(u64::try_from(age.as_millis()).unwrap_or(0))
        });
        for (index, (millis, backup)) in backups.into_iter().enumerate() {
            let too_many = index >= self.max_backups;
            let too_old = cutoff.is_some_and(|cutoff| millis < cutoff);
            if (too_many || too_old)
                && let Err(error) = fs::remove_file(&backup)
                && error.kind() != io::ErrorKind::NotFound
            {
                failures.push((backup, error));
            }
        }
        failures
    }
}

/// Milliseconds since the Unix epoch (0 before it).
fn millis_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    })
}

/// A file name's stem and extension, as the backup names split them:
/// `traces.jsonl` is (`traces`, `.jsonl`), `traces` is (`traces`, ``).
/// `None` for a name that is not UTF-8.
fn stem_and_extension(path: &Path) -> Option<(String, String)> {
    let stem = path.file_stem()?.to_str()?.to_owned();
    let ext = match path.extension() {
        Some(ext) => format!(".{}", ext.to_str()?),
        None => String::new(),
    };
    Some((stem, ext))
}

/// The backup of `path` rotated at `millis`: `<stem>-<time>.<ext>` beside it.
fn backup_path(path: &Path, millis: u64) -> PathBuf {
    let stamp = format_timestamp(millis);
    let name = match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) => {
            let mut name = stem.to_os_string();
            name.push(format!("-{stamp}."));
            name.push(ext);
            name
        }
        (Some(stem), None) => {
            let mut name = stem.to_os_string();
            name.push(format!("-{stamp}"));
            name
        }
        _ => format!("backup-{stamp}").into(),
    };
    path.with_file_name(name)
}

/// The time a backup of `<stem><ext>` was rotated at, from its name; `None`
/// for a name that is not one of its backups.
fn backup_millis(name: &str, stem: &str, ext: &str) -> Option<u64> {
    let stamp = name
        .strip_prefix(stem)?
        .strip_prefix('-')?
        .strip_suffix(ext)?;
    parse_timestamp(stamp)
}

/// `YYYY-MM-DDTHH-MM-SS.mmm` (UTC) for `millis` since the epoch.
fn format_timestamp(millis: u64) -> String {
    let days = millis / MILLIS_PER_DAY;
    let of_day = millis % MILLIS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}.{:03}",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// Milliseconds since the epoch of a `YYYY-MM-DDTHH-MM-SS.mmm` time;
/// `None` if `stamp` is not one (exactly, every field in range).
fn parse_timestamp(stamp: &str) -> Option<u64> {
    let bytes = stamp.as_bytes();
    if bytes.len() != TIMESTAMP_LEN {
        return None;
    }
    for (at, separator) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b'-'),
        (16, b'-'),
        (19, b'.'),
    ] {
        if bytes[at] != separator {
            return None;
        }
    }
    let number = |from: usize, to: usize| -> Option<u64> {
        let digits = &bytes[from..to];
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        digits
            .iter()
            .try_fold(0u64, |n, digit| Some(n * 10 + u64::from(digit - b'0')))
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second, milli) = (
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        number(20, 23)?,
    );
    if year < 1970
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * MILLIS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + milli)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date on or after it (the inverse of
/// [`civil_from_days`]).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_lumberjacks_in_utc_and_read_back() {
        assert_eq!(format_timestamp(0), "1970-01-01T00-00-00.000");
        // 2024-02-29T23:59:59.999Z, a leap day.
        let leap = 1_709_251_199_999;
        assert_eq!(format_timestamp(leap), "2024-02-29T23-59-59.999");
        assert_eq!(parse_timestamp("2024-02-29T23-59-59.999"), Some(leap));
        for millis in (0..4_000_000_000_000u64).step_by(7_919_999_999) {
            assert_eq!(parse_timestamp(&format_timestamp(millis)), Some(millis));
        }
        for not_one in [
            "2023-02-29T00-00-00.000",
            "2024-13-01T00-00-00.000",
            "2024-01-01T24-00-00.000",
            "2024-01-01 00-00-00.000",
            "2024-01-01T00-00-00.00",
            "1969-12-31T23-59-59.999",
            "+024-01-01T00-00-00.000",
        ] {
            assert_eq!(parse_timestamp(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn backups_are_named_after_the_file_and_recognised_by_name_only() {
        let millis = 1_765_152_930_123;
        assert_eq!(
            backup_path(Path::new("/var/log/traces.jsonl"), millis),
            Path::new("/var/log/traces-2025-12-08T00-15-30.123.jsonl")
        );
        assert_eq!(
            backup_path(Path::new("/var/log/traces"), millis),
            Path::new("/var/log/traces-2025-12-08T00-15-30.123")
        );
        let stamp = "2025-12-08T00-15-30.123";
        assert_eq!(
            backup_millis(&format!("traces-{stamp}.jsonl"), "traces", ".jsonl"),
            Some(millis)
        );
        assert_eq!(backup_millis("traces.jsonl", "traces", ".jsonl"), None);
        assert_eq!(
            backup_millis(&format!("traces-{stamp}.json"), "traces", ".jsonl"),
            None
        );
        assert_eq!(
            backup_millis(&format!("other-{stamp}.jsonl"), "traces", ".jsonl"),
            None
        );
        assert_eq!(
            backup_millis(&format!("traces-x-{stamp}.jsonl"), "traces", ".jsonl"),
            None
        );
    }

    #[test]
    fn a_line_starts_a_new_file_only_past_the_limit_and_never_in_an_empty_one() {
        let file = RotatingFile::new(PathBuf::from("/t.jsonl"), Rotation::new().max_megabytes(1));
        assert!(!file.is_due(0, 5 * MEGABYTE as usize));
        assert!(!file.is_due(MEGABYTE - 10, 10));
        assert!(file.is_due(MEGABYTE - 10, 11));
        assert!(file.is_due(1, usize::MAX));
    }

    /// Two rotations in one millisecond (a small limit, a fast disk): the
    /// second backup is named a millisecond later, never over the first (a
    /// rename replaces its target: the first backup's lines were lost).
    #[test]
    fn a_backup_never_replaces_another_of_the_same_millisecond() {
        let dir =
            std::env::temp_dir().join(format!("otlp-rotation-same-ms-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        let file = RotatingFile::new(path.clone(), Rotation::new());
        let now = UNIX_EPOCH + Duration::from_millis(1_765_152_930_123);
        fs::write(&path, "first\n").unwrap();
        let first = file.rename_to_backup(now).unwrap();
        fs::write(&path, "second\n").unwrap();
        let second = file.rename_to_backup(now).unwrap();
        assert_eq!(first, dir.join("t-2025-12-08T00-15-30.123.jsonl"));
        assert_eq!(second, dir.join("t-2025-12-08T00-15-30.124.jsonl"));
        assert_eq!(fs::read_to_string(&first).unwrap(), "first\n");
        assert_eq!(fs::read_to_string(&second).unwrap(), "second\n");
        assert!(!path.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn out_of_range_options_are_named_with_their_value() {
        assert_eq!(Rotation::new().check(), Ok(()));
        let refused =
            |rotation: Rotation| rotation.check().map_err(|(name, value, _)| (name, value));
        assert_eq!(
            refused(Rotation::new().max_megabytes(0)),
            Err(("max_megabytes", 0))
        );
        assert_eq!(
            refused(Rotation::new().max_megabytes(u64::MAX)),
            Err(("max_megabytes", u64::MAX))
        );
        assert_eq!(
            refused(Rotation::new().max_backups(0)),
            Err(("max_backups", 0))
        );
        assert_eq!(refused(Rotation::new().max_days(0)), Err(("max_days", 0)));
        assert_eq!(
            refused(Rotation::new().max_days(u32::MAX)),
            Err(("max_days", u64::from(u32::MAX)))
        );
        assert_eq!(
            Rotation::new()
                .max_megabytes(LARGEST_MAX_MEGABYTES)
                .max_backups(usize::MAX)
                .max_days(LARGEST_MAX_DAYS)
                .check(),
            Ok(())
        );
    }
}
