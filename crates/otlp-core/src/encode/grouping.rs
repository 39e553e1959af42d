//! Grouping a batch by resource, then by scope, without allocating once warm.
//!
//! Generic over the [`Signal`]: spans and log records group the same way.
//! Field and method names say "span" for a record of any signal.

use std::ops::Range;
use std::sync::Arc;

use super::same_shared;
use super::signal::Signal;

/// One distinct resource in the batch.
#[derive(Debug, Default, Clone)]
pub(crate) struct ResourceGroup {
    /// A span carrying this resource.
    pub(crate) span: usize,
    /// The last `Arc` address seen for this resource (fast path before comparing values).
    alias: usize,
    /// Its scope groups, as a range of [`Groups::scope_order`].
    pub(crate) scopes: Range<usize>,
    /// Protobuf length of its `ResourceSpans` body.
    pub(crate) len: usize,
}

/// One distinct scope within one resource.
#[derive(Debug, Default, Clone)]
pub(crate) struct ScopeGroup {
    /// Index of the resource group.
    resource: usize,
    /// A span carrying this scope.
    pub(crate) span: usize,
    /// The last `Arc` address seen for this scope.
    alias: usize,
    /// Its spans, as a range of [`Groups::order`].
    pub(crate) spans: Range<usize>,
    /// Protobuf length of its `ScopeSpans` body.
    pub(crate) len: usize,
}

/// The grouping of one batch; rebuilt for every batch, reusing its vectors.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    pub(crate) resources: Vec<ResourceGroup>,
    /// Scope groups in creation order.
    pub(crate) scopes: Vec<ScopeGroup>,
    /// Scope group indices ordered by resource (then creation).
    pub(crate) scope_order: Vec<usize>,
    /// Span indices ordered by group (then batch order).
    pub(crate) order: Vec<usize>,
    /// Scope group of each span, by batch index.
    span_scope: Vec<usize>,
}

fn address<T>(shared: &Arc<T>) -> usize {
    Arc::as_ptr(shared) as usize
}

impl Groups {
    /// Groups `spans`; afterwards `resources`, `scope_order` and `order` describe the request.
    pub(crate) fn build<T: Signal>(&mut self, spans: &[T]) {
        self.resources.clear();
        self.scopes.clear();
        self.scope_order.clear();
        self.order.clear();
        self.span_scope.clear();

        let mut last_scope = usize::MAX;
        for (index, span) in spans.iter().enumerate() {
            let scope = match self.scopes.get(last_scope) {
                Some(group)
                    if group.alias == address(span.scope())
                        && self.resources[group.resource].alias == address(span.resource()) =>
                {
                    last_scope
                }
                _ => {
                    let resource = self.find_resource(spans, index);
                    self.find_scope(spans, index, resource)
                }
            };
            last_scope = scope;
            self.scopes[scope].spans.end += 1; // count for now
            self.span_scope.push(scope);
        }

        // Order scope groups by resource, keeping creation order within one resource.
        self.scope_order.extend(0..self.scopes.len());
        let scopes = &self.scopes;
        self.scope_order
            .sort_unstable_by_key(|&scope| (scopes[scope].resource, scope));

        // Lay the spans out group after group.
        let mut offset = 0;
        let mut position = 0;
        while position < self.scope_order.len() {
            let resource = self.scopes[self.scope_order[position]].resource;
            let first = position;
            while position < self.scope_order.len()
                && self.scopes[self.scope_order[position]].resource == resource
            {
                let group = &mut self.scopes[self.scope_order[position]];
                let count = group.spans.end;
                group.spans = offset..offset; // end advances as spans are placed
                offset += count;
                position += 1;
            }
            self.resources[resource].scopes = first..position;
        }
        self.order.resize(spans.len(), 0);
        for (index, &scope) in self.span_scope.iter().enumerate() {
            let group = &mut self.scopes[scope];
            self.order[group.spans.end] = index;
            group.spans.end += 1;
        }
    }

