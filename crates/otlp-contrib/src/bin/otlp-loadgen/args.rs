//! Command-line arguments, parsed by hand (a few flags do not need a parser crate).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use otlp_sdk::config::{Compression, FullPolicy, Protocol};

use crate::flags::Flags;

pub const USAGE: &str = "\
Usage: otlp-loadgen [OPTIONS]

Load-tests an OTLP trace endpoint (a Collector, an agent, a backend) through
the otlp-rust pipeline: W worker threads create spans with the native tracer,
a BatchSpanProcessor batches them and the OTLP/gRPC or OTLP/HTTP exporter
sends them. Settings not given as options come from the standard OTEL_*
variables (OTEL_EXPORTER_OTLP_*, OTEL_BSP_*, OTEL_SERVICE_NAME, ...), the
OTLP__SECTION__KEY overrides and config/default.{yaml,toml}, as for any
otlp-sdk program; options win.

Options:
  --endpoint URL        Where to send: the base URL (http://host:4318 gets
                        /v1/traces appended for HTTP; http://host:4317 for
                        gRPC) or a full URL ending in /v1/traces, used as given
                        (default: OTEL_EXPORTER_OTLP_ENDPOINT, else the
                        protocol's localhost default)
  --protocol P          grpc, http/protobuf or http/json
                        (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)
  --spans N             Total spans, split across the workers
                        (default 10000 when --duration is not given)
  --duration D          Produce for this long (e.g. 30s, 500ms, 2m; a bare
                        number is seconds); with --spans, stop at whichever
                        comes first
  --workers W           Producing threads (default 1)
  --rate R              Target spans per second over all workers (default:
                        as fast as possible); paced with sleeps, not spinning
  --attributes N        String attributes per span, 0 to 128 (default 8:
                        realistic HTTP server attributes)
  --compression C       none, gzip or zstd (default: OTEL_EXPORTER_OTLP_COMPRESSION)
  --header K=V          Add a request header / gRPC metadata entry (repeatable)
  --queue-size N        Span queue capacity (default: OTEL_BSP_MAX_QUEUE_SIZE, 2048)
  --full-policy P       When the queue is full: block (wait while the pipeline
                        drains; the default) or drop (OpenTelemetry's behaviour)
  --batch-size N        Largest batch (default: OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512,
                        lowered to --queue-size if that is smaller)
  --timeout D           Timeout of one export attempt (default: OTEL_EXPORTER_OTLP_TIMEOUT, 10s)
  --shutdown-timeout D  How long to wait at the end for queued spans to be
                        exported (default 30s)
  --service-name NAME   service.name of the spans (default: OTEL_SERVICE_NAME,
                        else otlp-loadgen)
  --config FILE         Read this YAML or TOML configuration file instead of
                        config/default.* and config/$RUN_ENV.*
  --metrics ADDR        Serve the pipeline's Prometheus metrics on
                        http://ADDR/metrics while running (e.g. 127.0.0.1:9464)
  --json-summary        Also print the summary as one JSON object, as the last
                        line of standard output
  --quiet               No progress line
  -h, --help            Print this help

While it runs, a progress line goes to standard error every second: spans
sent (handed to the pipeline), exported, dropped, failed, queued, and the
current send rate. At the end, once the pipeline has shut down, the summary
goes to standard output:

  sent=N exported=N dropped=N failed=N rejected=N elapsed=SECS spans/s=RATE

sent counts every span created; elapsed runs from the first span until the
pipeline has settled every span; spans/s is exported / elapsed. A second
line gives the details (send time and rate, batches, retries, export
latency). Ctrl-C stops producing early and still drains and summarises.

Exit status: 0 when every span sent was exported; 3 when some were dropped,
failed, rejected or not settled by --shutdown-timeout (the summary says
which); 1 when the pipeline cannot start (bad endpoint, unreadable TLS
file, port taken for --metrics); 2 on bad options or configuration.
";

/// Spans sent when neither `--spans` nor `--duration` is given.
pub const DEFAULT_SPANS: u64 = 10_000;
/// The most attributes a span may carry without the default span limits dropping some.
pub const MAX_ATTRIBUTES: usize = 128;

/// What the command line asks for. `None` means "not given": the
/// configuration (or the built-in default) decides.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub endpoint: Option<String>,
    pub protocol: Option<Protocol>,
    pub spans: Option<u64>,
    pub duration: Option<Duration>,
    pub workers: Option<usize>,
    pub rate: Option<f64>,
    pub attributes: Option<usize>,
    pub compression: Option<Compression>,
    pub headers: Vec<(String, String)>,
    pub queue_size: Option<usize>,
    pub full_policy: Option<FullPolicy>,
    pub batch_size: Option<usize>,
    pub timeout: Option<Duration>,
    pub shutdown_timeout: Option<Duration>,
    pub service_name: Option<String>,
    pub config: Option<PathBuf>,
    pub metrics: Option<SocketAddr>,
    pub json_summary: bool,
    pub quiet: bool,
}

impl Args {
    /// Total spans to send: `--spans`, else unlimited with `--duration`, else the default.
    pub fn span_limit(&self) -> Option<u64> {
        match (self.spans, self.duration) {
            (Some(spans), _) => Some(spans),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_SPANS),
        }
    }
}

