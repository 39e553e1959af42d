//! [`FileExporter`]: OTLP/JSON lines to a file or standard output, the format
//! of the OpenTelemetry specification's file exporter.
//!
//! Every export request becomes exactly one line: the
//! `ExportTraceServiceRequest` (or, for the signal it was built for, the
//! `ExportLogsServiceRequest` or `ExportMetricsServiceRequest`) in OTLP/JSON,
//! as the pipeline already encoded it (no re-encoding), followed by `\n`.
//! Any OTLP/JSON reader, the Collector's `otlpjsonfile` receiver or
//! `opentelemetry-proto`'s serde types, reads the file back line by line.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::SystemTime;

use otlp_core::encode::Encoding;
use otlp_sdk::{ExportError, ExportOutcome, ExportRequest, Exporter, Signal};
use tokio::sync::{mpsc, oneshot};

mod rotation;

use rotation::RotatingFile;
pub use rotation::Rotation;

/// Requests waiting for the writer thread; an export waits (cancellably) for room.
const QUEUED_REQUESTS: usize = 16;

/// The line buffer kept between requests: room for a usual batch (512 spans
/// of a few hundred bytes each) without allocating; a larger line's buffer is
/// freed once written, not kept for the exporter's life.
const KEPT_LINE_CAPACITY: usize = 1 << 20;

/// Why a [`FileExporter`] could not be built. Names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileExporterError {
    /// The file (or a missing parent directory) could not be created or opened.
    #[error("cannot open {} for appending: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The writer thread could not be started.
    #[error("cannot start the file exporter's writer thread: {0}")]
    Thread(#[source] io::Error),
    /// A [`Rotation`] option is out of range (`max_megabytes(0)`, ...).
    #[error(
        "invalid value {value} for the rotation option {option} of {}: {reason}",
        path.display()
    )]
    InvalidRotation {
        /// The file (as given to the builder).
        path: PathBuf,
        /// The option: `max_megabytes`, `max_backups` or `max_days`.
        option: &'static str,
        /// The value refused.
        value: u64,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Another exporter of this process writes another signal to the file:
    /// a file holds one signal (the OpenTelemetry file exporter's "files
    /// must contain exactly one type of data").
    #[error(
        "{} already receives {held} from another file exporter of this process, and a file holds one signal: write {wanted} to a file of its own",
        path.display()
    )]
    SignalConflict {
        /// The file (as given to the builder).
        path: PathBuf,
        /// The signal the file holds.
        held: Signal,
        /// The signal refused.
        wanted: Signal,
    },
}

/// The signal each file a live exporter of this process writes holds, by
/// canonical path, with the number of exporters holding it.
static CLAIMS: LazyLock<Mutex<HashMap<PathBuf, (Signal, usize)>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// An exporter's hold on its file for its signal, released when dropped.
struct PathClaim {
    /// As given to the builder, for messages.
    path: PathBuf,
    /// The key in [`CLAIMS`].
    canonical: PathBuf,
    signal: Signal,
    /// Whether this exporter holds the file (a [`FileExporter::for_signal`]
    /// refused for a conflict holds nothing).
    held: bool,
}

impl PathClaim {
    /// Holds `path` for `signal`, or says which signal it holds.
    fn take(path: &Path, signal: Signal) -> Result<PathClaim, FileExporterError> {
        // One file under several spellings (`./a`, `a`, through a symlink)
        // is one key; a path that cannot be resolved is taken as given.
        let canonical = std::fs::canonicalize(path)
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf());
        let mut claim = PathClaim {
            path: path.to_path_buf(),
            canonical,
            signal,
            held: false,
        };
        claim.hold()?;
        Ok(claim)
    }

    fn hold(&mut self) -> Result<(), FileExporterError> {
        let mut claims = CLAIMS.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = claims
            .entry(self.canonical.clone())
            .or_insert((self.signal, 0));
        if entry.0 != self.signal {
            return Err(FileExporterError::SignalConflict {
                path: self.path.clone(),
                held: entry.0,
                wanted: self.signal,
            });
        }
        entry.1 += 1;
        self.held = true;
        Ok(())
    }

    fn release(&mut self) {
        if !std::mem::take(&mut self.held) {
            return;
        }
        let mut claims = CLAIMS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = claims.get_mut(&self.canonical) {
            entry.1 -= 1;
            if entry.1 == 0 {
                claims.remove(&self.canonical);
            }
        }
    }

    /// Moves the hold to `signal`; refused if another exporter holds the
    /// file for another signal (then this exporter holds nothing).
    fn switch(&mut self, signal: Signal) -> Result<(), FileExporterError> {
        if signal == self.signal && self.held {
            return Ok(());
        }
        self.release();
        self.signal = signal;
        self.hold()
    }
}

impl Drop for PathClaim {
    fn drop(&mut self) {
        self.release();
    }
}

