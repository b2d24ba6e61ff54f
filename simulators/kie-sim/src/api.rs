//! KIE's endpoints: `createTask`, `recordInfo`, the credit balance and the temp file host.
//! Business errors answer HTTP 200 with the error in the envelope `code`, like KIE.

use std::collections::HashMap;
use std::sync::Arc;

use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::reply::{self, Response};
use crate::server::Ctx;
use crate::state::{Task, TaskState, now_ms};
use crate::worker;

/// The models KIE documents, with their image field and largest input image in bytes.
const MODELS: [(&str, &str, usize); 3] =
    [("google/nano-banana-edit", "image_urls", 10_000_000), ("nano-banana-pro", "image_input", 30_000_000), ("seedream/4.5-edit", "image_urls", 10_000_000)];

/// A validated `createTask` body.
#[derive(Debug, PartialEq)]
pub(crate) struct CreateRequest {
    pub model: String,
    pub prompt: String,
    pub callback_url: Option<String>,
    pub input_urls: Vec<String>,
}

/// Whether `model` is one of the models the simulator serves.
pub(crate) fn is_known_model(model: &str) -> bool {
    MODELS.iter().any(|(name, _, _)| *name == model)
}

/// The largest input image `model` accepts.
pub(crate) fn max_input_bytes(model: &str) -> usize {
    MODELS.iter().find(|(name, _, _)| *name == model).map_or(10_000_000, |m| m.2)
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && s.len() > "https://".len()
}

/// Checks a `createTask` body; `Err` is the message of an envelope code 422.
pub(crate) fn validate(body: &Value) -> Result<CreateRequest, String> {
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err("model is required".into()),
    };
    if !is_known_model(&model) {
        return Err(format!("model {model} is not supported"));
    }
    let callback_url = match body.get("callBackUrl") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if u.is_empty() => None,
        Some(Value::String(u)) if is_http_url(u) => Some(u.clone()),
        Some(_) => return Err("callBackUrl must be an http(s) URL".into()),
    };
    let Some(input) = body.get("input").and_then(Value::as_object) else {
        return Err("input is required and must be an object".into());
    };
    let prompt = match input.get("prompt") {
        Some(Value::String(p)) if !p.trim().is_empty() => p.clone(),
        _ => return Err("input.prompt is required".into()),
    };
    // The field's name depends on the model; either is accepted for every model.
    let Some(field) = ["image_urls", "image_input"].into_iter().find(|f| input.contains_key(*f)) else {
        return Err("input.image_urls (or input.image_input) is required".into());
    };
    let urls = input
        .get(field)
        .and_then(Value::as_array)
        .map(|list| list.iter().map(|u| u.as_str().filter(|u| is_http_url(u)).map(str::to_string)).collect::<Option<Vec<_>>>());
    match urls {
        Some(Some(urls)) if !urls.is_empty() => Ok(CreateRequest { model, prompt, callback_url, input_urls: urls }),
        _ => Err(format!("input.{field} must be a non-empty list of http(s) URLs")),
    }
}

/// `POST /api/v1/jobs/createTask`.
pub(crate) fn create_task(ctx: &Ctx, body: &Bytes) -> Response {
    ctx.sim.state().create_calls += 1;
    let value: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return reply::envelope(400, "The request body must be a JSON object", Value::Null);
        }
        Err(e) => return reply::envelope(400, &format!("Invalid JSON body: {e}"), Value::Null),
    };
    let req = match validate(&value) {
        Ok(req) => req,
        Err(msg) => return reply::envelope(422, &msg, Value::Null),
    };

    let mut st = ctx.sim.state();
    if let Some((limit, window_ms)) = st.rate_limit {
        let now = now_ms();
        while st.recent_creates.front().is_some_and(|t| now.saturating_sub(*t) >= window_ms) {
            st.recent_creates.pop_front();
        }
        if st.recent_creates.len() >= limit {
            st.rate_refusals += 1;
            tracing::warn!(limit, window_ms, "kie-sim: createTask over the account's rate");
            return reply::envelope(429, "Rate limited: too many requests", Value::Null);
        }
        st.recent_creates.push_back(now);
    }
    let key = Task::attempt_key(req.callback_url.as_deref(), &req.input_urls);
    *st.create_attempts.entry(key).or_insert(0) += 1;
    let mut haystacks: Vec<&str> = req.input_urls.iter().map(String::as_str).collect();
    haystacks.extend(req.callback_url.as_deref());
    haystacks.push(&req.prompt);
    let (rule_id, behaviour) = match st.rules.find_mut(&haystacks, &req.model) {
        Some(rule) => {
            if let Some(answer) = rule.on_create_call() {
                tracing::info!(rule = rule.id, code = answer.code, "kie-sim: createTask refused by rule");
                return reply::scripted(&answer);
            }
            (Some(rule.id), rule.spec.behaviour.clone())
        }
        None => (None, Default::default()),
    };
    let plan = behaviour.plan(ctx.sim.config.default_delay);
    let id = format!("task_sim_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let now = now_ms();
    let req_model = req.model.clone();
    let task = Task {
        id: id.clone(),
        model: req.model,
        prompt: req.prompt,
        callback_url: req.callback_url,
        input_urls: req.input_urls,
        param: String::from_utf8_lossy(body).into_owned(),
        state: TaskState::Waiting,
        result_json: None,
        fail_code: None,
        fail_msg: None,
        create_time: now,
        update_time: now,
        complete_time: None,
        cost_time: None,
        record_errors: behaviour.record_errors.into_iter().collect(),
        record_delay: plan.record_delay,
        rule_id,
        callbacks_sent: Vec::new(),
        input: None,
    };
    st.tasks.insert(id.clone(), task);
    st.order.push(id.clone());
    drop(st);
    tracing::info!(task = %id, model = %req_model, ?rule_id, "kie-sim: task created");
    tokio::spawn(worker::run(Arc::clone(&ctx.sim), ctx.base_url.clone(), id.clone(), plan));
    reply::envelope(200, "success", json!({"taskId": id}))
}

