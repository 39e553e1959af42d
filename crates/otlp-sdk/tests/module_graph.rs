//! The crate's top-level modules import each other in no circle (issue 13's
//! simplicity goal for the pipeline's files): a module's `crate::` and
//! `super::` paths are read from its source, modules of a folder
//! (`config/`, `metrics/`, `durable/`) count as the folder, and a circle
//! among the rest fails with the modules and the imports that close it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Top-level module name → the top-level modules its source names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The text of `source` before its unit tests (they may import anything).
fn without_tests(source: &str) -> &str {
    match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    }
}

/// Every top-level module `source` names through a `crate::` path,
/// including the names inside `use crate::{a, b::C}` groups.
fn named_modules(source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Only the first name of each item counts; a multi-line
                // group's other lines are read by the fallback below.
                for item in group.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    named.insert(name);
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                named.insert(name);
            }
        }
    }
    // Multi-line `use crate::{` groups: their item lines start with a name
    // followed by `::` or `,`.
    let mut in_group = false;
    for line in source.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("use crate::{") && !trimmed.ends_with("};") {
            in_group = true;
            continue;
        }
        if in_group {
            if trimmed.starts_with("};") {
                in_group = false;
                continue;
            }
            let name: String = trimmed
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            named.insert(name);
        }
    }
    named.retain(|name| modules.contains(name));
    named
}

fn module_graph(src: &Path) -> Graph {
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    for entry in fs::read_dir(src).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("a UTF-8 file name")
            .to_owned();
        if name == "lib" {
            continue;
        }
        let text = if path.is_dir() {
            // A folder module: every file in it, as one.
            let mut text = String::new();
            for inner in fs::read_dir(&path).expect("a module folder") {
                let inner = inner.expect("a directory entry").path();
                if inner.extension().is_some_and(|ext| ext == "rs") {
                    let source = fs::read_to_string(&inner).expect("a source file");
                    text.push_str(without_tests(&source));
                    text.push('\n');
                }
            }
            text
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let source = fs::read_to_string(&path).expect("a source file");
            without_tests(&source).to_owned()
        } else {
            continue;
        };
        sources.entry(name).or_default().push_str(&text);
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(name, text)| {
            let mut named = named_modules(text, &modules);
            named.remove(name);
            (name.clone(), named)
        })
        .collect()
}

/// The modules `from` reaches through imports.
fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&str> = graph[from].iter().map(String::as_str).collect();
    while let Some(next) = todo.pop() {
        if seen.insert(next.to_owned()) {
            todo.extend(graph[next].iter().map(String::as_str));
        }
    }
    seen
}

#[test]
fn the_crates_top_level_modules_import_each_other_in_no_circle() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        graph.len() > 20 && graph["destination"].contains("shared"),
        "the source was not read as expected: {graph:?}"
    );
    let mut circles = Vec::new();
    for (module, imports) in &graph {
        for import in imports {
            if reachable(&graph, import).contains(module) {
                circles.push(format!("{module} -> {import} -> … -> {module}"));
            }
        }
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn a_circle_is_seen() {
    let dir = std::env::temp_dir().join(format!("otlp-sdk-module-graph-{}", std::process::id()));
    fs::create_dir_all(dir.join("folder")).expect("a temporary folder");
    fs::write(dir.join("a.rs"), "use crate::b::B;\n").expect("write");
    fs::write(
        dir.join("b.rs"),
        "use crate::{\n    folder::F,\n    c,\n};\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n",
    )
    .expect("write");
    fs::write(dir.join("c.rs"), "// use crate::a;\n").expect("write");
    fs::write(
        dir.join("folder").join("inner.rs"),
        "fn f() { crate::a::g() }\n",
    )
    .expect("write");
    let graph = module_graph(&dir);
    fs::remove_dir_all(&dir).expect("remove the temporary folder");
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned()]));
    assert_eq!(
        graph["b"],
        BTreeSet::from(["c".to_owned(), "folder".to_owned()])
    );
    assert!(graph["c"].is_empty(), "a comment is not an import");
    assert!(
        reachable(&graph, "a").contains("a"),
        "a -> b -> folder -> a"
    );
    assert!(!reachable(&graph, "c").contains("c"));
}
