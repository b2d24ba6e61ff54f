//! `DELETE /v1/me` and the deletion worker: every session is revoked at once,
//! then every object, item and purchase record of the user is erased (the
//! RevenueCat customer too), the profile last; a job still generating writes
//! nothing afterwards. The verifier here scans the whole table for the id.

use shared::ports::{DeletionStore, JobStore};
use std::time::Duration;

use integration_tests::*;
use serde_json::{Value, json};
use shared::jobs::{Job, JobStatus, new_job_id};
use shared::styles::StyleChoice;

async fn job_for(c: &reqwest::Client, s: &Session, behaviour: Option<Value>) -> String {
    let upload_id = upload(c, s, fixture("astronaut.png"), "image/png").await;
    if let Some(b) = behaviour {
        sim_rule_matching(&upload_id, b).await; // the upload id is in the photo's link: a rule for this job alone
    }
    let resp = create_job_raw(c, s, &upload_id, "standard", None).await;
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string()
}

/// A queued job: charged and recorded by the same store call `POST /v1/jobs`
/// makes, its queue message not yet delivered.
async fn queued_job(c: &reqwest::Client, s: &Session) -> String {
    let upload_id = upload(c, s, fixture("astronaut.png"), "image/png").await;
    let now = chrono::Utc::now().timestamp();
    let job = Job {
        // Its own photo is not copied yet: the worker would copy it from the upload.
        input_key: user_objects(s.user_id()).await.job_photo(&upload_id),
        job_id: new_job_id(),
        user_id: s.user_id().into(),
        status: JobStatus::Queued,
        style: StyleChoice { attire: "business_suit".into(), background: "office".into(), lighting: "soft_studio".into(), quality: "standard".into() },
        credits_charged: 1,
        refunded: false,
        created_at: now,
        updated_at: now,
        completed_at: None,
        upload_id,
        result_key: None,
        error: None,
        deadline_at: now + 600,
        task_id: None,
        task_model: None,
        fallback_model: None,
        primary_task_id: None,
        callback_hash: None,
        claim: None,
        expires_at: None,
        // Never nudged by the reaper during the test: it stays queued.
        watch_at: None,
        poll_seq: 0,
    };
    let sid = session_id_of(s.access());
    let new = shared::jobs::NewJob { job: &job, session_id: &sid, idempotency: None, upload: shared::jobs::UploadUse::Take, now };
    assert_eq!(store().await.create_job(&new).await.unwrap(), shared::jobs::CreateOutcome::Created);
    job.job_id
}

