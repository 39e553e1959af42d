//! Command-line arguments, parsed by hand (a dozen flags do not need a parser crate).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::flags::Flags;

pub const USAGE: &str = "\
Usage: otlp-receiver [OPTIONS]

Receives OTLP traces (gRPC and HTTP, protobuf and JSON, gzip and zstd) and
prints each trace as an indented tree: service, name, duration, status.

Options:
  --grpc ADDR              Listen for OTLP/gRPC on ADDR (port 0: any free port)
  --http ADDR              Listen for OTLP/HTTP (POST /v1/traces) on ADDR
                           Neither given: both, on 127.0.0.1:4317 and 127.0.0.1:4318
  --jsonl FILE             Append every request to FILE as one OTLP/JSON line
  --count-only             Count spans without decoding them (for benchmarks):
                           no trees, no --jsonl
  --quiet                  Do not print requests and trees
  --summary-every SECS     Print a count line every SECS seconds when the counts
                           changed (default 1 with --count-only, otherwise 0 = never)
  --max-request-bytes N    Cap on request bodies, compressed and decompressed
                           (default 67108864)
  --answer-delay D         Answer every request D late, like a slow but healthy
                           collector (e.g. 200ms, 1.5s; default 0)
  --tls-cert FILE          Serve TLS with this PEM certificate chain (needs --tls-key)
  --tls-key FILE           The PEM private key of --tls-cert
  --tls-client-ca FILE     Require client certificates signed by this PEM CA (mTLS)
  --exit-on-stdin-eof      Also exit when standard input is closed
  -h, --help               Print this help

Output on stdout: the first line is `listening grpc=ADDR http=ADDR` (the bound
addresses of the enabled listeners); then, per request, `request TRANSPORT
spans=N answer=ANSWER` and its trees; `count requests=N ...` summaries; and
`final requests=N ...` on exit. Errors go to stderr.

Exits with status 0 on SIGINT or SIGTERM (and on end of standard input with
--exit-on-stdin-eof), 1 when it cannot start, 2 on bad arguments.
";

/// What the command line asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    pub grpc: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub jsonl: Option<PathBuf>,
    pub count_only: bool,
    pub quiet: bool,
    pub summary_every: Option<Duration>,
    pub max_request_bytes: Option<usize>,
    /// `--answer-delay`; zero means no delay.
    pub answer_delay: Duration,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub exit_on_stdin_eof: bool,
}

/// Parses the arguments (without the program name); `Ok(None)` for `--help`.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Args>, String> {
    let mut parsed = Args::default();
    let mut flags = Flags::new(args);
    while let Some(next) = flags.next_flag() {
        let (flag, inline) = next?;
        let mut value = |name: &str| flags.value(name, inline.clone());
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--grpc" => parsed.grpc = Some(address("--grpc", &value("--grpc")?)?),
            "--http" => parsed.http = Some(address("--http", &value("--http")?)?),
            "--jsonl" => parsed.jsonl = Some(PathBuf::from(value("--jsonl")?)),
            "--count-only" => parsed.count_only = true,
            "--quiet" => parsed.quiet = true,
            "--summary-every" => {
                let text = value("--summary-every")?;
                let seconds: f64 = text
                    .parse()
                    .ok()
                    .filter(|seconds: &f64| seconds.is_finite() && *seconds >= 0.0)
                    .ok_or_else(|| {
                        format!("--summary-every: {text:?} is not a number of seconds")
                    })?;
                parsed.summary_every = Some(Duration::from_secs_f64(seconds));
            }
            "--max-request-bytes" => {
                let text = value("--max-request-bytes")?;
                let bytes = text
                    .parse::<usize>()
                    .ok()
                    .filter(|bytes| *bytes > 0)
                    .ok_or_else(|| {
                        format!("--max-request-bytes: {text:?} is not a positive integer")
                    })?;
                parsed.max_request_bytes = Some(bytes);
            }
            "--answer-delay" => {
                parsed.answer_delay = delay("--answer-delay", &value("--answer-delay")?)?
            }
            "--tls-cert" => parsed.tls_cert = Some(PathBuf::from(value("--tls-cert")?)),
            "--tls-key" => parsed.tls_key = Some(PathBuf::from(value("--tls-key")?)),
            "--tls-client-ca" => {
                parsed.tls_client_ca = Some(PathBuf::from(value("--tls-client-ca")?))
            }
            "--exit-on-stdin-eof" => parsed.exit_on_stdin_eof = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if parsed.grpc.is_none() && parsed.http.is_none() {
        parsed.grpc = Some(SocketAddr::from(([127, 0, 0, 1], 4317)));
        parsed.http = Some(SocketAddr::from(([127, 0, 0, 1], 4318)));
    }
    if parsed.count_only && parsed.jsonl.is_some() {
        return Err("--jsonl needs decoded requests; it cannot be used with --count-only".into());
    }
    if parsed.tls_cert.is_some() != parsed.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if parsed.tls_client_ca.is_some() && parsed.tls_cert.is_none() {
        return Err("--tls-client-ca needs --tls-cert and --tls-key".into());
    }
    Ok(Some(parsed))
}

