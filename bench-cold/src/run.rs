//! One run of a bootstrap: spawned as Lambda starts it (a clean environment,
//! `AWS_LAMBDA_RUNTIME_API` naming a stand-in of its own), timed from the
//! spawn to its first `GET /next` (init), then given the same event `1 +
//! warm` times, one after the other; its page faults are read when it asks
//! for its first event (it waits for the answer, so the count holds still),
//! its peak resident memory before it is killed.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::body::Bytes;
use serde_json::Value;
use shared::error::BoxError;
use tokio::process::{Child, Command};

use crate::runtime_api::{Invocation, Report, RuntimeApi};

/// How long a bootstrap may take to ask for its first event.
const INIT_LIMIT: Duration = Duration::from_secs(30);

/// A bootstrap to run.
pub struct Target {
    /// The function's name (its binary's).
    pub name: String,
    /// The bootstrap.
    pub path: PathBuf,
    /// Its whole environment (without `AWS_LAMBDA_RUNTIME_API`).
    pub env: Vec<(String, String)>,
    /// Its timeout: each event's deadline, and how long an answer may take.
    pub timeout: Duration,
}

/// What one run measured.
pub struct RunResult {
    /// Spawn → first `GET /next`.
    pub init: Duration,
    /// The first event handed out → its answer.
    pub first: Duration,
    /// The same for each further event.
    pub warm: Vec<Duration>,
    /// Page faults (minor and major) from spawn to the first `GET /next`.
    pub init_faults: Option<u64>,
    /// `VmHWM` after the last answer, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// The first answer.
    pub first_answer: Bytes,
    /// Each answer in short (`201`, `ok`, `error`), the first one first.
    pub answers: Vec<String>,
    /// When the bootstrap was spawned, asked for its first event, answered
    /// its first event, and answered its last.
    pub phases: [Instant; 4],
    /// AWS connections opened during init, the first invocation and the
    /// warm ones (the caller counts them).
    pub connections: [usize; 3],
}

/// Runs `target` once: init, then `1 + warm` invocations of `event`; its
/// output is appended to `log`.
pub async fn run_once(target: &Target, event: &Bytes, warm: usize, log: &Path) -> Result<RunResult, BoxError> {
    let mut api = RuntimeApi::start(&target.name).await?;
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let mut command = Command::new(&target.path);
    command
        .env_clear()
        .envs(target.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true);
    let spawned = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", target.path.display()))?;
    let result = drive(&mut api, &mut child, spawned, target, event, warm).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}

async fn drive(api: &mut RuntimeApi, child: &mut Child, spawned: Instant, target: &Target, event: &Bytes, warm: usize) -> Result<RunResult, BoxError> {
    let limit = tokio::time::Instant::from_std(spawned + INIT_LIMIT);
    let ready = loop {
        tokio::select! {
            report = api.reports.recv() => match report {
                Some(Report::FirstNext(at)) => break at,
                Some(Report::InitError(doc)) => return Err(format!("init failed: {doc}").into()),
                Some(Report::Answered { .. }) => {}
                None => return Err("the runtime API stand-in stopped".into()),
            },
            status = child.wait() => return Err(format!("exited during init ({})", status?).into()),
            () = tokio::time::sleep_until(limit) => return Err(format!("no GET /next within {} s", INIT_LIMIT.as_secs()).into()),
        }
    };
    let init = ready.saturating_duration_since(spawned);
    let init_faults = child.id().and_then(page_faults);
    let mut latencies = Vec::with_capacity(warm + 1);
    let mut answers = Vec::with_capacity(warm + 1);
    let mut first_answer = Bytes::new();
    let mut answered = [ready; 2];
    for i in 0..=warm {
        let (latency, body, failed, at) = invoke(api, child, target, event).await.map_err(|e| format!("invocation {}: {e}", i + 1))?;
        answers.push(summarise(&body, failed));
        if i == 0 {
            first_answer = body;
            answered[0] = at;
        }
        answered[1] = at;
        latencies.push(latency);
    }
    let peak_rss_kib = child.id().and_then(peak_rss_kib);
    let first = latencies.remove(0);
    Ok(RunResult {
        init,
        init_faults,
        first,
        warm: latencies,
        peak_rss_kib,
        first_answer,
        answers,
        phases: [spawned, ready, answered[0], answered[1]],
        connections: [0; 3],
    })
}

/// One invocation: its latency, answer, whether it failed, and when it answered.
async fn invoke(api: &mut RuntimeApi, child: &mut Child, target: &Target, event: &Bytes) -> Result<(Duration, Bytes, bool, Instant), BoxError> {
    let id = uuid::Uuid::new_v4().to_string();
    let deadline_ms = (SystemTime::now() + target.timeout).duration_since(UNIX_EPOCH)?.as_millis();
    api.send(Invocation { id: id.clone(), body: event.clone(), deadline_ms }).await?;
    let limit = tokio::time::Instant::now() + target.timeout + Duration::from_secs(5);
    loop {
        tokio::select! {
            report = api.reports.recv() => match report {
                Some(Report::Answered { id: answered, sent, at, body, failed }) if answered == id => {
                    let sent = sent.ok_or("answered before its event was handed out")?;
                    return Ok((at.saturating_duration_since(sent), body, failed, at));
                }
                Some(_) => {}
                None => return Err("the runtime API stand-in stopped".into()),
            },
            status = child.wait() => return Err(format!("the bootstrap exited ({})", status?).into()),
            () = tokio::time::sleep_until(limit) => return Err(format!("no answer within {} s", target.timeout.as_secs() + 5).into()),
        }
    }
}

/// An answer in short: an HTTP route's status code, `ok` for a batch with
/// no failed message (else `n retried`) or any other answer, `error` for an
/// invocation reported failed.
pub fn summarise(body: &[u8], failed: bool) -> String {
    if failed {
        return "error".into();
    }
    let Ok(answer) = serde_json::from_slice::<Value>(body) else { return "ok".into() };
    if let Some(code) = answer.get("statusCode").and_then(Value::as_u64) {
        return code.to_string();
    }
    match answer.get("batchItemFailures").and_then(Value::as_array) {
        Some(failures) if !failures.is_empty() => format!("{} retried", failures.len()),
        _ => "ok".into(),
    }
}

/// The page faults the process has taken (`minflt + majflt` in
/// `/proc/<pid>/stat`), counted after the command name, which may hold spaces.
fn page_faults(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    faults_in_stat(&stat)
}

fn faults_in_stat(stat: &str) -> Option<u64> {
    // Fields from the third (state) on; minflt is the 10th, majflt the 12th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(field(10)? + field(12)?)
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{faults_in_stat, summarise};

    #[test]
    fn page_faults_are_read_past_a_command_name_with_spaces() {
        let stat = "4242 (a b) c) S 1 4242 4242 0 -1 4194560 211 0 3 0 12 4 0 0 20 0 1 0 100 1000 50";
        assert_eq!(faults_in_stat(stat), Some(214));
        assert_eq!(faults_in_stat("4242 (short"), None);
    }

    #[test]
    fn answers_in_short() {
        assert_eq!(summarise(br#"{"statusCode":201,"body":"{}"}"#, false), "201");
        assert_eq!(summarise(br#"{"batchItemFailures":[]}"#, false), "ok");
        assert_eq!(summarise(br#"{"batchItemFailures":[{"itemIdentifier":"a"}]}"#, false), "1 retried");
        assert_eq!(summarise(br#"{"deleted":3}"#, false), "ok");
        assert_eq!(summarise(b"{}", true), "error");
    }
}
