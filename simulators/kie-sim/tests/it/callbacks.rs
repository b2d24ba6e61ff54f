//! Callback delivery: HMAC signature headers, duplicates, early callbacks, none, and the
//! receiver's status being recorded.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::support::{Fixture, Sim, create_body};

#[tokio::test]
async fn hmac_headers_verify() {
    let key = b"account-hmac-key";
    let fx = Fixture::start().await;
    let sim = Sim::start(Some(key), 0).await;
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/signed")), "p")).await;
    let callback = fx.wait_callbacks(1).await.remove(0);
    let timestamp = callback.headers["x-webhook-timestamp"].to_str().expect("ascii");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert!(now.abs_diff(timestamp.parse::<u64>().expect("unix seconds")) < 60);
    let signature = STANDARD.decode(callback.headers["x-webhook-signature"].as_bytes()).expect("base64");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("key");
    mac.update(format!("{id}.{timestamp}").as_bytes());
    mac.verify_slice(&signature).expect("signature verifies");
    assert_eq!(callback.body["data"]["taskId"], id);
    assert_eq!(kie_sim::signature(key, &id, timestamp.parse().expect("ts")), callback.headers["x-webhook-signature"].to_str().expect("ascii"));
}

#[tokio::test]
async fn twice_delivers_two_posts() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "dup", "behaviour": {"callback": "twice"}})).await;
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/dup")), "p")).await;
    let callbacks = fx.wait_callbacks(2).await;
    assert_eq!(callbacks.len(), 2);
    assert_eq!(callbacks[0].body, callbacks[1].body);
    assert_eq!(callbacks[0].body["data"]["taskId"], id);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fx.callbacks().len(), 2);
    assert_eq!(sim.task(&id).await["callbacks_sent"], json!([200, 200]));
}

#[tokio::test]
async fn early_callback_comes_before_record_info_reports_success() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "early", "behaviour": {"callback": "early"}})).await;
    let id = sim.create_ok(&create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/early")), "p")).await;
    let callback = fx.wait_callbacks(1).await.remove(0);
    assert_eq!(callback.body["data"]["state"], "success");
    let (_, answer) = sim.record(&id).await;
    assert_eq!(answer["data"]["state"], "generating", "{answer}");
    let started = tokio::time::Instant::now();
    assert_eq!(sim.wait_final(&id).await["state"], "success");
    assert!(started.elapsed() >= Duration::from_millis(700), "{:?}", started.elapsed());
}

#[tokio::test]
async fn none_sends_nothing_and_receiver_status_is_recorded() {
    let fx = Fixture::start().await;
    let sim = Sim::start(None, 0).await;
    sim.rule(json!({"match": "quiet", "behaviour": {"callback": "none"}})).await;
    let quiet = sim.create_ok(&create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/quiet")), "p")).await;
    let failing = sim.create_ok(&create_body(&fx.url("/photo.png"), Some(&fx.url("/cb/fail")), "p")).await;
    sim.wait_final(&quiet).await;
    let callbacks = fx.wait_callbacks(1).await;
    assert_eq!(callbacks.len(), 1);
    assert!(callbacks[0].path_and_query.starts_with("/cb/fail"));
    assert_eq!(sim.task(&quiet).await["callbacks_sent"], json!([]));
    // The status is recorded once the POST has been answered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while sim.task(&failing).await["callbacks_sent"] != json!([500]) {
        assert!(tokio::time::Instant::now() < deadline, "status not recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
