//! Each fault as the real AWS SDK clients read it: the modeled error, its code, and whether
//! the SDK's standard retry (3 attempts here) retries it.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde_json::json;

use crate::support::{Harness, dynamodb, rule_view, s3, sqs};

fn key(user: &str) -> AttributeValue {
    AttributeValue::S(format!("USER#{user}"))
}

async fn transact(client: &aws_sdk_dynamodb::Client, user: &str) -> Result<(), SdkError<TransactWriteItemsError>> {
    let put = Put::builder().table_name("app").item("pk", key(user)).build().expect("put");
    let update = Update::builder()
        .table_name("app")
        .key("pk", key(user))
        .update_expression("SET credits = credits - :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .build()
        .expect("update");
    let delete = Delete::builder().table_name("ledger").key("pk", key(user)).build().expect("delete");
    client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .transact_items(TransactWriteItem::builder().update(update).build())
        .transact_items(TransactWriteItem::builder().delete(delete).build())
        .send()
        .await
        .map(|_| ())
}

async fn put(client: &aws_sdk_dynamodb::Client, user: &str) -> Result<(), SdkError<PutItemError>> {
    client.put_item().table_name("app").item("pk", key(user)).send().await.map(|_| ())
}

async fn get(client: &aws_sdk_dynamodb::Client) -> Result<(), String> {
    let got = client.get_item().table_name("app").key("pk", key("u1")).send().await;
    got.map(|_| ()).map_err(|e| format!("{e:?}"))
}

fn reasons(err: SdkError<TransactWriteItemsError>) -> Vec<String> {
    match err.into_service_error() {
        TransactWriteItemsError::TransactionCanceledException(e) => e.cancellation_reasons().iter().map(|r| r.code().unwrap_or_default().to_string()).collect(),
        other => panic!("expected TransactionCanceledException, got {other:?}"),
    }
}

#[tokio::test]
async fn conflict_cancels_a_transaction_with_one_reason_per_item() {
    let h = Harness::off().await;
    let client = dynamodb(&h.url);
    h.rule(json!({"service": "dynamodb", "operation": "TransactWriteItems", "fault": "conflict", "times": 1})).await;
    let codes = reasons(transact(&client, "u1").await.expect_err("cancelled"));
    assert_eq!(codes.len(), 3);
    assert_eq!(codes.iter().filter(|c| *c == "TransactionConflict").count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "None").count(), 2, "{codes:?}");
    assert_eq!(h.upstream.count("TransactWriteItems"), 0, "the emulator never saw it");

    // A rule can name the item; cancellations are not retried by the SDK.
    h.rule(json!({"fault": "conflict", "match": "USER#u2", "item": 2})).await;
    let codes = reasons(transact(&client, "u2").await.expect_err("cancelled"));
    assert_eq!(codes, ["None", "None", "TransactionConflict"]);
    transact(&client, "u1").await.expect("the spent rule lets the next one through");
    assert_eq!(h.upstream.count("TransactWriteItems"), 1);
}

#[tokio::test]
async fn conflict_on_a_single_write_is_a_transaction_conflict_exception() {
    let h = Harness::off().await;
    let client = dynamodb(&h.url);
    let id = h.rule(json!({"fault": "conflict", "operation": "PutItem"})).await["id"].as_u64().expect("id");
    let err = put(&client, "u1").await.expect_err("conflict");
    assert!(err.into_service_error().is_transaction_conflict_exception());
    assert_eq!(rule_view(&h, id).await["fired"], 1, "not retried");
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk() {
    let h = Harness::off().await;
    let client = dynamodb(&h.url);
    h.rule(json!({"operation": "GetItem", "fault": "throttle", "times": 1})).await;
    get(&client).await.expect("the retry succeeds");
    assert_eq!(h.upstream.count("GetItem"), 1);
    let stats = h.faults.stats();
    assert_eq!(stats["services"]["dynamodb"]["GetItem"]["requests"], 2);
    assert_eq!(stats["services"]["dynamodb"]["GetItem"]["injected"]["throttle"]["rule"], 1);

    let id = h.rule(json!({"operation": "GetItem", "fault": "provisioned_throughput"})).await["id"].as_u64().expect("id");
    let err = client.get_item().table_name("app").key("pk", key("u1")).send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("ProvisionedThroughputExceededException"));
    assert_eq!(rule_view(&h, id).await["fired"], 3, "every attempt was throttled");
}

