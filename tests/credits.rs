//! Credits bought through RevenueCat (the simulator): every purchase adds its
//! credits exactly once, whether the webhook (any number of times), a sync,
//! or both see it; refunds take them back (a debt when spent); transfers move
//! them; nothing else changes a balance. The invariant holds after each.

use integration_tests::*;
use serde_json::{Value, json};

async fn deliver(payload: &Value, times: u32) -> Vec<Value> {
    let answer = revenuecat_sim("POST", "/_sim/deliver", json!({"payload": payload, "times": times})).await;
    answer["deliveries"].as_array().unwrap().clone()
}

/// Builds an event at the simulator (applying its effect to the REST view)
/// and delivers it once; the delivery's status.
async fn event(fields: Value) -> (Value, u16) {
    let answer = revenuecat_sim("POST", "/_sim/events", fields).await;
    let status = answer["deliveries"].get(0).map(|d| d["status"].as_u64().unwrap() as u16).unwrap_or(0);
    (answer["event"].clone(), status)
}

async fn sync(c: &reqwest::Client, s: &Session) -> Value {
    let resp = sync_raw(c, s).await;
    assert_eq!(resp.status(), 200, "sync: {:?}", resp.text().await);
    resp.json().await.unwrap()
}

async fn webhook_raw(auth: Option<&str>, body: String) -> reqwest::Response {
    let mut req = client().post(stack().url("/v1/webhooks/revenuecat")).header("content-type", "application/json").body(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_purchase_adds_its_credits() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_10", 1).await;
    assert_eq!(credits(&c, &s).await, 10);
    assert_eq!(assert_invariant(s.user_id()).await, 10);
}

#[tokio::test]
async fn the_same_event_three_times_is_credited_once() {
    let c = client();
    let s = sign_up(&c).await;
    let bought = buy(s.user_id(), "credits_5", 3).await;
    assert_eq!(bought["deliveries"].as_array().unwrap().len(), 3, "each delivery answered 200");
    assert_eq!(credits(&c, &s).await, 5);
    assert_eq!(assert_invariant(s.user_id()).await, 5);
}

#[tokio::test]
async fn webhook_then_sync_credits_once() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_20", 1).await;
    let synced = sync(&c, &s).await;
    assert_eq!((synced["credits"].as_i64(), synced["granted"].as_i64()), (Some(20), Some(0)));
    assert_eq!(assert_invariant(s.user_id()).await, 20);
}

#[tokio::test]
async fn sync_then_webhook_credits_once() {
    let c = client();
    let s = sign_up(&c).await;
    let bought = buy(s.user_id(), "credits_10", 0).await;
    let synced = sync(&c, &s).await;
    assert_eq!((synced["credits"].as_i64(), synced["granted"].as_i64()), (Some(10), Some(10)));
    let late = deliver(&bought["event"], 1).await;
    assert_eq!(late[0]["status"], 200);
    assert_eq!(credits(&c, &s).await, 10);
    assert_eq!(sync(&c, &s).await["granted"], 0, "a second sync grants nothing");
    assert_eq!(assert_invariant(s.user_id()).await, 10);
}

#[tokio::test]
async fn webhooks_and_syncs_racing_credit_once() {
    let c = client();
    let s = sign_up(&c).await;
    let bought = buy(s.user_id(), "credits_50", 0).await;
    let syncs = futures_util::future::join_all((0..3).map(|_| sync_raw(&c, &s)));
    let hooks = futures_util::future::join_all((0..3).map(|_| deliver(&bought["event"], 1)));
    let (syncs, hooks) = tokio::join!(syncs, hooks);
    let mut granted = 0;
    for r in syncs {
        assert_eq!(r.status(), 200);
        granted += r.json::<Value>().await.unwrap()["granted"].as_i64().unwrap();
    }
    for d in hooks {
        assert_eq!(d[0]["status"], 200);
    }
    assert!(granted == 0 || granted == 50, "syncs granted {granted} in total");
    assert_eq!(credits(&c, &s).await, 50);
    assert_eq!(assert_invariant(s.user_id()).await, 50);
}

#[tokio::test]
async fn a_refund_takes_the_credits_back() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 2).await;
    let bought = buy(s.user_id(), "credits_10", 1).await;
    let (_, status) = event(json!({"type": "CANCELLATION", "transaction_id": bought["transaction_id"]})).await;
    assert_eq!(status, 200);
    assert_eq!(credits(&c, &s).await, 2, "the free credits stay");
    // The refunded purchase is never granted again, by webhook or sync.
    deliver(&bought["event"], 1).await;
    assert_eq!(sync(&c, &s).await["granted"], 0);
    assert_eq!(credits(&c, &s).await, 2);
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn a_refund_after_spending_leaves_zero_and_a_debt_the_next_purchase_settles() {
    let c = client();
    let s = sign_up(&c).await;
    let first = buy(s.user_id(), "credits_5", 1).await;
    let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let job = create_job_raw(&c, &s, &upload_id, "high", None).await;
    assert_eq!(job.status(), 202);
    assert_eq!(credits(&c, &s).await, 3, "2 spent on a high-quality job");

    event(json!({"type": "CANCELLATION", "transaction_id": first["transaction_id"]})).await;
    assert_eq!(credits(&c, &s).await, 0, "never below zero; 2 are owed");
    assert_eq!(assert_invariant(s.user_id()).await, 0);

    buy(s.user_id(), "credits_5", 1).await;
    assert_eq!(credits(&c, &s).await, 3, "the debt of 2 came out of the next 5");
    assert_eq!(assert_invariant(s.user_id()).await, 3);
}

