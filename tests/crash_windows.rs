//! A function that dies between two steps must not leave a paid job waiting
//! for its deadline: the reaper sends the missed step again once the job is
//! `STALL_SECONDS` (8 s in `bin/test`) past it. Each window is opened for
//! real: create-job run in-process and stopped right after its transaction;
//! the worker's follow-up message lost on every try (its step fails, and the
//! redelivered message finds the job already moved on). A job finished before
//! its 30 s deadline was not settled by the reaper's last look.

use integration_tests::*;
use serde_json::{Value, json};
use shared::entry::FromContext;

/// Under the jobs' 30 s deadline in `bin/test`.
const BEFORE_DEADLINE_SECS: u64 = 27;

/// Runs `POST /v1/jobs` in-process through the fault layer with this user's
/// queueing held, and stops it (as Lambda would stop a dying function) right
/// after its transaction committed. Returns the job id.
async fn create_job_and_die_before_queueing(c: &reqwest::Client, s: &Session, upload_id: &str, key: Option<&str>) -> String {
    let hold = fault_rule(json!({"service": "sqs", "operation": "SendMessage", "match": s.user_id(), "fault": "latency", "ms": 60_000, "times": 3})).await;
    let route = create_job::CreateJob::from_context(stack_context_via_faults(stack_settings()).await).unwrap();
    let body = json!({"upload_id": upload_id, "style": style("standard")}).to_string();
    let mut headers = vec![("authorization".to_string(), format!("Bearer {}", s.access())), ("content-type".into(), "application/json".into())];
    if let Some(key) = key {
        headers.push(("idempotency-key".into(), key.into()));
    }
    let call = tokio::spawn(async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        call_route(&route, "POST", "/v1/jobs", &headers, body.as_bytes()).await
    });
    // Stopped once its SendMessage is under way (and held): the transaction committed before.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fault_rule_state(hold).await["fired"].as_u64().unwrap() == 0 {
        assert!(std::time::Instant::now() < deadline, "the job was never queued");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled(), "stopped before it answered");
    remove_fault_rule(hold).await;
    let listed: Value = c.get(stack().url("/v1/jobs")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    listed["jobs"][0]["job_id"].as_str().expect("the job was recorded").to_string()
}

#[tokio::test]
async fn a_job_whose_creation_died_before_queueing_still_starts() {
    let (c, s, upload_id) = user_with_upload(1, None, "astronaut.jpg").await;
    let job_id = create_job_and_die_before_queueing(&c, &s, &upload_id, None).await;
    assert_eq!(credits(&c, &s).await, 0, "the job was paid for");
    let job = wait_for_job(&c, &s, &job_id, BEFORE_DEADLINE_SECS, finished).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one provider task");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn an_idempotent_replay_of_a_creation_that_died_queues_the_job() {
    let (c, s, upload_id) = user_with_upload(1, None, "astronaut.jpg").await;
    let job_id = create_job_and_die_before_queueing(&c, &s, &upload_id, Some("replay-after-crash")).await;
    // Counts this job's later start messages without touching them.
    let sends = fault_rule(json!({"service": "sqs", "operation": "SendMessage", "match": job_id, "fault": "latency", "ms": 1, "skip": 1000})).await;
    let replay = create_job_raw(&c, &s, &upload_id, "standard", Some("replay-after-crash")).await;
    assert_eq!(replay.status(), 202);
    assert_eq!(replay.json::<Value>().await.unwrap()["job_id"], job_id.as_str(), "the same job");
    assert_eq!(fault_rule_state(sends).await["matched"], 1, "the replay queued the still-queued job");
    let job = wait_for_job(&c, &s, &job_id, BEFORE_DEADLINE_SECS, finished).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(credits(&c, &s).await, 0, "charged once");
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one provider task");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_job_whose_delayed_retry_was_never_scheduled_still_starts() {
    // createTask is refused once: the worker hands its claim to a delayed retry...
    let (c, s, upload_id) = user_with_upload(1, Some(json!({"create_errors": [{"code": 429}]})), "astronaut.jpg").await;
    // ...whose message never leaves (every try is reset): the window between the two.
    let lost = fault_rule(json!({"service": "sqs", "operation": "SendMessage", "match": [s.user_id(), "claim"], "fault": "reset", "times": 3})).await;
    let resp = create_job_raw(&c, &s, &upload_id, "standard", None).await;
    let job_id = resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string();
    let job = wait_for_job(&c, &s, &job_id, BEFORE_DEADLINE_SECS, finished).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(fault_rule_state(lost).await["fired"], 3);
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one provider task");
    assert_eq!(credits(&c, &s).await, 0);
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_task_whose_first_poll_was_never_scheduled_is_still_polled() {
    // No callbacks: only polls notice the result...
    let (c, s, upload_id) = user_with_upload(1, Some(json!({"callback": "none"})), "astronaut.jpg").await;
    // ...and the first poll, sent after the task id is stored, never leaves.
    let lost = fault_rule(json!({"service": "sqs", "operation": "SendMessage", "match": [s.user_id(), "poll"], "fault": "reset", "times": 3})).await;
    let resp = create_job_raw(&c, &s, &upload_id, "standard", None).await;
    let job_id = resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string();
    let job = wait_for_job(&c, &s, &job_id, BEFORE_DEADLINE_SECS, finished).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(fault_rule_state(lost).await["fired"], 3);
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one provider task");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}
