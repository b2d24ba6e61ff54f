//! The control API itself: validation, errors without panics, conflicts and reset.

use serde_json::json;

use crate::support::Sim;

#[tokio::test]
async fn bad_input_answers_400_with_an_error() {
    let sim = Sim::start().await;
    for path in ["/_sim/purchases", "/_sim/events", "/_sim/deliver", "/_sim/failures"] {
        let resp = sim.client.post(format!("{}{path}", sim.base)).body("{not json").send().await.expect("post");
        assert_eq!(resp.status(), 400, "{path}");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    for (path, body) in [
        ("/_sim/purchases", json!({"product_id": "credits_10"})),
        ("/_sim/purchases", json!({"app_user_id": "u"})),
        ("/_sim/purchases", json!({"app_user_id": "u", "product_id": "p", "environment": "STAGING"})),
        ("/_sim/purchases", json!({"app_user_id": "u", "product_id": "p", "type": "TRANSFER"})),
        ("/_sim/purchases", json!([1, 2])),
        ("/_sim/events", json!({"app_user_id": "u"})),
        ("/_sim/events", json!({"type": 5})),
        ("/_sim/events", json!({"type": "TEST", "times": 0})),
        ("/_sim/events", json!({"type": "TEST", "delay_ms": "soon"})),
        ("/_sim/events", json!({"type": "TRANSFER", "transferred_to": 7})),
        ("/_sim/events", json!({"type": "TEST", "price": "free"})),
        ("/_sim/deliver", json!({})),
        ("/_sim/deliver", json!({"payload": {}, "extra": 1})),
        ("/_sim/failures", json!({"rest": [{"status": 200}]})),
    ] {
        let (status, answer) = sim.post(path, &body).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert!(answer["error"].is_string());
    }
    assert!(sim.receiver.received().is_empty());
    assert!(sim.sim.purchases(None).is_empty());
    let (status, answer) = sim.get("/_sim/nothing").await;
    assert_eq!((status, answer["error"].is_string()), (404, true));
}

#[tokio::test]
async fn a_recorded_transaction_cannot_be_recorded_again() {
    let sim = Sim::start().await;
    let spec = json!({"app_user_id": "u", "product_id": "credits_10", "transaction_id": "GPA.0000-0000-0000-00001"});
    sim.post_ok("/_sim/purchases", &spec).await;
    let (status, answer) = sim.post("/_sim/purchases", &spec).await;
    assert_eq!((status, answer["error"].is_string()), (409, true));
    let event = json!({"type": "NON_RENEWING_PURCHASE", "transaction_id": "GPA.0000-0000-0000-00001", "deliver": false});
    sim.post_ok("/_sim/events", &event).await;
    assert_eq!(sim.sim.purchases(Some("u")).len(), 1);
}

#[tokio::test]
async fn without_a_webhook_url_delivery_is_refused_and_nothing_changes() {
    let sim = revenuecat_sim::Simulator::new(revenuecat_sim::SimConfig { api_key: "k".into(), webhook_url: None, webhook_authorization: String::new() });
    let err = sim.purchase(json!({"app_user_id": "u", "product_id": "credits_10", "deliver": true})).await.expect_err("no url");
    assert_eq!(err.status(), 400);
    assert!(sim.purchases(None).is_empty());
    let ok = sim.purchase(json!({"app_user_id": "u", "product_id": "credits_10"})).await.expect("recorded");
    assert!(ok["transaction_id"].is_string());
}

#[tokio::test]
async fn reset_forgets_everything() {
    let sim = Sim::start().await;
    sim.post_ok("/_sim/purchases", &json!({"app_user_id": "u", "product_id": "credits_10", "deliver": true})).await;
    sim.post_ok("/_sim/failures", &json!({"rest": [{"status": 500}], "stall_ms": 5})).await;
    sim.rest(reqwest::Method::DELETE, "/v1/subscribers/x", Some(crate::support::KEY)).await;
    sim.post_ok("/_sim/reset", &json!({})).await;
    for path in ["/_sim/purchases", "/_sim/deliveries", "/_sim/deleted", "/_sim/customers", "/_sim/requests"] {
        assert_eq!(sim.get(path).await.1, json!([]), "{path}");
    }
    assert_eq!(sim.get("/_sim/failures").await.1, json!({"rest": [], "stall_ms": 0}));
}
