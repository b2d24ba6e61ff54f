//! The control API for tests, under `/_sim/`, without auth, and the [`Simulator`] methods behind
//! it: recording purchases, building and delivering events, queuing REST failures, and
//! inspecting what happened. Errors answer 400, 404 or 409 with `{"error": "..."}`.

use std::collections::HashMap;
use std::sync::Arc;

use http::{Method, StatusCode};
use hyper::body::Bytes;
use serde_json::{Map, Value, json};

use crate::events::{self, take_event_options};
use crate::model::{Delivery, Purchase, new_transaction_id};
use crate::reply::{self, Response};
use crate::state::parse_failures;
use crate::webhook::{self, Body, take_delivery_options};
use crate::{SimError, Simulator};

fn ok(body: Value) -> Response {
    reply::json(StatusCode::OK, &body)
}

fn answer(result: Result<Value, SimError>) -> Response {
    match result {
        Ok(body) => ok(body),
        Err(e) => reply::control_error(e.status(), &e.to_string()),
    }
}

/// Routes a `/_sim/...` request.
pub(crate) async fn handle(sim: &Arc<Simulator>, method: &Method, path: &str, query: &HashMap<String, String>, body: &Bytes) -> Response {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let parsed = || -> Result<Value, SimError> { serde_json::from_slice(body).map_err(|e| SimError::BadRequest(format!("Invalid JSON: {e}"))) };
    match (method, segments.as_slice()) {
        (&Method::POST, ["_sim", "purchases"]) => match parsed() {
            Ok(spec) => answer(sim.purchase(spec).await),
            Err(e) => answer(Err(e)),
        },
        (&Method::GET, ["_sim", "purchases"]) => {
            let user = query.get("app_user_id").map(String::as_str);
            ok(json!(sim.purchases(user)))
        }
        (&Method::POST, ["_sim", "events"]) => match parsed() {
            Ok(spec) => answer(sim.event(spec).await),
            Err(e) => answer(Err(e)),
        },
        (&Method::POST, ["_sim", "deliver"]) => match parsed() {
            Ok(spec) => answer(sim.deliver(spec).await),
            Err(e) => answer(Err(e)),
        },
        (&Method::GET, ["_sim", "deliveries"]) => ok(json!(sim.deliveries())),
        (&Method::POST, ["_sim", "failures"]) => answer(parsed().and_then(|s| sim.queue_failures(s))),
        (&Method::GET, ["_sim", "failures"]) => ok(sim.state().failures_view()),
        (&Method::DELETE, ["_sim", "failures"]) => ok(json!({"cleared": sim.clear_failures()})),
        (&Method::GET, ["_sim", "deleted"]) => ok(json!(sim.deleted())),
        (&Method::GET, ["_sim", "customers"]) => ok(json!(sim.customers())),
        (&Method::GET, ["_sim", "requests"]) => ok(json!(sim.state().requests)),
        (&Method::POST, ["_sim", "reset"]) => {
            sim.reset();
            ok(json!({"reset": true}))
        }
        _ => reply::control_error(StatusCode::NOT_FOUND, &format!("No control route for {method} {path}")),
    }
}

/// The object of a control body, or a 400 error.
fn object(spec: Value) -> Result<Map<String, Value>, SimError> {
    match spec {
        Value::Object(obj) => Ok(obj),
        _ => Err(SimError::BadRequest("the body must be a JSON object".into())),
    }
}

/// A required non-empty string field.
fn required_str(fields: &Map<String, Value>, key: &str) -> Result<String, SimError> {
    match fields.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(SimError::BadRequest(format!("{key} must be a non-empty string"))),
    }
}

