//! Fault rules: what a rule looks like, which requests it matches, the validation the control
//! API answers 400 with, and the per-rule counters.
//!
//! The oldest unspent rule that matches a request applies, and only that one: rules added one
//! after the other script a sequence ("throttle once, then fail once"). A rule is spent once it
//! has fired `times` times.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::classify::{RequestInfo, Service};
use crate::kinds::{CONFLICT_OPERATIONS, FaultKind};

/// The service a rule targets: one of the proxied services, or the local stack's SQS trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleService {
    /// DynamoDB.
    Dynamodb,
    /// S3.
    S3,
    /// SQS API calls.
    Sqs,
    /// Secrets Manager.
    Secretsmanager,
    /// The SQS trigger (`duplicate_delivery`, `lose_batch`), asked through `Faults::trigger`.
    SqsTrigger,
}

impl RuleService {
    /// The proxied service, `None` for the trigger.
    fn service(self) -> Option<Service> {
        match self {
            RuleService::Dynamodb => Some(Service::DynamoDb),
            RuleService::S3 => Some(Service::S3),
            RuleService::Sqs => Some(Service::Sqs),
            RuleService::Secretsmanager => Some(Service::SecretsManager),
            RuleService::SqsTrigger => None,
        }
    }
}

/// One fault rule, as posted to `POST /_faults/rules` or listed in `AWS_FAULT_RULES`. Every
/// field but `fault` is optional; an absent one matches everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The service the rule targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<RuleService>,
    /// The operation, exactly as classified (`TransactWriteItems`, `PutObject`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// A DynamoDB table the request names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Case-sensitive substrings of the raw body (JSON services, trigger message bodies) or of
    /// the path and query (S3), every one of which must appear: `"match": "USER#u1"` or
    /// `"match": ["JOB#j1", ":succeeded"]`.
    #[serde(rename = "match", default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub pattern: Vec<String>,
    /// Matches only presigned-URL requests (`true`) or only SDK calls (`false`, the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presigned: Option<bool>,
    /// Matching requests let through untouched before the rule fires.
    #[serde(default)]
    pub skip: u64,
    /// How many times the rule fires before it is spent (absent: forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// The fault injected.
    pub fault: FaultKind,
    /// `latency`: how long the request is held, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// `server_error`: 500 (default) or 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `conflict` on `TransactWriteItems`: the index of the item that conflicts (default: one
    /// at random).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
}

impl RuleSpec {
    /// A rule firing `fault` on every request; the other fields are set with struct update.
    pub fn new(fault: FaultKind) -> Self {
        RuleSpec {
            service: None,
            operation: None,
            table: None,
            pattern: Vec::new(),
            presigned: None,
            skip: 0,
            times: None,
            fault,
            ms: None,
            status: None,
            item: None,
        }
    }

    /// Rejects a rule that could never fire as written, with a message naming the problem.
    pub fn validate(&self) -> Result<(), String> {
        let fault = self.fault.as_str();
        let trigger = self.service == Some(RuleService::SqsTrigger);
        if self.fault.is_trigger() && self.service.is_some() && !trigger {
            return Err(format!("fault {fault} only applies to service sqs_trigger"));
        }
        if trigger && !self.fault.is_trigger() {
            return Err(format!("fault {fault} does not apply to sqs_trigger: only duplicate_delivery and lose_batch do"));
        }
        if self.times == Some(0) {
            return Err("times must be at least 1 (leave it out for a rule that never runs out)".into());
        }
        if let Some(service) = self.service.and_then(RuleService::service) {
            let operation = self.operation.as_deref();
            let eligible = match (self.fault, operation) {
                (FaultKind::Conflict, None) => service == Service::DynamoDb,
                (kind, Some(op)) => kind.applies_to(service, op),
                (kind, None) => kind.applies_to(service, ""),
            };
            if !eligible {
                let what = operation.map_or(String::new(), |op| format!(" {op}"));
                return Err(format!("fault {fault} does not apply to {}{what}", service.as_str()));
            }
            if self.table.is_some() && service != Service::DynamoDb {
                return Err("table only applies to dynamodb".into());
            }
            if self.presigned == Some(true) && service != Service::S3 {
                return Err("presigned requests are S3 requests only".into());
            }
        }
        if let (FaultKind::Conflict, Some(op)) = (self.fault, self.operation.as_deref())
            && !CONFLICT_OPERATIONS.contains(&op)
        {
            return Err(format!("fault conflict does not apply to {op}: only to {}", CONFLICT_OPERATIONS.join(", ")));
        }
        if trigger && (self.operation.is_some() || self.table.is_some() || self.presigned.is_some()) {
            return Err("sqs_trigger rules take match, skip and times only".into());
        }
        match (self.fault, self.ms) {
            (FaultKind::Latency, None) => return Err("fault latency needs ms".into()),
            (FaultKind::Latency, Some(_)) | (_, None) => {}
            (_, Some(_)) => return Err(format!("ms only applies to latency, not {fault}")),
        }
        match (self.fault, self.status) {
            (FaultKind::ServerError, Some(500 | 503)) | (_, None) => {}
            (FaultKind::ServerError, Some(other)) => {
                return Err(format!("status must be 500 or 503, got {other}"));
            }
            (_, Some(_)) => {
                return Err(format!("status only applies to server_error, not {fault}"));
            }
        }
        if self.item.is_some() && (self.fault != FaultKind::Conflict || self.operation.as_deref().is_some_and(|op| op != "TransactWriteItems")) {
            return Err("item only applies to conflict on TransactWriteItems".into());
        }
        Ok(())
    }

