//! Rules and rates over plain HTTP (no SDK retries in the way): `skip`/`times`, `match`,
//! closing connections, seeded rates, the presigned exemption and the trigger faults.

use fault_proxy::{FaultConfig, TriggerFaults};
use serde_json::json;
use tokio::net::TcpStream;

use crate::support::{Harness, exchange, rule_view};

const PUT_ITEM: &[u8] = b"POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: DynamoDB_20120810.PutItem\r\n\
                          content-length: 2\r\n\r\n{}";

#[tokio::test]
async fn skip_and_times_count_matching_requests() {
    let h = Harness::off().await;
    let id = h.rule(json!({"service": "dynamodb", "operation": "PutItem", "skip": 1, "times": 2, "fault": "server_error"})).await["id"].as_u64().expect("id");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(h.dynamodb("PutItem", r#"{"TableName":"app"}"#).await.0);
    }
    assert_eq!(statuses, [200, 500, 500, 200, 200]);
    let view = rule_view(&h, id).await;
    assert_eq!((view["matched"].as_u64(), view["fired"].as_u64()), (Some(3), Some(2)));
    assert_eq!(view["spent"], true);
    assert_eq!(h.upstream.count("PutItem"), 3);
}

#[tokio::test]
async fn match_targets_one_user_by_body_or_path() {
    let h = Harness::off().await;
    h.rule(json!({"fault": "conflict", "match": "USER#alice"})).await;
    let body = |user: &str| format!(r#"{{"TableName":"app","Item":{{"pk":{{"S":"USER#{user}"}}}}}}"#);
    assert_eq!(h.dynamodb("PutItem", &body("bob")).await.0, 200);
    let (status, text) = h.dynamodb("PutItem", &body("alice")).await;
    assert_eq!(status, 400);
    assert!(text.contains("#TransactionConflictException"), "{text}");
    // Not a write: a conflict cannot happen to it.
    assert_eq!(h.dynamodb("GetItem", &body("alice")).await.0, 200);

    h.rule(json!({"service": "dynamodb", "table": "ledger", "fault": "throttle"})).await;
    assert_eq!(h.dynamodb("Query", r#"{"TableName":"app"}"#).await.0, 200);
    assert_eq!(h.dynamodb("Query", r#"{"TableName":"ledger"}"#).await.0, 400);

    h.rule(json!({"service": "s3", "match": "/photos/u1/", "fault": "server_error"})).await;
    let (status, text) = h.call("GET", "/photos/u1/a.jpg").await;
    assert_eq!(status, 500);
    assert!(text.contains("<Code>InternalError</Code>"), "{text}");
    assert_eq!(h.call("GET", "/photos/u2/a.jpg").await.0, 200);
}

#[tokio::test]
async fn reset_and_lost_response_close_without_a_byte() {
    let h = Harness::off().await;
    h.rule(json!({"operation": "PutItem", "fault": "reset", "times": 1})).await;
    h.rule(json!({"operation": "PutItem", "fault": "lost_response", "times": 1})).await;

    let mut stream = TcpStream::connect(h.host_port()).await.expect("connect");
    let err = exchange(&mut stream, PUT_ITEM).await.expect_err("no answer");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    assert!(err.to_string().ends_with("after 0 bytes"), "{err}");
    assert_eq!(h.upstream.count("PutItem"), 0, "a reset forwards nothing");

    let mut stream = TcpStream::connect(h.host_port()).await.expect("connect");
    let err = exchange(&mut stream, PUT_ITEM).await.expect_err("no answer");
    assert_eq!(err.to_string(), "EOF after 0 bytes");
    assert_eq!(h.upstream.count("PutItem"), 1, "a lost response was applied");

    let mut stream = TcpStream::connect(h.host_port()).await.expect("connect");
    let (head, _) = exchange(&mut stream, PUT_ITEM).await.expect("both rules spent");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

async fn statuses(seed: u64, n: usize) -> Vec<u16> {
    let rates = format!("throttle=0.3,server_error=0.2,seed={seed}");
    let h = Harness::start(FaultConfig::parse(Some(&rates), None).expect("config")).await;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(h.dynamodb("GetItem", r#"{"TableName":"app"}"#).await.0);
    }
    out
}

#[tokio::test]
async fn seeded_rates_are_reproducible() {
    let first = statuses(11, 40).await;
    assert_eq!(first, statuses(11, 40).await);
    for status in [200, 400, 500] {
        assert!(first.contains(&status), "{status} missing from {first:?}");
    }
}

#[tokio::test]
async fn presigned_requests_are_exempt_from_rates_but_not_from_rules() {
    let h = Harness::start(FaultConfig::parse(Some("throttle=1"), None).expect("config")).await;
    let presigned = "/photos/u1/a.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc&x-id=PutObject";
    assert_eq!(h.call("PUT", presigned).await.0, 200);
    let (status, text) = h.call("PUT", "/photos/u1/a.jpg?x-id=PutObject").await;
    assert_eq!(status, 503);
    assert!(text.contains("<Code>SlowDown</Code>"), "{text}");

    h.rule(json!({"service": "s3", "presigned": true, "fault": "server_error", "times": 1})).await;
    assert_eq!(h.call("PUT", presigned).await.0, 500);
    let stats = h.faults.stats();
    let put = &stats["services"]["s3"]["PutObject"];
    assert_eq!(put["injected"]["throttle"]["rate"], 1);
    assert_eq!(put["injected"]["server_error"]["rule"], 1);
    assert_eq!(put["forwarded"], 1);
}

#[tokio::test]
async fn zero_rates_never_fire() {
    let h = Harness::start(FaultConfig::parse(Some("throttle=0,seed=3"), None).expect("config")).await;
    for _ in 0..30 {
        assert_eq!(h.dynamodb("PutItem", "{}").await.0, 200);
    }
    assert_eq!(h.faults.stats()["injected"], 0);
}

#[tokio::test]
async fn trigger_faults_follow_rules_and_rates() {
    let h = Harness::off().await;
    h.rule(json!([
        {"service": "sqs_trigger", "fault": "duplicate_delivery", "match": "job-2", "times": 1},
        {"service": "sqs_trigger", "fault": "lose_batch", "match": "job-3", "skip": 1, "times": 1},
    ]))
    .await;
    let queue = "http://127.0.0.1:1/000000000000/jobs";
    let batch = [r#"{"job_id":"job-1"}"#, r#"{"job_id":"job-2"}"#, r#"{"job_id":"job-3"}"#];
    assert_eq!(h.faults.trigger(queue, &batch), TriggerFaults { duplicate: vec![1], lose_batch: false });
    assert_eq!(h.faults.trigger(queue, &batch), TriggerFaults { duplicate: vec![], lose_batch: true });
    assert!(h.faults.trigger(queue, &batch).is_none(), "both rules are spent");

    let (status, _) = h.control("PUT", "/_faults/rates", Some(json!({"duplicate_delivery": 1, "lose_batch": 1}))).await;
    assert_eq!(status, 200);
    let faults = h.faults.trigger(queue, &batch[..2]);
    assert_eq!((faults.duplicate, faults.lose_batch), (vec![0, 1], true));
    let (_, stats) = h.control("GET", "/_faults/stats", None).await;
    assert_eq!(stats["trigger"]["batches"], 4);
    assert_eq!(stats["trigger"]["messages"], 11);
    assert_eq!(stats["trigger"]["injected"]["duplicate_delivery"], json!({"rule": 1, "rate": 2}));
    assert_eq!(stats["trigger"]["injected"]["lose_batch"], json!({"rule": 1, "rate": 1}));
}
