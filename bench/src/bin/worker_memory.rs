//! `worker-memory`: the peak resident memory of the generation worker
//! handling one batch of worst-case photos, as on Lambda (one batch per
//! process). Signs up `BENCH_PHOTOS` users (default 10) on a running local
//! stack, uploads `tests/fixtures/worst-case-6300x6300.png` for each (40
//! megapixels: 120 MB of pixels), creates their jobs, takes the ten start
//! messages off the queue as one batch and hands it to the worker in this
//! process, with `DECODE_CONCURRENCY` as set. It resets the kernel's peak
//! (`/proc/self/clear_refs`) before the batch and prints `VmHWM` after it.
//!
//! Needs a stack whose queue nobody else consumes (`bin/bench-memory` starts
//! one with `LOCAL_QUEUE_POLLERS=0`); `STACK_ENV_FILE` names its env file.

use shared::entry::{Consumer, Function};
use shared::ports::LedgerStore;
use std::time::Instant;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use serde_json::{Value, json};
use shared::credits::ledger::{LedgerReason, Posting};
use shared::error::BoxError;

fn set_env(name: &str, value: &str) {
    // SAFETY: called only from `main` before the tokio runtime (and any other
    // thread that could read the environment) exists.
    unsafe { std::env::set_var(name, value) }
}

/// A line of `/proc/self/status` in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB")?.trim().parse().ok()).unwrap_or(0)
}

fn main() -> Result<(), BoxError> {
    let path = std::env::var("STACK_ENV_FILE").map_err(|_| "STACK_ENV_FILE is not set: run bin/bench-memory, which starts a stack")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    for (name, value) in local_stack::stack_env::parse(&text) {
        set_env(&name, &value);
    }
    // The worker talks to the stack's KIE simulator.
    if let Ok(sim) = std::env::var("KIE_SIM_URL") {
        set_env("KIE_BASE_URL", &sim);
        set_env("KIE_UPLOAD_BASE_URL", &sim);
    }
    let photos: usize = std::env::var("BENCH_PHOTOS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let concurrency = std::env::var("DECODE_CONCURRENCY").unwrap_or_else(|_| "2 (default)".into());
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        shared::telemetry::init();
        let worker = generation_worker::GenerationWorker::from_env().await?;
        let sdk = shared::adapters::aws_config().await;
        let event = queue_jobs(&sdk, photos).await?;
        let baseline = status_kb("VmRSS:");
        // Resets VmHWM to the current RSS, so the peak read below is the batch's.
        std::fs::write("/proc/self/clear_refs", "5")?;
        let started = Instant::now();
        let response = worker.handle(event).await;
        let elapsed = started.elapsed();
        let peak = status_kb("VmHWM:");
        let failed = response.batch_item_failures.len();
        println!(
            "{concurrency:>20}  {photos:>6}  {:>11.0}  {:>11.0}  {:>13.0}  {:>7.1}  {failed:>6}",
            baseline as f64 / 1024.0,
            peak as f64 / 1024.0,
            (peak.saturating_sub(baseline)) as f64 / 1024.0,
            elapsed.as_secs_f64(),
        );
        Ok::<_, BoxError>(())
    })
}

/// Signs up `n` users, each with one job on the worst-case photo, and takes
/// their start messages off the queue as one batch.
async fn queue_jobs(sdk: &aws_config::SdkConfig, n: usize) -> Result<SqsEvent, BoxError> {
    let api = std::env::var("API_URL")?;
    let http = reqwest::Client::new();
    let store = shared::adapters::dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), std::env::var("TABLE_NAME")?);
    let photo = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/worst-case-6300x6300.png"))?;
    let mut users = Vec::new();
    for _ in 0..n {
        let session: Value = http.post(format!("{api}/v1/auth/anonymous")).json(&json!({})).send().await?.json().await?;
        let (user, token) = (session["user_id"].as_str().ok_or("no user_id")?, session["access_token"].as_str().ok_or("no token")?);
        users.push(user.to_string());
        let grant = Posting {
            user_id: user,
            amount: 1,
            reason: LedgerReason::SupportGrant,
            reference: None,
            active_jobs_delta: 0,
            max_active_jobs: None,
            now: shared::time::now(),
        };
        store.post(&grant).await?;
        let upload: Value = http
            .post(format!("{api}/v1/uploads"))
            .bearer_auth(token)
            .json(&json!({"content_type": "image/png", "content_length": photo.len()}))
            .send()
            .await?
            .json()
            .await?;
        let mut put = http.put(upload["upload_url"].as_str().ok_or("no upload_url")?).body(photo.clone());
        for (k, v) in upload["headers"].as_object().ok_or("no headers")? {
            put = put.header(k.as_str(), v.as_str().unwrap_or_default());
        }
        put.send().await?.error_for_status()?;
        let style = json!({"attire": "business_suit", "background": "office", "lighting": "soft_studio", "quality": "standard"});
        let job = http.post(format!("{api}/v1/jobs")).bearer_auth(token).json(&json!({"upload_id": upload["upload_id"], "style": style})).send().await?;
        if job.status() != 202 {
            return Err(format!("POST /v1/jobs answered {}", job.status()).into());
        }
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue = std::env::var("QUEUE_URL")?;
    let mut records = Vec::new();
    while records.len() < n {
        let out = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).visibility_timeout(600).send().await?;
        // Only this run's start messages (an earlier run's polls may be due too).
        let ours = |body: &str| users.iter().any(|u| body.contains(u.as_str())) && body.contains("\"start\"");
        for m in out.messages().iter().filter(|m| m.body().is_some_and(ours)) {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(String::from);
            record.receipt_handle = m.receipt_handle().map(String::from);
            record.body = m.body().map(String::from);
            records.push(record);
        }
    }
    let mut event = SqsEvent::default();
    event.records = records;
    Ok(event)
}