/// An [`Exporter`] that appends each export request as one OTLP/JSON line
/// (`ExportTraceServiceRequest` + `\n`) to a file, to standard output, or to
/// any [`Write`].
///
/// One exporter serves one signal, traces unless told otherwise
/// ([`FileExporterBuilder::signal`], [`FileExporter::for_signal`]): a
/// `BatchLogProcessor` needs one built for [`Signal::Logs`] (its lines are
/// `ExportLogsServiceRequest`s), a `PeriodicReader` one for
/// [`Signal::Metrics`] (`ExportMetricsServiceRequest`s); a pipeline refuses
/// an exporter of another signal when it starts.
///
/// **One signal per file**, as the OpenTelemetry file exporter's format
/// requires ("files must contain exactly one type of data"): while an
/// exporter of this process writes a regular file, an exporter of another
/// signal for the same file (under any spelling of its path) is refused, by
/// [`FileExporterBuilder::build`] with [`FileExporterError::SignalConflict`],
/// or, when the signal is changed afterwards by
/// [`for_signal`](FileExporter::for_signal), at each of its exports
/// (permanently, with the same message naming the file). Set the signal on
/// the builder to have it refused at start-up. The file is free again once
/// its exporters are shut down or dropped. Other processes are not seen.
/// What is not a regular file (`/dev/null`, a terminal, a named pipe)
/// holds nothing written to it and takes any number of signals, as
/// [`FileExporter::stdout`] does.
///
/// Cost model: one dedicated writer thread per exporter, which owns the
/// output. An export hands the encoded body to that thread through a bounded
/// channel and waits for the result without blocking the pipeline's runtime,
/// so a slow disk or a stalled pipe never stalls other exports, and the
/// pipeline's attempt timeout still applies. Per request: one copy of the
/// body into a reused line buffer (so the line is written by one `write`
/// call, which keeps lines whole even when other processes append to the
/// same file), no allocation once warm (a line over 1 MiB has a buffer of
/// its own, freed once written).
///
/// Guarantees:
///
/// - **One line per request, never interleaved**: the single writer thread
///   writes lines one after the other, in the order exports arrive.
/// - **Flushed per request**: a request's export succeeds only after its line
///   was handed to the operating system (and, for writers, `flush`ed). Nothing
///   is buffered in the process between requests. [`shutdown`](Exporter::shutdown)
///   also `fsync`s a file (`sync_data`); a sync that fails is a warning
///   naming the file ([`otlp_sdk::diagnostics::set_warning_handler`]).
/// - **No torn lines after an error**: if a write fails part way (disk full),
///   a file is truncated back to where the line started; where that is not
///   possible (standard output, a writer, a file another process appended to
///   meanwhile) the next line starts with a `\n`, so the fragment stays a
///   line of its own and every other line remains valid JSON. A line that
///   standard output or a writer took whole but could not `flush` is not cut:
///   it stays in their buffer, ahead of the next line.
/// - **No duplicate after a timeout**: a request whose export gave up (attempt
///   timeout) before its turn came is skipped, not written late.
///
/// How I/O errors are classified (the pipeline's retry policy takes it from there):
///
/// | error | outcome | why |
/// |---|---|---|
/// | disk full (`ENOSPC`), quota exceeded, interrupted, would block, timed out, resource busy, out of memory | `Retryable` | space or resources may come back before the batch's deadline |
/// | everything else: broken pipe (the reader of stdout went away), permission denied, read-only file system, file too large, `EIO`... | `Permanent` | retrying the same write cannot succeed |
///
/// Files are opened in append mode when the exporter is built (so a bad path
/// is an error at start-up, not at the first export) and created if missing,
/// together with missing parent directories unless
/// [`FileExporterBuilder::create_dirs`] is turned off. A file that ends with a
/// line cut short (an earlier process killed mid-write, or a full disk it
/// could not repair) gets a `\n` before the first new line, as after a torn
/// line of this exporter.
///
/// **Rotation** (Unix): before each line, the writer checks that the path
/// still names the file it has open (device and inode, one `stat` per
/// request). A file renamed away (`logrotate`, with or without `create`) or
/// deleted is left to whoever moved it, and the line goes to the file at the
/// path, opened (or created, with its parent directories as above) as at
/// start-up. Nothing written before is lost: it is in the renamed file.
/// If the path cannot be opened, the line goes to the open file as before
/// (renamed away, it keeps the line under its new name), and the next line
/// tries again; if the open file was deleted, where a line would be lost,
/// the export fails instead, naming the file and why its path could not be
/// opened (permanent, as the table above says for that error).
/// `copytruncate` needs nothing: lines are appended at the file's end,
/// wherever it is; but, as for any writer, a line written between its copy
/// and its truncation is lost (counted exported), and one written during
/// the copy may end cut short in the copy: prefer renaming (`create`, the
/// default) or [size rotation](FileExporterBuilder::rotation). Elsewhere
/// (Windows, where an open file is rarely renamed) the file opened at
/// start-up is kept.
///
/// **Size rotation** (off by default): [`FileExporterBuilder::rotation`]
/// has the exporter rotate the file itself, as the Collector's
/// `fileexporter` does (`rotation: max_megabytes, max_backups, max_days`):
/// a line that would take the file past its size starts a new file, the
/// old one kept as a timestamped backup beside it; see [`Rotation`]. A line
/// is never split between two files.
///
/// **Named pipes**: opening one for writing waits for a reader, so
/// [`build`](FileExporterBuilder::build) blocks until a reader opens the
/// pipe (as the Collector's `fileexporter` and any `open(2)` do); start the
/// reader first, or build the exporter on a thread that may wait. Once the
/// reader goes away, exports fail (broken pipe, permanent).
///
/// ```
/// use std::time::Duration;
/// use otlp_contrib::file_exporter::FileExporter;
/// use otlp_sdk::{BatchSpanProcessor, TracerProvider};
///
/// # let dir = std::env::temp_dir().join(format!("otlp-file-doc-{}", std::process::id()));
/// let path = dir.join("traces.jsonl");
/// let processor = BatchSpanProcessor::builder(FileExporter::to_path(&path)?).build()?;
/// let provider = TracerProvider::builder().with_processor(processor.clone()).build();
/// provider.tracer("docs").start("write a line").end();
/// provider.shutdown(Duration::from_secs(5))?;
///
/// let text = std::fs::read_to_string(&path)?;
/// assert_eq!(text.lines().count(), 1);
/// assert!(text.starts_with(r#"{"resourceSpans":["#) && text.ends_with("}\n"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileExporter {
    /// `None` once shut down.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Joined at shutdown (bounded by the pipeline's deadline, see `shutdown`).
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Where lines go, for messages.
    target: String,
    /// The signal whose requests this exporter writes.
    signal: Signal,
    /// A file's hold for `signal`; `None` for standard output and writers.
    claim: Mutex<Option<PathClaim>>,
    /// Why this exporter writes nothing: its file holds another signal.
    refused: Option<FileExporterError>,
}