/// Parses the arguments (without the program name); `Ok(None)` for `--help`.
/// Errors name the flag and the value.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Args>, String> {
    let mut parsed = Args::default();
    let mut flags = Flags::new(args);
    while let Some(next) = flags.next_flag() {
        let (flag, inline) = next?;
        let takes_value = !matches!(
            flag.as_str(),
            "-h" | "--help" | "--json-summary" | "--quiet"
        );
        if !takes_value && inline.is_some() {
            return Err(format!("{flag} takes no value"));
        }
        let mut value = || flags.value(&flag, inline.clone());
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--json-summary" => parsed.json_summary = true,
            "--quiet" => parsed.quiet = true,
            "--endpoint" => parsed.endpoint = Some(endpoint(&value()?)?),
            "--protocol" => parsed.protocol = Some(protocol(&value()?)?),
            "--spans" => parsed.spans = Some(positive("--spans", &value()?)?),
            "--duration" => parsed.duration = Some(duration("--duration", &value()?)?),
            "--workers" => {
                let workers = positive("--workers", &value()?)?;
                parsed.workers = Some(usize::try_from(workers).unwrap_or(usize::MAX));
                if workers > 4096 {
                    return Err(format!("--workers: {workers} is more than 4096 threads"));
                }
            }
            "--rate" => parsed.rate = Some(rate(&value()?)?),
            "--attributes" => parsed.attributes = Some(attributes(&value()?)?),
            "--compression" => parsed.compression = Some(compression(&value()?)?),
            "--header" => parsed.headers.push(header(&value()?)?),
            "--queue-size" => parsed.queue_size = Some(size("--queue-size", &value()?)?),
            "--full-policy" => parsed.full_policy = Some(full_policy(&value()?)?),
            "--batch-size" => parsed.batch_size = Some(size("--batch-size", &value()?)?),
            "--timeout" => parsed.timeout = Some(duration("--timeout", &value()?)?),
            "--shutdown-timeout" => {
                parsed.shutdown_timeout = Some(duration("--shutdown-timeout", &value()?)?)
            }
            "--service-name" => {
                let name = value()?;
                if name.trim().is_empty() {
                    return Err("--service-name: the name is empty".into());
                }
                parsed.service_name = Some(name);
            }
            "--config" => parsed.config = Some(PathBuf::from(value()?)),
            "--metrics" => {
                let text = value()?;
                parsed.metrics = Some(text.parse().map_err(|_| {
                    format!("--metrics: {text:?} is not an IP:PORT address (e.g. 127.0.0.1:9464)")
                })?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let (Some(batch), Some(queue)) = (parsed.batch_size, parsed.queue_size)
        && batch > queue
    {
        return Err(format!(
            "--batch-size: {batch} is larger than --queue-size {queue}"
        ));
    }
    Ok(Some(parsed))
}

fn endpoint(text: &str) -> Result<String, String> {
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            text.get(..scheme.len())
                .filter(|head| head.eq_ignore_ascii_case(scheme))
                .map(|_| &text[scheme.len()..])
        })
        .ok_or_else(|| {
            format!("--endpoint: {text:?} is not an http:// or https:// URL (e.g. http://localhost:4317)")
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("--endpoint: {text:?} has no valid host"));
    }
    Ok(text.to_owned())
}

fn protocol(text: &str) -> Result<Protocol, String> {
    match text.to_ascii_lowercase().as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Ok(Protocol::HttpJson),
        _ => Err(format!(
            "--protocol: {text:?} is not one of grpc, http/protobuf, http/json"
        )),
    }
}

fn compression(text: &str) -> Result<Compression, String> {
    match text.to_ascii_lowercase().as_str() {
        "none" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "zstd" => Ok(Compression::Zstd),
        _ => Err(format!(
            "--compression: {text:?} is not one of none, gzip, zstd"
        )),
    }
}

fn positive(flag: &str, text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{flag}: {text:?} is not a positive whole number"))
}

fn size(flag: &str, text: &str) -> Result<usize, String> {
    let n = positive(flag, text)?;
    usize::try_from(n).map_err(|_| format!("{flag}: {text:?} is too large"))
}

fn attributes(text: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_ATTRIBUTES)
        .ok_or_else(|| {
            format!("--attributes: {text:?} is not a whole number from 0 to {MAX_ATTRIBUTES}")
        })
}

fn rate(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate > 0.0)
        .ok_or_else(|| format!("--rate: {text:?} is not a positive number of spans per second"))
}

fn header(text: &str) -> Result<(String, String), String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!(
            "--header: {text:?} is not NAME=VALUE (e.g. --header x-api-key=secret)"
        ));
    };
    let name = name.trim();
    // An HTTP token (RFC 9110), which is also valid gRPC metadata once lower-cased.
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!(
            "--header: {name:?} in {text:?} is not a valid header name"
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "--header: the value of {name:?} contains control characters"
        ));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// `250ms`, `1.5s`, `2m`, `1h`, or a bare number of seconds; more than zero.
