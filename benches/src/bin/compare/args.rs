//! The command line: the coordinator's options and the hidden child roles.

use std::time::Duration;

use otlp_benches::end_to_end::{Endpoints, Transport};
use otlp_benches::hot_path::ValueKind;

use crate::roles::{Implementation, SenderArgs};

/// `--help`.
pub const USAGE: &str = "\
compare: 1,000,000 spans with 8 string attributes end to end, otlp-rust against
opentelemetry_sdk + opentelemetry-otlp, over OTLP/gRPC and OTLP/HTTP (protobuf), to
a loopback receiver in its own process; prints a Markdown table.

USAGE:
    cargo run --release -p otlp-benches --bin compare [-- OPTIONS]

OPTIONS:
    --spans N                 spans per sender (default 1000000)
    --runs R                  run every row R times, in rotating order, and report
                              medians (lost: the worst run) (default 3)
    --transport T             grpc, http or both (default both)
    --baseline-queues LIST    the baseline's queue sizes, comma-separated; `default`
                              is its default (2048) (default: default,65536,Q where
                              Q = max(1000000, spans), a queue that holds every span)
    --values V                borrowed: per-span &str values, each SDK copies them
                              with its own API; owned: a String per value built by
                              the caller and handed over (default borrowed)
    --shutdown-timeout SECS   longest a sender's final shutdown may take (default 120)
    --receiver-threads N      receiver worker threads (default 2)
    --json                    print JSON instead of Markdown
    -h, --help                this text
";

/// A queue size for the baseline's batch processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    /// Its default (2,048), set up with `with_batch_exporter`.
    Default,
    /// This many spans.
    Size(usize),
}

impl Queue {
    /// The size the queue holds.
    pub fn capacity(self) -> usize {
        match self {
            Queue::Default => 2_048,
            Queue::Size(size) => size,
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "default" => Ok(Queue::Default),
            size => match parse_count(size)? {
                0 => Err("a queue holds at least one span".to_owned()),
                size => Ok(Queue::Size(size as usize)),
            },
        }
    }
}

/// What the coordinator runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Spans per sender.
    pub spans: u64,
    /// Repetitions of every row.
    pub runs: usize,
    /// Transports compared.
    pub transports: Vec<Transport>,
    /// The baseline's queues.
    pub queues: Vec<Queue>,
    /// How values reach the SDKs.
    pub values: ValueKind,
    /// A sender's shutdown bound.
    pub shutdown_timeout: Duration,
    /// Receiver worker threads.
    pub receiver_threads: usize,
    /// JSON instead of Markdown.
    pub json: bool,
    /// The arguments as given (after the program name), for the report.
    pub given: Vec<String>,
}

impl Options {
    fn defaults() -> Self {
        Options {
            spans: 1_000_000,
            runs: 3,
            transports: Transport::ALL.to_vec(),
            queues: Vec::new(),
            values: ValueKind::Borrowed,
            shutdown_timeout: Duration::from_secs(120),
            receiver_threads: 2,
            json: false,
            given: Vec::new(),
        }
    }

    /// The default queues for this many spans: see [`USAGE`].
    fn default_queues(spans: u64) -> Vec<Queue> {
        vec![
            Queue::Default,
            Queue::Size(65_536),
            Queue::Size(spans.max(1_000_000) as usize),
        ]
    }
}

/// What this process is asked to be.
#[derive(Clone, Debug, PartialEq)]
pub enum Role {
    /// Print the usage.
    Help,
    /// Run the comparison.
    Coordinator(Options),
    /// Be the receiver.
    Receiver {
        /// Worker threads.
        threads: usize,
    },
    /// Be one sender.
    Sender(SenderArgs),
}

/// Reads `1000000`, `1_000_000` or `1,000,000`.
fn parse_count(text: &str) -> Result<u64, String> {
    let digits: String = text.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    digits.parse().map_err(|_| format!("not a count: {text:?}"))
}

fn parse_values(text: &str) -> Result<ValueKind, String> {
    match text {
        "borrowed" => Ok(ValueKind::Borrowed),
        "owned" => Ok(ValueKind::Owned),
        other => Err(format!("unknown --values {other:?} (borrowed or owned)")),
    }
}

