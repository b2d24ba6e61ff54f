//! Webhook deliveries: the documented payloads of NON_RENEWING_PURCHASE, CANCELLATION and
//! TRANSFER, the Authorization header, repeats and out-of-order delivery.

use serde_json::{Value, json};

use crate::support::{Sim, WEBHOOK_AUTH};

#[tokio::test]
async fn a_delivered_purchase_is_one_documented_webhook() {
    let sim = Sim::start().await;
    let answer = sim.post_ok("/_sim/purchases", &json!({"app_user_id": "user-1", "product_id": "credits_10", "deliver": true})).await;
    let tx = answer["transaction_id"].as_str().expect("transaction_id");
    let parts: Vec<&str> = tx.strip_prefix("GPA.").expect("GPA.").split('-').collect();
    assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [4, 4, 4, 5]);
    assert_eq!(answer["deliveries"], json!([{"status": 200, "body": "ok"}]));

    let got = sim.receiver.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let delivery = &got[0];
    assert_eq!(delivery.path, "/v1/webhooks/revenuecat");
    assert_eq!(delivery.headers["authorization"], WEBHOOK_AUTH);
    assert_eq!(delivery.headers["content-type"], "application/json");
    assert_eq!(delivery.body, json!({"api_version": "1.0", "event": answer["event"]["event"]}));
    let event = &delivery.body["event"];
    assert_eq!(event["type"], "NON_RENEWING_PURCHASE");
    assert_eq!(event["app_user_id"], "user-1");
    assert_eq!(event["original_app_user_id"], "user-1");
    assert_eq!(event["aliases"], json!(["user-1"]));
    assert_eq!(event["product_id"], "credits_10");
    assert_eq!(event["transaction_id"], tx);
    assert_eq!(event["original_transaction_id"], tx);
    assert_eq!(event["environment"], "PRODUCTION");
    assert_eq!(event["store"], "PLAY_STORE");
    assert_eq!(event["period_type"], "NORMAL");
    assert!(uuid::Uuid::parse_str(event["id"].as_str().expect("id")).is_ok());
    assert!(event["app_id"].as_str().is_some_and(|a| !a.is_empty()));
    assert!(event["price"].as_f64().is_some_and(|p| p > 0.0));
    assert!(event["price_in_purchased_currency"].as_f64().is_some_and(|p| p > 0.0));
    assert!(event["currency"].is_string() && event["country_code"].is_string());
    let (ts, bought) = (event["event_timestamp_ms"].as_u64(), event["purchased_at_ms"].as_u64());
    assert!(ts.zip(bought).is_some_and(|(t, b)| b <= t && t > 1_700_000_000_000), "{event}");
    for key in ["expiration_at_ms", "entitlement_ids", "offer_code"] {
        assert_eq!(event[key], Value::Null, "{key}");
    }
    assert_eq!(event["subscriber_attributes"], json!({}));
    assert_eq!(event["experiments"], json!([]));

    let (_, deliveries) = sim.get("/_sim/deliveries").await;
    assert_eq!(deliveries.as_array().map(Vec::len), Some(1));
    assert_eq!(deliveries[0]["event_id"], event["id"]);
    assert_eq!(deliveries[0]["type"], "NON_RENEWING_PURCHASE");
    assert_eq!(deliveries[0]["status"], 200);
}

