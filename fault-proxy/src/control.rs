//! The control API, under `/_faults` on the proxy's own listener (no AWS request uses that
//! path: S3 bucket names cannot contain `_`). No auth: it listens on loopback for tests.
//! Errors answer 400 or 404 with `{"error": "..."}`.
//!
//! - `GET /_faults`: rates, rules (with their counters) and stats.
//! - `GET|PUT /_faults/rates`: the rates; `PUT` replaces all of them (absent kinds become 0).
//! - `GET|POST|DELETE /_faults/rules`: list, add (one rule or an array; answers the ids),
//!   remove all. `DELETE /_faults/rules/{id}` removes one.
//! - `GET /_faults/stats`: the counters.
//! - `POST /_faults/reset`: no rules, no counters, the start rates.

use http::{Method, StatusCode, header};
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::Faults;
use crate::config::{Rates, parse_rules};
use crate::wire::Response;

fn answer(status: StatusCode, body: &Value) -> Response {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    resp
}

fn ok(body: Value) -> Response {
    answer(StatusCode::OK, &body)
}

fn error(status: StatusCode, msg: &str) -> Response {
    answer(status, &json!({"error": msg}))
}

/// Routes a `/_faults...` request.
pub(crate) fn handle(faults: &Faults, method: &Method, path: &str, body: &Bytes) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["_faults"]) => ok(faults.view()),
        (&Method::GET, ["_faults", "rates"]) => ok(json!(faults.rates())),
        (&Method::PUT, ["_faults", "rates"]) => {
            let rates = match serde_json::from_slice::<Rates>(body) {
                Ok(rates) => rates,
                Err(e) => return error(StatusCode::BAD_REQUEST, &format!("Invalid rates: {e}")),
            };
            match faults.set_rates(rates) {
                Ok(()) => ok(json!(faults.rates())),
                Err(msg) => error(StatusCode::BAD_REQUEST, &msg),
            }
        }
        (&Method::GET, ["_faults", "rules"]) => ok(faults.rules()),
        (&Method::POST, ["_faults", "rules"]) => {
            let json = match serde_json::from_slice::<Value>(body) {
                Ok(json) => json,
                Err(e) => {
                    return error(StatusCode::BAD_REQUEST, &format!("Invalid rule: not JSON: {e}"));
                }
            };
            let single = json.is_object();
            let ids = match parse_rules(json).and_then(|specs| faults.add_rules(specs)) {
                Ok(ids) => ids,
                Err(msg) => return error(StatusCode::BAD_REQUEST, &msg),
            };
            match (single, ids.as_slice()) {
                (true, [id]) => ok(json!({"id": id, "ids": ids})),
                _ => ok(json!({"ids": ids})),
            }
        }
        (&Method::DELETE, ["_faults", "rules"]) => ok(json!({"cleared": faults.clear_rules()})),
        (&Method::DELETE, ["_faults", "rules", id]) => match id.parse::<u64>() {
            Ok(id) if faults.remove_rule(id) => ok(json!({"deleted": id})),
            _ => error(StatusCode::NOT_FOUND, &format!("No rule {id}")),
        },
        (&Method::GET, ["_faults", "stats"]) => ok(faults.stats()),
        (&Method::POST, ["_faults", "reset"]) => {
            faults.reset();
            ok(json!({"reset": true}))
        }
        _ => error(StatusCode::NOT_FOUND, &format!("No control route for {method} {path}")),
    }
}