#[tokio::test]
async fn server_errors_are_retried_by_the_sdk() {
    let h = Harness::off().await;
    let client = dynamodb(&h.url);
    h.rule(json!({"operation": "GetItem", "fault": "server_error", "times": 2})).await;
    get(&client).await.expect("the third attempt succeeds");
    h.rule(json!({"operation": "GetItem", "fault": "server_error", "status": 503})).await;
    let err = client.get_item().table_name("app").key("pk", key("u1")).send().await.expect_err("unavailable");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(err.code(), Some("ServiceUnavailable"));
    assert_eq!(h.upstream.count("GetItem"), 1);
}

#[tokio::test]
async fn a_lost_response_was_applied_and_the_sdk_retries_it() {
    let h = Harness::off().await;
    let client = dynamodb(&h.url);
    h.rule(json!({"operation": "PutItem", "fault": "lost_response", "times": 1})).await;
    put(&client, "u1").await.expect("the retry succeeds");
    assert_eq!(h.upstream.count("PutItem"), 2, "applied, answer lost, then applied again");

    h.rule(json!({"operation": "PutItem", "fault": "lost_response"})).await;
    let err = put(&client, "u1").await.expect_err("every answer lost");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert_eq!(h.upstream.count("PutItem"), 5);
}

#[tokio::test]
async fn a_reset_forwards_nothing_and_the_sdk_retries_it() {
    let h = Harness::off().await;
    let client = dynamodb(&h.url);
    h.rule(json!({"operation": "PutItem", "fault": "reset", "times": 1})).await;
    put(&client, "u1").await.expect("the retry succeeds");
    assert_eq!(h.upstream.count("PutItem"), 1);

    h.rule(json!({"operation": "PutItem", "fault": "reset"})).await;
    let err = put(&client, "u1").await.expect_err("every attempt reset");
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    assert_eq!(h.upstream.count("PutItem"), 1, "nothing more was forwarded");
}

#[tokio::test]
async fn latency_delays_then_forwards() {
    let h = Harness::off().await;
    let client = dynamodb(&h.url);
    get(&client).await.expect("warm-up");
    h.rule(json!({"operation": "GetItem", "fault": "latency", "ms": 300, "times": 1})).await;
    let started = Instant::now();
    get(&client).await.expect("delayed, not failed");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    assert_eq!(h.upstream.count("GetItem"), 2);
}

#[tokio::test]
async fn s3_slow_down_is_a_retryable_503() {
    let h = Harness::off().await;
    let client = s3(&h.url);
    h.rule(json!({"service": "s3", "operation": "GetObject", "fault": "slow_down", "times": 1})).await;
    let got = client.get_object().bucket("photos").key("u1/a.jpg").send().await;
    got.expect("the retry succeeds");
    assert_eq!(h.upstream.count("/photos/u1/a.jpg"), 1);

    let id = h.rule(json!({"service": "s3", "fault": "throttle", "match": "/photos/u2/"})).await["id"].as_u64().expect("id");
    let err = client.get_object().bucket("photos").key("u2/a.jpg").send().await.expect_err("slowed down");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&err), Some("SlowDown"));
    assert_eq!(rule_view(&h, id).await["fired"], 3, "retried as throttling");

    h.rule(json!({"service": "s3", "operation": "HeadObject", "fault": "server_error"})).await;
    let err = client.head_object().bucket("photos").key("u1/a.jpg").send().await.expect_err("500");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
}

#[tokio::test]
async fn sqs_throttling_is_request_throttled_and_retried() {
    let h = Harness::off().await;
    let client = sqs(&h.url);
    let send = || client.send_message().queue_url(format!("{}/000000000000/jobs", h.url)).message_body("job-1").send();
    h.rule(json!({"service": "sqs", "operation": "SendMessage", "fault": "throttle", "times": 1})).await;
    send().await.expect("the retry succeeds");
    assert_eq!(h.upstream.count("SendMessage"), 1);

    let id = h.rule(json!({"service": "sqs", "fault": "throttle", "match": "job-1"})).await["id"].as_u64().expect("id");
    let err = send().await.expect_err("throttled");
    assert!(err.into_service_error().is_request_throttled());
    assert_eq!(rule_view(&h, id).await["fired"], 3);

    h.faults.clear_rules();
    h.rule(json!({"service": "sqs", "fault": "server_error"})).await;
    let err = send().await.expect_err("500");
    assert_eq!(aws_sdk_sqs::error::ProvideErrorMetadata::code(&err), Some("InternalFailure"));
}