#[tokio::test]
async fn given_values_are_used_and_an_undelivered_purchase_sends_nothing() {
    let sim = Sim::start().await;
    let spec = json!({"app_user_id": "u", "product_id": "credits_5", "transaction_id": "GPA.1111-2222-3333-44444",
        "event_id": "evt-1", "environment": "SANDBOX", "price": 2.5, "currency": "EUR", "country_code": "DE"});
    let answer = sim.post_ok("/_sim/purchases", &spec).await;
    assert_eq!(answer["transaction_id"], "GPA.1111-2222-3333-44444");
    assert_eq!(answer["deliveries"], json!([]));
    let event = &answer["event"]["event"];
    assert_eq!(
        (&event["id"], &event["environment"], &event["price"], &event["currency"], &event["country_code"]),
        (&json!("evt-1"), &json!("SANDBOX"), &json!(2.5), &json!("EUR"), &json!("DE"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(sim.receiver.received().is_empty());
}

#[tokio::test]
async fn times_three_delivers_the_same_event_id_three_times() {
    let sim = Sim::start().await;
    let answer = sim.post_ok("/_sim/events", &json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": "u", "times": 3})).await;
    assert_eq!(answer["deliveries"].as_array().map(Vec::len), Some(3));
    let got = sim.receiver.wait_for(3).await;
    assert_eq!(got.len(), 3);
    let id = &answer["event"]["event"]["id"];
    assert!(got.iter().all(|d| &d.body["event"]["id"] == id && d.body == answer["event"]));
}

#[tokio::test]
async fn a_cancellation_has_negative_price_and_a_cancel_reason() {
    let sim = Sim::start().await;
    let bought = sim.post_ok("/_sim/purchases", &json!({"app_user_id": "u", "product_id": "credits_20", "price": 9.99})).await;
    let tx = bought["transaction_id"].clone();
    let answer = sim.post_ok("/_sim/events", &json!({"type": "CANCELLATION", "transaction_id": tx})).await;
    let got = sim.receiver.wait_for(1).await;
    let event = &got[0].body["event"];
    assert_eq!(event["type"], "CANCELLATION");
    assert_eq!(event["cancel_reason"], "CUSTOMER_SUPPORT");
    assert_eq!(event["price"], -9.99);
    assert!(event["price_in_purchased_currency"].as_f64().is_some_and(|p| p < 0.0));
    assert_eq!(event["transaction_id"], tx);
    assert_eq!((&event["app_user_id"], &event["product_id"]), (&json!("u"), &json!("credits_20")));
    assert_ne!(event["id"], bought["event"]["event"]["id"]);
    assert_eq!(answer["event"], got[0].body);

    let other = sim.post_ok("/_sim/events", &json!({"type": "CANCELLATION", "price": 3, "cancel_reason": "UNKNOWN", "deliver": false})).await;
    assert_eq!(other["event"]["event"]["price"], -3.0);
    assert_eq!(other["event"]["event"]["cancel_reason"], "UNKNOWN");
}

#[tokio::test]
async fn a_transfer_has_no_app_user_id_and_lists_both_sides() {
    let sim = Sim::start().await;
    let answer = sim.post_ok("/_sim/events", &json!({"type": "TRANSFER", "transferred_from": ["old"], "transferred_to": ["new"]})).await;
    let got = sim.receiver.wait_for(1).await;
    let event = &got[0].body["event"];
    assert_eq!(got[0].body["api_version"], "1.0");
    assert_eq!(event["type"], "TRANSFER");
    assert!(event.get("app_user_id").is_none(), "{event}");
    assert_eq!(event["transferred_from"], json!(["old"]));
    assert_eq!(event["transferred_to"], json!(["new"]));
    for key in ["id", "app_id", "store", "environment"] {
        assert!(event[key].is_string(), "{key}");
    }
    assert!(event["event_timestamp_ms"].is_u64());
    assert_eq!(answer["event"], got[0].body);
}

#[tokio::test]
async fn events_built_undelivered_arrive_in_the_order_the_test_chooses() {
    let sim = Sim::start().await;
    let purchase = sim.post_ok("/_sim/purchases", &json!({"app_user_id": "u", "product_id": "credits_10"})).await["event"].clone();
    let refund =
        sim.post_ok("/_sim/events", &json!({"type": "CANCELLATION", "transaction_id": purchase["event"]["transaction_id"], "deliver": false})).await["event"]
            .clone();
    assert!(sim.receiver.received().is_empty());
    sim.post_ok("/_sim/deliver", &json!({"payload": refund})).await;
    sim.post_ok("/_sim/deliver", &json!({"payload": purchase, "times": 2})).await;
    let got = sim.receiver.wait_for(3).await;
    let types: Vec<&str> = got.iter().map(|d| d.body["event"]["type"].as_str().unwrap_or("")).collect();
    assert_eq!(types, ["CANCELLATION", "NON_RENEWING_PURCHASE", "NON_RENEWING_PURCHASE"]);
}

#[tokio::test]
async fn the_authorization_can_be_overridden_or_left_out() {
    let sim = Sim::start().await;
    let answer = sim.post_ok("/_sim/events", &json!({"type": "TEST", "authorization": "Bearer wrong"})).await;
    sim.post_ok("/_sim/deliver", &json!({"payload": answer["event"], "authorization": null})).await;
    sim.post_ok("/_sim/deliver", &json!({"raw": "not json"})).await;
    let got = sim.receiver.wait_for(3).await;
    assert_eq!(got[0].headers["authorization"], "Bearer wrong");
    assert!(got[1].headers.get("authorization").is_none());
    assert_eq!((&got[2].raw[..], &got[2].headers["authorization"]), (&b"not json"[..], &WEBHOOK_AUTH.parse::<http::HeaderValue>().expect("value")));
    let (_, deliveries) = sim.get("/_sim/deliveries").await;
    assert_eq!(deliveries[0]["authorization"], "Bearer wrong");
    assert_eq!(deliveries[1]["authorization"], Value::Null);
}

#[tokio::test]
async fn the_receivers_status_and_body_are_reported() {
    let sim = Sim::start().await;
    let url = format!("{}/fail", sim.receiver.base);
    let answer = sim.post_ok("/_sim/events", &json!({"type": "TEST", "url": url, "times": 2})).await;
    assert_eq!(answer["deliveries"], json!([{"status": 500, "body": "boom"}, {"status": 500, "body": "boom"}]));
    let dead = sim.post_ok("/_sim/events", &json!({"type": "TEST", "url": "http://127.0.0.1:9/x"})).await;
    assert_eq!(dead["deliveries"][0]["status"], 0);
    let background = sim.post_ok("/_sim/events", &json!({"type": "TEST", "background": true})).await;
    assert_eq!(background["deliveries"], json!([]));
    sim.receiver.wait_for(3).await;
}
