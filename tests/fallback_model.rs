//! The second model before a refund, end to end on the local stack, whose
//! `high` quality has `KIE_FALLBACK_MODEL_HIGH=seedream/4.5-edit` (bin/test)
//! and whose `standard` quality has no fallback. The KIE simulator fails one
//! model and not the other; each test checks the job as the app sees it
//! (`GET /v1/jobs/{id}`, `GET /v1/me`), the ledger (one charge, at most one
//! refund), the tasks the provider received, the job's record as stored in
//! DynamoDB (which model made the result), and the balance invariant.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::*;
use serde_json::{Value, json};
use shared::ports::LedgerStore;

const PRIMARY_HIGH: &str = "nano-banana-pro";
const FALLBACK_HIGH: &str = "seedream/4.5-edit";
const PRIMARY_STANDARD: &str = "google/nano-banana-edit";

/// A user with 2 credits, its simulator rule (`Some(model)`: for that model
/// only), and one job of `quality` created; the client, session and job id.
async fn job_with_rule(quality: &str, model: Option<&str>, behaviour: Value) -> (reqwest::Client, Session, String) {
    let (c, s, upload_id) = user_with_upload(2, None, "astronaut.jpg").await;
    match model {
        Some(model) => sim_rule_for_model(s.user_id(), model, behaviour).await,
        None => sim_rule(s.user_id(), behaviour).await,
    }
    let resp = create_job_raw(&c, &s, &upload_id, quality, None).await;
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    let job: Value = resp.json().await.unwrap();
    (c, s, job["job_id"].as_str().unwrap().to_string())
}