    fn find_resource<T: Signal>(&mut self, spans: &[T], index: usize) -> usize {
        let resource = spans[index].resource();
        let found = self
            .resources
            .iter()
            .position(|group| group.alias == address(resource))
            .or_else(|| {
                self.resources
                    .iter()
                    .position(|group| same_shared(spans[group.span].resource(), resource))
            });
        match found {
            Some(group) => {
                self.resources[group].alias = address(resource);
                group
            }
            None => {
                self.resources.push(ResourceGroup {
                    span: index,
                    alias: address(resource),
                    ..ResourceGroup::default()
                });
                self.resources.len() - 1
            }
        }
    }

    fn find_scope<T: Signal>(&mut self, spans: &[T], index: usize, resource: usize) -> usize {
        let scope = spans[index].scope();
        let found = self
            .scopes
            .iter()
            .position(|group| group.resource == resource && group.alias == address(scope))
            .or_else(|| {
                self.scopes.iter().position(|group| {
                    group.resource == resource && same_shared(spans[group.span].scope(), scope)
                })
            });
        match found {
            Some(group) => {
                self.scopes[group].alias = address(scope);
                group
            }
            None => {
                self.scopes.push(ScopeGroup {
                    resource,
                    span: index,
                    alias: address(scope),
                    ..ScopeGroup::default()
                });
                self.scopes.len() - 1
            }
        }
    }

    /// The scope groups of `resource`, in output order.
    pub(crate) fn scopes_of(&self, resource: &ResourceGroup) -> impl Iterator<Item = &ScopeGroup> {
        self.scope_order[resource.scopes.clone()]
            .iter()
            .map(|&scope| &self.scopes[scope])
    }

    /// The batch indices of the spans in `scope`, in batch order.
    pub(crate) fn spans_of(&self, scope: &ScopeGroup) -> &[usize] {
        &self.order[scope.spans.clone()]
    }

    /// The scope group of the span at `index` (valid after [`Self::build`]).
    pub(crate) fn scope_of_span(&self, index: usize) -> usize {
        self.span_scope[index]
    }

    /// The resource group index of scope group `scope`.
    pub(crate) fn resource_of_scope(&self, scope: usize) -> usize {
        self.scopes[scope].resource
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InstrumentationScope, KeyValue, Resource, SpanData};

    fn span(
        resource: &Arc<Resource>,
        scope: &Arc<InstrumentationScope>,
        name: &'static str,
    ) -> SpanData {
        SpanData::builder(name)
            .resource(resource.clone())
            .scope(scope.clone())
            .build()
    }

    #[test]
    fn spans_are_grouped_by_resource_then_scope_in_batch_order() {
        let r1 = Arc::new(Resource::new([KeyValue::new("service.name", "a")]));
        let r2 = Arc::new(Resource::new([KeyValue::new("service.name", "b")]));
        let s1 = Arc::new(InstrumentationScope::new("s1"));
        let s2 = Arc::new(InstrumentationScope::new("s2"));
        let spans = vec![
            span(&r1, &s1, "0"),
            span(&r2, &s1, "1"),
            span(&r1, &s2, "2"),
            span(&r1, &s1, "3"),
            span(&r2, &s1, "4"),
        ];
        let mut groups = Groups::default();
        groups.build(&spans);
        let layout: Vec<Vec<Vec<usize>>> = groups
            .resources
            .iter()
            .map(|resource| {
                groups
                    .scopes_of(resource)
                    .map(|scope| groups.spans_of(scope).to_vec())
                    .collect()
            })
            .collect();
        assert_eq!(layout, vec![vec![vec![0, 3], vec![2]], vec![vec![1, 4]]]);
    }

    /// A decoded group: the bits of its double attribute `x`, its span names.
    type Decoded = Vec<(u64, Vec<String>)>;

