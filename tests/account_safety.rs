//! The account against an attacker and an unlucky network: concurrent and
//! repeated refreshes never lose the session, a made-up token changes
//! nothing, a deleted job does not make provider work free, a refunded
//! purchase cannot come back through job refunds or grants, a late PUT cannot
//! leave a photo outside every sweep, and the smaller holes (the sync's body,
//! a purchase's environment, an access token's lifetime). The balance
//! invariant is checked after each.

use shared::ports::{AccountStore, JobStore, PipelineStore};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::join_all;
use integration_tests::*;
use serde_json::{Value, json};

async fn refreshed(c: &reqwest::Client, token: &str) -> Value {
    let resp = refresh_raw(c, token).await;
    assert_eq!(resp.status(), 200, "refresh");
    resp.json().await.unwrap()
}

fn refresh_token_of(body: &Value) -> String {
    body["refresh_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn twenty_parallel_refreshes_with_one_token_keep_the_session() {
    let c = client();
    let s = sign_up(&c).await;
    let answers = join_all((0..20).map(|_| refresh_raw(&c, s.refresh_token()))).await;
    let mut successors = Vec::new();
    for resp in answers {
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(me_raw(&c, body["access_token"].as_str().unwrap()).await.status(), 200, "every pair works");
        successors.push(refresh_token_of(&body));
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "one successor for all: no live tokens multiplied");
    assert_eq!(refresh_raw(&c, &successors[0]).await.status(), 200, "the session lives on");
}

#[tokio::test]
async fn a_used_token_presented_again_within_the_grace_leads_to_the_live_one() {
    let c = client();
    let s = sign_up(&c).await;
    let b = refreshed(&c, s.refresh_token()).await;
    for _ in 0..7 {
        assert_eq!(refresh_token_of(&refreshed(&c, s.refresh_token()).await), refresh_token_of(&b), "the same successor each time");
    }
    // A→B, B→C, then A again: it leads through B to the live C.
    let c_pair = refreshed(&c, &refresh_token_of(&b)).await;
    let again = refreshed(&c, s.refresh_token()).await;
    assert_eq!(refresh_token_of(&again), refresh_token_of(&c_pair));
    assert_eq!(me_raw(&c, again["access_token"].as_str().unwrap()).await.status(), 200);
    assert_eq!(refresh_raw(&c, &refresh_token_of(&c_pair)).await.status(), 200, "the session lives on");
}

#[tokio::test]
async fn a_refresh_token_made_up_from_the_public_ids_changes_nothing() {
    let c = client();
    let s = sign_up(&c).await;
    let claims = session_id_of(s.access());
    // The user and session ids are in the access token in clear; the secret part is made up.
    let forged = format!("rt1.{}.{claims}.{}", s.user_id(), URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
    assert_error(refresh_raw(&c, &forged).await, 401, "unauthorized").await;
    let grace: u64 = stack().var("REFRESH_GRACE_SECONDS").parse().unwrap();
    tokio::time::sleep(Duration::from_secs(grace + 1)).await;
    assert_error(refresh_raw(&c, &forged).await, 401, "unauthorized").await;
    // The victim's session is untouched.
    assert_eq!(me_raw(&c, s.access()).await.status(), 200);
    assert_eq!(refresh_raw(&c, s.refresh_token()).await.status(), 200);
}

/// Waits until the job has recorded its provider task.
async fn wait_for_task(user_id: &str, job_id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store().await.job(user_id, job_id).await.unwrap().is_none_or(|j| j.task_id.is_none()) {
        assert!(std::time::Instant::now() < deadline, "no provider task");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn deleting_jobs_the_provider_works_on_gives_no_free_generations() {
    let (c, s, _) = user_with_upload(6, Some(json!({"stall": true})), "astronaut.jpg").await;
    // Create a high-quality job, wait until it is generating, delete it; three times.
    for round in 1..=3 {
        let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
        let resp = create_job_raw(&c, &s, &upload_id, "high", None).await;
        assert_eq!(resp.status(), 202);
        let job_id = resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string();
        wait_for_task(s.user_id(), &job_id).await;
        let deleted = c.delete(stack().url(&format!("/v1/jobs/{job_id}"))).bearer_auth(s.access()).send().await.unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(credits(&c, &s).await, 6 - 2 * round, "round {round}: the credits stay spent");
    }
    assert_eq!(store().await.balance_and_active(s.user_id()).await.unwrap(), (0, 0), "every slot freed");
    assert_eq!(sim_tasks(s.user_id()).await.len(), 3);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_refunded_purchase_cannot_come_back_through_job_refunds_or_grants() {
    let c = client();
    let s = sign_up(&c).await;
    // The provider fails both jobs, a few seconds after the purchase is refunded.
    sim_rule(s.user_id(), json!({"outcome": "fail", "fail_code": "500", "delay_ms": 4000})).await;
    let bought = buy(s.user_id(), "credits_5", 1).await;
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
        let resp = create_job_raw(&c, &s, &upload_id, "high", None).await;
        assert_eq!(resp.status(), 202);
        jobs.push(resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string());
    }
    assert_eq!(credits(&c, &s).await, 1);
    let refund = revenuecat_sim("POST", "/_sim/events", json!({"type": "CANCELLATION", "transaction_id": bought["transaction_id"]})).await;
    assert!(refund["deliveries"][0]["body"].as_str().unwrap().contains("revoked_with_debt"), "{refund}");
    let profile = store().await.profile_record(s.user_id()).await.unwrap().unwrap();
    assert_eq!((profile.credits, profile.owed), (0, 4), "1 taken back, 4 owed");
    for job_id in &jobs {
        let job = wait_for_job(&c, &s, job_id, 30, finished).await;
        assert_eq!((job["status"].as_str(), job["refunded"].as_bool()), (Some("failed"), Some(true)), "{job}");
    }
    let profile = store().await.profile_record(s.user_id()).await.unwrap().unwrap();
    assert_eq!((profile.credits, profile.owed), (0, 0), "the job refunds paid the debt");
    let upload_id = upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    assert_error(create_job_raw(&c, &s, &upload_id, "standard", None).await, 402, "insufficient_credits").await;
    assert_eq!(assert_invariant(s.user_id()).await, 0);

    // A support grant pays a debt first too.
    let other = sign_up(&c).await;
    let bought = buy(other.user_id(), "credits_5", 1).await;
    let spend = upload(&c, &other, fixture("astronaut.jpg"), "image/jpeg").await;
    sim_rule(other.user_id(), json!({"stall": true})).await;
    assert_eq!(create_job_raw(&c, &other, &spend, "high", None).await.status(), 202);
    revenuecat_sim("POST", "/_sim/events", json!({"type": "CANCELLATION", "transaction_id": bought["transaction_id"]})).await;
    grant(other.user_id(), 1).await;
    let profile = store().await.profile_record(other.user_id()).await.unwrap().unwrap();
    assert_eq!((profile.credits, profile.owed), (0, 1), "3 taken back, 2 owed, 1 paid by the grant");
    grant(other.user_id(), 3).await;
    let profile = store().await.profile_record(other.user_id()).await.unwrap().unwrap();
    assert_eq!((profile.credits, profile.owed), (2, 0));
    assert_eq!(assert_invariant(other.user_id()).await, 2);
}

#[tokio::test]
async fn a_late_put_through_a_used_link_lands_only_where_the_lifecycle_rule_empties() {
    let (c, s, _) = user_with_upload(1, Some(json!({"stall": true})), "astronaut.jpg").await;
    let created = upload_answer(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await;
    let upload_id = created["upload_id"].as_str().unwrap();
    let resp = create_job_raw(&c, &s, upload_id, "standard", None).await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    // The link still works for its few seconds (the emulator checks no expiry anyway).
    let late = fixture("astronaut.png");
    put_to_link(&c, &created, late.clone()).await;
    let objects = user_objects(s.user_id()).await;
    let late_key = objects.upload(upload_id);
    assert!(late_key.starts_with("uploads/"), "{late_key}");
    assert!(list_objects("uploads/").await.contains(&late_key), "the late photo is in uploads/");
    // The job works on its own copy, which the late PUT did not touch.
    let photo = c.get(job["input_url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_ne!(photo.to_vec(), late, "the job's photo is not the late one");
    assert!(objects_of(s.user_id()).await.contains(&objects.job_photo(upload_id)));
    assert_invariant(s.user_id()).await;
}

#[tokio::test]
async fn credits_sync_takes_no_body_or_an_empty_object_only() {
    let c = client();
    let s = sign_up(&c).await;
    let sync = |body: Option<(&'static str, &'static str)>| {
        let mut req = c.post(stack().url("/v1/credits/sync")).bearer_auth(s.access());
        if let Some((content_type, text)) = body {
            req = req.header("content-type", content_type).body(text);
        }
        req.send()
    };
    assert_error(sync(Some(("application/json", r#"{"zzz": 1}"#))).await.unwrap(), 422, "validation_failed").await;
    assert_error(sync(Some(("application/json", "[]"))).await.unwrap(), 422, "validation_failed").await;
    assert_error(sync(Some(("text/plain", "{}"))).await.unwrap(), 400, "invalid_request").await;
    assert_eq!(sync(Some(("application/json", "{}"))).await.unwrap().status(), 200);
    assert_eq!(sync(None).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_purchase_without_a_known_environment_grants_nothing() {
    let c = client();
    let s = sign_up(&c).await;
    let missing = revenuecat_sim(
        "POST",
        "/_sim/events",
        json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": s.user_id(), "product_id": "credits_10", "omit": ["environment"]}),
    )
    .await;
    assert_eq!(missing["deliveries"][0]["status"], 200);
    assert!(missing["deliveries"][0]["body"].as_str().unwrap().contains("unknown_environment"), "{missing}");
    let staging = revenuecat_sim(
        "POST",
        "/_sim/events",
        json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": s.user_id(), "product_id": "credits_10", "environment": "STAGING"}),
    )
    .await;
    assert!(staging["deliveries"][0]["body"].as_str().unwrap().contains("unknown_environment"), "{staging}");
    assert_eq!(credits(&c, &s).await, 0);
    // A production purchase still grants.
    buy(s.user_id(), "credits_10", 1).await;
    assert_eq!(credits(&c, &s).await, 10);
    assert_eq!(assert_invariant(s.user_id()).await, 10);
}

#[tokio::test]
async fn an_access_token_issued_for_longer_than_the_setting_is_refused() {
    let c = client();
    let s = sign_up(&c).await;
    let keys = stack_secrets().await.token_keys;
    let (sid, now) = (session_id_of(s.access()), chrono::Utc::now().timestamp());
    let lifetime: i64 = stack().var("ACCESS_TOKEN_SECONDS").parse().unwrap();
    let day_long = shared::auth::access_token::issue(&keys, s.user_id(), &sid, now, 86_400);
    assert_error(me_raw(&c, &day_long).await, 401, "unauthorized").await;
    let regular = shared::auth::access_token::issue(&keys, s.user_id(), &sid, now, lifetime);
    assert_eq!(me_raw(&c, &regular).await.status(), 200);
}
