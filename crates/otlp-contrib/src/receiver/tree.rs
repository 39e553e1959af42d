//! Spans of a request as indented trees, one per trace: what `otlp-receiver`
//! prints, and handy in a failing test.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

use super::render_limits::{RenderBudget, clip, printable};

/// The deepest span indented further than its parent: a chain of spans
/// indented one step per level would print quadratic text (N(N+1) bytes for
/// N spans). Deeper spans stay at this indent and say `[depth N]`.
const MAX_INDENT_DEPTH: usize = 32;

/// Renders the spans of one request as trees, one per trace id, in order of
/// first appearance:
///
/// ```text
/// trace 4bf92f3577b34da6a3ce929d0e0e4736
///   checkout POST /cart 12.5ms ok
///     checkout SELECT cart 2.1ms unset
///     payments charge 5ms error: card declined
/// ```
///
/// Each line is `service name duration status`, the service being the
/// resource's `service.name` (`?` when missing). Children follow their parent,
/// ordered by start time. A span whose parent is not in the request starts its
/// own tree, marked `(parent <id> not in this request)`: traces often arrive
/// in several requests.
///
/// Works on hostile input too (cycles, deep chains), and the text stays
/// proportional to the request: spans deeper than 32 levels are not indented
/// further but marked `[depth N]`, names are cut after 256 characters (`…`),
/// and past 8 times the request's encoded size (at least 16 KiB) the rest is
/// left out, with a last line that says so.
pub fn render_traces(request: &ExportTraceServiceRequest) -> String {
    // Clipped once per resource, then borrowed by each of its spans.
    let services: Vec<Cow<'_, str>> = request
        .resource_spans
        .iter()
        .map(|resource| clip(service_name(resource.resource.as_ref())))
        .collect();
    let mut traces: Vec<TraceSpans<'_>> = Vec::new();
    let mut trace_index: HashMap<&[u8], usize> = HashMap::new();
    let mut total = 0u64;
    for (resource, service) in request.resource_spans.iter().zip(&services) {
        for span in resource.scope_spans.iter().flat_map(|scope| &scope.spans) {
            let index = *trace_index.entry(&span.trace_id).or_insert_with(|| {
                traces.push((&span.trace_id, Vec::new()));
                traces.len() - 1
            });
            traces[index].1.push((service, span));
            total += 1;
        }
    }
    let mut budget = RenderBudget::new(request.encoded_len(), total);
    let mut out = String::new();
    for (trace_id, spans) in &traces {
        if !budget.admits(&out) {
            break;
        }
        let _ = writeln!(out, "trace {}", hex(trace_id));
        render_trace(&mut out, spans, &mut budget);
    }
    budget.finish(&mut out, "spans");
    out
}

/// A trace id and its spans, each with the (clipped) service it came from.
type TraceSpans<'a> = (&'a [u8], Vec<(&'a str, &'a Span)>);

fn render_trace(out: &mut String, spans: &[(&str, &Span)], budget: &mut RenderBudget) {
    let by_id: HashMap<&[u8], usize> = spans
        .iter()
        .enumerate()
        .map(|(index, (_, span))| (span.span_id.as_slice(), index))
        .collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (index, (_, span)) in spans.iter().enumerate() {
        match by_id.get(span.parent_span_id.as_slice()) {
            Some(&parent) if !span.parent_span_id.is_empty() && parent != index => {
                children.entry(parent).or_default().push(index)
            }
            _ => roots.push(index),
        }
    }
    let by_start = |a: &usize, b: &usize| {
        spans[*a]
            .1
            .start_time_unix_nano
            .cmp(&spans[*b].1.start_time_unix_nano)
    };
    roots.sort_by(by_start);
    for list in children.values_mut() {
        list.sort_by(by_start);
    }
    let mut printed = vec![false; spans.len()];
    // Roots first; then whatever a parent cycle kept unreachable.
    let starts: Vec<usize> = roots.into_iter().chain(0..spans.len()).collect();
    for start in starts {
        if printed[start] {
            continue;
        }
        // Explicit stack: a hostile chain of spans must not overflow ours.
        let mut stack = vec![(start, 1usize)];
        while let Some((index, depth)) = stack.pop() {
            if printed[index] {
                continue;
            }
            if !budget.admits(out) {
                return;
            }
            printed[index] = true;
            let (service, span) = spans[index];
            let note = match () {
                _ if index != start || span.parent_span_id.is_empty() => None,
                _ if by_id.contains_key(span.parent_span_id.as_slice()) => {
                    Some("(in a parent cycle)".to_owned())
                }
                _ => Some(format!(
                    "(parent {} not in this request)",
                    hex(&span.parent_span_id)
                )),
            };
            render_span(out, service, span, depth, note.as_deref());
            budget.count(1);
            if let Some(list) = children.get(&index) {
                stack.extend(list.iter().rev().map(|&child| (child, depth + 1)));
            }
        }
    }
}

fn render_span(out: &mut String, service: &str, span: &Span, depth: usize, note: Option<&str>) {
    let duration = Duration::from_nanos(
        span.end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano),
    );
    let status = match &span.status {
        Some(status) if status.code == StatusCode::Error as i32 => {
            format!("error: {}", printable(&status.message))
        }
        Some(status) if status.code == StatusCode::Ok as i32 => "ok".to_owned(),
        _ => "unset".to_owned(),
    };
    let _ = write!(
        out,
        "{:indent$}",
        "",
        indent = depth.min(MAX_INDENT_DEPTH) * 2
    );
    if depth > MAX_INDENT_DEPTH {
        let _ = write!(out, "[depth {depth}] ");
    }
    let _ = write!(out, "{service} {} {duration:?} {status}", clip(&span.name));
    if let Some(note) = note {
        out.push(' ');
        out.push_str(note);
    }
    out.push('\n');
}

