//! `POST /v1/credits/sync` when RevenueCat fails: 503 with `Retry-After`,
//! nothing written, and the next sync grants. The failures queued at the
//! simulator name the test's customer, so no other call can take them.

use integration_tests::*;
use serde_json::{Value, json};

/// Queues one failure for the next REST call on `app_user_id`'s customer.
async fn fail_next(app_user_id: &str, mut entry: Value) {
    entry["app_user_id"] = json!(app_user_id);
    revenuecat_sim("POST", "/_sim/failures", json!({"rest": [entry]})).await;
}

#[tokio::test]
async fn revenuecat_down_or_limiting_is_503_with_retry_after_and_nothing_changes() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_10", 0).await;

    fail_next(s.user_id(), json!({"status": 429, "retry_after": 7})).await;
    let resp = sync_raw(&c, &s).await;
    assert_eq!(resp.headers()["retry-after"], "7", "RevenueCat's own wait is passed on");
    assert_error(resp, 503, "unavailable").await;

    fail_next(s.user_id(), json!({"status": 502})).await;
    let resp = sync_raw(&c, &s).await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_error(resp, 503, "unavailable").await;
    assert_eq!(credits(&c, &s).await, 0);
    assert_eq!(assert_invariant(s.user_id()).await, 0);

    let resp = sync_raw(&c, &s).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["credits"].as_i64(), body["granted"].as_i64()), (Some(10), Some(10)));
    assert_eq!(assert_invariant(s.user_id()).await, 10);

    // Per-user limit: the stack allows 6 a minute; this user has made 3.
    let statuses: Vec<u16> = futures_util::future::join_all((0..4).map(|_| sync_raw(&c, &s))).await.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    let limited = sync_raw(&c, &s).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, 429, "rate_limited").await;
    // Another user is not limited by it.
    let other = sign_up(&c).await;
    assert_eq!(sync_raw(&c, &other).await.status(), 200);
}
