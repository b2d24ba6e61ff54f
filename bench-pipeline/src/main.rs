//! `pipeline-latency`: runs N jobs through the local stack (the KIE simulator
//! as provider, its delay set by the caller) and prints, per job:
//! - latency: from the provider's completion (the simulator's `complete_time`)
//!   to the end of the worker step that marked the job `succeeded` after the
//!   callback (the worker's `generation step` log line);
//! - busy time: the sum of the worker's step durations for the job.
//!
//! Run by `bin/bench-pipeline`, which starts the stack and passes
//! `STACK_ENV_FILE` and `STACK_LOG_FILE`.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::join_all;
use integration_tests::*;
use serde_json::Value;

const JOBS_PER_USER: usize = 3;

/// A user with credits and uploaded photos, ready for jobs.
async fn one_user() -> Vec<(Session, String, reqwest::Client)> {
    let c = client();
    let s = sign_up(&c).await;
    grant(s.user_id(), JOBS_PER_USER as i64).await;
    let mut uploads = Vec::new();
    for _ in 0..JOBS_PER_USER {
        uploads.push((s.clone(), upload(&c, &s, fixture("astronaut.jpg"), "image/jpeg").await, c.clone()));
    }
    uploads
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{name:<48} n={:<3} p50={:>7.1} ms  p95={:>7.1} ms  max={:>7.1} ms", v.len(), percentile(&v, 0.5), percentile(&v, 0.95), v[v.len() - 1]);
}

#[tokio::main]
async fn main() {
    let jobs_wanted: usize = std::env::var("BENCH_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let users = jobs_wanted.div_ceil(JOBS_PER_USER);
    let gap = Duration::from_millis(std::env::var("BENCH_GAP_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(500));
    let ready: Vec<_> = join_all((0..users).map(|_| one_user())).await.into_iter().flatten().collect();
    // Jobs arrive at a steady rate (one every BENCH_GAP_MS), as users would send them.
    let jobs: Vec<_> = join_all(ready.into_iter().enumerate().map(|(i, (s, upload_id, c))| async move {
        tokio::time::sleep(gap * i as u32).await;
        let job: Value = create_job_raw(&c, &s, &upload_id, "standard", None).await.json().await.unwrap();
        (s, job["job_id"].as_str().unwrap().to_string(), c)
    }))
    .await;

    // Wait until every job is finished.
    for (s, job_id, c) in &jobs {
        let job = wait_for_job(c, s, job_id, 120, |j| j["status"] == "succeeded" || j["status"] == "failed").await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The provider's completion time of each job's task.
    let mut completed: HashMap<String, i64> = HashMap::new();
    for (s, job_id, _) in &jobs {
        for task in sim_tasks(s.user_id()).await {
            if task["callback_url"].as_str().is_some_and(|u| u.contains(job_id.as_str())) {
                completed.insert(job_id.clone(), task["complete_time"].as_i64().expect("complete_time"));
            }
        }
    }

    // The worker's step lines.
    let log = std::fs::read_to_string(std::env::var("STACK_LOG_FILE").expect("STACK_LOG_FILE")).unwrap();
    let mut busy: HashMap<String, f64> = HashMap::new();
    let mut steps: HashMap<String, usize> = HashMap::new();
    let mut settled_at: HashMap<String, i64> = HashMap::new();
    for line in log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
        if line["message"] != "generation step" {
            continue;
        }
        let job_id = line["job_id"].as_str().unwrap_or_default().to_string();
        *busy.entry(job_id.clone()).or_default() += line["elapsed_ms"].as_f64().unwrap_or(0.0);
        *steps.entry(job_id.clone()).or_default() += 1;
        let at = chrono::DateTime::parse_from_rfc3339(line["timestamp"].as_str().unwrap()).unwrap().timestamp_micros();
        if line["step"] == "Callback" {
            settled_at.entry(job_id).or_insert(at);
        }
    }
    let latencies: Vec<f64> = jobs.iter().filter_map(|(_, id, _)| Some((settled_at.get(id)? / 1000 - completed.get(id)?) as f64)).collect();
    let busy_times: Vec<f64> = jobs.iter().filter_map(|(_, id, _)| busy.get(id).copied()).collect();
    let step_counts: Vec<f64> = jobs.iter().filter_map(|(_, id, _)| steps.get(id).map(|n| *n as f64)).collect();

    println!(
        "jobs: {} succeeded, one created every {} ms; provider delay KIE_SIM_DELAY_MS={}",
        jobs.len(),
        gap.as_millis(),
        std::env::var("KIE_SIM_DELAY_MS").unwrap_or_default()
    );
    summary("provider completion -> job succeeded (callback)", latencies);
    summary("worker busy time per job (sum of steps)", busy_times);
    let mut counts = step_counts;
    counts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{:<48} p50={} max={}", "worker steps per job", percentile(&counts, 0.5), counts[counts.len() - 1]);
}