async fn wait_for_provider_to_finish(needle: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let tasks = sim_tasks_matching(needle).await;
        if tasks.first().is_some_and(|t| matches!(t["state"].as_str(), Some("success" | "fail"))) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the provider never finished: {tasks:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn deleting_an_account_with_30_jobs_in_every_state_and_purchases_leaves_nothing() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_20", 1).await;
    buy(s.user_id(), "credits_10", 0).await;
    assert_eq!(sync_raw(&c, &s).await.status(), 200);
    assert_eq!(credits(&c, &s).await, 30);

    // 27 finished jobs, three at a time (the active-job limit): every fourth fails.
    let fail = json!({"outcome": "fail", "fail_code": "500", "fail_msg": "internal error"});
    let mut finished_jobs = Vec::new();
    for round in 0..9 {
        let mut ids = Vec::new();
        for i in 0..3 {
            let behaviour = ((round * 3 + i) % 4 == 3).then(|| fail.clone());
            ids.push(job_for(&c, &s, behaviour).await);
        }
        for id in ids {
            finished_jobs.push(wait_for_job(&c, &s, &id, 30, finished).await);
        }
    }
    assert!(finished_jobs.iter().any(|j| j["status"] == "succeeded") && finished_jobs.iter().any(|j| j["status"] == "failed"));
    // Then: one the provider is still working on (it finishes after the
    // deletion), one it never finishes, and one not yet picked up.
    let late = upload(&c, &s, fixture("astronaut.png"), "image/png").await;
    sim_rule_matching(&late, json!({"delay_ms": 3000})).await;
    let resp = create_job_raw(&c, &s, &late, "standard", None).await;
    assert_eq!(resp.status(), 202);
    let late_job = resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string();
    let stalled = job_for(&c, &s, Some(json!({"stall": true}))).await;
    for id in [&late_job, &stalled] {
        wait_for_job(&c, &s, id, 10, |j| j["status"] == "processing").await;
    }
    let queued = queued_job(&c, &s).await;
    let listed: Value = c.get(stack().url("/v1/jobs?limit=100")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    let statuses: Vec<&str> = listed["jobs"].as_array().unwrap().iter().map(|j| j["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 30);
    for state in ["queued", "processing", "succeeded", "failed"] {
        assert!(statuses.contains(&state), "no {state} job: {statuses:?}");
    }
    assert!(listed["jobs"].as_array().unwrap().iter().any(|j| j["job_id"] == queued.as_str()));
    assert!(!results_of(s.user_id()).await.is_empty());

    let resp = delete_me_raw(&c, s.access()).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "deleting"}));
    // Every token is refused at once.
    assert_error(me_raw(&c, s.access()).await, 401, "unauthorized").await;
    assert_error(refresh_raw(&c, s.refresh_token()).await, 401, "unauthorized").await;
    assert_error(delete_me_raw(&c, s.access()).await, 401, "unauthorized").await;

    assert_gone_within(s.user_id(), 20).await;
    let deleted = revenuecat_sim("GET", "/_sim/deleted", Value::Null).await;
    assert!(deleted.as_array().unwrap().iter().any(|d| d == s.user_id()), "RevenueCat was asked to delete the customer: {deleted}");

    // The job that was processing finishes at the provider, calls back and is
    // polled after the deletion: nothing reappears.
    wait_for_provider_to_finish(&late).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (left, mentions) = remains_of(s.user_id()).await;
    assert!(left.is_empty() && mentions.is_empty(), "reappeared: {left:?} {mentions:?}");
}

#[tokio::test]
async fn deleting_twice_is_harmless_and_the_second_request_is_401() {
    let c = client();
    let s = sign_up(&c).await;
    buy(s.user_id(), "credits_5", 1).await;
    let job = job_for(&c, &s, None).await;
    wait_for_job(&c, &s, &job, 30, finished).await;
    assert_eq!(delete_me_raw(&c, s.access()).await.status(), 202);
    assert_gone_within(s.user_id(), 20).await;
    assert_error(delete_me_raw(&c, s.access()).await, 401, "unauthorized").await;

    // The queued erasure delivered again, and the operators' command run again.
    let sqs = aws_sdk_sqs::Client::new(&stack().aws().await);
    let body = json!({"user_id": s.user_id()}).to_string();
    sqs.send_message().queue_url(stack().var("DELETION_QUEUE_URL")).message_body(body).send().await.unwrap();
    let out = support(&["delete-user", s.user_id()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified"), "{}", String::from_utf8_lossy(&out.stdout));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_gone_within(s.user_id(), 5).await;
    // The re-run left nothing in the dead-letter queue either.
    let dlq = sqs
        .get_queue_attributes()
        .queue_url(stack().var("DEAD_LETTER_DELETION_QUEUE_URL"))
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let waiting = dlq.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages].clone();
    assert_eq!(waiting, "0");
}

#[tokio::test]
async fn an_account_marked_for_deletion_takes_no_purchase_and_no_job() {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), 2).await;
    let upload_id = upload(&c, &s, fixture("astronaut.png"), "image/png").await;
    // Marked and revoked (what DELETE /v1/me does before the worker runs).
    assert!(store().await.begin_deletion(s.user_id(), chrono::Utc::now().timestamp()).await.unwrap());
    assert_error(create_job_raw(&c, &s, &upload_id, "standard", None).await, 401, "unauthorized").await;
    let bought = buy(s.user_id(), "credits_10", 1).await;
    assert_eq!(bought["deliveries"][0]["status"], 200, "answered 200, granted nothing");
    assert_eq!(assert_invariant(s.user_id()).await, 2);
    // The erasure then takes it all.
    let out = support(&["delete-user", s.user_id()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_gone_within(s.user_id(), 5).await;
}

#[tokio::test]
async fn a_photo_sent_through_a_link_issued_before_the_deletion_is_erased_by_the_last_pass() {
    let c = client();
    let s = sign_up(&c).await;
    let photo = fixture("astronaut.jpg");
    let created = upload_link(&c, &s, photo.len(), "image/jpeg").await;
    assert_eq!(delete_me_raw(&c, s.access()).await.status(), 202);
    assert_gone_within(s.user_id(), 20).await;
    // The link still works for the minutes it lives (here: the emulator checks no expiry).
    put_to_link(&c, &created, photo).await;
    assert!(!objects_of(s.user_id()).await.is_empty(), "the late photo arrived");
    // The last pass (DELETION_FINAL_PASS_SECONDS after the first; 5 s on the test stack) erases it.
    assert_gone_within(s.user_id(), 20).await;
}

#[tokio::test]
async fn a_purchase_of_a_deleted_account_restored_to_a_new_one_is_not_granted_again() {
    let c = client();
    let old = sign_up(&c).await;
    let bought = buy(old.user_id(), "credits_10", 1).await;
    assert_eq!(delete_me_raw(&c, old.access()).await.status(), 202);
    assert_gone_within(old.user_id(), 20).await;
    // Reinstalled: a new anonymous account, and the store's purchase restored to it.
    let new = sign_up(&c).await;
    let (resent, status) = {
        let answer = revenuecat_sim(
            "POST",
            "/_sim/events",
            json!({"type": "NON_RENEWING_PURCHASE", "app_user_id": new.user_id(), "transaction_id": bought["transaction_id"], "product_id": "credits_10"}),
        )
        .await;
        (answer["deliveries"][0]["body"].as_str().unwrap_or_default().to_string(), answer["deliveries"][0]["status"].clone())
    };
    assert_eq!(status, 200);
    assert!(resent.contains("already_granted"), "{resent}");
    assert_eq!(credits(&c, &new).await, 0, "credited once, to the account that was deleted");
    // Its refund now finds no owner to take from, and changes nothing.
    let refund = revenuecat_sim("POST", "/_sim/events", json!({"type": "CANCELLATION", "transaction_id": bought["transaction_id"]})).await;
    assert_eq!(refund["deliveries"][0]["status"], 200);
    assert_eq!(assert_invariant(new.user_id()).await, 0);
}