/// The job's item, read from the table through the AWS SDK.
async fn job_record(user_id: &str, job_id: &str) -> HashMap<String, AttributeValue> {
    let client = aws_sdk_dynamodb::Client::new(&stack().aws().await);
    let key = shared::adapters::dynamo::schema::job_key(user_id, job_id);
    let out = client.get_item().table_name(stack().var("TABLE_NAME")).set_key(Some(key)).consistent_read(true).send().await.unwrap();
    out.item().cloned().expect("the job's record")
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The job's ledger entries, by reason.
async fn job_postings(user_id: &str) -> Vec<String> {
    let entries = store().await.ledger_entries(user_id).await.unwrap();
    entries.into_iter().map(|e| e.reason).filter(|r| r.starts_with("job_")).collect()
}

/// The models of the provider's tasks for `user_id`, oldest first, with their end state.
async fn tasks_by_model(user_id: &str) -> Vec<(String, String)> {
    let tasks = sim_tasks(user_id).await;
    tasks.iter().map(|t| (t["model"].as_str().unwrap().to_string(), t["state"].as_str().unwrap().to_string())).collect()
}

#[tokio::test]
async fn a_primary_failing_with_500_hands_the_job_to_the_fallback_which_succeeds_charged_once() {
    let (c, s, job_id) = job_with_rule("high", Some(PRIMARY_HIGH), json!({"outcome": "fail", "fail_code": "500"})).await;
    let job = wait_for_job(&c, &s, &job_id, 30, finished).await;
    assert_eq!((job["status"].as_str(), job["refunded"].as_bool(), job["credits_charged"].as_i64()), (Some("succeeded"), Some(false), Some(2)), "{job}");
    let result = c.get(job["result_url"].as_str().expect("result_url")).send().await.unwrap();
    assert!(result.status().is_success());
    assert!(!job.to_string().contains("seedream") && !job.to_string().contains("banana"), "the model is not shown to the app: {job}");

    let tasks = tasks_by_model(s.user_id()).await;
    let expected = [(PRIMARY_HIGH.to_string(), "fail".to_string()), (FALLBACK_HIGH.to_string(), "success".to_string())];
    assert_eq!(tasks, expected, "one task per model, the primary's failed");
    let record = job_record(s.user_id(), &job_id).await;
    assert_eq!(text(&record, "task_model"), Some(FALLBACK_HIGH), "the record names the model that made the result");
    assert_eq!(text(&record, "fallback_model"), Some(FALLBACK_HIGH));
    let primary_task = sim_tasks(s.user_id()).await[0]["task_id"].as_str().unwrap().to_string();
    assert_eq!(text(&record, "primary_task_id"), Some(primary_task.as_str()));
    let fallback_task = sim_tasks(s.user_id()).await[1]["task_id"].as_str().unwrap().to_string();
    assert_eq!(text(&record, "task_id"), Some(fallback_task.as_str()));

    let shown = support(&["show-user", s.user_id()]);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    assert!(String::from_utf8_lossy(&shown.stdout).contains(&format!("model {FALLBACK_HIGH} (second model)")), "the operators see it");

    assert_eq!(credits(&c, &s).await, 0, "charged once, not refunded");
    assert_eq!(job_postings(s.user_id()).await, ["job_charge"]);
    assert_eq!(results_of(s.user_id()).await.len(), 1, "one result");
    assert_eq!(assert_invariant(s.user_id()).await, 0);
}

/// Waits for the job to fail with `code`, refunded.
async fn failed_and_refunded(c: &reqwest::Client, s: &Session, job_id: &str, code: &str) {
    let job = wait_for_job(c, s, job_id, 30, finished).await;
    assert_eq!((job["status"].as_str(), job["error"]["code"].as_str(), job["refunded"].as_bool()), (Some("failed"), Some(code), Some(true)), "{job}");
}

#[tokio::test]
async fn moderation_by_the_primary_never_reaches_the_fallback() {
    let rule = json!({"outcome": "fail", "fail_code": "422", "fail_msg": "Invalid prompt: prompt contains prohibited content"});
    let (c, s, job_id) = job_with_rule("high", Some(PRIMARY_HIGH), rule).await;
    failed_and_refunded(&c, &s, &job_id, "content_rejected").await;
    // Give a wrongly started fallback the time to show.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(tasks_by_model(s.user_id()).await, [(PRIMARY_HIGH.to_string(), "fail".to_string())], "no task on the fallback");
    let record = job_record(s.user_id(), &job_id).await;
    assert_eq!((text(&record, "task_model"), text(&record, "fallback_model")), (Some(PRIMARY_HIGH), None));
    assert_eq!(credits(&c, &s).await, 2, "refunded");
    assert_eq!(job_postings(s.user_id()).await, ["job_charge", "job_refund"]);
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn both_models_failing_fail_the_job_once_and_refund_it() {
    let (c, s, job_id) = job_with_rule("high", None, json!({"outcome": "fail", "fail_code": "500"})).await;
    failed_and_refunded(&c, &s, &job_id, "provider_failed").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let tasks = tasks_by_model(s.user_id()).await;
    assert_eq!(tasks, [(PRIMARY_HIGH.to_string(), "fail".to_string()), (FALLBACK_HIGH.to_string(), "fail".to_string())], "the fallback is tried once");
    let record = job_record(s.user_id(), &job_id).await;
    assert_eq!((text(&record, "task_model"), text(&record, "fallback_model")), (Some(FALLBACK_HIGH), Some(FALLBACK_HIGH)));
    assert_eq!(credits(&c, &s).await, 2, "refunded");
    assert_eq!(job_postings(s.user_id()).await, ["job_charge", "job_refund"], "charged once, refunded once");
    assert!(results_of(s.user_id()).await.is_empty());
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}

#[tokio::test]
async fn a_quality_without_a_fallback_fails_and_refunds_as_before() {
    let (c, s, job_id) = job_with_rule("standard", Some(PRIMARY_STANDARD), json!({"outcome": "fail", "fail_code": "500"})).await;
    failed_and_refunded(&c, &s, &job_id, "provider_failed").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(tasks_by_model(s.user_id()).await, [(PRIMARY_STANDARD.to_string(), "fail".to_string())], "one task");
    let record = job_record(s.user_id(), &job_id).await;
    assert_eq!((text(&record, "task_model"), text(&record, "fallback_model")), (Some(PRIMARY_STANDARD), None));
    assert_eq!(credits(&c, &s).await, 2, "the standard job's credit is back");
    assert_eq!(job_postings(s.user_id()).await, ["job_charge", "job_refund"]);
    assert_eq!(assert_invariant(s.user_id()).await, 2);
}