    /// Each ResourceSpans (and each ScopeSpans) of `spans`' request, as
    /// prost decodes it: the bits of its double attribute `x`, and its span
    /// names.
    fn decoded_groups(spans: &[SpanData]) -> (Decoded, Decoded) {
        use crate::encode::TraceEncoder;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::{KeyValue as ProtoKeyValue, any_value::Value};
        use prost::Message;

        fn x(attributes: &[ProtoKeyValue]) -> u64 {
            match attributes
                .iter()
                .find(|kv| kv.key == "x")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|value| value.value.as_ref())
            {
                Some(Value::DoubleValue(x)) => x.to_bits(),
                other => panic!("expected a double x, got {other:?}"),
            }
        }
        let mut body = Vec::new();
        TraceEncoder::new().encode_protobuf(spans, &mut body);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let (mut resources, mut scopes) = (Vec::new(), Vec::new());
        for resource_spans in request.resource_spans {
            let resource = resource_spans.resource.expect("a resource");
            let mut names = Vec::new();
            for scope_spans in resource_spans.scope_spans {
                let scope = scope_spans.scope.expect("a scope");
                let scope_names: Vec<String> = scope_spans
                    .spans
                    .into_iter()
                    .map(|span| span.name)
                    .collect();
                if !scope.attributes.is_empty() {
                    scopes.push((x(&scope.attributes), scope_names.clone()));
                }
                names.extend(scope_names);
            }
            if !resource.attributes.is_empty() {
                resources.push((x(&resource.attributes), names));
            }
        }
        (resources, scopes)
    }

    fn named(groups: &[(f64, &[&str])]) -> Decoded {
        groups
            .iter()
            .map(|(x, names)| (x.to_bits(), names.iter().map(|n| n.to_string()).collect()))
            .collect()
    }

    /// Grouping compared resources and scopes with `==`: a resource with
    /// `x = -0.0` fell in the group of one with `x = 0.0` (its spans were
    /// sent under `0.0`), and equal resources holding a NaN never grouped.
    /// Two values are one group when their encodings are the same.
    #[test]
    fn resources_and_scopes_are_grouped_by_their_encoding_not_by_float_equality() {
        let resource = |x: f64| Arc::new(Resource::new([KeyValue::new("x", x)]));
        let scope = |x: f64| {
            Arc::new(InstrumentationScope::new("s").with_attributes([KeyValue::new("x", x)]))
        };
        let plain_scope = InstrumentationScope::empty();
        let plain_resource = Resource::empty();

        let spans = vec![
            span(&resource(0.0), &plain_scope, "zero"),
            span(&resource(-0.0), &plain_scope, "minus zero"),
            span(&resource(0.0), &plain_scope, "zero again"),
        ];
        let (resources, _) = decoded_groups(&spans);
        assert_eq!(
            resources,
            named(&[(0.0, &["zero", "zero again"]), (-0.0, &["minus zero"])])
        );

        let spans = vec![
            span(&resource(f64::NAN), &plain_scope, "nan"),
            span(&resource(f64::NAN), &plain_scope, "nan again"),
        ];
        let (resources, _) = decoded_groups(&spans);
        assert_eq!(resources, named(&[(f64::NAN, &["nan", "nan again"])]));

        let spans = vec![
            span(&plain_resource, &scope(0.0), "zero"),
            span(&plain_resource, &scope(-0.0), "minus zero"),
            span(&plain_resource, &scope(f64::NAN), "nan"),
            span(&plain_resource, &scope(f64::NAN), "nan again"),
        ];
        let (_, scopes) = decoded_groups(&spans);
        assert_eq!(
            scopes,
            named(&[
                (0.0, &["zero"]),
                (-0.0, &["minus zero"]),
                (f64::NAN, &["nan", "nan again"]),
            ])
        );
    }

    #[test]
    fn equal_resources_in_different_allocations_share_a_group() {
        let make = || Arc::new(Resource::new([KeyValue::new("service.name", "a")]));
        let scope = InstrumentationScope::empty();
        let spans = vec![span(&make(), &scope, "0"), span(&make(), &scope, "1")];
        let mut groups = Groups::default();
        groups.build(&spans);
        assert_eq!(groups.resources.len(), 1);
        assert_eq!(groups.scopes.len(), 1);
    }
}
