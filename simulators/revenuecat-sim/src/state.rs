//! The simulator's shared state: customers, purchases, deletions, deliveries, REST requests and
//! queued REST failures, and parsing of the failure specs of `POST /_sim/failures`.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

use crate::SimError;
use crate::model::{Delivery, Purchase};

/// Most failures one `POST /_sim/failures` may queue.
const MAX_QUEUED: u64 = 10_000;

/// One queued answer for the next REST call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Failure {
    /// The HTTP status to answer instead of the real answer; `None` answers normally.
    pub status: Option<u16>,
    /// `Retry-After` seconds (429 answers get 1 when not given).
    pub retry_after: Option<u64>,
    /// How long to wait before answering.
    pub stall_ms: u64,
    /// Only a REST call on this customer takes it; `None`: whichever REST call comes next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_user_id: Option<String>,
}

/// One REST call received, as `GET /_sim/requests` lists it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RestRequest {
    pub method: String,
    pub path: String,
    /// The decoded `{app_user_id}` of the path, when the path has one.
    pub app_user_id: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    pub at_ms: u64,
}

/// Everything the simulator remembers; `POST /_sim/reset` empties it.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Customers that exist, with when they were first seen (Unix ms).
    pub customers: BTreeMap<String, u64>,
    /// Every purchase recorded, in order.
    pub purchases: Vec<Purchase>,
    /// app_user_ids deleted through `DELETE /v1/subscribers/{app_user_id}`, in order.
    pub deleted: Vec<String>,
    /// Every webhook delivery made, in order.
    pub deliveries: Vec<Delivery>,
    /// Every REST call received, in order.
    pub requests: Vec<RestRequest>,
    /// Answers for the next REST calls, first first.
    pub failures: VecDeque<Failure>,
    /// A delay applied to every REST call until cleared.
    pub stall_ms: u64,
    /// Bumped by reset, so that deliveries still in flight do not record into the new state.
    pub generation: u64,
}

impl State {
    /// Empties everything (the generation moves on).
    pub fn reset(&mut self) {
        let generation = self.generation + 1;
        *self = State { generation, ..State::default() };
    }

    /// The purchase with this store transaction id, if recorded.
    pub fn purchase_mut(&mut self, transaction_id: &str) -> Option<&mut Purchase> {
        self.purchases.iter_mut().find(|p| p.transaction_id == transaction_id)
    }

    /// The purchase with this store transaction id, if recorded.
    pub fn purchase(&self, transaction_id: &str) -> Option<&Purchase> {
        self.purchases.iter().find(|p| p.transaction_id == transaction_id)
    }

    /// Makes sure a customer exists, first seen at `at_ms` at the latest.
    pub fn touch_customer(&mut self, app_user_id: &str, at_ms: u64) {
        let first_seen = self.customers.entry(app_user_id.to_string()).or_insert(at_ms);
        *first_seen = (*first_seen).min(at_ms);
    }

    /// Takes the first queued failure meant for a REST call on `app_user_id` (one that names
    /// this customer or none), if any, and the standing stall.
    pub fn next_failure(&mut self, app_user_id: Option<&str>) -> (Option<Failure>, u64) {
        let position = self.failures.iter().position(|f| f.app_user_id.is_none() || f.app_user_id.as_deref() == app_user_id);
        (position.and_then(|i| self.failures.remove(i)), self.stall_ms)
    }

    /// The control API's view of the queued failures.
    pub fn failures_view(&self) -> Value {
        serde_json::json!({"rest": self.failures, "stall_ms": self.stall_ms})
    }
}

/// Parses `{"rest": [{"status"?, "retry_after"?, "stall_ms"?, "times"?, "app_user_id"?}, …],
/// "stall_ms"?}`
/// into the failures to queue and the new standing stall (`None` leaves it unchanged).
pub(crate) fn parse_failures(spec: &Value) -> Result<(Vec<Failure>, Option<u64>), SimError> {
    let obj = spec.as_object().ok_or_else(|| SimError::BadRequest("the body must be a JSON object".into()))?;
    let stall = match obj.get("stall_ms") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| SimError::BadRequest("stall_ms must be a whole number".into()))?),
    };
    let entries = match obj.get("rest") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(SimError::BadRequest("rest must be a list".into())),
    };
    let mut out = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let bad = |what: &str| SimError::BadRequest(format!("rest[{i}]: {what}"));
        let entry = entry.as_object().ok_or_else(|| bad("must be an object"))?;
        let number = |key: &str| -> Result<Option<u64>, SimError> {
            match entry.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or_else(|| bad(&format!("{key} must be a whole number"))),
            }
        };
        let status = match number("status")? {
            None => None,
            Some(s @ 400..=599) => Some(u16::try_from(s).unwrap_or(500)),
            Some(_) => return Err(bad("status must be between 400 and 599")),
        };
        let stall_ms = number("stall_ms")?.unwrap_or(0);
        if status.is_none() && stall_ms == 0 {
            return Err(bad("needs a status or a stall_ms"));
        }
        let times = number("times")?.unwrap_or(1);
        if times == 0 || times + out.len() as u64 > MAX_QUEUED {
            return Err(bad(&format!("times must be 1 to {MAX_QUEUED} in all")));
        }
        let app_user_id = match entry.get("app_user_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(_) => return Err(bad("app_user_id must be a non-empty string")),
        };
        let failure = Failure { status, retry_after: number("retry_after")?, stall_ms, app_user_id };
        out.extend(std::iter::repeat_n(failure, times as usize));
    }
    Ok((out, stall))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failure_specs_parse_and_expand() {
        let (queued, stall) = parse_failures(&json!({"rest": [
            {"status": 429, "retry_after": 2}, {"status": 503, "times": 2}, {"stall_ms": 50}]}))
        .expect("valid");
        assert_eq!(stall, None);
        assert_eq!(queued.len(), 4);
        assert_eq!((queued[0].status, queued[0].retry_after), (Some(429), Some(2)));
        assert_eq!(queued[2].status, Some(503));
        assert_eq!((queued[3].status, queued[3].stall_ms), (None, 50));
        assert_eq!(parse_failures(&json!({"stall_ms": 7})).expect("valid"), (vec![], Some(7)));
        for bad in [
            json!([]),
            json!({"rest": {}}),
            json!({"rest": [{"status": 200}]}),
            json!({"rest": [{}]}),
            json!({"rest": [{"status": "429"}]}),
            json!({"rest": [{"status": 500, "times": 0}]}),
            json!({"stall_ms": -1}),
            json!({"rest": [{"status": 500, "app_user_id": 7}]}),
            json!({"rest": [{"status": 500, "app_user_id": ""}]}),
        ] {
            assert!(parse_failures(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_failure_that_names_a_customer_waits_for_a_call_on_that_customer() {
        let (queued, _) = parse_failures(&json!({"rest": [
            {"status": 404, "app_user_id": "alice"}, {"status": 503}]}))
        .expect("valid");
        let mut state = State { failures: queued.into(), ..State::default() };
        let (taken, _) = state.next_failure(Some("bob"));
        assert_eq!(taken.map(|f| f.status), Some(Some(503)), "bob skips alice's failure and takes the open one");
        assert_eq!(state.next_failure(None).0, None, "a call on no customer cannot take alice's");
        assert_eq!(state.next_failure(Some("bob")).0, None);
        let (taken, _) = state.next_failure(Some("alice"));
        assert_eq!(taken.map(|f| f.status), Some(Some(404)));
        assert!(state.failures.is_empty());
    }
}
