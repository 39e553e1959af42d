//! The command line: the coordinator's options and the hidden child roles.

use std::path::PathBuf;
use std::time::Duration;

use otlp_benches::end_to_end::{Endpoints, Shape, Transport};
use otlp_benches::fixtures::ValueLen;
use otlp_benches::hot_path::ValueKind;

use otlp_benches::logs::Shape as LogShape;

use crate::roles::{Front, Implementation, Load, ReceiverStore, SenderArgs};

/// `--help`.
pub const USAGE: &str = "\
compare: otlp-rust against opentelemetry_sdk + opentelemetry-otlp end to end, over
OTLP/gRPC and OTLP/HTTP (protobuf), to a loopback receiver in its own process, in
the scenarios below; prints a Markdown table per scenario.

USAGE:
    cargo run --release -p otlp-benches --bin compare [-- OPTIONS]

SCENARIOS (--scenario LIST, comma-separated, or `all`; default burst,steady,slow,outage):
    burst        1,000,000 spans as fast as one thread makes them; baseline queues
                 default, 65536 and one that holds every span (counting receiver);
                 the producer's wall time per span
    steady       50,000 spans/s for 10 s, paced by the sender: sender CPU per span
                 and share of one core
                 (burst and steady also run otlp-rust with its durable queue on,
                 default fsync, in a fresh directory under the temp dir per run,
                 and compare it with the memory-only row)
                 (burst, steady and front-doors also run a control sender, the
                 same producer loop with no SDK: CPU per span beyond the workload)
    slow         every answer delayed 200 ms: a burst of 5,000 spans and 10,000
                 spans/s for 10 s; spans lost, producer time spent in span calls
    outage       20,000 spans/s; the receiver refuses connections for 5 s after the
                 first 2 s (2 s more follow); spans lost
    front-doors  the steady load through the opentelemetry API and through tracing +
                 tracing-opentelemetry, in front of otlp-rust (OtlpSpanProcessor)
                 and of the baseline; and tracing three ways (OtlpLayer into
                 otlp-sdk, tracing-opentelemetry over OtlpSpanProcessor, over the
                 baseline with a queue that holds every span), in a burst and at
                 the steady rate, 1 and 2 producer threads, flat spans and a root
                 with nine children: sender CPU per span, producer ns/span, lost
    memory       the receiver refuses connections while 200,000 spans are made as
                 fast as one thread makes them; the sender's resident memory
                 growth per span its pipeline holds, against the spans' encoded
                 size (the baseline's queue holds every span); only with
                 --scenario memory or all
    logs         tracing events (info, 8 fields) as log records: OtlpLogLayer and
                 Logger::emit into otlp-sdk against opentelemetry-appender-tracing
                 + the SDK's BatchLogProcessor + opentelemetry-otlp (queue 2,048
                 and one that holds every record), a burst of 200,000 and 50,000
                 records/s for 5 s: sender CPU per record, received, lost; only
                 with --scenario logs (not part of `all`)
    metrics      issue 17: Counter::add and Histogram::record with 3 attributes on an
                 existing series, 1 and 2 threads (ns/op), memory per series and CPU
                 to collect and export 10,000 series over gRPC: otlp-sdk against
                 opentelemetry_sdk + opentelemetry-otlp; only with --scenario
                 metrics (not part of `all`)