impl fmt::Debug for FileExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileExporter")
            .field("target", &self.target)
            .field("signal", &self.signal)
            .field("shut_down", &self.sender().is_none())
            .finish()
    }
}

impl FileExporter {
    /// Starts building an exporter that appends to the file at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> FileExporterBuilder {
        FileExporterBuilder {
            path: path.into(),
            create_dirs: true,
            signal: Signal::Traces,
            rotation: None,
        }
    }

    /// Appends to the file at `path`, creating it and its missing parent directories.
    pub fn to_path(path: impl AsRef<Path>) -> Result<FileExporter, FileExporterError> {
        FileExporter::builder(path.as_ref()).build()
    }

    /// Writes to the process's standard output (locked for each line).
    pub fn stdout() -> Result<FileExporter, FileExporterError> {
        FileExporter::start(Sink::Stdout, "stdout".to_owned(), false, None, None)
    }

    /// Writes to any writer (a pipe, a socket, an in-memory buffer in tests),
    /// calling `flush` after each line.
    pub fn to_writer(
        writer: impl Write + Send + 'static,
    ) -> Result<FileExporter, FileExporterError> {
        FileExporter::start(
            Sink::Writer(Box::new(writer)),
            "a writer".to_owned(),
            false,
            None,
            None,
        )
    }

    /// The same exporter, for `signal`'s pipeline: `Signal::Logs` for a
    /// `BatchLogProcessor`, `Signal::Metrics` for a `PeriodicReader`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use otlp_contrib::file_exporter::FileExporter;
    /// use otlp_core::LogRecord;
    /// use otlp_sdk::{BatchLogProcessor, LoggerProvider, Signal};
    ///
    /// # let dir = std::env::temp_dir().join(format!("otlp-file-logs-doc-{}", std::process::id()));
    /// let path = dir.join("logs.jsonl");
    /// let exporter = FileExporter::to_path(&path)?.for_signal(Signal::Logs);
    /// let processor = BatchLogProcessor::builder(exporter).build()?;
    /// let provider = LoggerProvider::builder().with_processor(processor).build();
    /// provider.logger("docs").emit(LogRecord::builder().body("one line").build());
    /// provider.shutdown(Duration::from_secs(5))?;
    ///
    /// let text = std::fs::read_to_string(&path)?;
    /// assert!(text.starts_with(r#"{"resourceLogs":["#) && text.ends_with("}\n"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// An exporter of a file another exporter of this process writes
    /// another signal to is refused: its exports fail (see [`FileExporter`];
    /// [`FileExporterBuilder::signal`] refuses it when building instead).
    pub fn for_signal(mut self, signal: Signal) -> FileExporter {
        self.signal = signal;
        let claim = self.claim.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(claim) = claim {
            self.refused = claim.switch(signal).err();
        }
        self
    }

    /// Where this exporter writes: the file's path, `stdout` or `a writer`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Starts the writer thread; `mid_line`: the output does not end at a
    /// line boundary (a file whose last line was cut short); `follow`: how to
    /// reopen a file's path when it names another file (rotation);
    /// `rotation`: the file's size rotation.
    fn start(
        sink: Sink,
        target: String,
        mid_line: bool,
        follow: Option<FollowPath>,
        rotation: Option<RotatingFile>,
    ) -> Result<FileExporter, FileExporterError> {
        let (jobs, queue) = mpsc::channel(QUEUED_REQUESTS);
        let thread_target = target.clone();
        let writer = std::thread::Builder::new()
            .name("otlp-file-exporter".into())
            .spawn(move || {
                otlp_sdk::own_threads::enter();
                let mut writer = LineWriter::new(sink, thread_target);
                writer.torn = mid_line;
                writer.follow = follow;
                writer.rotation = rotation;
                writer.run(queue)
            })
            .map_err(FileExporterError::Thread)?;
        Ok(FileExporter {
            jobs: Mutex::new(Some(jobs)),
            writer: Mutex::new(Some(writer)),
            target,
            signal: Signal::Traces,
            claim: Mutex::new(None),
            refused: None,
        })
    }

    fn sender(&self) -> Option<mpsc::Sender<Job>> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Exporter for FileExporter {
    fn encoding(&self) -> Encoding {
        Encoding::Json
    }

    fn signal(&self) -> Signal {
        self.signal
    }

    async fn export(&self, request: ExportRequest) -> ExportOutcome {
        if request.encoding != Encoding::Json {
            return ExportOutcome::Permanent {
                error: ExportError::Request(format!(
                    "the file exporter writes OTLP/JSON lines, got a {:?} body",
                    request.encoding
                )),
            };
        }
        if let Some(refused) = &self.refused {
            return ExportOutcome::Permanent {
                error: ExportError::Request(refused.to_string()),
            };
        }
        let Some(jobs) = self.sender() else {
            return ExportOutcome::Permanent {
                error: ExportError::ShutDown,
            };
        };
        let (reply, outcome) = oneshot::channel();
        if jobs.send(Job::Line { request, reply }).await.is_err() {
            return ExportOutcome::Permanent {
                error: ExportError::ShutDown,
            };
        }
        outcome.await.unwrap_or(ExportOutcome::Permanent {
            error: ExportError::ShutDown,
        })
    }

    /// Writes what is queued, syncs a file to disk and stops the writer thread.
    /// The pipeline bounds this by its shutdown deadline; a writer stuck in a
    /// write past it is left behind (detached), never waited for. A sync that
    /// fails (`EIO`) is given to the process's warning handler
    /// ([`otlp_sdk::diagnostics::warn`]), naming the file and the error:
    /// `shutdown` returns nothing, and the records were counted exported when
    /// their lines were written.
    async fn shutdown(&self) {
        let jobs = self
            .jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let Some(jobs) = jobs else { return };
        let (reply, done) = oneshot::channel();
        if jobs.send(Job::Finish { reply }).await.is_ok()
            && let Ok(Err(error)) = done.await
        {
            // The lines were counted exported when the operating system took
            // them; that they may not reach the disk can only be said.
            otlp_sdk::diagnostics::warn(
                "file exporter",
                format!(
                    "cannot sync {} to disk at shutdown: {error}; lines written before may not be on disk",
                    self.target
                ),
            );
        }
        drop(jobs);
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        // The thread answered `Finish` as its last act: joining is immediate.
        if let Some(writer) = writer.filter(|writer| writer.is_finished()) {
            let _ = writer.join();
        }
        // The file is free for another signal.
        self.claim
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Builder for a [`FileExporter`] writing to a file.
#[derive(Clone, Debug)]
pub struct FileExporterBuilder {
    path: PathBuf,
    create_dirs: bool,
    signal: Signal,
    rotation: Option<Rotation>,
}

impl FileExporterBuilder {
    /// Whether missing parent directories are created (default `true`).
    pub fn create_dirs(mut self, create: bool) -> Self {
        self.create_dirs = create;
        self
    }

    /// The signal whose requests the exporter writes (default
    /// [`Signal::Traces`]); see [`FileExporter::for_signal`].
    pub fn signal(mut self, signal: Signal) -> Self {
        self.signal = signal;
        self
    }

    /// Rotates the file by size (default: never), as the Collector's
    /// `fileexporter` does with its `rotation` settings: a line that would
    /// take the file past [`Rotation::max_megabytes`] starts a new file, the
    /// old one renamed to a timestamped backup beside it, and backups beyond
    /// [`Rotation::max_backups`] or older than [`Rotation::max_days`] are
    /// removed. No line is split between files, nor dropped for its size;
    /// see [`Rotation`]. A path that is
    /// not a regular file (a named pipe, `/dev/null`) is not rotated.
    ///
    /// ```
    /// use otlp_contrib::file_exporter::{FileExporter, Rotation};
    ///
    /// # let dir = std::env::temp_dir().join(format!("otlp-file-rotate-doc-{}", std::process::id()));
    /// // The Collector's `rotation: {max_megabytes: 10, max_backups: 3}`.
    /// let exporter = FileExporter::builder(dir.join("logs.jsonl"))
    ///     .rotation(Rotation::new().max_megabytes(10).max_backups(3))
    ///     .build()?;
    /// # drop(exporter);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Opens (or creates) the file for appending and starts the writer
    /// thread. Refused with [`FileExporterError::SignalConflict`] while
    /// another exporter of this process writes another signal to the file,
    /// and with [`FileExporterError::InvalidRotation`], before anything is
    /// created, for a [`Rotation`] option out of range. A named pipe
    /// blocks here until a reader opens it (see [`FileExporter`]).
    pub fn build(self) -> Result<FileExporter, FileExporterError> {
        if let Some(Err((option, value, reason))) = self.rotation.map(|r| r.check()) {
            return Err(FileExporterError::InvalidRotation {
                path: self.path,
                option,
                value,
                reason,
            });
        }
        let open_error = |source| FileExporterError::Open {
            path: self.path.clone(),
            source,
        };
        if self.create_dirs
            && let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(open_error)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(open_error)?;
        // Only a regular file holds what is written to it: `/dev/null`, a
        // terminal or a named pipe may take several signals, as
        // `FileExporter::stdout` does.
        let holds_data = file.metadata().map_or(true, |metadata| metadata.is_file());
        let claim = if holds_data {
            Some(PathClaim::take(&self.path, self.signal)?)
        } else {
            None
        };
        let target = self.path.display().to_string();
        let mid_line = ends_mid_line(&file, &self.path);
        // Against the working directory of now: a program that changes it
        // later still writes where it started.
        let absolute = std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone());
        let follow = file
            .metadata()
            .ok()
            .and_then(|metadata| file_id(&metadata))
            .map(|id| FollowPath {
                path: absolute.clone(),
                create_dirs: self.create_dirs,
                id,
            });
        let rotation = self
            .rotation
            .filter(|_| holds_data)
            .map(|rotation| RotatingFile::new(absolute, rotation));
        if let Some(rotation) = &rotation {
            // As lumberjack does when it opens a file: backups past the
            // limits left by an earlier run go now.
            warn_unremoved(rotation.remove_old_backups(SystemTime::now()));
        }
        let mut exporter =
            FileExporter::start(Sink::File(file), target, mid_line, follow, rotation)?;
        exporter.signal = self.signal;
        exporter.claim = Mutex::new(claim);
        Ok(exporter)
    }
}

enum Job {
    Line {
        request: ExportRequest,
        reply: oneshot::Sender<ExportOutcome>,
    },
    /// Sync and stop; answered once everything before it was written, with
    /// the sync's error if it failed.
    Finish {
        reply: oneshot::Sender<io::Result<()>>,
    },
}

enum Sink {
    File(File),
    Stdout,
    Writer(Box<dyn Write + Send>),
}

/// A file's identity: its device and inode.
type FileId = (u64, u64);

/// The identity of the file `metadata` describes (`None` off Unix).
fn file_id(metadata: &std::fs::Metadata) -> Option<FileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((metadata.dev(), metadata.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = metadata;
        None
    }
}

/// How a file sink follows its path when the file is rotated away.
struct FollowPath {
    /// Absolute.
    path: PathBuf,
    create_dirs: bool,
    /// The identity of the file open now.
    id: FileId,
}

/// The writer thread's state.
struct LineWriter {
    sink: Sink,
    target: String,
    line: Vec<u8>,
    /// A previous line was cut short and left in place: start the next one on a new line.
    torn: bool,
    /// A file's path, to reopen it once it names another file.
    follow: Option<FollowPath>,
    /// A file's size rotation.
    rotation: Option<RotatingFile>,
}

impl LineWriter {
    fn new(sink: Sink, target: String) -> Self {
        LineWriter {
            sink,
            target,
            line: Vec::new(),
            torn: false,
            follow: None,
            rotation: None,
        }
    }

    /// Renames the file to a backup and opens a new one at its path when a
    /// line of `body_len` bytes would take it past its rotation's size (see
    /// [`Rotation`]); then removes the backups past the limits. Never fails:
    /// a file that cannot be renamed takes the line all the same (nothing is
    /// lost), and the warning handler is told why; a path that cannot be
    /// opened again leaves the lines going to the backup, as after an
    /// outside rotation (see [`FollowPath`]).
    fn rotate_if_due(&mut self, body_len: usize) {
        let (Some(rotation), Sink::File(file)) = (&self.rotation, &mut self.sink) else {
            return;
        };
        let size = match file.metadata() {
            Ok(metadata) if metadata.is_file() => metadata.len(),
            _ => return,
        };
        let line_len = body_len.saturating_add(usize::from(self.torn) + 1);
        if !rotation.is_due(size, line_len) {
            return;
        }
        let now = SystemTime::now();
        if let Err(error) = rotation.rename_to_backup(now) {
            otlp_sdk::diagnostics::warn(
                "file exporter",
                format!(
                    "cannot rotate {}: {error}; its lines go on past its max_megabytes until it can be",
                    self.target
                ),
            );
            return;
        }
        match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&rotation.path)
        {
            Ok(reopened) => {
                if let Some(follow) = &mut self.follow
                    && let Some(id) = reopened.metadata().ok().and_then(|m| file_id(&m))
                {
                    follow.id = id;
                }
                // Empty, unless another writer created it meanwhile.
                self.torn = ends_mid_line(&reopened, &rotation.path);
                *file = reopened;
            }
            Err(error) => otlp_sdk::diagnostics::warn(
                "file exporter",
                format!(
                    "cannot create {} again after rotating it: {error}; its lines go to its backup until it can be",
                    self.target
                ),
            ),
        }
        warn_unremoved(rotation.remove_old_backups(now));
    }

    /// Reopens the file's path if it no longer names the open file (renamed
    /// away or deleted: rotation). One `stat`. The open file is kept when
    /// the path cannot be read or opened, and the next line tries again;
    /// unless the open file was deleted (no name left: what is written to it
    /// is lost): then the line fails with the reason the path could not be
    /// opened.
    fn follow_path(&mut self) -> io::Result<()> {
        let (Some(follow), Sink::File(file)) = (&mut self.follow, &mut self.sink) else {
            return Ok(());
        };
        let opened = match std::fs::metadata(&follow.path) {
            Ok(metadata) if file_id(&metadata) == Some(follow.id) => return Ok(()),
            // Another file is at the path (`logrotate`'s `create`).
            Ok(_) => Ok(()),
            // Renamed away or deleted, nothing in its place.
            Err(error) if error.kind() == ErrorKind::NotFound => {
                if follow.create_dirs
                    && let Some(parent) = follow.path.parent().filter(|p| !p.as_os_str().is_empty())
                {
                    let _ = std::fs::create_dir_all(parent);
                }
                Ok(())
            }
            Err(error) => Err(error),
        }
        .and_then(|()| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&follow.path)
        });
        let reopened = match opened {
            Ok(reopened) => reopened,
            Err(error) if is_deleted(file) => {
                return Err(io::Error::new(
                    error.kind(),
                    format!("the file was deleted and its path cannot be opened again: {error}"),
                ));
            }
            // Renamed away: its lines are kept under its new name.
            Err(_) => return Ok(()),
        };
        let Some(id) = reopened.metadata().ok().and_then(|m| file_id(&m)) else {
            return Ok(());
        };
        // The old file's state (a cut line at its end) stays with it.
        self.torn = ends_mid_line(&reopened, &follow.path);
        follow.id = id;
        *file = reopened;
        Ok(())
    }

    fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        while let Some(job) = queue.blocking_recv() {
            // Hooks registered after the thread entered (see `own_threads`).
            otlp_sdk::own_threads::catch_up();
            match job {
                Job::Line { request, reply } => {
                    // The export gave up waiting (attempt timeout): writing now
                    // would duplicate the retry's line.
                    if reply.is_closed() {
                        continue;
                    }
                    let outcome = match self.write_line(&request.body) {
                        Ok(()) => ExportOutcome::Success,
                        Err(error) => classify(&self.target, &error),
                    };
                    let _ = reply.send(outcome);
                }
                Job::Finish { reply } => {
                    let synced = match &self.sink {
                        // Only a regular file has data to sync: `fdatasync`
                        // fails on `/dev/null` or a pipe (`EINVAL`).
                        Sink::File(file) if file.metadata().is_ok_and(|m| m.is_file()) => {
                            sync_file(file, &self.target)
                        }
                        _ => Ok(()),
                    };
                    let _ = reply.send(synced);
                    return;
                }
            }
        }
    }

    /// Writes `body` + `\n` with one `write` where the OS allows, flushes, and
    /// repairs a partial write (see [`FileExporter`]).
    fn write_line(&mut self, body: &[u8]) -> io::Result<()> {
        self.follow_path()?;
        self.rotate_if_due(body.len());
        self.line.clear();
        self.line.reserve(usize::from(self.torn) + body.len() + 1);
        if self.torn {
            self.line.push(b'\n');
        }
        self.line.extend_from_slice(body);
        self.line.push(b'\n');
        let start = match &self.sink {
            Sink::File(file) => file.metadata().map(|meta| meta.len()).ok(),
            _ => None,
        };
        let mut written = 0;
        let result = match &mut self.sink {
            Sink::File(file) => write_fully(file, &self.line, &mut written),
            Sink::Stdout => {
                let mut stdout = io::stdout().lock();
                write_fully(&mut stdout, &self.line, &mut written).and_then(|()| stdout.flush())
            }
            Sink::Writer(writer) => {
                write_fully(writer, &self.line, &mut written).and_then(|()| writer.flush())
            }
        };
        match &result {
            Ok(()) => self.torn = false,
            Err(_) if written == 0 => {}
            // Taken whole, then `flush` failed: the line is in the writer's
            // buffer (`BufWriter` and standard output keep what they could
            // not write, for the next write), so the output ends with it.
            Err(_) if written == self.line.len() => self.torn = false,
            // Truncated back to where this line started: the file ends as it
            // did before, after a cut line still if it did (the `\n` written
            // first for it is gone too).
            Err(_) if self.truncate_fragment(start, written) => {}
            Err(_) => self.torn = true,
        }
        if self.line.capacity() > KEPT_LINE_CAPACITY {
            self.line = Vec::new();
        }
        result
    }

    /// Removes a partially written line from the end of the file, if the file
    /// still ends with it. Returns whether the file ends at a line boundary now.
    fn truncate_fragment(&self, start: Option<u64>, written: usize) -> bool {
        let (Sink::File(file), Some(start)) = (&self.sink, start) else {
            return false;
        };
        let ends_with_fragment = file
            .metadata()
            .is_ok_and(|meta| meta.len() == start + written as u64);
        ends_with_fragment && file.set_len(start).is_ok()
    }
}

