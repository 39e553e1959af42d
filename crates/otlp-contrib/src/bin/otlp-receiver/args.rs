//! Command-line arguments: a `clap` derive, with typed value parsers whose
//! errors say what a good value looks like (clap names the flag and the value).
//! A word starting with a single `-` after an option that takes a value is
//! its value (`--http -1` is a bad `--http`, not an unknown option `-1`), and
//! a value that is not UTF-8 is refused naming its option: see
//! `option_values.rs` ([`Args::from_command_line`] parses so).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use otlp_contrib::receiver::MAX_WORKER_THREADS;

use crate::option_values::{FileName, OptionValue, parse_words};

/// What the help prints after the options.
const AFTER_HELP: &str = "\
Output on stdout: the first line is `listening grpc=ADDR http=ADDR` (the bound
addresses of the enabled listeners); then, per trace request, `request
TRANSPORT spans=N answer=ANSWER` and its trees, per log request `request
TRANSPORT log_records=N answer=ANSWER` and one line per record (service, time,
severity, body, event=NAME for events, attributes, trace and span ids), per
metrics request `request TRANSPORT data_points=N answer=ANSWER` and one line
per data point (service, name[unit], kind, value or count and sum,
attributes); `count requests=N ...` summaries; and `final requests=N ...` on
exit. Errors go to stderr.

With --jsonl, the count and final lines end with `jsonl_lost_lines=N`: the
requests that could not be appended to FILE (each also said on stderr).

Exits with status 0 on SIGINT or SIGTERM (and on end of standard input with
--exit-on-stdin-eof), 1 when it cannot start, 2 on bad arguments, 3 when it
ended as asked but lost --jsonl lines.";

/// The gRPC listener when neither `--grpc` nor `--http` is given.
const DEFAULT_GRPC: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(LOCALHOST), 4317);
/// The HTTP listener when neither `--grpc` nor `--http` is given.
const DEFAULT_HTTP: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(LOCALHOST), 4318);
const LOCALHOST: std::net::Ipv4Addr = std::net::Ipv4Addr::LOCALHOST;

/// What the command line asks for.
#[derive(Debug, Parser)]
#[command(
    name = "otlp-receiver",
    version,
    // A flag given twice takes its last value, as scripts that append options expect.
    args_override_self = true,
    about = "\
Receives OTLP traces, logs and metrics (gRPC and HTTP, protobuf and JSON, gzip
and zstd), prints each trace as an indented tree (service, name, duration,
status), each log record as a line and each metric data point as a line.",
    long_about = None,
    after_help = AFTER_HELP,
)]
pub struct Args {
    /// Listen for OTLP/gRPC on ADDR (port 0: any free port)
    #[arg(long, value_name = "ADDR", value_parser = OptionValue::new(address))]
    grpc: Option<SocketAddr>,
    /// Listen for OTLP/HTTP (POST /v1/traces, /v1/logs, /v1/metrics) on ADDR
    /// Neither given: both, on 127.0.0.1:4317 and 127.0.0.1:4318
    #[arg(
        long,
        value_name = "ADDR",
        value_parser = OptionValue::new(address),
        verbatim_doc_comment
    )]
    http: Option<SocketAddr>,
    /// Append every request (traces, logs or metrics) to FILE as one OTLP/JSON line
    #[arg(long, value_name = "FILE", value_parser = FileName)]
    pub jsonl: Option<PathBuf>,
    /// Count spans, log records and data points without decoding them
    /// (for benchmarks): no trees, no --jsonl
    #[arg(long, conflicts_with = "jsonl", verbatim_doc_comment)]
    pub count_only: bool,
    /// Do not print requests, trees, log lines and data point lines
    #[arg(long)]
    pub quiet: bool,
    /// Print a count line every SECS seconds (or a duration with
    /// its unit: 500ms, 2s) when the counts changed, 0 (never)
    /// or at least 0.001 (1ms)
    /// (default 1 with --count-only, otherwise 0 = never)
    #[arg(
        long,
        value_name = "SECS",
        value_parser = OptionValue::new(seconds),
        verbatim_doc_comment
    )]
    pub summary_every: Option<Duration>,
    /// Cap on request bodies, compressed and decompressed
    /// (default 67108864)
    #[arg(
        long,
        value_name = "N",
        value_parser = OptionValue::new(positive_bytes),
        verbatim_doc_comment
    )]
    pub max_request_bytes: Option<usize>,
    /// Threads that serve connections, each connection on one
    /// (new ones go to the thread serving the fewest), 1 to 1024
    #[arg(
        long,
        value_name = "N",
        value_parser = OptionValue::new(threads),
        default_value = "2",
        verbatim_doc_comment
    )]
    pub threads: usize,
    /// Answer every request D late, like a slow but healthy
    /// collector (e.g. 200ms, 1.5s); as long as
    /// --request-timeout, every request times out
    #[arg(
        long,
        value_name = "D",
        value_parser = OptionValue::new(delay),
        default_value = "0",
        verbatim_doc_comment
    )]
    pub answer_delay: Duration,
    /// Close a connection that brings no request head
    /// within D (from its start, and from the end of
    /// each answer with no other request in progress;
    /// HTTP/2 gets a GOAWAY)
    #[arg(
        long,
        value_name = "D",
        value_parser = OptionValue::new(longer_than_zero),
        default_value = "30s",
        verbatim_doc_comment
    )]
    pub request_head_timeout: Duration,
    /// From the end of a request's head, read its body and
    /// write its answer within D, or cut it (HTTP/1.1: a 408
    /// and the connection closed; HTTP/2: its stream reset)
    /// and count it in timed_out_requests
    #[arg(
        long,
        value_name = "D",
        value_parser = OptionValue::new(request_timeout),
        default_value = "30s",
        verbatim_doc_comment
    )]
    pub request_timeout: Duration,
    /// Serve TLS with this PEM certificate chain (needs --tls-key)
    #[arg(long, value_name = "FILE", value_parser = FileName, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", value_parser = FileName, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this PEM CA (mTLS)
    #[arg(long, value_name = "FILE", value_parser = FileName, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Also exit when standard input is closed
    #[arg(long)]
    pub exit_on_stdin_eof: bool,
}

