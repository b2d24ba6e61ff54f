//! The template, the handlers and the sample events agree: every template
//! route has a handler, every handler a route, every named binary exists, and
//! every sample event reaches its function's route.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use local_stack::registry::{BINARIES, SCHEDULED};
use local_stack::template::Template;
use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Template {
    Template::load(&root().join("template.yaml")).unwrap()
}

#[test]
fn every_route_has_a_handler_and_every_handler_a_route() {
    let t = template();
    let routed: BTreeSet<&str> = t.routes.iter().map(|r| r.binary.as_str()).collect();
    let registered: BTreeSet<&str> = BINARIES.iter().chain(SCHEDULED).copied().collect();
    let missing_handler: Vec<_> = routed.difference(&registered).collect();
    assert!(missing_handler.is_empty(), "template routes without a handler: {missing_handler:?}");
    let scheduled: BTreeSet<&str> = t.scheduled.iter().map(String::as_str).collect();
    let unscheduled: Vec<_> = scheduled.difference(&SCHEDULED.iter().copied().collect()).copied().collect();
    assert!(unscheduled.is_empty(), "scheduled functions the local stack does not run: {unscheduled:?}");
    let named: BTreeSet<&str> = t.binaries.iter().map(String::as_str).collect();
    let unrouted: Vec<_> = registered.difference(&named).collect();
    assert!(unrouted.is_empty(), "handlers the template does not name: {unrouted:?}");
    let mut seen = BTreeSet::new();
    for r in &t.routes {
        assert!(seen.insert((r.method.clone(), r.path.clone())), "route {} {} twice", r.method, r.path);
    }
}

#[test]
fn every_binary_the_template_names_exists_in_the_workspace() {
    for binary in template().binaries {
        let manifest = root().join("functions").join(&binary).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|_| panic!("{} is missing", manifest.display()));
        assert!(text.contains(&format!("name = \"{binary}\"")) && text.contains("[[bin]]"), "{binary} is not a binary target");
    }
}

#[test]
fn every_function_is_built_for_lambda() {
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(root().join("template.yaml")).unwrap()).unwrap();
    let arch = &doc["Parameters"]["Architecture"];
    assert_eq!(arch["Default"], "arm64");
    assert_eq!(doc["Globals"]["Function"]["Runtime"], "provided.al2023");
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if res["Type"] == "AWS::Serverless::Function" {
            assert_eq!(res["Metadata"]["BuildMethod"], "rust-cargolambda", "{id:?}");
        }
    }
}

#[test]
fn every_sample_event_reaches_its_functions_route() {
    let t = template();
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue; // events/scheduled/ holds non-HTTP events
        }
        let binary = path.file_stem().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let req = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        let route_key = event["routeKey"].as_str().unwrap();
        let served = t.routes.iter().any(|r| r.binary == binary && format!("{} {}", r.method, r.path) == route_key);
        assert!(served, "{}: {route_key} is not a route of {binary}", path.display());
        assert_eq!(req.method().as_str(), route_key.split(' ').next().unwrap());
        covered.insert(binary);
    }
    for r in &t.routes {
        assert!(covered.contains(&r.binary), "no sample event for {}", r.binary);
    }
}