#[tokio::test]
async fn a_cancellation_before_its_purchase_means_it_is_never_granted() {
    let c = client();
    let s = sign_up(&c).await;
    let bought = revenuecat_sim("POST", "/_sim/purchases", json!({"app_user_id": s.user_id(), "product_id": "credits_10", "deliver": false})).await;
    // "keep": RevenueCat may still list the refunded purchase; we must not grant it.
    let (_, status) = event(json!({"type": "CANCELLATION", "transaction_id": bought["transaction_id"], "refund_in_rest": "keep"})).await;
    assert_eq!(status, 200);
    deliver(&bought["event"], 1).await;
    assert_eq!(sync(&c, &s).await["granted"], 0);
    assert_eq!(credits(&c, &s).await, 0);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_transfer_moves_unspent_purchased_credits_once_and_ownership_with_them() {
    let c = client();
    let (old, new) = (sign_up(&c).await, sign_up(&c).await);
    grant(old.user_id(), 3).await; // free: they stay
    let bought = buy(old.user_id(), "credits_10", 1).await;
    grant(new.user_id(), 1).await;
    let (transfer, status) = event(json!({"type": "TRANSFER", "transferred_from": [old.user_id()], "transferred_to": [new.user_id()]})).await;
    assert_eq!(status, 200);
    assert_eq!((credits(&c, &old).await, credits(&c, &new).await), (3, 11));
    // Delivered again: moved once.
    deliver(&transfer, 2).await;
    assert_eq!((credits(&c, &old).await, credits(&c, &new).await), (3, 11));
    // A later refund debits the new owner.
    event(json!({"type": "CANCELLATION", "transaction_id": bought["transaction_id"]})).await;
    assert_eq!((credits(&c, &old).await, credits(&c, &new).await), (3, 1));
    assert_eq!(assert_invariant(old.user_id()).await, 3);
    assert_eq!(assert_invariant(new.user_id()).await, 1);
}

#[tokio::test]
async fn test_and_unknown_event_types_change_nothing() {
    let c = client();
    let s = sign_up(&c).await;
    for kind in ["TEST", "INITIAL_PURCHASE", "RENEWAL", "TEMPORARY_ENTITLEMENT_GRANT", "SOMETHING_NEW"] {
        let (_, status) = event(json!({"type": kind, "app_user_id": s.user_id(), "product_id": "credits_10", "record": false})).await;
        assert_eq!(status, 200, "{kind}");
    }
    // An unknown product: 200, nothing.
    let (_, status) = event(json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": s.user_id(), "product_id": "credits_999"})).await;
    assert_eq!(status, 200);
    assert_eq!(credits(&c, &s).await, 0);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_bad_secret_is_401_and_a_body_that_is_not_json_is_400() {
    let c = client();
    let s = sign_up(&c).await;
    let (ev, _) = event(json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": s.user_id(), "product_id": "credits_10", "deliver": false})).await;
    let body = ev.to_string();
    assert_error(webhook_raw(Some("Bearer wrong"), body.clone()).await, 401, "unauthorized").await;
    assert_error(webhook_raw(None, body.clone()).await, 401, "unauthorized").await;
    let auth = stack().var("REVENUECAT_WEBHOOK_AUTH");
    assert_error(webhook_raw(Some(auth), "not json".into()).await, 400, "invalid_request").await;
    assert_eq!(credits(&c, &s).await, 0, "nothing was granted by refused deliveries");
    assert_eq!(webhook_raw(Some(auth), body).await.status(), 200);
    assert_eq!(credits(&c, &s).await, 10);
}

#[tokio::test]
async fn sandbox_purchases_grant_only_where_allowed() {
    let c = client();
    let s = sign_up(&c).await;
    // The stack keeps the production default: sandbox purchases add nothing.
    let bought =
        revenuecat_sim("POST", "/_sim/purchases", json!({"app_user_id": s.user_id(), "product_id": "credits_10", "environment": "SANDBOX", "deliver": true}))
            .await;
    assert_eq!(bought["deliveries"][0]["status"], 200);
    assert_eq!(sync(&c, &s).await["granted"], 0);
    assert_eq!(credits(&c, &s).await, 0);

    // A deployment that allows them (the same handler, in-process).
    let mut settings = shared::credits::CreditSettings::from_env().unwrap();
    settings.sandbox_grants = true;
    let route = revenuecat_webhook::RevenueCatWebhook::with_credits(stack_context(stack_settings()).await, settings).unwrap();
    let second =
        revenuecat_sim("POST", "/_sim/purchases", json!({"app_user_id": s.user_id(), "product_id": "credits_10", "environment": "SANDBOX", "deliver": false}))
            .await;
    let body = second["event"].to_string();
    let auth = stack().var("REVENUECAT_WEBHOOK_AUTH");
    let (status, answer) = call_route(&route, "POST", "/v1/webhooks/revenuecat", &[("authorization", auth)], body.as_bytes()).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("granted")));
    assert_eq!(credits(&c, &s).await, 10);
    assert_eq!(assert_invariant(s.user_id()).await, 10);
}

#[tokio::test]
async fn an_event_for_an_unknown_user_is_200_and_kept_only_under_a_hash() {
    let stranger = uuid_like();
    let (ev, status) = event(json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": stranger, "product_id": "credits_10"})).await;
    assert_eq!(status, 200);
    let (_, anonymous) = event(json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": "$RCAnonymousID:abc", "product_id": "credits_5"})).await;
    assert_eq!(anonymous, 200);
    let items = scan_table().await;
    let dump = format!("{items:?}");
    assert!(!dump.contains(&stranger), "the unknown user's id is stored in clear");
    let key = stack_secrets().await.ip_hash_key;
    let hash = shared::credits::user_hash(&key, &stranger);
    let kept: Vec<_> = items.iter().filter(|it| it["pk"].as_s().unwrap() == &format!("ORPHAN#{hash}")).collect();
    assert_eq!(kept.len(), 1, "one record for operators");
    assert_eq!(kept[0]["sk"].as_s().unwrap(), &format!("RCEVENT#{}", ev["event"]["id"].as_str().unwrap()));
    let expires: i64 = kept[0]["expires_at"].as_n().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now().timestamp()) as f64 / 86_400.0;
    assert!((29.9..=30.1).contains(&days), "kept {days} days");
}

#[tokio::test]
async fn stored_purchase_records_hold_no_payment_details() {
    let c = client();
    let s = sign_up(&c).await;
    let bought = revenuecat_sim(
        "POST",
        "/_sim/purchases",
        json!({"app_user_id": s.user_id(), "product_id": "credits_20",
        "price": 9.99, "currency": "SEK", "country_code": "SE", "deliver": true}),
    )
    .await;
    event(json!({"type": "CANCELLATION", "transaction_id": bought["transaction_id"]})).await;
    let txn = bought["transaction_id"].as_str().unwrap();
    let items = scan_table().await;
    let forbidden = [
        "price",
        "currency",
        "country_code",
        "store",
        "price_in_purchased_currency",
        "tax_percentage",
        "commission_percentage",
        "transaction_id",
        "original_transaction_id",
        "aliases",
        "app_id",
    ];
    for it in &items {
        for name in forbidden {
            assert!(!it.contains_key(name), "an item stores `{name}`: {it:?}");
        }
        let text = format!("{it:?}");
        for needle in [txn, "9.99", "SEK", "PLAY_STORE"] {
            assert!(!text.contains(needle), "an item holds `{needle}`: {text}");
        }
    }
    let purchase = items
        .iter()
        .find(|it| {
            it.get("entity").and_then(|e| e.as_s().ok()).is_some_and(|e| e == "purchase")
                && it.get("user_id").and_then(|u| u.as_s().ok()).is_some_and(|u| u == s.user_id())
        })
        .unwrap();
    let mut names: Vec<&str> = purchase.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["credits", "entity", "gsi1pk", "gsi1sk", "pk", "product_id", "sk", "state", "updated_at", "user_id"]);
}

/// An id in our format that no account has.
fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[tokio::test]
async fn a_transfer_delivered_again_later_moves_nothing_bought_since() {
    let c = client();
    let (old, new) = (sign_up(&c).await, sign_up(&c).await);
    buy(old.user_id(), "credits_5", 1).await;
    let (transfer, status) = event(json!({"type": "TRANSFER", "transferred_from": [old.user_id()], "transferred_to": [new.user_id()]})).await;
    assert_eq!(status, 200);
    assert_eq!((credits(&c, &old).await, credits(&c, &new).await), (0, 5));
    // The old account buys again; then the same transfer event arrives again.
    buy(old.user_id(), "credits_10", 1).await;
    let again = deliver(&transfer, 1).await;
    assert_eq!(again[0]["status"], 200);
    assert_eq!((credits(&c, &old).await, credits(&c, &new).await), (10, 5), "the repeat moved nothing");
    assert_eq!(assert_invariant(old.user_id()).await, 10);
    assert_eq!(assert_invariant(new.user_id()).await, 5);
}
