//! A task's life in the background: `waiting`, then `generating` while the input is downloaded
//! and the result derived, then the final state after the delay, and the callback(s).

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;

use crate::Simulator;
use crate::api::max_input_bytes;
use crate::callback;
use crate::derive::{self, DeriveError};
use crate::rules::{CallbackMode, Plan};
use crate::state::{Finish, StoredFile, TaskState};

/// How long `recordInfo` keeps hiding the final state after an `early` callback.
const EARLY_CALLBACK_LEAD: Duration = Duration::from_secs(1);

/// Runs task `id` to its end as `plan` says; result URLs start with `base_url`.
pub(crate) async fn run(sim: Arc<Simulator>, base_url: String, id: String, plan: Plan) {
    let started = tokio::time::Instant::now();
    tokio::time::sleep(plan.delay / 4).await;
    let Some((url, model)) = sim.with_task(&id, |t| {
        t.set_state(TaskState::Generating);
        (t.input_urls.first().cloned().unwrap_or_default(), t.model.clone())
    }) else {
        return;
    };

    let input = match download(&sim.client, &url, max_input_bytes(&model)).await {
        Ok(bytes) => bytes,
        Err(failure) => return deliver(&sim, &id, failure, plan.callback).await,
    };
    sim.with_task(&id, |t| t.input = Some(input.clone()));
    let derived = tokio::task::spawn_blocking(move || derive::derive(&input)).await.unwrap_or_else(|e| Err(DeriveError::Encode(e.to_string())));
    let png = match derived {
        Ok(png) => png,
        Err(e @ DeriveError::NotAnImage(_)) => {
            return deliver(&sim, &id, Finish::fail("400", format!("Invalid input image: {e}")), plan.callback).await;
        }
        Err(e) => {
            return deliver(&sim, &id, Finish::fail("500", e.to_string()), plan.callback).await;
        }
    };
    if plan.stall {
        tracing::info!(task = %id, "kie-sim: task stalls in generating");
        return;
    }
    tokio::time::sleep(plan.delay.saturating_sub(started.elapsed())).await;

    let finish = match plan.failure {
        Some((code, msg)) => Finish::fail(&code, msg),
        None => {
            let path = format!("/files/{id}.png");
            let result_url = format!("{base_url}{path}");
            let file = StoredFile { content_type: "image/png".into(), bytes: Bytes::from(png) };
            sim.state().files.insert(path, file);
            Finish {
                state: TaskState::Success,
                result_json: Some(serde_json::json!({"resultUrls": [result_url]}).to_string()),
                fail_code: None,
                fail_msg: None,
            }
        }
    };
    deliver(&sim, &id, finish, plan.callback).await;
}

/// Downloads an input image like KIE's servers do; the error is the task's failure.
async fn download(client: &reqwest::Client, url: &str, max_bytes: usize) -> Result<Bytes, Finish> {
    let unreachable = |why: String| Finish::fail("422", format!("Failed to download the input image {url}: {why}"));
    let resp = client.get(url).send().await.map_err(|e| unreachable(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("HTTP {}", resp.status())));
    }
    let bytes = resp.bytes().await.map_err(|e| unreachable(e.to_string()))?;
    if bytes.len() > max_bytes {
        return Err(Finish::fail("422", format!("The input image is {} bytes, over the {max_bytes}-byte limit", bytes.len())));
    }
    Ok(bytes)
}

/// Applies `finish` and sends the callback(s) as `mode` says.
async fn deliver(sim: &Simulator, id: &str, finish: Finish, mode: CallbackMode) {
    let Some(callback_url) = sim.with_task(id, |t| t.callback_url.clone()) else {
        return;
    };
    let Some(callback_url) = callback_url.filter(|_| mode != CallbackMode::None) else {
        sim.with_task(id, |t| t.finish(&finish));
        return;
    };
    let data = if mode == CallbackMode::Early {
        // The callback reports the final state while recordInfo still says `generating`.
        let Some(data) = sim.with_task(id, |t| {
            let mut future = t.clone();
            future.finish(&finish);
            future.record_data()
        }) else {
            return;
        };
        data
    } else {
        let Some(data) = sim.with_task(id, |t| {
            t.finish(&finish);
            t.record_data()
        }) else {
            return;
        };
        data
    };
    let body = callback::body(data);
    let times = if mode == CallbackMode::Twice { 2 } else { 1 };
    for _ in 0..times {
        let status = callback::post(&sim.client, &callback_url, sim.config.hmac_key.as_deref(), id, &body).await;
        sim.with_task(id, |t| t.callbacks_sent.push(status));
    }
    if mode == CallbackMode::Early {
        tokio::time::sleep(EARLY_CALLBACK_LEAD).await;
        sim.with_task(id, |t| t.finish(&finish));
    }
}

impl Simulator {
    /// Runs `f` on task `id` under the state lock; `None` when the task is gone.
    pub(crate) fn with_task<R>(&self, id: &str, f: impl FnOnce(&mut crate::state::Task) -> R) -> Option<R> {
        self.state().tasks.get_mut(id).map(f)
    }
}