impl Args {
    /// Parses the command line; on bad usage prints clap's message and exits
    /// with status 2 (0 for `--help` and `--version`).
    pub fn from_command_line() -> Args {
        Args::parse_words(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// Parses `words` (the program's name first) as clap does, with a word
    /// starting with a single `-` after an option that takes a value taken
    /// as its value ([`parse_words`]).
    pub fn parse_words(
        words: impl IntoIterator<Item = impl Into<OsString>>,
    ) -> Result<Args, clap::Error> {
        parse_words(words)
    }

    /// The gRPC and HTTP listeners to start: those given, or both standard
    /// ports on 127.0.0.1 when neither is.
    pub fn listeners(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        match (self.grpc, self.http) {
            (None, None) => (Some(DEFAULT_GRPC), Some(DEFAULT_HTTP)),
            given => given,
        }
    }

    /// Whether the address of the `transport` (`"grpc"` or `"http"`)
    /// listener was given, rather than taken from the defaults.
    pub fn gave_address(&self, transport: &str) -> bool {
        match transport {
            "grpc" => self.grpc.is_some(),
            _ => self.http.is_some(),
        }
    }
}

fn address(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| "not an IP:PORT address (e.g. 127.0.0.1:4317)".to_owned())
}

/// The shortest `--summary-every` but zero (never): tokio's timer counts in
/// milliseconds, and a shorter interval's missed ticks come in bursts that
/// keep a core busy while nothing arrives.
const MIN_SUMMARY_EVERY: Duration = Duration::from_millis(1);

/// `--summary-every`: a number of seconds, or a duration with its unit as
/// `--answer-delay` takes it (`500ms`, `2s`); zero (never) or at least
/// [`MIN_SUMMARY_EVERY`].
fn seconds(text: &str) -> Result<Duration, String> {
    let every = match text.trim().parse::<f64>() {
        Ok(seconds) => Duration::try_from_secs_f64(seconds).ok(),
        Err(_) => delay(text).ok(),
    }
    .ok_or_else(|| {
        "not a number of seconds or a duration, zero or more (e.g. 0.5, 500ms)".to_owned()
    })?;
    if !every.is_zero() && every < MIN_SUMMARY_EVERY {
        return Err("shorter than a millisecond, the shortest interval (0 = never)".to_owned());
    }
    Ok(every)
}

/// A whole number above zero.
fn positive(text: &str) -> Option<usize> {
    text.parse::<usize>().ok().filter(|number| *number > 0)
}

/// `--max-request-bytes`: a positive whole number.
fn positive_bytes(text: &str) -> Result<usize, String> {
    positive(text).ok_or_else(|| "not a positive whole number of bytes".to_owned())
}

/// `--threads`: a whole number from 1 to [`MAX_WORKER_THREADS`].
fn threads(text: &str) -> Result<usize, String> {
    positive(text)
        .filter(|threads| *threads <= MAX_WORKER_THREADS)
        .ok_or_else(|| format!("not a whole number from 1 to {MAX_WORKER_THREADS} (e.g. 2)"))
}

/// A delay with its unit: `250ms`, `1.5s`; `0` alone needs none.
fn delay(text: &str) -> Result<Duration, String> {
    let bad = || "not a duration with a unit (e.g. 200ms, 1.5s, 0)".to_owned();
    let trimmed = text.trim();
    let (number, divisor) = if let Some(number) = trimmed.strip_suffix("ms") {
        (number, 1000.0)
    } else if let Some(number) = trimmed.strip_suffix('s') {
        (number, 1.0)
    } else if trimmed == "0" {
        return Ok(Duration::ZERO);
    } else {
        return Err(bad());
    };
    let number: f64 = number.trim().parse().map_err(|_| bad())?;
    if !number.is_finite() || number < 0.0 {
        return Err(bad());
    }
    Duration::try_from_secs_f64(number / divisor).map_err(|_| bad())
}

/// `--request-head-timeout`: a duration as `--answer-delay` takes it, but
/// not zero (every connection would be closed at once).
fn longer_than_zero(text: &str) -> Result<Duration, String> {
    match delay(text)? {
        zero if zero.is_zero() => Err(
            "zero would close every connection; give a duration with a unit (e.g. 30s)".to_owned(),
        ),
        timeout => Ok(timeout),
    }
}

/// `--request-timeout`: a duration as `--answer-delay` takes it, but not
/// zero (every request would be cut at once).
fn request_timeout(text: &str) -> Result<Duration, String> {
    match delay(text)? {
        zero if zero.is_zero() => Err(
            "zero would cut every request at once; give a duration with a unit (e.g. 30s)"
                .to_owned(),
        ),
        timeout => Ok(timeout),
    }
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::parse_words(std::iter::once("otlp-receiver").chain(args.iter().copied()))
    }