fn values_name(kind: ValueKind) -> &'static str {
    match kind {
        ValueKind::Borrowed => "borrowed",
        ValueKind::Owned => "owned",
        ValueKind::Static => "static",
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<String>) -> Result<Role, String> {
    let mut options = Options::defaults();
    options.given = args.clone();
    let mut role = None;
    let mut implementation = None;
    let mut transport = None;
    let (mut grpc, mut http) = (None, None);
    let mut queue = None;
    let mut queues_given = false;
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Role::Help),
            "--spans" => options.spans = parse_count(&value("--spans")?)?,
            "--runs" => {
                options.runs = parse_count(&value("--runs")?)? as usize;
                if options.runs == 0 {
                    return Err("--runs must be at least 1".into());
                }
            }
            "--transport" => {
                let text = value("--transport")?;
                options.transports = match text.as_str() {
                    "both" => Transport::ALL.to_vec(),
                    one => vec![one.parse()?],
                };
                transport = options.transports.first().copied();
            }
            "--baseline-queues" => {
                options.queues = value("--baseline-queues")?
                    .split(',')
                    .map(|item| Queue::parse(item.trim()))
                    .collect::<Result<_, _>>()?;
                queues_given = true;
            }
            "--values" => options.values = parse_values(&value("--values")?)?,
            "--shutdown-timeout" => {
                let seconds = parse_count(&value("--shutdown-timeout")?)?;
                options.shutdown_timeout = Duration::from_secs(seconds);
            }
            "--receiver-threads" => {
                options.receiver_threads = parse_count(&value("--receiver-threads")?)? as usize;
                if options.receiver_threads == 0 {
                    return Err("--receiver-threads must be at least 1".into());
                }
            }
            "--json" => options.json = true,
            // The hidden child roles.
            "--role" => role = Some(value("--role")?),
            "--impl" => implementation = Some(Implementation::parse(&value("--impl")?)?),
            "--grpc" => grpc = Some(value("--grpc")?),
            "--http" => http = Some(value("--http")?),
            "--queue" => queue = Some(parse_count(&value("--queue")?)? as usize),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !queues_given {
        options.queues = Options::default_queues(options.spans);
    }
    match role.as_deref() {
        None => Ok(Role::Coordinator(options)),
        Some("receiver") => Ok(Role::Receiver {
            threads: options.receiver_threads,
        }),
        Some("sender") => Ok(Role::Sender(SenderArgs {
            implementation: implementation.ok_or("a sender needs --impl")?,
            transport: transport.ok_or("a sender needs --transport")?,
            endpoints: Endpoints {
                grpc: grpc.ok_or("a sender needs --grpc")?,
                http: http.ok_or("a sender needs --http")?,
            },
            spans: options.spans,
            queue,
            values: options.values,
            shutdown_timeout: options.shutdown_timeout,
        })),
        Some(other) => Err(format!("unknown role {other:?}")),
    }
}

/// The arguments that make a child process this sender.
pub fn sender_command_line(args: &SenderArgs) -> Vec<String> {
    let mut line = vec![
        "--role".to_owned(),
        "sender".to_owned(),
        "--impl".to_owned(),
        args.implementation.as_str().to_owned(),
        "--transport".to_owned(),
        args.transport.as_str().to_owned(),
        "--grpc".to_owned(),
        args.endpoints.grpc.clone(),
        "--http".to_owned(),
        args.endpoints.http.clone(),
        "--spans".to_owned(),
        args.spans.to_string(),
        "--values".to_owned(),
        values_name(args.values).to_owned(),
        "--shutdown-timeout".to_owned(),
        args.shutdown_timeout.as_secs().to_string(),
    ];
    if let Some(queue) = args.queue {
        line.extend(["--queue".to_owned(), queue.to_string()]);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn no_arguments_is_the_full_comparison() {
        let Ok(Role::Coordinator(options)) = parse(Vec::new()) else {
            panic!("coordinator expected");
        };
        assert_eq!((options.spans, options.runs), (1_000_000, 3));
        assert_eq!(options.transports, Transport::ALL);
        assert_eq!(
            options.queues,
            [Queue::Default, Queue::Size(65_536), Queue::Size(1_000_000)]
        );
        assert_eq!(options.values, ValueKind::Borrowed);
    }

    #[test]
    fn options_override_the_defaults() {
        let args = strings(&[
            "--spans",
            "20_000",
            "--runs",
            "3",
            "--transport",
            "http",
            "--baseline-queues",
            "default, 1_000_000",
            "--values",
            "owned",
            "--json",
        ]);
        let Ok(Role::Coordinator(options)) = parse(args.clone()) else {
            panic!("coordinator expected");
        };
        assert_eq!(
            (options.spans, options.runs, options.json),
            (20_000, 3, true)
        );
        assert_eq!(options.transports, [Transport::Http]);
        assert_eq!(options.queues, [Queue::Default, Queue::Size(1_000_000)]);
        assert_eq!(options.values, ValueKind::Owned);
        assert_eq!(options.given, args);
        assert!(parse(strings(&["--spans"])).is_err());
        assert!(parse(strings(&["--bogus"])).is_err());
        assert!(parse(strings(&["--runs", "0"])).is_err());
    }

    #[test]
    fn a_sender_command_line_parses_back_to_the_same_sender() {
        let sender = SenderArgs {
            implementation: Implementation::OpenTelemetry,
            transport: Transport::Grpc,
            endpoints: Endpoints {
                grpc: "http://127.0.0.1:1".into(),
                http: "http://127.0.0.1:2".into(),
            },
            spans: 1_000,
            queue: Some(65_536),
            values: ValueKind::Owned,
            shutdown_timeout: Duration::from_secs(7),
        };
        assert_eq!(
            parse(sender_command_line(&sender)),
            Ok(Role::Sender(sender.clone()))
        );
        let receiver = parse(strings(&["--role", "receiver", "--receiver-threads", "3"]));
        assert_eq!(receiver, Ok(Role::Receiver { threads: 3 }));
    }
}