OPTIONS:
    --scenario LIST           the scenarios to run (see above)
    --receiver STORE          count: spans counted by walking the protobuf; decode:
                              every request decoded into opentelemetry-proto types;
                              distinct: decode, and count each span once by its ids
                              too (a span delivered twice is not taken for one lost)
                              (default: count for burst, distinct for outage,
                              decode for the others)
    --spans N                 burst: spans per sender (default 1000000)
    --runs R                  run every row R times, in rotating order, and report
                              medians (lost: the worst run) (default 3)
    --transport T             grpc, http or both (default both)
    --baseline-queues LIST    the baseline's queue sizes, comma-separated; `default`
                              is its default (2048) (default: default,65536,N where
                              N = --spans, a queue that holds every span and no more;
                              65536 only when N is larger, N only above 2048)
    --values V                borrowed: per-span &str values, each SDK copies them
                              with its own API; owned: a String per value built by
                              the caller and handed over (default borrowed)
    --value-len N             every per-span attribute value N characters (ASCII, 8 to
                              4096), on both sides and in the control alike: longer
                              values are the default ones with their numbers
                              zero-padded (default 16, the issues' workload, which
                              fits otlp-core's 23-byte inline strings); not metrics
                              (no per-span values; refused with metrics alone). A
                              baseline queue that holds every span (or log record)
                              holds about 8 x N bytes of values each (N = 4096 and
                              1,000,000 spans: 32 GiB): lower --spans, --memory-spans,
                              --door-spans, --log-records with long values
    --shutdown-timeout SECS   longest a sender's final shutdown may take (default 120)
    --receiver-threads N      receiver worker threads (default 2)
    --rate N                  steady, front-doors: spans per second (default 50000)
    --duration D              steady, front-doors: how long (default 10s; `500ms`, `2.5`)
    --slow-delay D            slow: delay of every answer (default 200ms)
    --slow-spans N            slow: spans of the burst (default 5000)
    --slow-rate N             slow: spans per second of the paced load (default 10000)
    --slow-duration D         slow: how long the paced load lasts (default 10s)
    --outage D                outage: how long connections are refused (default 5s)
    --outage-rate N           outage: spans per second (default 20000)
    --door-spans N            front-doors: spans of the tracing burst (default 200000)
    --door-threads LIST       front-doors: producer threads of the tracing rows,
                              comma-separated (default 1,2)
    --door-shapes LIST        front-doors: flat, nested or both, comma-separated
                              (default flat,nested)
    --memory-spans N          memory: spans made while the receiver is down
                              (default 200000); the baseline's queue holds N
    --field-queue Q           the baseline's queue in every scenario but burst;
                              `default` is its default (2048) (default: default)
    --no-durable              burst, steady: leave out the durable-queue rows
    --log-records N           logs: records of the burst (default 200000)
    --log-rate N              logs: records per second of the steady load (default 50000)
    --log-duration D          logs: how long the steady load lasts (default 5s)
    --log-modes LIST          logs: burst, steady or both, comma-separated (default both)
    --log-shapes LIST         logs: flat (no span), in-span (ten events per entered
                              span) or both, comma-separated (default flat)
    --metric-series N         metrics: series of the memory and export measurements
                              (default 10000)
    --metric-op-time D        metrics: length of each timed loop (default 300ms)
    --repeat R                the same as --runs
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

/// One scenario of the comparison; see [`USAGE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// As many spans as one thread makes, the baseline with three queues.
    Burst,
    /// A paced load: sender CPU per span and share of one core.
    Steady,
    /// Every answer delayed: spans lost, producer time in span calls.
    Slow,
    /// The receiver refuses connections for a while: spans lost.
    Outage,
    /// The steady load through the `opentelemetry` API and `tracing`.
    FrontDoors,
    /// The receiver down during a burst: resident memory per held span.
    Memory,
}

impl Scenario {
    /// Every scenario, in the order they run and are reported.
    pub const ALL: [Scenario; 6] = [
        Scenario::Burst,
        Scenario::Steady,
        Scenario::Slow,
        Scenario::Outage,
        Scenario::FrontDoors,
        Scenario::Memory,
    ];

    /// What runs without `--scenario` (about ten minutes on two cores; the
    /// front doors and the memory scenario run on request).
    pub const DEFAULT: [Scenario; 4] = [
        Scenario::Burst,
        Scenario::Steady,
        Scenario::Slow,
        Scenario::Outage,
    ];

    /// The name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scenario::Burst => "burst",
            Scenario::Steady => "steady",
            Scenario::Slow => "slow",
            Scenario::Outage => "outage",
            Scenario::FrontDoors => "front-doors",
            Scenario::Memory => "memory",
        }
    }

    /// Reads `burst,steady` or `all`, in canonical order, without repeats.
    fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        let mut scenarios = Vec::new();
        for item in text.split(',').map(str::trim) {
            match item {
                "all" => scenarios.extend(Scenario::ALL),
                name => scenarios.push(
                    Scenario::ALL
                        .into_iter()
                        .find(|scenario| scenario.as_str() == name)
                        .ok_or_else(|| {
                            format!(
                                "unknown scenario {name:?} \
                                 (burst, steady, slow, outage, front-doors, memory or all)"
                            )
                        })?,
                ),
            }
        }
        scenarios.sort();
        scenarios.dedup();
        Ok(scenarios)
    }
}

/// The steady, slow-collector, outage and memory loads; see [`USAGE`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldOptions {
    /// Steady and front doors: spans per second.
    pub rate: u64,
    /// Steady and front doors: how long.
    pub duration: Duration,
    /// Slow collector: the delay of every answer.
    pub slow_delay: Duration,
    /// Slow collector: spans of the burst.
    pub slow_spans: u64,
    /// Slow collector: spans per second of the paced load.
    pub slow_rate: u64,
    /// Slow collector: how long the paced load lasts.
    pub slow_duration: Duration,
    /// Outage: how long connections are refused.
    pub outage: Duration,
    /// Outage: spans per second.
    pub outage_rate: u64,
    /// Memory: spans made while the receiver is down.
    pub memory_spans: u64,
    /// Front doors: spans of the `tracing` burst.
    pub door_spans: u64,
    /// The baseline's queue in these scenarios (but memory's, which holds
    /// every span).
    pub queue: Queue,
}