impl Simulator {
    /// Records a one-time purchase, as `POST /_sim/purchases` does, and returns
    /// `{"transaction_id", "event": <NON_RENEWING_PURCHASE payload>, "deliveries": […]}`
    /// (delivered only with `"deliver": true`). 409 when the transaction id is already recorded.
    pub async fn purchase(self: &Arc<Self>, spec: Value) -> Result<Value, SimError> {
        let mut fields = object(spec)?;
        let delivery = take_delivery_options(&mut fields)?;
        let mut opts = take_event_options(&mut fields, false)?;
        opts.record = true;
        required_str(&fields, "app_user_id")?;
        required_str(&fields, "product_id")?;
        match fields.get("type") {
            None | Some(Value::Null) => {}
            Some(t) if t == "NON_RENEWING_PURCHASE" => {}
            Some(_) => {
                return Err(SimError::BadRequest("type must be NON_RENEWING_PURCHASE here; use /_sim/events for others".into()));
            }
        }
        fields.insert("type".into(), json!("NON_RENEWING_PURCHASE"));
        if let Some(env) = fields.get("environment")
            && !(env == "PRODUCTION" || env == "SANDBOX")
        {
            return Err(SimError::BadRequest("environment must be PRODUCTION or SANDBOX".into()));
        }
        match fields.remove("event_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) => {
                fields.insert("id".into(), json!(id));
            }
            Some(_) => return Err(SimError::BadRequest("event_id must be a string".into())),
        }
        let transaction_id = match fields.get("transaction_id") {
            None | Some(Value::Null) => new_transaction_id(),
            Some(_) => required_str(&fields, "transaction_id")?,
        };
        fields.insert("transaction_id".into(), json!(transaction_id));
        if opts.deliver {
            webhook::target_url(self, &delivery)?;
        }
        let payload = {
            let mut state = self.state();
            if state.purchase(&transaction_id).is_some() {
                return Err(SimError::Conflict(format!("transaction {transaction_id} is already recorded")));
            }
            let (payload, effect) = events::build(fields, &state, &opts)?;
            events::apply(&mut state, effect);
            payload
        };
        let deliveries = self.deliver_built(opts.deliver, &payload, delivery).await?;
        Ok(json!({"transaction_id": transaction_id, "event": payload, "deliveries": deliveries}))
    }

    /// Builds an event, applies its effect on the REST view and delivers it unless
    /// `"deliver": false`, as `POST /_sim/events` does; returns `{"event", "deliveries"}`.
    pub async fn event(self: &Arc<Self>, spec: Value) -> Result<Value, SimError> {
        let mut fields = object(spec)?;
        let delivery = take_delivery_options(&mut fields)?;
        let opts = take_event_options(&mut fields, true)?;
        if opts.deliver {
            webhook::target_url(self, &delivery)?;
        }
        let payload = {
            let mut state = self.state();
            let (payload, effect) = events::build(fields, &state, &opts)?;
            events::apply(&mut state, effect);
            payload
        };
        let deliveries = self.deliver_built(opts.deliver, &payload, delivery).await?;
        Ok(json!({"event": payload, "deliveries": deliveries}))
    }

    /// Sends a payload just built, unless the caller asked for `"deliver": false`.
    async fn deliver_built(self: &Arc<Self>, deliver: bool, payload: &Value, delivery: webhook::DeliveryOptions) -> Result<Vec<Value>, SimError> {
        if !deliver {
            return Ok(Vec::new());
        }
        webhook::deliver(self, Body::Json(payload.clone()), delivery).await
    }

    /// Delivers a given payload (`"payload"`, any JSON) or raw text (`"raw"`), as
    /// `POST /_sim/deliver` does; returns `{"deliveries": [{"status", "body"}, …]}`.
    pub async fn deliver(self: &Arc<Self>, spec: Value) -> Result<Value, SimError> {
        let mut fields = object(spec)?;
        let delivery = take_delivery_options(&mut fields)?;
        let body = match (fields.remove("payload"), fields.remove("raw")) {
            (Some(payload), None) => Body::Json(payload),
            (None, Some(Value::String(raw))) => Body::Raw(raw),
            (None, Some(_)) => return Err(SimError::BadRequest("raw must be a string".into())),
            _ => {
                return Err(SimError::BadRequest("give exactly one of payload and raw".into()));
            }
        };
        if let Some(key) = fields.keys().next() {
            return Err(SimError::BadRequest(format!("unknown field {key}")));
        }
        let deliveries = webhook::deliver(self, body, delivery).await?;
        Ok(json!({"deliveries": deliveries}))
    }

    /// Queues REST failures and sets the standing stall, as `POST /_sim/failures` does; returns
    /// `{"queued": <added>, "rest": [<all queued>], "stall_ms"}`.
    pub fn queue_failures(&self, spec: Value) -> Result<Value, SimError> {
        let (failures, stall) = parse_failures(&spec)?;
        let mut state = self.state();
        let queued = failures.len();
        state.failures.extend(failures);
        if let Some(stall) = stall {
            state.stall_ms = stall;
        }
        let mut view = state.failures_view();
        view["queued"] = json!(queued);
        Ok(view)
    }

    /// Drops every queued failure and the standing stall, as `DELETE /_sim/failures` does;
    /// returns how many failures were queued.
    pub fn clear_failures(&self) -> usize {
        let mut state = self.state();
        state.stall_ms = 0;
        std::mem::take(&mut state.failures).len()
    }

    /// The purchases recorded, in order; only those now owned by `app_user_id` when given.
    pub fn purchases(&self, app_user_id: Option<&str>) -> Vec<Purchase> {
        self.state().purchases.iter().filter(|p| app_user_id.is_none_or(|u| p.app_user_id == u)).cloned().collect()
    }

    /// Every webhook delivery made, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state().deliveries.clone()
    }

    /// The app_user_ids deleted through `DELETE /v1/subscribers/{app_user_id}`, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.state().deleted.clone()
    }

    /// The customers that exist now (made by a purchase, a transfer or a `GET` of the REST API).
    pub fn customers(&self) -> Vec<String> {
        self.state().customers.keys().cloned().collect()
    }

    /// Forgets everything: purchases, customers, deletions, deliveries, requests, failures.
    /// Deliveries still in flight are not recorded afterwards.
    pub fn reset(&self) {
        self.state().reset();
    }
}
