//! The REST API as the backend sees it: the subscriber object, the key check, customer creation
//! and deletion, and the REST view after refunds and transfers.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::support::{KEY, Sim};

#[tokio::test]
async fn the_subscriber_lists_its_one_time_purchases() {
    let sim = Sim::start().await;
    let first = sim.post_ok("/_sim/purchases", &json!({"app_user_id": "u1", "product_id": "credits_10", "environment": "SANDBOX"})).await;
    sim.post_ok("/_sim/purchases", &json!({"app_user_id": "u1", "product_id": "credits_10"})).await;
    sim.post_ok("/_sim/purchases", &json!({"app_user_id": "u1", "product_id": "credits_50"})).await;
    sim.post_ok("/_sim/purchases", &json!({"app_user_id": "u2", "product_id": "credits_5"})).await;

    let v = sim.subscriber("u1").await;
    assert!(v["request_date"].is_string() && v["request_date_ms"].is_u64());
    let subscriber = &v["subscriber"];
    assert_eq!(subscriber["original_app_user_id"], "u1");
    assert_eq!(subscriber["subscriptions"], json!({}));
    assert_eq!(subscriber["entitlements"], json!({}));
    let non_subs = subscriber["non_subscriptions"].as_object().expect("object");
    assert_eq!(non_subs.keys().collect::<Vec<_>>(), ["credits_10", "credits_50"]);
    let tens = non_subs["credits_10"].as_array().expect("list");
    assert_eq!(tens.len(), 2);
    let entry = &tens[0];
    assert_eq!(entry["store_transaction_id"], first["transaction_id"]);
    assert_eq!(entry["store"], "play_store");
    assert_eq!(entry["is_sandbox"], true);
    assert_eq!(tens[1]["is_sandbox"], false);
    assert!(entry["id"].as_str().is_some_and(|id| !id.is_empty()));
    let date = entry["purchase_date"].as_str().expect("purchase_date");
    assert!(date.len() == 20 && date.ends_with('Z') && date.as_bytes()[10] == b'T', "{date}");
}

#[tokio::test]
async fn an_unknown_user_is_created_empty() {
    let sim = Sim::start().await;
    let v = sim.subscriber("%24RCAnonymousID%3Aabc").await;
    assert_eq!(v["subscriber"]["original_app_user_id"], "$RCAnonymousID:abc");
    assert_eq!(v["subscriber"]["non_subscriptions"], json!({}));
    assert!(v["subscriber"]["first_seen"].is_string());
    assert_eq!(sim.get("/_sim/customers").await.1, json!(["$RCAnonymousID:abc"]));
    let (_, requests) = sim.get("/_sim/requests").await;
    assert_eq!(requests[0]["app_user_id"], "$RCAnonymousID:abc");
    assert_eq!((&requests[0]["method"], &requests[0]["status"]), (&json!("GET"), &json!(200)));
}

#[tokio::test]
async fn the_rest_api_needs_the_secret_key() {
    let sim = Sim::start().await;
    for key in [None, Some("sk_wrong")] {
        let resp = sim.rest(Method::GET, "/v1/subscribers/u", key).await;
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["code"], 7225);
        assert!(body["message"].is_string());
    }
    assert_eq!(sim.rest(Method::DELETE, "/v1/subscribers/u", None).await.status(), 401);
    assert!(sim.get("/_sim/deleted").await.1.as_array().is_some_and(Vec::is_empty));
    assert!(sim.get("/_sim/customers").await.1.as_array().is_some_and(Vec::is_empty));
    assert_eq!(sim.rest(Method::GET, "/v1/other", Some(KEY)).await.status(), 404);
    assert_eq!(sim.rest(Method::PUT, "/v1/subscribers/u", Some(KEY)).await.status(), 405);
}

