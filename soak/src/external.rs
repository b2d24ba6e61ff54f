//! The simulators' and the fault layer's control APIs: the KIE simulator's
//! catch-all misbehaviour rule at start, and at the end what each injected.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::config::{Knobs, Stack};

/// A control-API failure (the run cannot be set up or reported).
pub type ControlError = String;

async fn get_json(url: &str) -> Result<Value, ControlError> {
    let resp = reqwest::get(url).await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("GET {url}: {e}"))
}

/// Sets the KIE simulator's catch-all rule: a share of tasks fail, send no
/// callback, or have their `createTask` refused with 429. The rule returned
/// is the one set (`None`: no simulator, the stack uses a real provider).
pub async fn set_kie_rule(stack: &Stack, knobs: &Knobs) -> Result<Option<Value>, ControlError> {
    let Some(base) = stack.get("KIE_SIM_URL") else { return Ok(None) };
    let rule = json!({"match": "", "behaviour": {
        "fail_rate": knobs.kie_fail_rate,
        "no_callback_rate": knobs.kie_no_callback_rate,
        "create_error_rate": knobs.kie_429_rate,
        "create_error_code": 429,
    }});
    let url = format!("{base}/sim/rules");
    let resp = reqwest::Client::new().post(&url).json(&rule).send().await.map_err(|e| format!("POST {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("POST {url}: {} {}", resp.status(), resp.text().await.unwrap_or_default()));
    }
    Ok(Some(rule))
}

/// What the KIE simulator saw and did.
#[derive(Debug, Default)]
pub struct KieSummary {
    /// `/sim/stats`: `createTask` calls (refusals included), `recordInfo` calls, tasks.
    pub stats: Value,
    /// Every task (for the `timed_out` exemption of stalled tasks).
    pub tasks: Vec<Value>,
    /// Tasks by final state (`success`, `fail`, or still running).
    pub states: BTreeMap<String, usize>,
    /// Tasks that sent no callback.
    pub no_callback: usize,
    /// `createTask` calls refused by the catch-all rule.
    pub create_refused: u64,
}

/// Reads the KIE simulator's counters and tasks.
pub async fn kie_summary(stack: &Stack) -> Result<Option<KieSummary>, ControlError> {
    let Some(base) = stack.get("KIE_SIM_URL") else { return Ok(None) };
    let stats = get_json(&format!("{base}/sim/stats")).await?;
    let tasks: Vec<Value> = get_json(&format!("{base}/sim/tasks")).await?.as_array().cloned().unwrap_or_default();
    let rules = get_json(&format!("{base}/sim/rules")).await?;
    let mut summary = KieSummary { stats, ..KieSummary::default() };
    for t in &tasks {
        *summary.states.entry(t["state"].as_str().unwrap_or("?").to_string()).or_default() += 1;
        if t["callbacks_sent"].as_array().is_none_or(std::vec::Vec::is_empty) {
            summary.no_callback += 1;
        }
    }
    summary.create_refused = rules.as_array().into_iter().flatten().filter_map(|r| r["create_refused"].as_u64()).sum();
    summary.tasks = tasks;
    Ok(Some(summary))
}

/// What the fault layer saw.
#[derive(Debug, Default)]
pub struct FaultSummary {
    /// Requests it received.
    pub requests: u64,
    /// Faults injected by kind (rates and rules together).
    pub injected: BTreeMap<String, u64>,
    /// The busiest operations (`service.Operation`, requests), most first.
    pub busiest: Vec<(String, u64)>,
}

/// Reads the fault layer's counters.
pub async fn fault_summary(stack: &Stack) -> Result<FaultSummary, ControlError> {
    let base = stack.get("AWS_FAULTS_URL").ok_or("AWS_FAULTS_URL is missing from the env file")?;
    let stats = get_json(&format!("{base}/_faults/stats")).await?;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut add = |injected: &Value| {
        for (kind, by) in injected.as_object().into_iter().flatten() {
            let n = by.as_object().into_iter().flatten().filter_map(|(_, v)| v.as_u64()).sum::<u64>();
            *kinds.entry(kind.clone()).or_default() += n;
        }
    };
    let mut busiest = Vec::new();
    for (service, ops) in stats["services"].as_object().into_iter().flatten() {
        for (name, op) in ops.as_object().into_iter().flatten() {
            add(&op["injected"]);
            busiest.push((format!("{service}.{name}"), op["requests"].as_u64().unwrap_or(0)));
        }
    }
    add(&stats["trigger"]["injected"]);
    busiest.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    Ok(FaultSummary { requests: stats["requests"].as_u64().unwrap_or(0), injected: kinds, busiest })
}
