//! `FileExporter` writing to a file under a size limit (`RLIMIT_FSIZE`,
//! which cuts a write short as a full disk does): what the file holds after
//! a line was cut short and repaired. A binary of its own, as the limit is
//! the process's.
#![cfg(unix)]

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_contrib::file_exporter::FileExporter;
use otlp_sdk::{BatchSpanProcessor, TracerProvider};

const DEADLINE: Duration = Duration::from_secs(10);

/// Sets the soft limit on the size of the files this process writes
/// (`None`: no limit).
fn limit_file_size(bytes: Option<u64>) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let maximum = getrlimit(Resource::Fsize).maximum;
    let current = match (bytes, maximum) {
        (Some(bytes), Some(maximum)) => Some(bytes.min(maximum)),
        (bytes, None) => bytes,
        (None, Some(maximum)) => Some(maximum),
    };
    setrlimit(Resource::Fsize, Rlimit { current, maximum }).expect("setrlimit(RLIMIT_FSIZE)");
}

/// A file that already ended with a line cut short (an earlier process
/// killed mid-write), then a line of this exporter cut short by the limit
/// and truncated back: the file ends with the old fragment again, so the
/// next line must still start on a line of its own. It was appended to the
/// fragment, which made the next request's line unreadable.
#[test]
fn a_line_cut_short_after_an_older_cut_line_leaves_the_next_line_whole() {
    let dir = std::env::temp_dir().join(format!("otlp-contrib-fsize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("traces.jsonl");
    let before = "{\"resourceSpans\":[]}\n{\"resourceSpans\":[{\"reso";
    std::fs::write(&path, before).unwrap();
    // SAFETY: ignoring SIGXFSZ has a write past the limit fail with EFBIG
    // instead of killing the process; no handler runs.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };

    let processor = BatchSpanProcessor::builder(FileExporter::to_path(&path).unwrap())
        .build()
        .unwrap();
    let provider = TracerProvider::builder()
        .with_processor(processor.clone())
        .build();
    let tracer = provider.tracer("file-test");
    // Room for a few bytes of the next line: its write is cut short and the
    // exporter truncates it away.
    limit_file_size(Some(before.len() as u64 + 10));
    tracer.start("cut short").end();
    assert!(provider.force_flush(DEADLINE).is_err(), "the write fails");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    limit_file_size(None);
    tracer.start("written").end();
    provider.shutdown(DEADLINE).unwrap();
    assert_eq!(processor.stats().exported, 1);

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[1], "{\"resourceSpans\":[{\"reso", "the old fragment");
    let request: ExportTraceServiceRequest =
        serde_json::from_str(lines[2]).expect("the new line is one whole request");
    let names: Vec<&str> = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .map(|span| span.name.as_str())
        .collect();
    assert_eq!(names, ["written"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