#[tokio::test]
async fn queued_failures_answer_first_then_success() {
    let sim = Sim::start().await;
    let queued = sim.post_ok("/_sim/failures", &json!({"rest": [{"status": 429, "retry_after": 2}, {"status": 500}, {"status": 503}, {"status": 429}]})).await;
    assert_eq!(queued["queued"], 4);
    let first = sim.rest(Method::GET, "/v1/subscribers/u", Some(KEY)).await;
    assert_eq!(first.status(), 429);
    assert_eq!(first.headers()["retry-after"], "2");
    assert!(first.json::<serde_json::Value>().await.expect("json")["message"].is_string());
    for status in [500, 503] {
        assert_eq!(sim.rest(Method::GET, "/v1/subscribers/u", Some(KEY)).await.status(), status);
    }
    let default_retry = sim.rest(Method::GET, "/v1/subscribers/u", Some(KEY)).await;
    assert_eq!((default_retry.status().as_u16(), &default_retry.headers()["retry-after"]), (429, &"1".parse::<http::HeaderValue>().expect("v")));
    sim.subscriber("u").await;

    sim.post_ok("/_sim/failures", &json!({"rest": [{"status": 500, "times": 3}]})).await;
    assert_eq!(sim.get("/_sim/failures").await.1["rest"].as_array().map(Vec::len), Some(3));
    assert_eq!(sim.client.delete(format!("{}/_sim/failures", sim.base)).send().await.expect("delete").status(), 200);
    sim.subscriber("u").await;
}

#[tokio::test]
async fn stalls_delay_rest_answers() {
    let sim = Sim::start().await;
    sim.post_ok("/_sim/failures", &json!({"rest": [{"stall_ms": 300}]})).await;
    let started = Instant::now();
    sim.subscriber("u").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    sim.subscriber("u").await;
    assert!(started.elapsed() < Duration::from_millis(300));

    sim.post_ok("/_sim/failures", &json!({"stall_ms": 2000})).await;
    let quick = reqwest::Client::builder().no_proxy().timeout(Duration::from_millis(200)).build().expect("client");
    let timed_out = quick.get(format!("{}/v1/subscribers/u", sim.base)).bearer_auth(KEY).send().await;
    assert!(timed_out.is_err_and(|e| e.is_timeout()));
    sim.client.delete(format!("{}/_sim/failures", sim.base)).send().await.expect("clear");
    let started = Instant::now();
    sim.subscriber("u").await;
    assert!(started.elapsed() < Duration::from_millis(1000));
}

#[tokio::test]
async fn deleting_a_subscriber_is_recorded() {
    let sim = Sim::start().await;
    sim.post_ok("/_sim/purchases", &json!({"app_user_id": "gone", "product_id": "credits_10"})).await;
    let resp = sim.rest(Method::DELETE, "/v1/subscribers/gone", Some(KEY)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<serde_json::Value>().await.expect("json"), json!({"app_user_id": "gone"}));
    assert_eq!(sim.get("/_sim/deleted").await.1, json!(["gone"]));
    assert_eq!(sim.subscriber("gone").await["subscriber"]["non_subscriptions"], json!({}));
    assert_eq!(sim.get("/_sim/purchases?app_user_id=gone").await.1[0]["customer_deleted"], true);
}

#[tokio::test]
async fn refunds_and_transfers_change_the_rest_view() {
    let sim = Sim::start().await;
    let a = sim.post_ok("/_sim/purchases", &json!({"app_user_id": "old", "product_id": "credits_10"})).await;
    let b = sim.post_ok("/_sim/purchases", &json!({"app_user_id": "old", "product_id": "credits_20"})).await;
    let c = sim.post_ok("/_sim/purchases", &json!({"app_user_id": "old", "product_id": "credits_50"})).await;
    sim.post_ok("/_sim/events", &json!({"type": "CANCELLATION", "transaction_id": a["transaction_id"], "deliver": false})).await;
    sim.post_ok("/_sim/events", &json!({"type": "CANCELLATION", "transaction_id": c["transaction_id"], "deliver": false, "refund_in_rest": "keep"})).await;
    let listed = sim.subscriber("old").await["subscriber"]["non_subscriptions"].clone();
    assert_eq!(listed.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()), Some(vec!["credits_20".to_string(), "credits_50".to_string()]));
    let purchases = sim.get("/_sim/purchases?app_user_id=old").await.1;
    assert_eq!(purchases[0]["refunded"], true);
    assert_eq!(purchases[0]["listed"], false);
    assert_eq!((&purchases[2]["refunded"], &purchases[2]["listed"]), (&json!(true), &json!(true)));

    sim.post_ok("/_sim/events", &json!({"type": "TRANSFER", "transferred_from": ["old"], "transferred_to": ["new"], "deliver": false})).await;
    assert_eq!(sim.subscriber("old").await["subscriber"]["non_subscriptions"], json!({}));
    let moved = sim.subscriber("new").await["subscriber"]["non_subscriptions"].clone();
    assert_eq!(moved["credits_20"][0]["store_transaction_id"], b["transaction_id"]);
    assert_eq!(sim.get("/_sim/purchases?app_user_id=new").await.1.as_array().map(Vec::len), Some(3));
}
