//! The generation pipeline end to end on the local stack: the worker, the KIE
//! simulator, callbacks and polling, failures and refunds, duplicates, the
//! reaper, deletion mid-generation, EXIF stripping and poison messages. The
//! balance invariant is checked after each.

use shared::ports::{JobStore, PipelineStore};
use std::time::Duration;

use integration_tests::*;
use serde_json::{Value, json};

async fn user_with_job(credits: i64, behaviour: Option<Value>, photo: &str) -> (reqwest::Client, Session, String) {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), credits).await;
    if let Some(b) = behaviour {
        sim_rule(s.user_id(), b).await;
    }
    let id = upload(&c, &s, fixture(photo), "image/jpeg").await;
    let resp = create_job_raw(&c, &s, &id, "standard", None).await;
    assert_eq!(resp.status(), 202);
    let job: Value = resp.json().await.unwrap();
    let job_id = job["job_id"].as_str().unwrap().to_string();
    (c, s, job_id)
}

async fn assert_succeeded_with_an_image(c: &reqwest::Client, job: &Value) {
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["refunded"], false);
    assert!(job["completed_at"].is_string());
    let result = c.get(job["result_url"].as_str().expect("result_url")).send().await.unwrap();
    assert!(result.status().is_success());
    let bytes = result.bytes().await.unwrap();
    let size = imagesize_of(&bytes);
    assert!(size.0 > 0 && size.1 > 0, "the result is an image");
}

fn imagesize_of(bytes: &[u8]) -> (usize, usize) {
    // The domain crate's own header check, which reads PNG, JPEG and WebP.
    match shared::uploads::check_header(bytes, bytes.len() as u64, true) {
        shared::uploads::HeaderCheck::Usable { width, height, .. } => (width, height),
        other => panic!("not a usable image: {other:?}"),
    }
}

