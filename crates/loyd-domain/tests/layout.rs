//! The layout by capability keeps one direction between modules: no two modules of a
//! crate import each other, directly or through others (docs/architecture.md). These
//! tests read the sources and look for a circle among the top-level modules of the
//! domain and the API, the capability files of the store's `shared/`, and the
//! operator's commands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The module each source file below `root` belongs to (its first path component), and
/// the modules its code (comments and test modules left out) names with `prefix`.
fn imports(root: &Path, prefix: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![root.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).expect("source folder").map(|e| e.expect("entry").path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).expect("below root");
        let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_owned();
        if ["lib", "main", "mod", "tests"].contains(&module.as_str()) || rel.ends_with("tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source file");
        let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap_or_default();
        let named = graph.entry(module.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices(prefix) {
                let rest = &line[i + prefix.len()..];
                // `super::{a, b::C}` names a and b; `super::a::f` names a.
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split('}').next().unwrap_or_default().split(',').collect(),
                    None => vec![rest],
                };
                for n in names {
                    let name: String =
                        n.trim().chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
                    if !name.is_empty() && name != module {
                        named.insert(name);
                    }
                }
            }
        }
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for named in graph.values_mut() {
        named.retain(|m| modules.contains(m));
    }
    graph
}

/// A circle of modules, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(m: &str, graph: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut found = path[at..].to_vec();
            found.push(m.to_owned());
            return Some(found);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name).join("src")
}

#[test]
fn the_circle_finder_finds_a_circle_and_passes_a_line() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry((*a).into()).or_default().insert((*b).into());
            g.entry((*b).into()).or_default();
        }
        g
    };
    assert_eq!(circle(&graph(&[("a", "b"), ("b", "c")])), None);
    assert_eq!(circle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}

#[test]
fn the_domain_modules_import_each_other_without_a_circle() {
    let graph = imports(&crate_src("loyd-domain"), "crate::");
    assert!(graph.len() > 15, "the domain's modules were found: {:?}", graph.keys());
    assert_eq!(circle(&graph), None);
}

#[test]
fn the_store_capability_files_import_each_other_without_a_circle() {
    let graph = imports(&crate_src("loyd-store").join("shared"), "super::");
    assert!(graph.len() > 20, "the store's capability files were found: {:?}", graph.keys());
    assert_eq!(circle(&graph), None);
}

#[test]
fn the_api_modules_import_each_other_without_a_circle() {
    let api = imports(&crate_src("loyd-api"), "crate::");
    assert!(api.len() > 8, "the API's modules were found: {:?}", api.keys());
    assert_eq!(circle(&api), None);
    let admin = imports(&crate_src("loyd-api").join("admin"), "super::");
    assert!(admin.len() > 10, "the admin API's modules were found: {:?}", admin.keys());
    assert_eq!(circle(&admin), None);
}

#[test]
fn the_operator_commands_import_each_other_without_a_circle() {
    let graph = imports(&crate_src("loyd").join("commands"), "super::");
    assert!(graph.len() > 8, "the commands were found: {:?}", graph.keys());
    assert_eq!(circle(&graph), None);
}