    /// Whether this rule matches a proxied request; `haystack` is what `match` searches.
    fn matches_request(&self, info: &RequestInfo, haystack: &[u8]) -> bool {
        if self.fault.is_trigger() || !self.fault.applies_to(info.service, &info.operation) {
            return false;
        }
        self.service.is_none_or(|s| s.service() == Some(info.service))
            && self.operation.as_ref().is_none_or(|op| *op == info.operation)
            && self.table.as_ref().is_none_or(|t| info.tables.contains(t))
            && self.presigned.unwrap_or(false) == info.presigned
            && self.pattern.iter().all(|p| contains(haystack, p.as_bytes()))
    }
}

/// `match` as one string or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// Whether `needle` is a substring of `haystack` (an empty needle always is).
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A stored rule with its counters.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: u64,
    pub spec: RuleSpec,
    /// Requests (or trigger messages/batches) it matched, skipped ones included.
    pub matched: u64,
    /// Faults it injected.
    pub fired: u64,
}

/// What the rule that took a request decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// The rule is in its `skip` phase: forward untouched, no rate applies.
    Skip,
    /// Inject the rule's fault.
    Fire(RuleSpec, u64),
}

impl Rule {
    fn spent(&self) -> bool {
        self.spec.times.is_some_and(|t| self.fired >= t)
    }

    /// Counts one match and says whether it fires.
    fn take(&mut self) -> Verdict {
        self.matched += 1;
        if self.matched <= self.spec.skip {
            Verdict::Skip
        } else {
            self.fired += 1;
            Verdict::Fire(self.spec.clone(), self.id)
        }
    }

    /// The rule as the control API shows it: its fields, `id`, `matched`, `fired`, `spent`.
    pub fn view(&self) -> Value {
        let mut view = serde_json::to_value(&self.spec).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut view {
            map.insert("id".into(), json!(self.id));
            map.insert("matched".into(), json!(self.matched));
            map.insert("fired".into(), json!(self.fired));
            map.insert("spent".into(), json!(self.spent()));
        }
        view
    }
}

/// All rules, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    next_id: u64,
    list: Vec<Rule>,
}

impl Rules {
    /// Stores validated rules and returns their ids (1, 2, …, never reused).
    pub fn add(&mut self, specs: Vec<RuleSpec>) -> Vec<u64> {
        specs
            .into_iter()
            .map(|spec| {
                self.next_id += 1;
                self.list.push(Rule { id: self.next_id, spec, matched: 0, fired: 0 });
                self.next_id
            })
            .collect()
    }

