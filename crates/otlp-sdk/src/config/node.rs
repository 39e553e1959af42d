//! [`Node`]: a configuration value before it is typed, whatever the source.
//!
//! Files (YAML and TOML) deserialize into a tree of nodes; an environment variable
//! is a single [`Node::Str`]. The per-key parsers in `keys.rs` take a node, so a
//! key has one parser whichever source sets it.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The key under which the `toml` crate hands a datetime to a generic visitor.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

/// An untyped configuration value. Maps keep their document order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    /// YAML `~` / an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (YAML and TOML integers fit in `i128`).
    Int(i128),
    /// A floating-point number.
    Float(f64),
    /// A string (every environment variable is one).
    Str(String),
    /// A list.
    Seq(Vec<Node>),
    /// A map, in document order, keys unique.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A rendering for error messages: scalars as written, `[a, b]`, `{k=v}`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Node::Null => "null".to_owned(),
            Node::Bool(b) => b.to_string(),
            Node::Int(n) => n.to_string(),
            Node::Float(x) => x.to_string(),
            Node::Str(s) => s.clone(),
            Node::Seq(items) => {
                let items: Vec<String> = items.iter().map(Node::describe).collect();
                format!("[{}]", items.join(", "))
            }
            Node::Map(entries) => {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|(key, value)| format!("{key}={}", value.describe()))
                    .collect();
                format!("{{{}}}", entries.join(", "))
            }
        }
    }

    /// The text of a scalar (numbers and booleans rendered); `None` for
    /// null, lists and maps.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Bool(_) | Node::Int(_) | Node::Float(_) | Node::Str(_) => Some(self.describe()),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }

    /// Whether the value means "not set": null, or a string that is empty after trimming.
    pub(crate) fn is_unset(&self) -> bool {
        match self {
            Node::Null => true,
            Node::Str(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a configuration value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        // The keys seen: a lookup per key, not a search of the map so far.
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<Node>()? {
            let Some(key) = key.scalar_text() else {
                return Err(de::Error::custom("map keys must be strings"));
            };
            let value = map.next_value::<Node>()?;
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            entries.push((key, value));
        }
        Ok(toml_datetime_as_string(entries))
    }
}

/// The `toml` crate presents a datetime as a one-entry map with a private key;
/// configuration has no datetime keys, so it becomes its text (and then fails
/// the key's own parser with a readable message).
fn toml_datetime_as_string(mut entries: Vec<(String, Node)>) -> Node {
    if let [(key, Node::Str(_))] = entries.as_slice()
        && key == TOML_DATETIME_KEY
        && let Some((_, value)) = entries.pop()
    {
        return value;
    }
    Node::Map(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_means_null_or_blank_string() {
        assert!(Node::Null.is_unset());
        assert!(Node::Str("  ".into()).is_unset());
        assert!(!Node::Str("x".into()).is_unset());
        assert!(!Node::Int(0).is_unset());
    }

    #[test]
    fn scalars_render_as_text() {
        assert_eq!(Node::Int(42).scalar_text().as_deref(), Some("42"));
        assert_eq!(Node::Bool(true).scalar_text().as_deref(), Some("true"));
        assert_eq!(Node::Map(Vec::new()).scalar_text(), None);
        let map = Node::Map(vec![(
            "k".into(),
            Node::Seq(vec![Node::Int(1), Node::Null]),
        )]);
        assert_eq!(map.describe(), "{k=[1, null]}");
    }

    #[cfg(feature = "toml")]
    #[test]
    fn toml_keeps_document_order_and_flattens_datetimes() {
        let node: Node = toml::from_str("b = 1\na = 1979-05-27T07:32:00Z\n").unwrap();
        assert_eq!(
            node,
            Node::Map(vec![
                ("b".into(), Node::Int(1)),
                ("a".into(), Node::Str("1979-05-27T07:32:00Z".into())),
            ])
        );
    }

    #[cfg(feature = "yaml")]
    #[test]
    fn yaml_rejects_duplicate_keys_with_a_location() {
        let err = serde_norway::from_str::<Node>("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(err.to_string().contains("duplicate key `a`"), "{err}");
        assert!(err.location().is_some());
    }
}