impl Default for FieldOptions {
    fn default() -> Self {
        FieldOptions {
            rate: 50_000,
            duration: Duration::from_secs(10),
            slow_delay: Duration::from_millis(200),
            slow_spans: 5_000,
            slow_rate: 10_000,
            slow_duration: Duration::from_secs(10),
            outage: Duration::from_secs(5),
            outage_rate: 20_000,
            memory_spans: 200_000,
            door_spans: 200_000,
            queue: Queue::Default,
        }
    }
}

/// How long the outage scenario sends before the outage begins, and again
/// after it ends.
pub const OUTAGE_MARGIN: Duration = Duration::from_secs(2);

impl FieldOptions {
    /// The outage scenario's load: [`OUTAGE_MARGIN`], the outage, the margin again.
    pub fn outage_load(&self) -> Load {
        Load::Paced {
            rate: self.outage_rate,
            duration: OUTAGE_MARGIN + self.outage + OUTAGE_MARGIN,
        }
    }
}

/// What the coordinator runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The scenarios, in canonical order.
    pub scenarios: Vec<Scenario>,
    /// The receiver's store for every scenario; `None`: count for the burst,
    /// decode for the others.
    pub receiver_store: Option<ReceiverStore>,
    /// The loads of the scenarios other than the burst.
    pub field: FieldOptions,
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
    /// The length of every per-span attribute value (`--value-len`).
    pub value_len: ValueLen,
    /// A sender's shutdown bound.
    pub shutdown_timeout: Duration,
    /// Receiver worker threads.
    pub receiver_threads: usize,
    /// Front doors: producer threads of the `tracing` rows.
    pub door_threads: Vec<usize>,
    /// Front doors: shapes of the `tracing` rows.
    pub door_shapes: Vec<Shape>,
    /// The logs scenario (run when `--scenario` names `logs`); boxed so
    /// that `Role::Coordinator` stays about the size of the other roles.
    pub logs: Box<LogOptions>,
    /// The metrics scenario (run when `--scenario` names `metrics`).
    pub metrics: Box<MetricOptions>,
    /// Whether the burst and the steady rate also run otlp-rust with its
    /// durable queue on (`--no-durable`: not).
    pub durable: bool,
    /// JSON instead of Markdown.
    pub json: bool,
    /// The arguments as given (after the program name), for the report.
    pub given: Vec<String>,
}

impl Options {
    fn defaults() -> Self {
        Options {
            scenarios: Scenario::DEFAULT.to_vec(),
            receiver_store: None,
            field: FieldOptions::default(),
            spans: 1_000_000,
            runs: 3,
            transports: Transport::ALL.to_vec(),
            queues: Vec::new(),
            values: ValueKind::Borrowed,
            value_len: ValueLen::DEFAULT,
            shutdown_timeout: Duration::from_secs(120),
            receiver_threads: 2,
            door_threads: vec![1, 2],
            door_shapes: Shape::ALL.to_vec(),
            logs: Box::default(),
            metrics: Box::default(),
            durable: true,
            json: false,
            given: Vec::new(),
        }
    }

    /// The receiver's store in `scenario`.
    pub fn store_for(&self, scenario: Scenario) -> ReceiverStore {
        self.receiver_store.unwrap_or(match scenario {
            Scenario::Burst => ReceiverStore::Count,
            Scenario::Outage => ReceiverStore::Distinct,
            _ => ReceiverStore::Decode,
        })
    }

    /// The default queues for a burst of `spans`: see [`USAGE`]. The
    /// ratios are taken against the smallest of them that loses nothing, so
    /// the largest holds the burst and no more (a bigger one makes the
    /// baseline allocate and touch slots it never uses), and no other is as
    /// large.
    fn default_queues(spans: u64) -> Vec<Queue> {
        let lossless = spans.max(Queue::Default.capacity() as u64) as usize;
        let mut queues = vec![Queue::Default];
        queues.extend(
            [65_536, lossless]
                .into_iter()
                .filter(|&size| size > Queue::Default.capacity() && size <= lossless)
                .map(Queue::Size),
        );
        queues.dedup();
        queues
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
        /// What it does with each request.
        store: ReceiverStore,
        /// The delay of every answer, if any.
        answer_delay: Option<Duration>,
    },
    /// Be one sender.
    Sender(SenderArgs),
}