#[tokio::test]
async fn a_job_succeeds_by_callback() {
    let (c, s, job_id) = user_with_job(1, None, "astronaut.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    assert_succeeded_with_an_image(&c, &job).await;
    let tasks = sim_tasks(s.user_id()).await;
    assert_eq!(tasks.len(), 1, "one provider task");
    assert!(!tasks[0]["callbacks_sent"].as_array().unwrap().is_empty(), "the provider called back");
    assert_eq!(credits(&c, &s).await, 0);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_job_succeeds_by_polling_when_callbacks_never_come() {
    let (c, s, job_id) = user_with_job(1, Some(json!({"callback": "none"})), "astronaut.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    assert_succeeded_with_an_image(&c, &job).await;
    assert!(sim_tasks(s.user_id()).await[0]["callbacks_sent"].as_array().unwrap().is_empty());
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn moderation_fails_the_job_and_refunds_it() {
    let rule = json!({"outcome": "fail", "fail_code": "422", "fail_msg": "Invalid prompt: prompt contains prohibited content"});
    let (c, s, job_id) = user_with_job(1, Some(rule), "astronaut.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "content_rejected");
    assert_eq!(job["refunded"], true);
    assert_eq!(job["result_url"], Value::Null);
    assert!(!job.to_string().contains("prohibited content"), "the provider's text is not passed on");
    assert_eq!(credits(&c, &s).await, 1);
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}

#[tokio::test]
async fn a_rate_limited_create_is_retried_then_succeeds() {
    let rule = json!({"create_errors": [{"http_status": 200, "code": 429}, {"http_status": 500, "code": 500}]});
    let (c, s, job_id) = user_with_job(1, Some(rule), "astronaut.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 45, finished).await;
    assert_succeeded_with_an_image(&c, &job).await;
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one task despite the refusals");
    let rules: Vec<Value> = reqwest::get(format!("{}/sim/rules", stack().var("KIE_SIM_URL"))).await.unwrap().json().await.unwrap();
    let prefix = user_objects(s.user_id()).await.prefix().to_string();
    let rule = rules.iter().find(|r| r["match"] == prefix.as_str()).unwrap();
    assert_eq!(rule["create_calls"], 3, "two refused calls, then the one that worked");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn duplicate_messages_and_callbacks_change_nothing_twice() {
    let (c, s, job_id) = user_with_job(1, Some(json!({"callback": "twice", "delay_ms": 800})), "astronaut.jpg").await;
    // The same start message again, as SQS may deliver it twice.
    let sqs = aws_sdk_sqs::Client::new(&stack().aws().await);
    let body = json!({"user_id": s.user_id(), "job_id": job_id, "step": "start", "attempt": 0}).to_string();
    for _ in 0..2 {
        sqs.send_message().queue_url(stack().var("QUEUE_URL")).message_body(&body).send().await.unwrap();
    }
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    assert_succeeded_with_an_image(&c, &job).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // let the second callback and the duplicates land
    let tasks = sim_tasks(s.user_id()).await;
    assert_eq!(tasks.len(), 1, "one task created");
    assert_eq!(tasks[0]["callbacks_sent"].as_array().unwrap().len(), 2, "the callback came twice");
    let results = results_of(s.user_id()).await;
    assert_eq!(results.len(), 1, "one result");
    assert_eq!(credits(&c, &s).await, 0, "charged once, never refunded");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_forged_callback_changes_nothing() {
    let (c, s, job_id) = user_with_job(1, Some(json!({"stall": true})), "astronaut.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 20, |j| j["status"] == "processing").await;
    assert_eq!(job["status"], "processing");
    let forged = json!({"code": 200, "msg": "success", "data": {"taskId": "task_x", "state": "success",
        "resultJson": "{\"resultUrls\":[\"http://127.0.0.1:9/evil.png\"]}"}});
    let url = stack().url(&format!("/v1/webhooks/kie?job={job_id}&token=not-the-secret"));
    assert_error(c.post(&url).json(&forged).send().await.unwrap(), 401, "unauthorized").await;
    let no_token = stack().url(&format!("/v1/webhooks/kie?job={job_id}"));
    assert_error(c.post(&no_token).json(&forged).send().await.unwrap(), 401, "unauthorized").await;
    assert_error(c.post(&url).body("not json").send().await.unwrap(), 400, "invalid_request").await;
    let unknown = stack().url("/v1/webhooks/kie?job=0123456789abcdef0123456789abcdef&token=x");
    assert_eq!(c.post(&unknown).json(&forged).send().await.unwrap().status(), 200, "unknown jobs are acknowledged");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = wait_for_job(&c, &s, &job_id, 0, |_| true).await;
    assert_eq!(after["status"], "processing");
    assert_eq!(after["result_url"], Value::Null);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_job_deleted_mid_generation_leaves_nothing_behind_and_its_credits_stay_spent() {
    let (c, s, job_id) = user_with_job(1, Some(json!({"delay_ms": 2500})), "astronaut.jpg").await;
    // Wait until the job records its provider task.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store().await.job(s.user_id(), &job_id).await.unwrap().is_none_or(|j| j.task_id.is_none()) {
        assert!(std::time::Instant::now() < deadline, "no provider task");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resp = c.delete(stack().url(&format!("/v1/jobs/{job_id}"))).bearer_auth(s.access()).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    // The provider finishes (or fails, having lost the photo) after the deletion.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !matches!(sim_tasks(s.user_id()).await[0]["state"].as_str(), Some("success" | "fail")) {
        assert!(std::time::Instant::now() < deadline, "the provider never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // its callback and a poll land
    assert_no_objects_soon(s.user_id(), 5).await;
    assert_eq!(credits(&c, &s).await, 0, "the provider worked: the credits stay spent");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
    // The slot is free again.
    let profile = store().await.balance_and_active(s.user_id()).await.unwrap();
    assert_eq!(profile, (0, 0), "no active job left");
}

#[tokio::test]
async fn the_reaper_fails_and_refunds_a_stalled_job() {
    let (c, s, job_id) = user_with_job(1, Some(json!({"stall": true})), "astronaut.jpg").await;
    let deadline: u64 = stack().var("JOB_DEADLINE_SECONDS").parse().unwrap();
    let job = wait_for_job(&c, &s, &job_id, deadline + 20, finished).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "timed_out");
    assert_eq!(job["refunded"], true);
    assert_eq!(credits(&c, &s).await, 1);
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}

#[tokio::test]
async fn the_photo_reaches_the_provider_without_exif() {
    let original = fixture("exif-gps.jpg");
    assert!(shared::photo_clean::has_exif(&original), "the fixture carries EXIF with GPS");
    let (c, s, job_id) = user_with_job(1, None, "exif-gps.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    assert_succeeded_with_an_image(&c, &job).await;
    let task = &sim_tasks(s.user_id()).await[0];
    let sent =
        reqwest::get(format!("{}/sim/tasks/{}/input", stack().var("KIE_SIM_URL"), task["task_id"].as_str().unwrap())).await.unwrap().bytes().await.unwrap();
    assert!(!shared::photo_clean::has_exif(&sent), "the provider got no EXIF");
    assert_eq!(imagesize_of(&sent), (400, 400));
    let stored = c.get(job["input_url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert!(!shared::photo_clean::has_exif(&stored), "our copy has none either");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_poison_message_reaches_the_dead_letter_queue() {
    let sqs = aws_sdk_sqs::Client::new(&stack().aws().await);
    let marker = format!("poison-{}", rand::random::<u64>());
    sqs.send_message().queue_url(stack().var("QUEUE_URL")).message_body(&marker).send().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = sqs.receive_message().queue_url(stack().var("DEAD_LETTER_QUEUE_URL")).max_number_of_messages(10).send().await.unwrap();
        if out.messages().iter().any(|m| m.body() == Some(marker.as_str())) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(std::time::Instant::now() < deadline, "the poison message never reached the dead-letter queue");
    }
}

#[tokio::test]
async fn an_account_problem_at_the_provider_fails_and_refunds() {
    let rule = json!({"create_errors": [{"http_status": 200, "code": 402}]});
    let (c, s, job_id) = user_with_job(1, Some(rule), "astronaut.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "provider_failed");
    assert_eq!(job["refunded"], true);
    assert!(sim_tasks(s.user_id()).await.is_empty(), "402 is not retried");
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}

#[tokio::test]
async fn a_callback_before_the_provider_says_success_is_not_believed() {
    let (c, s, job_id) = user_with_job(1, Some(json!({"callback": "early"})), "astronaut.jpg").await;
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    // The early callback finds the task still generating; a poll (or the re-check) finishes it.
    assert_succeeded_with_an_image(&c, &job).await;
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}
