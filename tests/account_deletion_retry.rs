//! An account erasure that fails half-way (RevenueCat down when asked to
//! delete the customer) is retried from the queue and completes; one that
//! RevenueCat answers 404 (the customer is already gone) completes at once. The
//! failures queued at the simulator name the test's customer, so background work
//! for other users (earlier tests' erasures, retried from the queue) cannot take them.

use shared::ports::AccountStore;
use std::time::Duration;

use integration_tests::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_deletion_that_fails_half_way_completes_when_retried() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_10", 1).await;
    let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let job: Value = create_job_raw(&c, &s, &upload_id, "standard", None).await.json().await.unwrap();
    wait_for_job(&c, &s, job["job_id"].as_str().unwrap(), 30, |j| j["status"] == "succeeded").await;

    revenuecat_sim("POST", "/_sim/failures", json!({"rest": [{"status": 503, "times": 2, "app_user_id": s.user_id()}]})).await;
    assert_eq!(delete_me_raw(&c, s.access()).await.status(), 202);

    // The first run stops at RevenueCat: photos and records are gone, the
    // profile (marked) stays, so the deletion is still visible and resumable.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let requests = revenuecat_sim("GET", "/_sim/requests", Value::Null).await;
        let failed = requests.as_array().unwrap().iter().any(|r| r["method"] == "DELETE" && r["app_user_id"] == s.user_id() && r["status"] == 503);
        if failed {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the erasure never asked RevenueCat: {requests}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = store().await.profile_record(s.user_id()).await.unwrap();
    assert!(profile.is_none_or(|p| p.deleting.is_some()), "a profile left half-way is marked");
    assert!(objects_of(s.user_id()).await.is_empty(), "the photos went first");
    assert_error(me_raw(&c, s.access()).await, 401, "unauthorized").await;

    // Retried after the queue's visibility timeout (2 s on the test stack), twice.
    assert_gone_within(s.user_id(), 30).await;
    let deleted = revenuecat_sim("GET", "/_sim/deleted", Value::Null).await;
    assert!(deleted.as_array().unwrap().iter().any(|d| d == s.user_id()), "{deleted}");
}

/// A 404 from RevenueCat for the customer counts as deleted: the erasure
/// completes at once, no retry needed.
#[tokio::test]
async fn a_customer_revenuecat_no_longer_knows_does_not_hold_up_a_deletion() {
    let c = client();
    let s = sign_up(&c).await;
    revenuecat_sim("POST", "/_sim/failures", json!({"rest": [{"status": 404, "times": 1, "app_user_id": s.user_id()}]})).await;
    assert_eq!(delete_me_raw(&c, s.access()).await.status(), 202);
    assert_gone_within(s.user_id(), 10).await;
    let requests = revenuecat_sim("GET", "/_sim/requests", Value::Null).await;
    let deletes: Vec<_> = requests.as_array().unwrap().iter().filter(|r| r["method"] == "DELETE" && r["app_user_id"] == s.user_id()).collect();
    assert_eq!(deletes.len(), 1, "answered 404 once, not retried: {deletes:?}");
    assert_eq!(deletes[0]["status"], 404);
}
