//! The backend under the faults real AWS produces, injected through the
//! stack's fault layer (`fault-proxy`) at the named call: transaction
//! conflicts, a lost answer to a committed write, a hung dependency,
//! contention on one counter or balance, duplicated and lost SQS deliveries.
//! Each test names a job's deadline (30 s in `bin/test`) where it matters: a
//! job the reaper rescues at its deadline would hide the fault. The balance
//! invariant is checked after each.

use shared::entry::FromContext;
use shared::ports::PipelineStore;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use integration_tests::*;
use serde_json::{Value, json};

/// Well inside a job's 30 s deadline in `bin/test`: a job finished by then
/// was not settled by the reaper's last look.
const BEFORE_DEADLINE_SECS: u64 = 20;

async fn create_job_id(c: &reqwest::Client, s: &Session, upload_id: &str) -> String {
    let resp = create_job_raw(c, s, upload_id, "standard", None).await;
    assert_eq!(resp.status(), 202);
    resp.json::<Value>().await.unwrap()["job_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn conflicts_on_the_success_write_are_retried_and_the_job_succeeds() {
    // The provider takes a moment, so the rule is in place before the job finishes.
    let (c, s, upload_id) = user_with_upload(1, Some(json!({"delay_ms": 1500})), "astronaut.jpg").await;
    let job_id = create_job_id(&c, &s, &upload_id).await;
    let rule = fault_rule(json!({
        "service": "dynamodb", "operation": "TransactWriteItems",
        "match": [format!("JOB#{job_id}"), ":succeeded"], "fault": "conflict", "times": 3,
    }))
    .await;
    let job = wait_for_job(&c, &s, &job_id, BEFORE_DEADLINE_SECS, finished).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(job["result_url"].is_string());
    assert_eq!(fault_rule_state(rule).await["fired"], 3, "the success write met three conflicts");
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one provider task");
    assert_eq!(credits(&c, &s).await, 0, "charged once");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_claim_that_keeps_conflicting_fails_its_message_and_the_redelivery_starts_the_job() {
    let (c, s, upload_id) = user_with_upload(1, None, "astronaut.jpg").await;
    // More conflicts than one run retries: the start message fails and SQS delivers it again.
    let rule = fault_rule(json!({
        "service": "dynamodb", "operation": "TransactWriteItems",
        "match": [format!("USER#{}", s.user_id()), "callback_hash"], "fault": "conflict", "times": 10,
    }))
    .await;
    let job_id = create_job_id(&c, &s, &upload_id).await;
    let job = wait_for_job(&c, &s, &job_id, BEFORE_DEADLINE_SECS, finished).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(fault_rule_state(rule).await["fired"], 10);
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one provider task");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_lost_answer_to_the_charging_transaction_reads_as_the_job_it_created() {
    let (c, s, upload_id) = user_with_upload(3, None, "astronaut.jpg").await;
    // The transaction commits; its answer never arrives; the SDK sends it again.
    let rule = fault_rule(json!({
        "service": "dynamodb", "operation": "TransactWriteItems", "match": upload_id, "fault": "lost_response", "times": 1,
    }))
    .await;
    let resp = create_job_raw(&c, &s, &upload_id, "high", None).await;
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    assert_eq!(fault_rule_state(rule).await["fired"], 1);
    let listed: Value = c.get(stack().url("/v1/jobs")).bearer_auth(s.access()).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "one job");
    assert_eq!(credits(&c, &s).await, 1, "charged once");
    let job_id = listed["jobs"][0]["job_id"].as_str().unwrap();
    assert_eq!(wait_for_job(&c, &s, job_id, BEFORE_DEADLINE_SECS, finished).await["status"], "succeeded");
    assert_eq!(assert_invariant(s.user_id()).await, 1);
}

#[tokio::test]
async fn a_lost_answer_to_a_support_grant_reads_as_granted() {
    let c = client();
    let s = sign_up(&c).await;
    let rule = fault_rule(json!({
        "service": "dynamodb", "operation": "TransactWriteItems",
        "match": [format!("USER#{}", s.user_id()), "support_grant"], "fault": "lost_response", "times": 1,
    }))
    .await;
    // The support command with the stack's settings, its calls through the fault layer.
    let env = std::fs::read_to_string(std::env::var("STACK_ENV_FILE").unwrap()).unwrap();
    let via_faults: String = env
        .lines()
        .map(|l| if l.starts_with("AWS_ENDPOINT_URL=") { format!("AWS_ENDPOINT_URL={}", stack().var("AWS_FAULTS_URL")) } else { l.to_string() })
        .map(|l| l + "\n")
        .collect();
    let env_file = std::env::temp_dir().join(format!("support-via-faults-{}.env", s.user_id()));
    std::fs::write(&env_file, via_faults).unwrap();
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/support");
    let out =
        std::process::Command::new(bin).arg("--env-file").arg(&env_file).args(["grant-credits", s.user_id(), "4", "--reason", "goodwill"]).output().unwrap();
    std::fs::remove_file(&env_file).ok();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said} {}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("granted 4 credits") && said.contains("balance now 4"), "{said}");
    assert_eq!(fault_rule_state(rule).await["fired"], 1);
    assert_eq!(credits(&c, &s).await, 4, "granted once");
    assert_eq!(assert_invariant(s.user_id()).await, 4);
}