/// Reads `1000000`, `1_000_000` or `1,000,000`.
fn parse_count(text: &str) -> Result<u64, String> {
    let digits: String = text.chars().filter(|c| !matches!(c, '_' | ',')).collect();
    digits.parse().map_err(|_| format!("not a count: {text:?}"))
}

/// Reads a rate: a count of at least 1.
fn parse_rate(text: &str) -> Result<u64, String> {
    match parse_count(text)? {
        0 => Err("a rate is at least 1 span per second".to_owned()),
        rate => Ok(rate),
    }
}

/// Reads `200ms`, `2s`, `2` or `2.5` (seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("not a duration: {text:?} (200ms, 2s, 2.5)");
    let (number, scale) = match text.strip_suffix("ms") {
        Some(millis) => (millis, 1e-3),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    Duration::try_from_secs_f64(value * scale).map_err(|_| bad())
}

/// `1500ms`: a duration as [`parse_duration`] reads it back exactly (to the ms).
fn duration_text(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

fn parse_values(text: &str) -> Result<ValueKind, String> {
    match text {
        "borrowed" => Ok(ValueKind::Borrowed),
        "owned" => Ok(ValueKind::Owned),
        other => Err(format!("unknown --values {other:?} (borrowed or owned)")),
    }
}

/// Reads `--value-len N`: a count within the range [`ValueLen`] accepts.
fn parse_value_len(text: &str) -> Result<ValueLen, String> {
    parse_count(text)
        .ok()
        .and_then(|len| usize::try_from(len).ok())
        .and_then(|len| ValueLen::new(len).ok())
        .ok_or_else(|| {
            format!(
                "--value-len {text}: attribute values must be {} to {} characters long",
                otlp_benches::fixtures::MIN_ATTRIBUTE_VALUE_LEN,
                otlp_benches::fixtures::MAX_ATTRIBUTE_VALUE_LEN
            )
        })
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
    let mut front = Front::Native;
    let mut threads = 1;
    let mut shape = Shape::Flat;
    let mut rate = None;
    let mut timed = false;
    let mut memory = false;
    let mut answer_delay = None;
    let mut durable_dir = None;
    let mut value_len_given = false;
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Role::Help),
            "--spans" => options.spans = parse_count(&value("--spans")?)?,
            "--runs" | "--repeat" => {
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
            "--value-len" => {
                options.value_len = parse_value_len(&value("--value-len")?)?;
                value_len_given = true;
            }
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
            "--scenario" => {
                // `logs` and `metrics` run apart from the span scenarios
                // (crate::logs, crate::metrics).
                let text = value("--scenario")?;
                let (logs, spans): (Vec<&str>, Vec<&str>) =
                    text.split(',').partition(|item| item.trim() == "logs");
                let (metrics, spans): (Vec<&str>, Vec<&str>) =
                    spans.into_iter().partition(|item| item.trim() == "metrics");
                options.logs.run = !logs.is_empty();
                options.metrics.run = !metrics.is_empty();
                options.scenarios = if spans.is_empty() {
                    Vec::new()
                } else {
                    Scenario::parse_list(&spans.join(","))?
                };
            }
            "--log-records" => {
                options.logs.records = match parse_count(&value("--log-records")?)? {
                    0 => return Err("--log-records must be at least 1".into()),
                    records => records,
                };
            }
            "--metric-series" => {
                options.metrics.series = match parse_count(&value("--metric-series")?)? {
                    0 => return Err("--metric-series must be at least 1".into()),
                    series => series,
                };
            }
            "--metric-op-time" => {
                options.metrics.op_time = parse_duration(&value("--metric-op-time")?)?;
            }
            "--log-rate" => options.logs.rate = parse_rate(&value("--log-rate")?)?,
            "--log-duration" => {
                options.logs.duration = parse_duration(&value("--log-duration")?)?;
            }
            "--log-modes" => {
                options.logs.modes = value("--log-modes")?
                    .split(',')
                    .map(|item| ModeKind::parse(item.trim()))
                    .collect::<Result<_, _>>()?;
                options.logs.modes.sort_unstable();
                options.logs.modes.dedup();
            }
            "--log-shapes" => {
                options.logs.shapes = value("--log-shapes")?
                    .split(',')
                    .map(|item| LogShape::parse(item.trim()))
                    .collect::<Result<_, _>>()?;
                options.logs.shapes.sort_unstable();
                options.logs.shapes.dedup();
            }
            "--receiver" => {
                options.receiver_store = Some(ReceiverStore::parse(&value("--receiver")?)?);
            }
            "--rate" => {
                let parsed = parse_rate(&value("--rate")?)?;
                options.field.rate = parsed;
                rate = Some(parsed);
            }
            "--duration" => options.field.duration = parse_duration(&value("--duration")?)?,
            "--slow-delay" => options.field.slow_delay = parse_duration(&value("--slow-delay")?)?,
            "--slow-spans" => options.field.slow_spans = parse_count(&value("--slow-spans")?)?,
            "--slow-rate" => options.field.slow_rate = parse_rate(&value("--slow-rate")?)?,
            "--slow-duration" => {
                options.field.slow_duration = parse_duration(&value("--slow-duration")?)?;
            }
            "--outage" => options.field.outage = parse_duration(&value("--outage")?)?,
            "--outage-rate" => options.field.outage_rate = parse_rate(&value("--outage-rate")?)?,
            "--memory-spans" => {
                options.field.memory_spans = match parse_count(&value("--memory-spans")?)? {
                    0 => return Err("--memory-spans must be at least 1".into()),
                    spans => spans,
                };
            }
            "--door-spans" => {
                options.field.door_spans = match parse_count(&value("--door-spans")?)? {
                    0 => return Err("--door-spans must be at least 1".into()),
                    spans => spans,
                };
            }
            "--door-threads" => {
                options.door_threads = value("--door-threads")?
                    .split(',')
                    .map(|item| match parse_count(item.trim())? {
                        0 => Err("--door-threads: at least 1 thread".to_owned()),
                        threads => Ok(threads as usize),
                    })
                    .collect::<Result<_, _>>()?;
                options.door_threads.sort_unstable();
                options.door_threads.dedup();
            }
            "--door-shapes" => {
                options.door_shapes = value("--door-shapes")?
                    .split(',')
                    .map(|item| item.trim().parse())
                    .collect::<Result<_, _>>()?;
                options.door_shapes.sort_unstable();
                options.door_shapes.dedup();
            }
            "--field-queue" => options.field.queue = Queue::parse(&value("--field-queue")?)?,
            "--no-durable" => options.durable = false,
            "--json" => options.json = true,
            // The hidden child roles.
            "--store" => {
                options.receiver_store = Some(ReceiverStore::parse(&value("--store")?)?);
            }
            "--answer-delay" => answer_delay = Some(parse_duration(&value("--answer-delay")?)?),
            "--front" => front = Front::parse(&value("--front")?)?,
            "--threads" => {
                threads = parse_count(&value("--threads")?)? as usize;
                if threads == 0 {
                    return Err("--threads must be at least 1".into());
                }
            }
            "--shape" => shape = value("--shape")?.parse()?,
            "--timed" => timed = true,
            "--memory" => memory = true,
            "--role" => role = Some(value("--role")?),
            "--impl" => implementation = Some(Implementation::parse(&value("--impl")?)?),
            "--grpc" => grpc = Some(value("--grpc")?),
            "--http" => http = Some(value("--http")?),
            "--queue" => queue = Some(parse_count(&value("--queue")?)? as usize),
            "--durable-dir" => durable_dir = Some(PathBuf::from(value("--durable-dir")?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !queues_given {
        options.queues = Options::default_queues(options.spans);
    }
    if value_len_given
        && role.is_none()
        && options.scenarios.is_empty()
        && !options.logs.run
        && options.metrics.run
    {
        return Err(format!(
            "--value-len {}: the metrics scenario has no per-span attribute values (its three \
             attributes are fixed); it applies to burst, steady, slow, outage, front-doors, \
             memory and logs",
            options.value_len
        ));
    }
    match role.as_deref() {
        None => Ok(Role::Coordinator(options)),
        Some("receiver") => Ok(Role::Receiver {
            threads: options.receiver_threads,
            store: options.receiver_store.unwrap_or(ReceiverStore::Count),
            answer_delay,
        }),
        Some("sender") => Ok(Role::Sender(SenderArgs {
            implementation: implementation.ok_or("a sender needs --impl")?,
            transport: transport.ok_or("a sender needs --transport")?,
            endpoints: Endpoints {
                grpc: grpc.ok_or("a sender needs --grpc")?,
                http: http.ok_or("a sender needs --http")?,
            },
            load: match rate {
                Some(rate) => Load::Paced {
                    rate,
                    duration: options.field.duration,
                },
                None => Load::Burst {
                    spans: options.spans,
                },
            },
            front,
            threads,
            shape,
            timed,
            memory,
            queue,
            durable_dir,
            values: options.values,
            value_len: options.value_len,
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
        "--front".to_owned(),
        args.front.as_str().to_owned(),
        "--threads".to_owned(),
        args.threads.to_string(),
        "--shape".to_owned(),
        args.shape.as_str().to_owned(),
        "--values".to_owned(),
        values_name(args.values).to_owned(),
        "--value-len".to_owned(),
        args.value_len.to_string(),
        "--shutdown-timeout".to_owned(),
        args.shutdown_timeout.as_secs().to_string(),
    ];
    match args.load {
        Load::Burst { spans } => line.extend(["--spans".to_owned(), spans.to_string()]),
        Load::Paced { rate, duration } => line.extend([
            "--rate".to_owned(),
            rate.to_string(),
            "--duration".to_owned(),
            duration_text(duration),
        ]),
    }
    if args.timed {
        line.push("--timed".to_owned());
    }
    if args.memory {
        line.push("--memory".to_owned());
    }
    if let Some(queue) = args.queue {
        line.extend(["--queue".to_owned(), queue.to_string()]);
    }
    if let Some(directory) = &args.durable_dir {
        line.extend([
            "--durable-dir".to_owned(),
            directory.to_string_lossy().into_owned(),
        ]);
    }
    line
}

/// The arguments that make a child process the receiver.
pub fn receiver_command_line(
    threads: usize,
    store: ReceiverStore,
    answer_delay: Option<Duration>,
) -> Vec<String> {
    let mut line = vec![
        "--role".to_owned(),
        "receiver".to_owned(),
        "--receiver-threads".to_owned(),
        threads.to_string(),
        "--store".to_owned(),
        store.as_str().to_owned(),
    ];
    if let Some(delay) = answer_delay {
        line.extend(["--answer-delay".to_owned(), duration_text(delay)]);
    }
    line
}

/// The arguments given, with `--scenario` set to this scenario alone (where
/// `--scenario` was given, else at the end): the command that produces this
/// table and no other.
pub fn scenario_arguments(given: &[String], scenario: Scenario) -> Vec<String> {
    let this_scenario = ["--scenario".to_owned(), scenario.as_str().to_owned()];
    let mut arguments = Vec::with_capacity(given.len() + 2);
    let mut named = false;
    let mut iter = given.iter();
    while let Some(arg) = iter.next() {
        if arg == "--scenario" {
            iter.next();
            if !named {
                arguments.extend(this_scenario.clone());
                named = true;
            }
        } else {
            arguments.push(arg.clone());
        }
    }
    if !named {
        arguments.extend(this_scenario);
    }
    arguments
}

/// The options of the logs scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct LogOptions {
    /// Whether `--scenario` named `logs`.
    pub run: bool,
    /// Records of the burst (`--log-records`).
    pub records: u64,
    /// Records per second of the steady load (`--log-rate`).
    pub rate: u64,
    /// How long the steady load lasts (`--log-duration`).
    pub duration: Duration,
    /// The loads (`--log-modes`).
    pub modes: Vec<ModeKind>,
    /// The shapes (`--log-shapes`).
    pub shapes: Vec<LogShape>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            run: false,
            records: 200_000,
            rate: 50_000,
            duration: Duration::from_secs(5),
            modes: vec![ModeKind::Burst, ModeKind::Steady],
            shapes: vec![LogShape::Flat],
        }
    }
}

/// A load without its figures, as `--log-modes` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModeKind {
    /// As fast as one thread emits.
    Burst,
    /// Paced at the rate.
    Steady,
}

impl ModeKind {
    /// Reads `burst` or `steady`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "burst" => Ok(ModeKind::Burst),
            "steady" => Ok(ModeKind::Steady),
            other => Err(format!("unknown log mode {other:?} (burst or steady)")),
        }
    }
}