fn address(flag: &str, text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not an IP:PORT address (e.g. 127.0.0.1:4317)"))
}

/// A delay with its unit: `250ms`, `1.5s`; `0` alone needs none.
fn delay(flag: &str, text: &str) -> Result<Duration, String> {
    let bad = || format!("{flag}: {text:?} is not a duration with a unit (e.g. 200ms, 1.5s, 0)");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Option<Args>, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults_to_both_standard_ports() {
        let args = parse_strs(&[]).ok().flatten().unwrap_or_default();
        assert_eq!(args.grpc, Some(SocketAddr::from(([127, 0, 0, 1], 4317))));
        assert_eq!(args.http, Some(SocketAddr::from(([127, 0, 0, 1], 4318))));
    }

    #[test]
    fn flags_take_values_both_ways() {
        let args = parse_strs(&[
            "--http=127.0.0.1:0",
            "--count-only",
            "--summary-every",
            "0.5",
        ])
        .ok()
        .flatten()
        .unwrap_or_default();
        assert_eq!(args.http, Some(SocketAddr::from(([127, 0, 0, 1], 0))));
        assert_eq!(args.grpc, None);
        assert!(args.count_only);
        assert_eq!(args.summary_every, Some(Duration::from_millis(500)));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse_strs(&["--grpc", "nowhere"]).is_err());
        assert!(parse_strs(&["--grpc"]).is_err());
        assert!(parse_strs(&["--bogus"]).is_err());
        assert!(parse_strs(&["--count-only", "--jsonl", "x"]).is_err());
        assert!(parse_strs(&["--tls-cert", "c.pem"]).is_err());
        assert_eq!(parse_strs(&["--help"]), Ok(None));
    }

    #[test]
    fn answer_delays_have_units() {
        let answer_delay = |text: &str| {
            parse_strs(&["--answer-delay", text]).map(|args| args.unwrap_or_default().answer_delay)
        };
        assert_eq!(answer_delay("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(answer_delay("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(answer_delay(" 2 s"), Ok(Duration::from_secs(2)));
        assert_eq!(answer_delay("0"), Ok(Duration::ZERO));
        assert_eq!(answer_delay("0ms"), Ok(Duration::ZERO));
        assert_eq!(
            parse_strs(&[]).ok().flatten().map(|args| args.answer_delay),
            Some(Duration::ZERO)
        );
        let inline = parse_strs(&["--answer-delay=50ms"])
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(inline.answer_delay, Duration::from_millis(50));
        for bad in [
            "", "200", "-1s", "1m", "ms", "fast", "NaN s", "inf s", "1e30s",
        ] {
            let error = answer_delay(bad).expect_err(bad);
            assert!(
                error.contains("--answer-delay") && error.contains(&format!("{bad:?}")),
                "{bad}: {error}"
            );
        }
        assert!(parse_strs(&["--answer-delay"]).is_err());
    }
}