    /// The error as the user reads it, without colours.
    fn error(args: &[&str]) -> String {
        match parse(args) {
            Ok(parsed) => panic!("{args:?} parsed: {parsed:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_command_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_to_both_standard_ports() {
        let args = parse(&[]).expect("no arguments");
        assert_eq!(args.listeners(), (Some(DEFAULT_GRPC), Some(DEFAULT_HTTP)));
        assert_eq!(DEFAULT_GRPC, SocketAddr::from(([127, 0, 0, 1], 4317)));
        assert_eq!(DEFAULT_HTTP, SocketAddr::from(([127, 0, 0, 1], 4318)));
        assert_eq!(args.threads, 2);
        assert_eq!(parse(&["--threads=4"]).expect("four").threads, 4);
    }

    #[test]
    fn flags_take_values_both_ways() {
        let args = parse(&[
            "--http=127.0.0.1:0",
            "--count-only",
            "--summary-every",
            "0.5",
        ])
        .expect("valid");
        assert_eq!(
            args.listeners(),
            (None, Some(SocketAddr::from(([127, 0, 0, 1], 0))))
        );
        assert!(args.count_only);
        assert_eq!(args.summary_every, Some(Duration::from_millis(500)));
        assert_eq!(args.max_request_bytes, None);
        // With a unit, as --answer-delay takes durations.
        for (given, every) in [("500ms", 500), ("2s", 2000), ("0", 0)] {
            let args = parse(&["--summary-every", given]).expect(given);
            assert_eq!(
                args.summary_every,
                Some(Duration::from_millis(every)),
                "{given}"
            );
        }
    }

    #[test]
    fn a_repeated_flag_takes_its_last_value() {
        let args = parse(&[
            "--http",
            "127.0.0.1:1",
            "--http=127.0.0.1:2",
            "--quiet",
            "--quiet",
        ])
        .expect("repeated flags");
        assert_eq!(
            args.listeners(),
            (None, Some(SocketAddr::from(([127, 0, 0, 1], 2))))
        );
        assert!(args.quiet);
    }

    #[test]
    fn bad_arguments_are_errors_naming_the_flag() {
        for (args, names) in [
            (
                &["--grpc", "nowhere"][..],
                &["--grpc", "'nowhere'", "IP:PORT"][..],
            ),
            (&["--grpc"], &["--grpc"]),
            (&["--bogus"], &["--bogus"]),
            (
                &["--count-only", "--jsonl", "x"],
                &["--count-only", "--jsonl"],
            ),
            (&["--tls-cert", "c.pem"], &["--tls-key"]),
            (&["--tls-key", "k.pem"], &["--tls-cert"]),
            (&["--tls-client-ca", "ca.pem"], &["--tls-cert"]),
            (&["--summary-every", "-1"], &["--summary-every", "'-1'"]),
            (&["--summary-every", "soon"], &["--summary-every", "'soon'"]),
            // Shorter than the timer's millisecond, ticks would come in
            // bursts that keep a core busy while nothing arrives.
            (
                &["--summary-every", "0.000001"],
                &["--summary-every", "'0.000001'", "millisecond"],
            ),
            (
                &["--max-request-bytes", "0"],
                &["--max-request-bytes", "'0'"],
            ),
            (&["--quiet=yes"], &["--quiet"]),
            (&["--threads", "0"], &["--threads", "'0'", "from 1 to 1024"]),
            (&["--threads", "many"], &["--threads", "'many'"]),
            (
                &["--threads", "1025"],
                &["--threads", "'1025'", "from 1 to 1024"],
            ),
            (
                &["--threads", "18446744073709551615"],
                &["--threads", "'18446744073709551615'"],
            ),
        ] {
            let error = error(args);
            for name in names {
                assert!(error.contains(name), "{args:?}: {error}");
            }
        }
        let tls = parse(&[
            "--tls-cert=c.pem",
            "--tls-key=k.pem",
            "--tls-client-ca=ca.pem",
        ])
        .expect("TLS with a client CA");
        assert_eq!(tls.tls_client_ca, Some(PathBuf::from("ca.pem")));
    }

    /// Every option that takes a value (found in the command, so that a new
    /// one is covered): `-1` after it is its value, refused naming it; a word
    /// that is one of the options leaves it without a value; a value that is
    /// not UTF-8 is refused naming it, but for a file name, taken as given.
    #[test]
    fn every_option_that_takes_a_value_reads_one_starting_with_a_dash() {
        use clap::CommandFactory;
        let mut command = Args::command();
        command.build();
        let options: Vec<String> = command
            .get_arguments()
            .filter(|arg| arg.get_action().takes_values())
            .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
            .collect();
        assert!(options.len() >= 12, "{options:?}");
        for option in &options {
            let refused = error(&[option, "-1"]);
            assert!(
                refused.contains(&format!("invalid value '-1' for '{option} <")),
                "{option}: {refused}"
            );
            let missing = error(&[option, "--quiet"]);
            assert!(
                missing.contains(&format!("a value is required for '{option} <")),
                "{option}: {missing}"
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let not_utf8 = std::ffi::OsStr::from_bytes(b"requests-\xff.jsonl");
            for option in &options {
                let parsed = Args::parse_words([
                    "otlp-receiver".as_ref(),
                    std::ffi::OsStr::new(option),
                    not_utf8,
                ]);
                if option == "--jsonl" {
                    let args = parsed.expect("a file name that is not UTF-8");
                    assert_eq!(args.jsonl.as_deref(), Some(std::path::Path::new(not_utf8)));
                    continue;
                }
                // The TLS files are read at start, which says which flag.
                if option.starts_with("--tls-") {
                    continue;
                }
                let error = parsed.expect_err(option).to_string();
                assert!(
                    error.contains(&format!(
                        "invalid value 'requests-\u{FFFD}.jsonl' for '{option} <"
                    )) && error.contains("not valid UTF-8"),
                    "{option}: {error}"
                );
            }
        }
    }

    /// A file name starting with `-` is refused, attached or not (more
    /// likely a mistyped option), saying how to name such a file; `-`
    /// alone is a name as before.
    #[test]
    fn a_file_name_starting_with_a_dash_is_refused_saying_how_to_give_it() {
        for args in [&["--jsonl", "-q"][..], &["--jsonl=-q"]] {
            let error = error(args);
            assert!(
                error.contains("invalid value '-q' for '--jsonl <FILE>'") && error.contains("./-q"),
                "{args:?}: {error}"
            );
        }
        let dash = parse(&["--jsonl", "-"]).expect("- alone");
        assert_eq!(dash.jsonl, Some(PathBuf::from("-")));
    }

    /// Several values starting with `-` are each read as their option's:
    /// the first refused is the one reported.
    #[test]
    fn values_starting_with_a_dash_are_read_in_turn() {
        let args =
            parse(&["--threads", "3", "--jsonl", "./-x", "--http", "127.0.0.1:0"]).expect("valid");
        assert_eq!(args.threads, 3);
        let refused = error(&["--summary-every", "1", "--threads", "-3", "--http", "-1"]);
        assert!(
            refused.contains("invalid value '-3' for '--threads <N>'"),
            "{refused}"
        );
        // A stray word after a refused value does not hide the refusal.
        let refused = error(&["--http", "-1", "stray"]);
        assert!(
            refused.contains("invalid value '-1' for '--http <ADDR>'"),
            "{refused}"
        );
    }

    #[test]
    fn help_and_version_are_not_errors_of_usage() {
        let help = parse(&["--help"]).expect_err("help");
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert_eq!(help.exit_code(), 0);
        let text = help.to_string();
        for flag in [
            "--exit-on-stdin-eof",
            "--answer-delay <D>",
            "listening grpc=",
            // Every part of a log record's line (`render_logs`).
            "event=NAME",
        ] {
            assert!(text.contains(flag), "{flag}: {text}");
        }
        // The default the help text states is the receiver's.
        let default = format!(
            "(default {})",
            otlp_contrib::receiver::DEFAULT_MAX_REQUEST_BYTES
        );
        assert!(text.contains(&default), "{default}: {text}");
        let version = parse(&["--version"]).expect_err("version");
        assert_eq!(version.kind(), ErrorKind::DisplayVersion);
        assert_eq!(parse(&["--bogus"]).expect_err("bogus").exit_code(), 2);
    }

    #[test]
    fn request_head_timeouts_have_units_and_are_not_zero() {
        let timeout = |text: &str| {
            parse(&["--request-head-timeout", text])
                .map(|args| args.request_head_timeout)
                .map_err(|error| error.to_string())
        };
        assert_eq!(timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse(&[]).map(|args| args.request_head_timeout).ok(),
            Some(Duration::from_secs(30))
        );
        for bad in ["0", "0s", "10", "-1s"] {
            let error = timeout(bad).expect_err(bad);
            assert!(error.contains("--request-head-timeout"), "{bad}: {error}");
        }
    }

    #[test]
    fn request_timeouts_have_units_and_are_not_zero() {
        let timeout = |text: &str| {
            parse(&["--request-timeout", text])
                .map(|args| args.request_timeout)
                .map_err(|error| error.to_string())
        };
        assert_eq!(timeout("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(timeout("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse(&[]).map(|args| args.request_timeout).ok(),
            Some(otlp_contrib::receiver::DEFAULT_REQUEST_TIMEOUT)
        );
        for bad in ["0", "0ms", "30", "-1s", "soon", ""] {
            let error = timeout(bad).expect_err(bad);
            assert!(
                error.contains("--request-timeout") && error.contains(&format!("'{bad}'")),
                "{bad}: {error}"
            );
        }
        assert!(
            timeout("0")
                .expect_err("zero")
                .contains("zero would cut every request")
        );
    }

    #[test]
    fn answer_delays_have_units() {
        let answer_delay = |text: &str| {
            parse(&["--answer-delay", text])
                .map(|args| args.answer_delay)
                .map_err(|error| error.to_string())
        };
        assert_eq!(answer_delay("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(answer_delay("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(answer_delay(" 2 s"), Ok(Duration::from_secs(2)));
        assert_eq!(answer_delay("0"), Ok(Duration::ZERO));
        assert_eq!(answer_delay("0ms"), Ok(Duration::ZERO));
        assert_eq!(
            parse(&[]).map(|args| args.answer_delay).ok(),
            Some(Duration::ZERO)
        );
        let inline = parse(&["--answer-delay=50ms"]).expect("inline value");
        assert_eq!(inline.answer_delay, Duration::from_millis(50));
        for bad in [
            "", "200", "-1s", "1m", "ms", "fast", "NaN s", "inf s", "1e30s",
        ] {
            let error = answer_delay(bad).expect_err(bad);
            assert!(
                error.contains("--answer-delay") && error.contains(&format!("'{bad}'")),
                "{bad}: {error}"
            );
        }
        assert!(parse(&["--answer-delay"]).is_err());
    }
}
