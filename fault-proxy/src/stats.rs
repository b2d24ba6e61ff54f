//! Counters: per service and operation, the requests seen, forwarded, and the faults injected
//! (by rule or by rate); and the SQS trigger's batches, messages and faults.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::classify::Service;
use crate::kinds::FaultKind;

/// Who decided a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// The rule with this id.
    Rule(u64),
    /// A rate's draw.
    Rate,
}

impl std::fmt::Display for By {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            By::Rule(id) => write!(f, "rule {id}"),
            By::Rate => f.write_str("rate"),
        }
    }
}

/// Faults of one kind, by origin.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Count {
    rule: u64,
    rate: u64,
}

impl Count {
    fn add(&mut self, by: By) {
        match by {
            By::Rule(_) => self.rule += 1,
            By::Rate => self.rate += 1,
        }
    }
}

#[derive(Debug, Default)]
struct OpStats {
    requests: u64,
    forwarded: u64,
    upstream_errors: u64,
    injected: BTreeMap<FaultKind, Count>,
}

/// All counters since start (or the last reset).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    ops: BTreeMap<(Service, String), OpStats>,
    batches: u64,
    messages: u64,
    trigger: BTreeMap<FaultKind, Count>,
}

impl Stats {
    fn op(&mut self, service: Service, operation: &str) -> &mut OpStats {
        self.ops.entry((service, operation.to_string())).or_default()
    }

    /// Counts a request as it arrives.
    pub fn request(&mut self, service: Service, operation: &str) {
        self.op(service, operation).requests += 1;
    }

    /// Counts a request the emulator answered.
    pub fn forwarded(&mut self, service: Service, operation: &str) {
        self.op(service, operation).forwarded += 1;
    }

    /// Counts a request the emulator could not be reached for.
    pub fn upstream_error(&mut self, service: Service, operation: &str) {
        self.op(service, operation).upstream_errors += 1;
    }

    /// Counts an injected fault.
    pub fn injected(&mut self, service: Service, operation: &str, kind: FaultKind, by: By) {
        self.op(service, operation).injected.entry(kind).or_default().add(by);
    }

    /// Counts a batch handed to the SQS trigger.
    pub fn batch(&mut self, messages: usize) {
        self.batches += 1;
        self.messages += messages as u64;
    }

    /// Counts a trigger fault.
    pub fn trigger_fault(&mut self, kind: FaultKind, by: By) {
        self.trigger.entry(kind).or_default().add(by);
    }

    /// The counters as `GET /_faults/stats` shows them.
    pub fn view(&self) -> Value {
        let mut services: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
        let (mut requests, mut forwarded, mut injected) = (0, 0, 0);
        for ((service, operation), op) in &self.ops {
            requests += op.requests;
            forwarded += op.forwarded;
            injected += op.injected.values().map(|c| c.rule + c.rate).sum::<u64>();
            services.entry(service.as_str()).or_default().insert(
                operation.clone(),
                json!({
                    "requests": op.requests,
                    "forwarded": op.forwarded,
                    "upstream_errors": op.upstream_errors,
                    "injected": kinds(&op.injected),
                }),
            );
        }
        json!({
            "requests": requests,
            "forwarded": forwarded,
            "injected": injected,
            "services": services,
            "trigger": {
                "batches": self.batches,
                "messages": self.messages,
                "injected": kinds(&self.trigger),
            },
        })
    }
}

fn kinds(map: &BTreeMap<FaultKind, Count>) -> Value {
    map.iter().map(|(kind, count)| (kind.as_str().to_string(), json!(count))).collect::<Map<String, Value>>().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_groups_by_service_and_operation() {
        let mut stats = Stats::default();
        stats.request(Service::DynamoDb, "PutItem");
        stats.injected(Service::DynamoDb, "PutItem", FaultKind::Conflict, By::Rule(1));
        stats.request(Service::DynamoDb, "PutItem");
        stats.forwarded(Service::DynamoDb, "PutItem");
        stats.batch(3);
        stats.trigger_fault(FaultKind::LoseBatch, By::Rate);
        let view = stats.view();
        let put = &view["services"]["dynamodb"]["PutItem"];
        assert_eq!((put["requests"].as_u64(), put["forwarded"].as_u64()), (Some(2), Some(1)));
        assert_eq!(put["injected"]["conflict"], json!({"rule": 1, "rate": 0}));
        assert_eq!((view["requests"].as_u64(), view["injected"].as_u64()), (Some(2), Some(1)));
        assert_eq!(view["trigger"]["messages"], 3);
        assert_eq!(view["trigger"]["injected"]["lose_batch"]["rate"], 1);
        assert_eq!(By::Rule(4).to_string(), "rule 4");
    }
}