/// Seconds from a job's creation to its completion.
fn seconds_to_finish(job: &Value) -> i64 {
    let at = |field: &str| chrono::DateTime::parse_from_rfc3339(job[field].as_str().unwrap()).unwrap().timestamp();
    at("completed_at") - at("created_at")
}

#[tokio::test]
async fn a_provider_that_hangs_on_one_job_does_not_hold_up_the_reaper_for_the_others() {
    // Three jobs the provider never finishes; asking it about the first one hangs for a minute.
    let (hc, hs, hung_upload) = user_with_upload(1, Some(json!({"stall": true, "record_delay_ms": 60_000})), "astronaut.jpg").await;
    let hung_job = create_job_id(&hc, &hs, &hung_upload).await;
    let mut others = Vec::new();
    for _ in 0..2 {
        let (c, s, upload_id) = user_with_upload(1, Some(json!({"stall": true})), "astronaut.jpg").await;
        let job_id = create_job_id(&c, &s, &upload_id).await;
        others.push((c, s, job_id));
    }
    // All pass their 30 s deadline within moments of each other, the hung one first.
    for (c, s, job_id) in &others {
        let job = wait_for_job(c, s, job_id, 50, finished).await;
        assert_eq!(
            (job["status"].as_str(), job["error"]["code"].as_str(), job["refunded"].as_bool()),
            (Some("failed"), Some("timed_out"), Some(true)),
            "{job}"
        );
        let took = seconds_to_finish(&job);
        assert!(took <= 30 + 6, "reaped in the first runs past its deadline, not after the hung one: {took} s");
        assert_eq!(credits(c, s).await, 1, "refunded");
        assert_eq!(assert_invariant(s.user_id()).await, 1);
    }
    let hung = wait_for_job(&hc, &hs, &hung_job, 60, finished).await;
    assert_eq!((hung["status"].as_str(), hung["error"]["code"].as_str()), (Some("failed"), Some("timed_out")), "{hung}");
    assert_eq!(assert_invariant(hs.user_id()).await, 1);
}