/// The options of the metrics scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricOptions {
    /// Whether `--scenario` named `metrics`.
    pub run: bool,
    /// Series of the memory and export measurements (`--metric-series`).
    pub series: u64,
    /// How long each timed loop lasts (`--metric-op-time`).
    pub op_time: Duration,
}

impl Default for MetricOptions {
    fn default() -> Self {
        MetricOptions {
            run: false,
            series: 10_000,
            op_time: Duration::from_millis(300),
        }
    }
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
        assert_eq!(options.scenarios, Scenario::DEFAULT);
        assert!(!Scenario::DEFAULT.contains(&Scenario::Memory));
        assert!(Scenario::ALL.contains(&Scenario::Memory));
        assert_eq!(options.field, FieldOptions::default());
        // Issue 13: a 5 s outage at 20,000 spans/s; 200,000 spans held.
        assert_eq!(options.field.outage, Duration::from_secs(5));
        assert_eq!(options.field.outage_rate, 20_000);
        assert_eq!(options.field.memory_spans, 200_000);
        assert_eq!(options.store_for(Scenario::Burst), ReceiverStore::Count);
        assert_eq!(options.store_for(Scenario::Steady), ReceiverStore::Decode);
        // Issue 14: the durable-queue rows run unless left out.
        assert!(options.durable);
        let Ok(Role::Coordinator(without)) = parse(strings(&["--no-durable"])) else {
            panic!("coordinator expected");
        };
        assert!(!without.durable);
    }

    #[test]
    fn a_burst_below_a_million_spans_gets_a_lossless_baseline_queue_of_its_own_size() {
        // The ratios are taken against the smallest baseline queue that lost
        // nothing: a queue of 1,000,000 for a burst of 100,000 made that row
        // pay for 900,000 slots it never used (5.91 against 4.54 µs per span,
        // 406 against 80 MB of peak RSS, measured with `--baseline-queues
        // 100000,1000000`), which flattered otlp-rust's ratios.
        let queues = |spans: &str| match parse(strings(&["--spans", spans])) {
            Ok(Role::Coordinator(options)) => options.queues,
            other => panic!("coordinator expected, got {other:?}"),
        };
        assert_eq!(
            queues("100000"),
            [Queue::Default, Queue::Size(65_536), Queue::Size(100_000)]
        );
        // No queue above the burst's size beside the one that holds it.
        assert_eq!(queues("20000"), [Queue::Default, Queue::Size(20_000)]);
        // The default queue holds a burst of at most its size.
        assert_eq!(queues("2048"), [Queue::Default]);
        assert_eq!(
            queues("3000000"),
            [Queue::Default, Queue::Size(65_536), Queue::Size(3_000_000)]
        );
    }

    #[test]
    fn scenario_options_override_their_defaults() {
        let args = strings(&[
            "--scenario",
            "outage, steady,front-doors",
            "--receiver",
            "count",
            "--rate",
            "2,000",
            "--duration",
            "1.5",
            "--slow-delay",
            "50ms",
            "--slow-spans",
            "1000",
            "--slow-rate",
            "500",
            "--slow-duration",
            "2s",
            "--outage",
            "300ms",
            "--outage-rate",
            "1000",
            "--memory-spans",
            "50,000",
            "--field-queue",
            "65536",
        ]);
        let Ok(Role::Coordinator(options)) = parse(args) else {
            panic!("coordinator expected");
        };
        assert_eq!(
            options.scenarios,
            [Scenario::Steady, Scenario::Outage, Scenario::FrontDoors]
        );
        assert_eq!(options.store_for(Scenario::Burst), ReceiverStore::Count);
        assert_eq!(options.store_for(Scenario::Slow), ReceiverStore::Count);
        assert_eq!(
            options.field,
            FieldOptions {
                rate: 2_000,
                duration: Duration::from_millis(1_500),
                slow_delay: Duration::from_millis(50),
                slow_spans: 1_000,
                slow_rate: 500,
                slow_duration: Duration::from_secs(2),
                outage: Duration::from_millis(300),
                outage_rate: 1_000,
                memory_spans: 50_000,
                door_spans: 200_000,
                queue: Queue::Size(65_536),
            }
        );
        let Ok(Role::Coordinator(all)) = parse(strings(&["--scenario", "slow,all"])) else {
            panic!("coordinator expected");
        };
        assert_eq!(all.scenarios, Scenario::ALL);
        for bad in [
            &["--scenario", "soak"][..],
            &["--receiver", "keep"],
            &["--rate", "0"],
            &["--duration", "soon"],
            &["--slow-delay", "-1s"],
            &["--field-queue", "0"],
            &["--memory-spans", "0"],
        ] {
            assert!(parse(strings(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn logs_run_only_when_named_and_take_their_own_options() {
        let Ok(Role::Coordinator(options)) = parse(Vec::new()) else {
            panic!("coordinator expected");
        };
        assert!(!options.logs.run);
        let Ok(Role::Coordinator(all)) = parse(strings(&["--scenario", "all"])) else {
            panic!("coordinator expected");
        };
        assert!(!all.logs.run);
        let args = strings(&[
            "--scenario",
            "logs",
            "--repeat",
            "2",
            "--log-records",
            "5,000",
            "--log-rate",
            "1000",
            "--log-duration",
            "2s",
            "--log-modes",
            "steady",
            "--log-shapes",
            "in-span,flat",
        ]);
        let Ok(Role::Coordinator(logs)) = parse(args) else {
            panic!("coordinator expected");
        };
        assert!(logs.scenarios.is_empty());
        assert_eq!(logs.runs, 2);
        assert_eq!(
            *logs.logs,
            LogOptions {
                run: true,
                records: 5_000,
                rate: 1_000,
                duration: Duration::from_secs(2),
                modes: vec![ModeKind::Steady],
                shapes: vec![LogShape::Flat, LogShape::InSpan],
            }
        );
        let Ok(Role::Coordinator(both)) = parse(strings(&["--scenario", "steady,logs"])) else {
            panic!("coordinator expected");
        };
        assert_eq!(
            (both.scenarios, both.logs.run),
            (vec![Scenario::Steady], true)
        );
        for bad in [
            &["--log-records", "0"][..],
            &["--log-modes", "soak"],
            &["--log-shapes", "nested"],
            &["--scenario", "logs,soak"],
        ] {
            assert!(parse(strings(bad)).is_err(), "{bad:?}");
        }
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
    fn value_len_sets_every_values_length_and_refuses_what_is_out_of_range() {
        let Ok(Role::Coordinator(default)) = parse(Vec::new()) else {
            panic!("coordinator expected");
        };
        assert_eq!(default.value_len, ValueLen::DEFAULT);
        assert_eq!(default.value_len.get(), 16);
        let value_len = |args: &[&str]| match parse(strings(args)) {
            Ok(Role::Coordinator(options)) => Ok(options.value_len.get()),
            Ok(other) => panic!("coordinator expected, got {other:?}"),
            Err(error) => Err(error),
        };
        assert_eq!(value_len(&["--value-len", "40"]), Ok(40));
        assert_eq!(value_len(&["--value-len", "8"]), Ok(8));
        assert_eq!(value_len(&["--value-len", "4,096"]), Ok(4_096));
        assert_eq!(
            value_len(&["--scenario", "logs", "--value-len", "100"]),
            Ok(100)
        );
        for bad in ["7", "0", "4097", "99999999999999999999999", "-1", "long"] {
            let error = value_len(&["--value-len", bad]).expect_err(bad);
            assert!(
                error.starts_with(&format!("--value-len {bad}: ")),
                "names the option and the value: {error}"
            );
        }
        assert_eq!(
            value_len(&["--value-len", "7"]),
            Err("--value-len 7: attribute values must be 8 to 4096 characters long".to_owned())
        );
        assert!(value_len(&["--value-len"]).is_err());
        // Metrics alone have no per-span values to lengthen.
        let error =
            value_len(&["--scenario", "metrics", "--value-len", "40"]).expect_err("metrics alone");
        assert!(
            error.starts_with("--value-len 40: the metrics scenario"),
            "{error}"
        );
        assert_eq!(value_len(&["--scenario", "metrics"]), Ok(16));
        assert_eq!(
            value_len(&["--scenario", "steady,metrics", "--value-len", "40"]),
            Ok(40)
        );
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
            load: Load::Burst { spans: 1_000 },
            front: Front::Native,
            threads: 1,
            shape: Shape::Flat,
            timed: false,
            memory: true,
            queue: Some(65_536),
            durable_dir: None,
            values: ValueKind::Owned,
            value_len: ValueLen::new(40).expect("within the range"),
            shutdown_timeout: Duration::from_secs(7),
        };
        assert_eq!(
            parse(sender_command_line(&sender)),
            Ok(Role::Sender(sender.clone()))
        );
        let paced = SenderArgs {
            implementation: Implementation::OtlpRust,
            load: Load::Paced {
                rate: 50_000,
                duration: Duration::from_millis(2_500),
            },
            front: Front::Tracing,
            threads: 2,
            shape: Shape::Nested,
            timed: true,
            memory: false,
            queue: None,
            ..sender
        };
        assert_eq!(
            parse(sender_command_line(&paced)),
            Ok(Role::Sender(paced.clone()))
        );
        let durable = SenderArgs {
            implementation: Implementation::OtlpRustDurable,
            front: Front::Native,
            durable_dir: Some(PathBuf::from("/tmp/otlp-compare-durable-1-0")),
            ..paced
        };
        assert_eq!(
            parse(sender_command_line(&durable)),
            Ok(Role::Sender(durable.clone()))
        );
        let receiver = parse(receiver_command_line(3, ReceiverStore::Count, None));
        assert_eq!(
            receiver,
            Ok(Role::Receiver {
                threads: 3,
                store: ReceiverStore::Count,
                answer_delay: None
            })
        );
        let delayed =
            receiver_command_line(2, ReceiverStore::Decode, Some(Duration::from_millis(200)));
        assert_eq!(
            parse(delayed),
            Ok(Role::Receiver {
                threads: 2,
                store: ReceiverStore::Decode,
                answer_delay: Some(Duration::from_millis(200))
            })
        );
    }
}