/// Whether `file` (opened for appending at `path`) ends with a line cut short
/// (a write an earlier process did not finish): a regular file, not empty,
/// whose last byte is not `\n`. One that cannot be read is taken to end at a
/// line boundary; anything else (a pipe, a terminal) is not read at all.
fn ends_mid_line(file: &File, path: &Path) -> bool {
    let last_byte = || -> io::Result<Option<u8>> {
        let metadata = file.metadata()?;
        if !metadata.is_file() || metadata.len() == 0 {
            return Ok(None);
        }
        let mut file = File::open(path)?;
        file.seek(SeekFrom::End(-1))?;
        let mut byte = [0u8];
        file.read_exact(&mut byte)?;
        Ok(Some(byte[0]))
    };
    matches!(last_byte(), Ok(Some(byte)) if byte != b'\n')
}

/// Whether `file` has no name left in the file system (deleted, not
/// renamed): what is written to it can never be read. Unix only; a file
/// whose metadata cannot be read is taken to have one.
fn is_deleted(file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        file.metadata().is_ok_and(|metadata| metadata.nlink() == 0)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}

/// Tells the warning handler about backups past a [`Rotation`]'s limits
/// that could not be removed.
fn warn_unremoved(failures: Vec<(PathBuf, io::Error)>) {
    for (backup, error) in failures {
        otlp_sdk::diagnostics::warn(
            "file exporter",
            format!(
                "cannot remove {}, a rotated file past the rotation's limits: {error}",
                backup.display()
            ),
        );
    }
}