/// `GET /api/v1/jobs/recordInfo?taskId=`. A task's `record_delay` holds the answer (without
/// the state lock, so other requests are served meanwhile).
pub(crate) async fn record_info(ctx: &Ctx, query: &HashMap<String, String>) -> Response {
    let (id, delay) = {
        let mut st = ctx.sim.state();
        st.record_calls += 1;
        let Some(id) = query.get("taskId").filter(|id| !id.is_empty()) else {
            return reply::envelope(400, "taskId is required", Value::Null);
        };
        match st.tasks.get(id) {
            Some(task) => (id, task.record_delay),
            None => return reply::envelope(404, "task not found", Value::Null),
        }
    };
    if !delay.is_zero() {
        tracing::info!(task = %id, ?delay, "kie-sim: holding recordInfo");
        tokio::time::sleep(delay).await;
    }
    let mut st = ctx.sim.state();
    let Some(task) = st.tasks.get_mut(id) else {
        return reply::envelope(404, "task not found", Value::Null);
    };
    if let Some(answer) = task.record_errors.pop_front() {
        return reply::scripted(&answer);
    }
    reply::envelope(200, "success", task.record_data())
}

/// `GET /api/v1/chat/credit`.
pub(crate) fn credit() -> Response {
    reply::envelope(200, "success", json!(100))
}

/// `GET /files/...`: result images and uploaded files, no auth (like KIE's temp file host).
pub(crate) fn file(ctx: &Ctx, path: &str) -> Response {
    match ctx.sim.state().files.get(path) {
        Some(f) => reply::bytes(&f.content_type, f.bytes.clone()),
        None => reply::not_found(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_field_is_either_name_and_must_hold_urls() {
        let ok = json!({"model": "nano-banana-pro", "callBackUrl": "http://cb/x",
                        "input": {"prompt": "p", "image_input": ["http://img/a.png"]}});
        let req = validate(&ok).expect("valid");
        assert_eq!(req.input_urls, ["http://img/a.png"]);
        assert_eq!(req.callback_url.as_deref(), Some("http://cb/x"));
        let other_field = json!({"model": "google/nano-banana-edit", "input": {"prompt": "p", "image_urls": ["https://a/b"]}});
        assert!(validate(&other_field).is_ok());
        for bad in [
            json!({"model": "google/nano-banana-edit", "input": {"prompt": "p", "image_urls": []}}),
            json!({"model": "google/nano-banana-edit", "input": {"prompt": "p", "image_urls": [3]}}),
            json!({"model": "google/nano-banana-edit", "input": {"prompt": "p", "image_urls": ["file:///etc/passwd"]}}),
            json!({"model": "google/nano-banana-edit", "input": {"prompt": "p"}}),
            json!({"model": "google/nano-banana-edit", "input": {"image_urls": ["http://a/b"]}}),
            json!({"model": "dall-e", "input": {"prompt": "p", "image_urls": ["http://a/b"]}}),
            json!({"input": {"prompt": "p", "image_urls": ["http://a/b"]}}),
            json!({"model": "seedream/4.5-edit", "callBackUrl": 5, "input": {"prompt": "p", "image_urls": ["http://a/b"]}}),
        ] {
            assert!(validate(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn input_size_limit_follows_the_model() {
        assert_eq!(max_input_bytes("nano-banana-pro"), 30_000_000);
        assert_eq!(max_input_bytes("google/nano-banana-edit"), 10_000_000);
    }
}