pub(crate) fn service_name(
    resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
) -> &str {
    resource
        .into_iter()
        .flat_map(|resource| &resource.attributes)
        .find(|attribute| attribute.key == "service.name")
        .and_then(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                Value::StringValue(name) => Some(name.as_str()),
                _ => None,
            },
        )
        .unwrap_or("?")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    use super::*;

    fn span(id: u8, parent: Option<u8>, name: &str, start_ms: u64, end_ms: u64) -> Span {
        Span {
            trace_id: vec![0xab; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: name.into(),
            start_time_unix_nano: start_ms * 1_000_000,
            end_time_unix_nano: end_ms * 1_000_000,
            ..Default::default()
        }
    }

    fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(Value::StringValue(service.into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn children_are_indented_under_their_parent_by_start_time() {
        let mut root = span(1, None, "GET /", 0, 20);
        root.status = Some(Status {
            code: StatusCode::Ok as i32,
            message: String::new(),
        });
        let mut late = span(3, Some(1), "late", 10, 15);
        late.status = Some(Status {
            code: StatusCode::Error as i32,
            message: "boom".into(),
        });
        let early = span(2, Some(1), "early", 1, 2);
        let grandchild = span(4, Some(2), "inner", 1, 2);
        let text = render_traces(&request("shop", vec![late, grandchild, root, early]));
        let expected = format!(
            "trace {}\n  shop GET / 20ms ok\n    shop early 1ms unset\n      shop inner 1ms unset\n    shop late 5ms error: boom\n",
            "ab".repeat(16)
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn control_characters_from_the_request_are_printed_escaped() {
        let mut hostile = span(1, None, "\u{1b}[2Jname\nfinal requests=0", 0, 1);
        hostile.status = Some(Status {
            code: StatusCode::Error as i32,
            message: "bad\r\u{7}".into(),
        });
        let text = render_traces(&request("svc\u{1b}]0;title\u{7}", vec![hostile]));
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 2, "{text:?}");
        assert!(
            text.ends_with(
                "  svc\\u{1b}]0;title\\u{7} \\u{1b}[2Jname\\nfinal requests=0 1ms error: bad\\r\\u{7}\n"
            ),
            "{text:?}"
        );
    }

    #[test]
    fn a_deep_parent_chain_renders_in_linear_space() {
        const SPANS: u64 = 20_000;
        let id = |n: u64| n.to_be_bytes().to_vec();
        let spans = (1..=SPANS)
            .map(|n| Span {
                trace_id: vec![0xab; 16],
                span_id: id(n),
                parent_span_id: if n == 1 { Vec::new() } else { id(n - 1) },
                name: "step".into(),
                ..Default::default()
            })
            .collect();
        let request = request("svc", spans);
        let text = render_traces(&request);
        let size = request.encoded_len();
        assert!(
            text.len() < 16 * size,
            "{} bytes of text for {size} bytes of request",
            text.len()
        );
        assert_eq!(text.lines().count() as u64, SPANS + 1, "nothing left out");
        let indent = " ".repeat(MAX_INDENT_DEPTH * 2);
        assert!(
            text.contains(&format!("\n{indent}svc step 0ns unset\n")),
            "depth 32"
        );
        assert!(
            text.ends_with(&format!("\n{indent}[depth {SPANS}] svc step 0ns unset\n")),
            "{:?}",
            text.lines().last()
        );
    }

    #[test]
    fn long_names_are_clipped_and_huge_requests_cut_short() {
        let long = "n".repeat(1024);
        let spans = (1..=2_000u64)
            .map(|n| Span {
                trace_id: vec![0xab; 16],
                span_id: n.to_be_bytes().to_vec(),
                name: long.clone(),
                ..Default::default()
            })
            .collect();
        let named = request(&long, spans);
        let text = render_traces(&named);
        let clipped = format!("{}…", "n".repeat(256));
        assert_eq!(
            text.lines().nth(1),
            Some(format!("  {clipped} {clipped} 0ns unset").as_str())
        );
        assert!(text.len() < 16 * named.encoded_len(), "{}", text.len());
        // Tiny spans under a long service name: cut short, and said so.
        let tiny = (1..=20_000u64)
            .map(|n| Span {
                span_id: n.to_be_bytes().to_vec(),
                ..Default::default()
            })
            .collect();
        let tiny = request(&long, tiny);
        let text = render_traces(&tiny);
        assert!(text.len() < 16 * tiny.encoded_len(), "{}", text.len());
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.contains("output truncated") && last.contains("of 20000 spans printed"),
            "{last}"
        );
    }

    #[test]
    fn orphans_and_cycles_are_printed_once() {
        let orphan = span(5, Some(9), "orphan", 0, 1);
        let a = span(6, Some(7), "a", 0, 1);
        let b = span(7, Some(6), "b", 0, 1);
        let text = render_traces(&request("svc", vec![orphan, a, b]));
        assert!(
            text.contains("svc orphan 1ms unset (parent 0909090909090909 not in this request)")
        );
        assert!(
            text.contains("svc a 1ms unset (in a parent cycle)"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
    }
}
