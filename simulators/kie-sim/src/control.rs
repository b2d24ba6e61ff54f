//! The control API for tests, under `/sim/`, without auth: behaviour rules, the tasks received
//! (with their downloaded input bytes) and call counters. Errors answer HTTP 400 or 404 with
//! `{"error": "..."}`.

use std::collections::HashMap;

use http::{Method, StatusCode};
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::Simulator;
use crate::reply::{self, Response};
use crate::rules::RuleSpec;
use crate::server::Ctx;

fn error(status: StatusCode, msg: &str) -> Response {
    reply::json(status, &json!({"error": msg}))
}

fn ok(body: Value) -> Response {
    reply::json(StatusCode::OK, &body)
}

/// Routes a `/sim/...` request.
pub(crate) fn handle(ctx: &Ctx, method: &Method, path: &str, query: &HashMap<String, String>, body: &Bytes) -> Response {
    let sim = &ctx.sim;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["sim", "rules"]) => {
            let spec = match serde_json::from_slice::<RuleSpec>(body) {
                Ok(spec) => spec,
                Err(e) => return error(StatusCode::BAD_REQUEST, &format!("Invalid rule: {e}")),
            };
            match sim.add_rule(spec) {
                Ok(id) => ok(json!({"id": id})),
                Err(msg) => error(StatusCode::BAD_REQUEST, &msg),
            }
        }
        (&Method::GET, ["sim", "rules"]) => ok(Value::Array(sim.state().rules.iter().map(super::rules::Rule::view).collect())),
        (&Method::DELETE, ["sim", "rules"]) => ok(json!({"cleared": sim.clear_rules()})),
        (&Method::GET, ["sim", "tasks"]) => {
            let needle = query.get("match").map(String::as_str).unwrap_or_default();
            ok(Value::Array(sim.state().summaries(needle)))
        }
        (&Method::GET, ["sim", "tasks", id]) => {
            let st = sim.state();
            match st.tasks.get(*id) {
                Some(task) => ok(st.summary(task)),
                None => error(StatusCode::NOT_FOUND, "task not found"),
            }
        }
        (&Method::GET, ["sim", "tasks", id, "input"]) => match sim.state().tasks.get(*id) {
            Some(task) => match &task.input {
                Some(bytes) => reply::bytes(reply::sniff_content_type(bytes), bytes.clone()),
                None => error(StatusCode::NOT_FOUND, "the input has not been downloaded"),
            },
            None => error(StatusCode::NOT_FOUND, "task not found"),
        },
        (&Method::GET, ["sim", "stats"]) => {
            let st = sim.state();
            ok(json!({"create_calls": st.create_calls, "record_calls": st.record_calls, "tasks": st.tasks.len(), "rate_refusals": st.rate_refusals}))
        }
        _ => error(StatusCode::NOT_FOUND, &format!("No control route for {method} {path}")),
    }
}

impl Simulator {
    /// Adds a behaviour rule, as `POST /sim/rules` does; returns its id. Newer rules are tried first.
    pub fn add_rule(&self, spec: RuleSpec) -> Result<u64, String> {
        spec.validate()?;
        Ok(self.state().rules.add(spec))
    }

    /// Removes every rule, as `DELETE /sim/rules` does; returns how many there were.
    pub fn clear_rules(&self) -> usize {
        self.state().rules.clear()
    }
}