pub fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("{flag}: {text:?} is not a duration (e.g. 30s, 500ms, 2m, or a number of seconds)")
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.trim().parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(bad()),
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("{flag}: {text:?} must be more than zero"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// `--full-policy`: `block` or `drop`, any case.
fn full_policy(text: &str) -> Result<FullPolicy, String> {
    match text.to_ascii_lowercase().as_str() {
        "block" => Ok(FullPolicy::default()),
        "drop" => Ok(FullPolicy::Drop),
        _ => Err(format!("--full-policy: {text:?} is not block or drop")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Option<Args>, String> {
        parse(args.iter().map(OsString::from))
    }

    fn parsed(args: &[&str]) -> Args {
        parse_strs(args).unwrap().unwrap()
    }

    #[test]
    fn full_policy_is_block_or_drop() {
        assert_eq!(
            parsed(&["--full-policy", "DROP"]).full_policy,
            Some(FullPolicy::Drop)
        );
        assert_eq!(
            parsed(&["--full-policy=block"]).full_policy,
            Some(FullPolicy::default())
        );
        let error = parse_strs(&["--full-policy", "wait"]).unwrap_err();
        assert!(
            error.contains("--full-policy") && error.contains("wait"),
            "{error}"
        );
    }

    #[test]
    fn flags_take_values_both_ways() {
        let args = parsed(&[
            "--endpoint=http://127.0.0.1:4317",
            "--protocol",
            "GRPC",
            "--spans",
            "1000",
            "--workers=4",
            "--rate",
            "2500.5",
            "--attributes",
            "0",
            "--header",
            "x-api-key=a=b",
            "--duration",
            "1.5s",
            "--timeout",
            "250ms",
            "--json-summary",
        ]);
        assert_eq!(args.endpoint.as_deref(), Some("http://127.0.0.1:4317"));
        assert_eq!(args.protocol, Some(Protocol::Grpc));
        assert_eq!(args.spans, Some(1000));
        assert_eq!(args.workers, Some(4));
        assert_eq!(args.rate, Some(2500.5));
        assert_eq!(args.attributes, Some(0));
        assert_eq!(args.headers, vec![("x-api-key".into(), "a=b".into())]);
        assert_eq!(args.duration, Some(Duration::from_millis(1500)));
        assert_eq!(args.timeout, Some(Duration::from_millis(250)));
        assert!(args.json_summary);
    }

    #[test]
    fn the_span_limit_defaults_unless_a_duration_is_given() {
        assert_eq!(parsed(&[]).span_limit(), Some(DEFAULT_SPANS));
        assert_eq!(parsed(&["--duration", "2"]).span_limit(), None);
        assert_eq!(
            parsed(&["--duration", "2", "--spans", "7"]).span_limit(),
            Some(7)
        );
    }

    #[test]
    fn durations_have_units() {
        let d = |text| duration("--d", text);
        assert_eq!(d("30"), Ok(Duration::from_secs(30)));
        assert_eq!(d("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(d("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "0", "-1s", "1d", "abc", "NaN", "inf"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_flag_and_the_value() {
        for (args, flag, value) in [
            (&["--workers", "abc"][..], "--workers", "abc"),
            (&["--workers", "0"], "--workers", "0"),
            (&["--spans", "-5"], "--spans", "-5"),
            (&["--protocol", "http"], "--protocol", "http"),
            (&["--rate", "0"], "--rate", "0"),
            (&["--attributes", "129"], "--attributes", "129"),
            (&["--compression", "brotli"], "--compression", "brotli"),
            (
                &["--endpoint", "localhost:4317"],
                "--endpoint",
                "localhost:4317",
            ),
            (&["--endpoint", "http://"], "--endpoint", "http://"),
            (&["--header", "novalue"], "--header", "novalue"),
            (&["--header", "bad name=x"], "--header", "bad name"),
            (&["--duration", "soon"], "--duration", "soon"),
            (&["--metrics", "9464"], "--metrics", "9464"),
        ] {
            let error = parse_strs(args).unwrap_err();
            assert!(
                error.contains(flag) && error.contains(&format!("{value:?}")),
                "{args:?}: {error}"
            );
        }
        assert!(parse_strs(&["--bogus"]).unwrap_err().contains("--bogus"));
        assert!(
            parse_strs(&["--spans"])
                .unwrap_err()
                .contains("--spans needs a value")
        );
        assert!(
            parse_strs(&["--quiet=yes"])
                .unwrap_err()
                .contains("--quiet")
        );
        let error = parse_strs(&["--queue-size", "100", "--batch-size", "200"]).unwrap_err();
        assert!(
            error.contains("--batch-size") && error.contains("--queue-size"),
            "{error}"
        );
        assert_eq!(parse_strs(&["--help"]), Ok(None));
    }
}