/// `file.sync_data()`. In this module's tests, fails for the targets
/// `tests::fail_sync_of` named: no file system here fails a sync on demand.
fn sync_file(file: &File, target: &str) -> io::Result<()> {
    #[cfg(test)]
    if tests::sync_fails_for(target) {
        return Err(io::Error::other("input/output error (injected by a test)"));
    }
    let _ = target;
    file.sync_data()
}

/// `write_all`, counting what was written before an error.
fn write_fully(out: &mut impl Write, mut bytes: &[u8], written: &mut usize) -> io::Result<()> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(n) => {
                *written += n;
                bytes = &bytes[n..];
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Transient conditions are retryable; anything else would fail again.
fn classify(target: &str, error: &io::Error) -> ExportOutcome {
    let error_text = ExportError::Transport(format!("cannot write to {target}: {error}"));
    match error.kind() {
        ErrorKind::StorageFull
        | ErrorKind::QuotaExceeded
        | ErrorKind::Interrupted
        | ErrorKind::WouldBlock
        | ErrorKind::TimedOut
        | ErrorKind::ResourceBusy
        | ErrorKind::OutOfMemory => ExportOutcome::Retryable {
            error: error_text,
            throttle: None,
        },
        _ => ExportOutcome::Permanent { error: error_text },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The targets whose `sync_file` fails (see there).
    static FAILING_SYNCS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    /// Makes the final sync of the exporter writing to `target` fail.
    fn fail_sync_of(target: &str) {
        FAILING_SYNCS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(target.to_owned());
    }

    pub(super) fn sync_fails_for(target: &str) -> bool {
        FAILING_SYNCS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|failing| failing == target)
    }

    /// The warnings given to the process's warning handler (set once for
    /// this test binary) that name `needle`.
    fn warnings_naming(needle: &str) -> Vec<String> {
        static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());
        static HANDLER: std::sync::Once = std::sync::Once::new();
        HANDLER.call_once(|| {
            otlp_sdk::diagnostics::set_warning_handler(|warning| {
                WARNINGS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(warning.to_string());
            });
        });
        WARNINGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|warning| warning.contains(needle))
            .cloned()
            .collect()
    }

    /// A `sync_data` that fails at shutdown (`EIO`: lines the operating
    /// system took may never reach the disk) was ignored: every record was
    /// counted exported and nothing said the file may not hold them. The
    /// pipeline's `shutdown` cannot fail for it (`Exporter::shutdown` returns
    /// nothing), so it is a warning to the process's warning handler, naming
    /// the file and the error. Found by reading `LineWriter::run`.
    #[test]
    fn a_failed_sync_at_shutdown_is_a_warning_naming_the_file() {
        let _ = warnings_naming("");
        let dir = std::env::temp_dir().join(format!("otlp-file-sync-{}", std::process::id()));
        let path = dir.join("synced.jsonl");
        let exporter = FileExporter::to_path(&path).unwrap();
        fail_sync_of(exporter.target());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let outcome = runtime.block_on(exporter.export(ExportRequest {
            body: bytes::Bytes::from_static(b"{\"n\":1}"),
            encoding: Encoding::Json,
            span_count: 1,
        }));
        assert!(matches!(outcome, ExportOutcome::Success), "{outcome:?}");
        assert!(warnings_naming(exporter.target()).is_empty());
        runtime.block_on(exporter.shutdown());
        let warnings = warnings_naming(exporter.target());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("sync") && warnings[0].contains("injected by a test"),
            "{warnings:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What is not a regular file has nothing to sync (`fdatasync` on
    /// `/dev/null` fails with `EINVAL`): no warning at its shutdown.
    #[cfg(unix)]
    #[test]
    fn a_device_is_not_synced_at_shutdown() {
        let _ = warnings_naming("");
        let exporter = FileExporter::to_path("/dev/null").unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(exporter.shutdown());
        assert_eq!(warnings_naming("/dev/null"), Vec::<String>::new());
    }

    thread_local! {
        /// Whether `mark_hooked` ran on this thread.
        static HOOKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    fn mark_hooked() {
        HOOKED.with(|hooked| hooked.set(true));
    }

    /// Notes, for each write, whether `mark_hooked` had run on the thread
    /// that writes.
    struct SeesHook(std::sync::Arc<Mutex<Vec<bool>>>);

    impl Write for SeesHook {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(HOOKED.with(std::cell::Cell::get));
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A hook registered with `own_threads::add_hook` once the writer thread
    /// has started (a bridge built after the exporter: its suppressed
    /// `opentelemetry` context) runs there before its next write. The
    /// thread entered once and never caught up: the hook never ran there.
    #[test]
    fn a_hook_registered_after_the_writer_started_runs_on_its_thread_before_it_writes() {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let exporter = FileExporter::to_writer(SeesHook(seen.clone())).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let export = |body: &'static str| {
            let outcome = runtime.block_on(exporter.export(ExportRequest {
                body: bytes::Bytes::from_static(body.as_bytes()),
                encoding: Encoding::Json,
                span_count: 1,
            }));
            assert!(matches!(outcome, ExportOutcome::Success), "{outcome:?}");
        };
        // Written: the writer thread has started (and entered).
        export(r#"{"n":1}"#);
        otlp_sdk::own_threads::add_hook(mark_hooked);
        export(r#"{"n":2}"#);
        runtime.block_on(exporter.shutdown());
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(seen, [false, true]);
    }

    /// Accepts `capacity` bytes, then fails like a full disk.
    struct FullAfter {
        out: std::sync::Arc<Mutex<Vec<u8>>>,
        capacity: usize,
    }

    impl Write for FullAfter {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut out = self.out.lock().unwrap();
            let room = self.capacity.saturating_sub(out.len());
            if room == 0 {
                return Err(io::Error::from(ErrorKind::StorageFull));
            }
            let n = room.min(bytes.len());
            out.extend_from_slice(&bytes[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn io_errors_are_classified() {
        let retryable = |kind| {
            matches!(
                classify("f", &io::Error::from(kind)),
                ExportOutcome::Retryable { .. }
            )
        };
        assert!(retryable(ErrorKind::StorageFull));
        assert!(retryable(ErrorKind::QuotaExceeded));
        assert!(!retryable(ErrorKind::BrokenPipe));
        assert!(!retryable(ErrorKind::PermissionDenied));
        assert!(!retryable(ErrorKind::ReadOnlyFilesystem));
        assert!(!retryable(ErrorKind::Other));
    }

    /// Buffers what it is given, as `BufWriter` and standard output's
    /// `LineWriter` do; its first `flush` fails like a full disk and keeps
    /// the buffer, which a later `flush` writes.
    struct BufferedFlakyFlush {
        out: std::sync::Arc<Mutex<Vec<u8>>>,
        pending: Vec<u8>,
        failed: bool,
    }

    impl Write for BufferedFlakyFlush {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.pending.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            if !self.failed {
                self.failed = true;
                return Err(io::Error::from(ErrorKind::StorageFull));
            }
            self.out.lock().unwrap().append(&mut self.pending);
            Ok(())
        }
    }

    /// A line the writer took whole, whose flush failed, is in the writer's
    /// buffer: it is not a torn line, and the next one gets no `\n` of its
    /// own (an empty line, which no JSON reader takes). The retried line
    /// follows it (at least once).
    #[test]
    fn a_line_taken_whole_by_a_writer_whose_flush_failed_is_not_torn() {
        let out = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = Sink::Writer(Box::new(BufferedFlakyFlush {
            out: out.clone(),
            pending: Vec::new(),
            failed: false,
        }));
        let mut writer = LineWriter::new(sink, "test".into());
        let error = writer.write_line(b"{\"a\":1}").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::StorageFull);
        writer.write_line(b"{\"a\":1}").unwrap();
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"a\":1}\n");
    }

    #[test]
    fn a_torn_line_is_followed_by_a_line_break() {
        let out = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = Sink::Writer(Box::new(FullAfter {
            out: out.clone(),
            capacity: 14,
        }));
        let mut writer = LineWriter::new(sink, "test".into());
        writer.write_line(b"{\"a\":1}").unwrap();
        let error = writer.write_line(b"{\"b\":22}").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::StorageFull);
        assert!(writer.torn);
        // Room again: the next line starts on a fresh line.
        if let Sink::Writer(_) = &writer.sink {
            writer.sink = Sink::Writer(Box::new(FullAfter {
                out: out.clone(),
                capacity: usize::MAX,
            }));
        }
        writer.write_line(b"{\"c\":3}").unwrap();
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":2\n{\"c\":3}\n");
    }

    /// The line buffer is reused, but one large request (up to the 64 MiB a
    /// request may hold) must not keep its size for the exporter's life.
    #[test]
    fn a_large_line_does_not_keep_its_buffer() {
        let mut writer = LineWriter::new(Sink::Writer(Box::new(io::sink())), "test".into());
        writer.write_line(b"{\"a\":1}").unwrap();
        let small = writer.line.capacity();
        assert!(small <= KEPT_LINE_CAPACITY);
        let large = vec![b' '; 4 * KEPT_LINE_CAPACITY];
        writer.write_line(&large).unwrap();
        assert!(
            writer.line.capacity() <= KEPT_LINE_CAPACITY,
            "{} bytes kept",
            writer.line.capacity()
        );
        writer.write_line(b"{\"a\":1}").unwrap();
        assert!(writer.line.capacity() <= KEPT_LINE_CAPACITY);
    }

    /// A file due for rotation that cannot be renamed (here: its path names
    /// nothing; in life, a directory the process may not write to) takes the
    /// line all the same, whole, past its limit, and the warning handler is
    /// told, naming the file.
    #[test]
    fn a_file_that_cannot_be_rotated_takes_the_line_and_says_so() {
        let _ = warnings_naming("");
        let dir = std::env::temp_dir().join(format!("otlp-file-norotate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("full.jsonl");
        let before = format!("{}\n", "x".repeat(1024 * 1024));
        std::fs::write(&path, &before).unwrap();
        let file = OpenOptions::new().append(true).open(&path).unwrap();
        let target = path.display().to_string();
        let mut writer = LineWriter::new(Sink::File(file), target.clone());
        writer.rotation = Some(RotatingFile::new(
            dir.join("gone").join("full.jsonl"),
            Rotation::new().max_megabytes(1),
        ));
        writer.write_line(b"{\"a\":1}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{before}{{\"a\":1}}\n")
        );
        let warnings = warnings_naming(&target);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("cannot rotate"), "{warnings:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_line_is_truncated_from_a_file() {
        let dir = std::env::temp_dir().join(format!("otlp-file-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut writer = LineWriter::new(Sink::File(file), "t".into());
        writer.write_line(b"{\"a\":1}").unwrap();
        // Simulate a fragment left by a failed write, then repair it.
        let start = std::fs::metadata(&path).unwrap().len();
        if let Sink::File(file) = &mut writer.sink {
            file.write_all(b"{\"b\"").unwrap();
        }
        assert!(writer.truncate_fragment(Some(start), 4));
        writer.write_line(b"{\"c\":3}").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"c\":3}\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
