//! The control API: validation (400 with a message), listing and removing rules, rates,
//! stats and reset.

use fault_proxy::FaultConfig;
use serde_json::{Value, json};

use crate::support::Harness;

async fn refused(h: &Harness, rule: Value, needle: &str) {
    let (status, body) = h.control("POST", "/_faults/rules", Some(rule.clone())).await;
    assert_eq!(status, 400, "{rule} was accepted: {body}");
    let msg = body["error"].as_str().expect("error message");
    assert!(msg.contains(needle), "{rule}: {msg}");
}

#[tokio::test]
async fn invalid_rules_are_refused_with_a_reason() {
    let h = Harness::off().await;
    refused(&h, json!({"fault": "explode"}), "unknown variant `explode`").await;
    refused(&h, json!({"service": "s3", "operation": "GetObject", "fault": "conflict"}), "does not apply to s3 GetObject").await;
    refused(&h, json!({"operation": "GetItem", "fault": "conflict"}), "does not apply to GetItem").await;
    refused(&h, json!({"service": "sqs", "fault": "slow_down"}), "does not apply to sqs").await;
    refused(&h, json!({"fault": "latency"}), "needs ms").await;
    refused(&h, json!({"fault": "throttle", "tmes": 1}), "unknown field `tmes`").await;
    refused(&h, json!({"fault": "lose_batch", "service": "dynamodb"}), "sqs_trigger").await;
    refused(&h, json!([{"fault": "reset"}, {"fault": "reset", "status": 500}]), "rule 1:").await;
    let (status, body) = h.control("GET", "/_faults/rules", None).await;
    assert_eq!((status, body), (200, json!([])), "an invalid batch adds nothing");

    let resp = h.client.post(format!("{}/_faults/rules", h.url)).body("{not json").send().await.expect("answer");
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn rules_are_listed_and_removed() {
    let h = Harness::off().await;
    let one = h.rule(json!({"fault": "throttle", "service": "sqs", "match": "job-9"})).await;
    assert_eq!(one, json!({"id": 1, "ids": [1]}));
    let many = h.rule(json!([{"fault": "reset", "service": "s3"}, {"fault": "latency", "ms": 5}])).await;
    assert_eq!(many, json!({"ids": [2, 3]}));
    let (_, rules) = h.control("GET", "/_faults/rules", None).await;
    assert_eq!(rules.as_array().map(Vec::len), Some(3));
    assert_eq!(rules[0]["match"], json!(["job-9"]), "a single match string is listed as a list");
    assert_eq!((rules[0]["matched"].as_u64(), rules[0]["fired"].as_u64()), (Some(0), Some(0)));

    assert_eq!(h.control("DELETE", "/_faults/rules/2", None).await, (200, json!({"deleted": 2})));
    assert_eq!(h.control("DELETE", "/_faults/rules/2", None).await.0, 404);
    assert_eq!(h.control("DELETE", "/_faults/rules/x", None).await.0, 404);
    assert_eq!(h.control("DELETE", "/_faults/rules", None).await, (200, json!({"cleared": 2})));
    assert_eq!(h.control("GET", "/_faults/nothing", None).await.0, 404);
}

#[tokio::test]
async fn rates_stats_and_reset() {
    let config = FaultConfig::parse(Some("server_error=0.25,seed=9"), None).expect("config");
    let h = Harness::start(config).await;
    let (status, body) = h.control("PUT", "/_faults/rates", Some(json!({"throttle": 2}))).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().is_some_and(|m| m.contains("throttle")), "{body}");
    let (status, _) = h.control("PUT", "/_faults/rates", Some(json!({"bogus": 0.1}))).await;
    assert_eq!(status, 400);
    let (status, _) = h.control("PUT", "/_faults/rates", Some(json!({"throttle": 0.7, "reset": 0.7}))).await;
    assert_eq!(status, 400, "the request rates add up to more than 1");

    let (status, rates) = h.control("PUT", "/_faults/rates", Some(json!({"throttle": 1, "latency_ms": 5}))).await;
    assert_eq!(status, 200);
    assert_eq!((rates["throttle"].as_f64(), rates["server_error"].as_f64()), (Some(1.0), Some(0.0)));
    assert_eq!(h.dynamodb("GetItem", "{}").await.0, 400);
    h.rule(json!({"fault": "reset", "service": "s3"})).await;

    let (_, all) = h.control("GET", "/_faults", None).await;
    assert_eq!(all["rates"]["latency_ms"], 5);
    assert_eq!(all["rules"].as_array().map(Vec::len), Some(1));
    assert_eq!(all["stats"]["services"]["dynamodb"]["GetItem"]["injected"]["throttle"]["rate"], 1);
    assert_eq!(all["upstream"], h.upstream.url);

    assert_eq!(h.control("POST", "/_faults/reset", None).await, (200, json!({"reset": true})));
    let (_, all) = h.control("GET", "/_faults", None).await;
    assert_eq!(all["rules"], json!([]));
    assert_eq!(all["stats"]["requests"], 0);
    assert_eq!(all["rates"]["server_error"], 0.25);
    assert_eq!(all["rates"]["throttle"], 0.0);
    assert_eq!(all["rates"]["seed"], 9);
    let next = h.rule(json!({"fault": "reset"})).await;
    assert_eq!(next["id"], 2, "ids are never reused");
}
