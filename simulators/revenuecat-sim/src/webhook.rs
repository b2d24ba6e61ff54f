//! Delivering webhook payloads: a JSON POST to the webhook URL with the configured (or an
//! overriding) `Authorization` header, repeated and delayed as asked, each attempt recorded.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::model::{Delivery, now_ms};
use crate::{SimError, Simulator};

/// RevenueCat disconnects after 60 seconds.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Most deliveries of one payload per call.
const MAX_TIMES: u64 = 100;
/// Longest delay before each delivery.
const MAX_DELAY_MS: u64 = 600_000;
/// How much of the receiver's answer is kept.
const MAX_BODY_CHARS: usize = 4096;

/// What goes in the `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Authorization {
    /// The configured `webhook_authorization` (no header when it is empty).
    Configured,
    /// No header at all (`"authorization": null`).
    Omitted,
    /// This value (`"authorization": "…"`).
    Value(String),
}

/// How to deliver: the options shared by `/_sim/purchases`, `/_sim/events` and `/_sim/deliver`.
#[derive(Debug, Clone)]
pub(crate) struct DeliveryOptions {
    pub times: u64,
    pub delay_ms: u64,
    pub authorization: Authorization,
    /// Overrides the configured webhook URL.
    pub url: Option<String>,
    /// Deliver in a background task and answer at once.
    pub background: bool,
}

/// Removes the delivery option keys from `obj` and returns them.
pub(crate) fn take_delivery_options(obj: &mut Map<String, Value>) -> Result<DeliveryOptions, SimError> {
    let bad = |msg: &str| SimError::BadRequest(msg.to_string());
    let number = |obj: &mut Map<String, Value>, key: &str, default: u64, max: u64| match obj.remove(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().filter(|n| *n <= max).ok_or_else(|| SimError::BadRequest(format!("{key} must be a whole number up to {max}"))),
    };
    let times = number(obj, "times", 1, MAX_TIMES)?;
    if times == 0 {
        return Err(bad("times must be at least 1"));
    }
    let delay_ms = number(obj, "delay_ms", 0, MAX_DELAY_MS)?;
    let authorization = match obj.remove("authorization") {
        None => Authorization::Configured,
        Some(Value::Null) => Authorization::Omitted,
        Some(Value::String(s)) => Authorization::Value(s),
        Some(_) => return Err(bad("authorization must be a string or null")),
    };
    let url = match obj.remove("url") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.starts_with("http://") || s.starts_with("https://") => Some(s),
        Some(_) => return Err(bad("url must be an http:// or https:// URL")),
    };
    let background = match obj.remove("background") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(bad("background must be true or false")),
    };
    Ok(DeliveryOptions { times, delay_ms, authorization, url, background })
}

/// A body to post: a JSON payload, or raw text (to test answers to non-JSON bodies).
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(Value),
    Raw(String),
}

impl Body {
    /// `event.id` and `event.type` of a JSON payload (empty strings otherwise).
    fn id_and_type(&self) -> (String, String) {
        let field = |key: &str| match self {
            Body::Json(v) => v["event"][key].as_str().unwrap_or_default().to_string(),
            Body::Raw(_) => String::new(),
        };
        (field("id"), field("type"))
    }
}

/// The URL deliveries go to, or an error when neither the options nor the configuration has one.
pub(crate) fn target_url(sim: &Simulator, opts: &DeliveryOptions) -> Result<String, SimError> {
    opts.url
        .clone()
        .or_else(|| sim.config.webhook_url.clone())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| SimError::BadRequest("no webhook URL: configure webhook_url or pass \"url\" with the call".into()))
}

/// Delivers `body` as `opts` says and returns `[{"status", "body"}, …]`, one per attempt (an
/// empty list when delivering in the background; `GET /_sim/deliveries` shows those).
pub(crate) async fn deliver(sim: &Arc<Simulator>, body: Body, opts: DeliveryOptions) -> Result<Vec<Value>, SimError> {
    let url = target_url(sim, &opts)?;
    let generation = sim.state().generation;
    if opts.background {
        let sim = Arc::clone(sim);
        tokio::spawn(async move {
            run(&sim, &url, &body, &opts, generation).await;
        });
        return Ok(Vec::new());
    }
    Ok(run(sim, &url, &body, &opts, generation).await)
}

/// Posts `body` `opts.times` times, one after the other, recording each attempt.
async fn run(sim: &Simulator, url: &str, body: &Body, opts: &DeliveryOptions, generation: u64) -> Vec<Value> {
    let authorization = match &opts.authorization {
        Authorization::Configured => Some(sim.config.webhook_authorization.clone()).filter(|a| !a.is_empty()),
        Authorization::Omitted => None,
        Authorization::Value(v) => Some(v.clone()),
    };
    let (event_id, event_type) = body.id_and_type();
    let mut answers = Vec::new();
    for _ in 0..opts.times {
        if opts.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(opts.delay_ms)).await;
        }
        let (status, text) = post(&sim.client, url, authorization.as_deref(), body).await;
        tracing::info!(%event_id, %event_type, status, "revenuecat-sim: webhook delivered");
        answers.push(json!({"status": status, "body": text}));
        let mut state = sim.state();
        if state.generation == generation {
            state.deliveries.push(Delivery {
                event_id: event_id.clone(),
                event_type: event_type.clone(),
                status,
                body: text,
                url: url.to_string(),
                authorization: authorization.clone(),
                at_ms: now_ms(),
            });
        }
    }
    answers
}

/// One POST: (status, answer text), or (0, the error) when no answer came.
async fn post(client: &reqwest::Client, url: &str, authorization: Option<&str>, body: &Body) -> (u16, String) {
    let text = match body {
        Body::Json(v) => v.to_string(),
        Body::Raw(s) => s.clone(),
    };
    let mut request = client.post(url).timeout(DELIVERY_TIMEOUT).header(http::header::CONTENT_TYPE, "application/json").body(text);
    if let Some(value) = authorization {
        request = request.header(http::header::AUTHORIZATION, value);
    }
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (status, text.chars().take(MAX_BODY_CHARS).collect())
        }
        Err(e) => {
            tracing::warn!(error = %e, %url, "revenuecat-sim: webhook delivery failed");
            (0, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(v: Value) -> Result<DeliveryOptions, SimError> {
        let Value::Object(mut obj) = v else { unreachable!() };
        take_delivery_options(&mut obj)
    }

    #[test]
    fn delivery_options_parse() {
        let o = options(json!({"times": 3, "delay_ms": 5, "authorization": "x"})).expect("ok");
        assert_eq!((o.times, o.delay_ms, o.authorization), (3, 5, Authorization::Value("x".into())));
        let o = options(json!({"authorization": null})).expect("ok");
        assert_eq!((o.times, o.authorization), (1, Authorization::Omitted));
        assert_eq!(options(json!({})).expect("ok").authorization, Authorization::Configured);
        for bad in [
            json!({"times": 0}),
            json!({"times": 101}),
            json!({"times": "3"}),
            json!({"delay_ms": -1}),
            json!({"authorization": 5}),
            json!({"url": "ftp://x"}),
            json!({"background": "yes"}),
        ] {
            assert!(options(bad.clone()).is_err(), "{bad}");
        }
    }
}