#[tokio::test]
async fn twenty_concurrent_sign_ups_from_one_address_under_the_limit_all_succeed() {
    let c = client();
    let answers = join_all((0..20).map(|_| sign_up_raw(&c))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
}

#[tokio::test]
async fn ten_purchase_webhooks_for_one_user_at_once_all_grant() {
    let c = client();
    let s = sign_up(&c).await;
    // Each delivery is asserted to answer 200 (`buy`).
    let purchases = join_all((0..10).map(|_| buy(s.user_id(), "credits_5", 1))).await;
    for p in &purchases {
        assert_eq!(p["deliveries"][0]["body"].as_str().map(|b| b.contains("granted")), Some(true), "{p}");
    }
    assert_eq!(credits(&c, &s).await, 50);
    assert_eq!(assert_invariant(s.user_id()).await, 50);
}

#[tokio::test]
async fn a_hung_database_gets_a_503_before_the_function_times_out() {
    let c = client();
    let s = sign_up(&c).await;
    // The emulator holds every read of this user's profile for a minute.
    let rule = fault_rule(json!({
        "service": "dynamodb", "operation": "TransactGetItems", "match": format!("USER#{}", s.user_id()), "fault": "latency", "ms": 60_000,
    }))
    .await;
    // `GET /v1/me` in-process with the production limits (the stack's are scaled for its emulator).
    let route = get_me::GetMe::from_context(stack_context_via_faults(stack_settings()).await).unwrap();
    let started = Instant::now();
    let bearer = format!("Bearer {}", s.access());
    let (status, body) = call_route(&route, "GET", "/v1/me", &[("authorization", &bearer)], b"").await;
    let took = started.elapsed();
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("unavailable")), "{body}");
    assert!(took < Duration::from_secs(10), "answered within the function's 10 s: {took:?}");
    assert!(fault_rule_state(rule).await["fired"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn duplicated_and_lost_deliveries_still_make_one_job_charged_once() {
    let (c, s, upload_id) = user_with_upload(1, None, "astronaut.jpg").await;
    // Every message of this user is handed to the worker twice at once, and
    // the first batch's results are lost (all of it delivered again).
    fault_rule(json!({"service": "sqs_trigger", "fault": "lose_batch", "match": s.user_id(), "times": 1})).await;
    let dup = fault_rule(json!({"service": "sqs_trigger", "fault": "duplicate_delivery", "match": s.user_id()})).await;
    let job_id = create_job_id(&c, &s, &upload_id).await;
    let job = wait_for_job(&c, &s, &job_id, BEFORE_DEADLINE_SECS, finished).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(fault_rule_state(dup).await["fired"].as_u64().unwrap() >= 1);
    assert_eq!(sim_tasks(s.user_id()).await.len(), 1, "one provider task");
    assert_eq!(results_of(s.user_id()).await.len(), 1, "one result");
    assert_eq!(credits(&c, &s).await, 0, "charged once");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

/// A user whose provider never finishes, with one job it has started.
async fn user_with_running_job() -> (reqwest::Client, Session, String) {
    let (c, s, upload_id) = user_with_upload(1, Some(json!({"stall": true})), "astronaut.jpg").await;
    let job_id = create_job_id(&c, &s, &upload_id).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while store().await.job(s.user_id(), &job_id).await.unwrap().is_none_or(|j| j.task_id.is_none()) {
        assert!(Instant::now() < deadline, "no provider task");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (c, s, job_id)
}

/// Every answer to this job's deletion transaction is lost (it commits).
async fn lose_the_deletions_answers(job_id: &str) -> u64 {
    fault_rule(json!({
        "service": "dynamodb", "operation": "TransactWriteItems", "match": ["\"Delete\"", format!("JOB#{job_id}")], "fault": "lost_response", "times": 3,
    }))
    .await
}

#[tokio::test]
async fn a_deletion_whose_answer_was_lost_is_finished_by_its_retry() {
    let (c, s, job_id) = user_with_running_job().await;
    let rule = lose_the_deletions_answers(&job_id).await;
    let url = stack().url(&format!("/v1/jobs/{job_id}"));
    let first = c.delete(&url).bearer_auth(s.access()).send().await.unwrap();
    assert_eq!(first.status(), 503, "the transaction committed, but no answer came");
    assert_eq!(fault_rule_state(rule).await["fired"], 3);
    assert!(!objects_of(s.user_id()).await.is_empty(), "the photo is still there");
    // The app retries: the deletion is finished, not answered 404 with the photo left behind.
    assert_eq!(c.delete(&url).bearer_auth(s.access()).send().await.unwrap().status(), 204);
    assert!(objects_of(s.user_id()).await.is_empty());
    assert_eq!(c.delete(&url).bearer_auth(s.access()).send().await.unwrap().status(), 404, "then it is gone");
    assert!(!format!("{:?}", scan_table().await).contains(&format!("TRASH#{job_id}")), "nothing left to finish");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

#[tokio::test]
async fn a_deletion_cut_short_and_never_retried_is_finished_by_the_sweep() {
    let (c, s, job_id) = user_with_running_job().await;
    lose_the_deletions_answers(&job_id).await;
    let url = stack().url(&format!("/v1/jobs/{job_id}"));
    assert_eq!(c.delete(&url).bearer_auth(s.access()).send().await.unwrap().status(), 503);
    // Nobody retries (the app was closed): the sweep empties the trash once it is older
    // than a stalled request could be (STALL_SECONDS, 8 s in bin/test).
    let stall: u64 = stack().var("STALL_SECONDS").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(stall + 20);
    while !objects_of(s.user_id()).await.is_empty() {
        assert!(Instant::now() < deadline, "the deleted job's photo was never removed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!format!("{:?}", scan_table().await).contains(&format!("TRASH#{job_id}")));
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}