    /// Removes rule `id`; whether it existed.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.list.len();
        self.list.retain(|r| r.id != id);
        self.list.len() != before
    }

    /// Removes every rule and returns how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.list).len()
    }

    /// The rules, oldest first (the order they are tried in).
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.list.iter()
    }

    /// The verdict of the oldest unspent rule matching a proxied request, if any.
    pub fn take_request(&mut self, info: &RequestInfo, haystack: &[u8]) -> Option<Verdict> {
        self.list.iter_mut().find(|r| !r.spent() && r.spec.matches_request(info, haystack)).map(Rule::take)
    }

    /// The verdict of the oldest unspent trigger rule of `kind` whose `match` is in `body`.
    pub fn take_trigger(&mut self, kind: FaultKind, bodies: &[&str]) -> Option<Verdict> {
        self.list
            .iter_mut()
            .find(|r| !r.spent() && r.spec.fault == kind && bodies.iter().any(|b| r.spec.pattern.iter().all(|p| b.contains(p.as_str()))))
            .map(Rule::take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(body: Value) -> Result<RuleSpec, String> {
        let spec: RuleSpec = serde_json::from_value(body).map_err(|e| e.to_string())?;
        spec.validate().map(|_| spec)
    }

    fn info(service: Service, operation: &str) -> RequestInfo {
        RequestInfo { service, operation: operation.into(), tables: vec!["t".into()], transact_items: 0, presigned: false }
    }

    #[test]
    fn validation_refuses_what_cannot_fire() {
        let refused = [
            json!({"fault": "explode"}),
            json!({"fault": "conflict", "service": "s3"}),
            json!({"fault": "conflict", "operation": "GetObject"}),
            json!({"fault": "conflict", "service": "dynamodb", "operation": "GetItem"}),
            json!({"fault": "slow_down", "service": "dynamodb"}),
            json!({"fault": "latency"}),
            json!({"fault": "throttle", "ms": 5}),
            json!({"fault": "server_error", "status": 502}),
            json!({"fault": "reset", "status": 503}),
            json!({"fault": "conflict", "operation": "PutItem", "item": 1}),
            json!({"fault": "lose_batch", "service": "sqs"}),
            json!({"fault": "reset", "service": "sqs_trigger"}),
            json!({"fault": "throttle", "times": 0}),
            json!({"fault": "throttle", "service": "s3", "table": "t"}),
            json!({"fault": "throttle", "bogus": 1}),
        ];
        for body in refused {
            assert!(spec(body.clone()).is_err(), "{body}");
        }
        let accepted = [
            json!({"fault": "conflict"}),
            json!({"fault": "conflict", "operation": "TransactWriteItems", "item": 2}),
            json!({"fault": "server_error", "service": "s3", "status": 503}),
            json!({"fault": "latency", "ms": 10, "service": "sqs"}),
            json!({"fault": "lose_batch"}),
            json!({"fault": "duplicate_delivery", "service": "sqs_trigger", "match": "job"}),
            json!({"fault": "throttle", "service": "s3", "presigned": true}),
        ];
        for body in accepted {
            assert!(spec(body.clone()).is_ok(), "{body}");
        }
    }

    #[test]
    fn eligibility_is_part_of_matching() {
        let conflict = spec(json!({"fault": "conflict"})).expect("rule");
        assert!(conflict.matches_request(&info(Service::DynamoDb, "PutItem"), b""));
        assert!(!conflict.matches_request(&info(Service::DynamoDb, "GetItem"), b""));
        assert!(!conflict.matches_request(&info(Service::S3, "PutObject"), b""));
        let slow = spec(json!({"fault": "slow_down", "match": "/b/u1"})).expect("rule");
        assert!(slow.matches_request(&info(Service::S3, "GetObject"), b"/b/u1/x"));
        assert!(!slow.matches_request(&info(Service::S3, "GetObject"), b"/b/u2/x"));
        let mut presigned = info(Service::S3, "PutObject");
        presigned.presigned = true;
        assert!(!slow.matches_request(&presigned, b"/b/u1"));
        let for_presigned = spec(json!({"fault": "reset", "presigned": true})).expect("rule");
        assert!(for_presigned.matches_request(&presigned, b""));
        let table = spec(json!({"fault": "throttle", "table": "other"})).expect("rule");
        assert!(!table.matches_request(&info(Service::DynamoDb, "GetItem"), b""));
    }

    #[test]
    fn oldest_unspent_rule_applies_after_its_skips() {
        let mut rules = Rules::default();
        let ids = rules.add(vec![RuleSpec { skip: 1, times: Some(1), ..RuleSpec::new(FaultKind::Throttle) }, RuleSpec::new(FaultKind::ServerError)]);
        let req = info(Service::Sqs, "SendMessage");
        let fired = |v: Option<Verdict>| match v {
            Some(Verdict::Fire(spec, id)) => Some((spec.fault, id)),
            _ => None,
        };
        assert_eq!(rules.take_request(&req, b""), Some(Verdict::Skip));
        assert_eq!(fired(rules.take_request(&req, b"")), Some((FaultKind::Throttle, ids[0])));
        assert_eq!(fired(rules.take_request(&req, b"")), Some((FaultKind::ServerError, ids[1])));
        assert!(rules.remove(ids[1]));
        assert_eq!(rules.take_request(&req, b""), None);
        let view = rules.iter().next().expect("rule").view();
        assert_eq!((view["matched"].as_u64(), view["fired"].as_u64()), (Some(2), Some(1)));
        assert_eq!(view["spent"], json!(true));
        assert_eq!(rules.clear(), 1);
    }
}
