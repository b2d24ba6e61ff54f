//! The proxy's shared state (rates, rules, the random source, counters) and the decision taken
//! for each request and each SQS trigger batch.
//!
//! For a request: the oldest unspent matching rule decides. If it is still in its `skip` phase
//! the request goes through untouched and no rate applies (so a test's targeted call is
//! deterministic). If no rule matched, the rates are drawn (see [`crate::Rates`]), except for
//! presigned-URL requests and Secrets Manager calls, which rates never touch.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::classify::{RequestInfo, Service};
use crate::config::{FaultConfig, RATE_ORDER, Rates};
use crate::kinds::FaultKind;
use crate::rules::{Rules, Verdict};
use crate::stats::{By, Stats};

/// What the SQS trigger is to do to one batch (see [`crate::Faults::trigger`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerFaults {
    /// Indexes (into the batch) of the messages to hand to the function twice.
    pub duplicate: Vec<usize>,
    /// The function runs, but its result is lost: no message of the batch is deleted.
    pub lose_batch: bool,
}

impl TriggerFaults {
    /// Whether the batch is handled normally.
    pub fn is_none(&self) -> bool {
        self.duplicate.is_empty() && !self.lose_batch
    }
}

/// A fault decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Injection {
    pub kind: FaultKind,
    pub by: By,
    /// `latency`: the delay.
    pub ms: u64,
    /// `server_error`: the status asked for.
    pub status: Option<u16>,
    /// `conflict` on a transaction: the index of the conflicting item.
    pub conflict_item: usize,
}

/// Everything behind the proxy's lock.
#[derive(Debug)]
pub(crate) struct State {
    /// What `reset` returns to.
    start: FaultConfig,
    pub rates: Rates,
    pub rules: Rules,
    rng: StdRng,
    pub stats: Stats,
}

fn rng_for(seed: Option<u64>) -> StdRng {
    match seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

impl State {
    /// The state a proxy starts with. `config` must hold validated rules and rates.
    pub fn new(config: FaultConfig) -> Self {
        let mut rules = Rules::default();
        rules.add(config.rules.clone());
        State { rates: config.rates.clone(), rng: rng_for(config.rates.seed), start: config, rules, stats: Stats::default() }
    }

    /// Replaces every rate; a `seed` restarts the random source from it.
    pub fn set_rates(&mut self, rates: Rates) {
        if rates.seed.is_some() {
            self.rng = rng_for(rates.seed);
        }
        self.rates = rates;
    }

    /// Back to the start rates and random source, with no rules (not even those loaded at
    /// start: a reset is a clean slate for the next test) and no counters. Rule ids keep
    /// counting up, so an id held from before never names a new rule.
    pub fn reset(&mut self) {
        self.rules.clear();
        self.rates = self.start.rates.clone();
        self.rng = rng_for(self.start.rates.seed);
        self.stats = Stats::default();
    }

    /// Counts a request and decides its fault, if any. `haystack` is what a rule's `match`
    /// searches (the body, or the path and query for S3).
    pub fn decide(&mut self, info: &RequestInfo, haystack: &[u8]) -> Option<Injection> {
        self.stats.request(info.service, &info.operation);
        let (kind, by, spec) = match self.rules.take_request(info, haystack) {
            Some(Verdict::Skip) => return None,
            Some(Verdict::Fire(spec, id)) => (spec.fault, By::Rule(id), Some(spec)),
            None => (self.draw(info)?, By::Rate, None),
        };
        let items = info.transact_items.max(1);
        let conflict_item = match spec.as_ref().and_then(|s| s.item) {
            Some(item) if item < items => item,
            asked => {
                if kind == FaultKind::Conflict && info.operation == "TransactWriteItems" {
                    if let Some(item) = asked {
                        tracing::warn!(item, items, "fault-proxy: rule item out of range, picking one at random");
                    }
                    self.rng.random_range(0..items)
                } else {
                    0
                }
            }
        };
        self.stats.injected(info.service, &info.operation, kind, by);
        Some(Injection { kind, by, ms: spec.as_ref().and_then(|s| s.ms).unwrap_or(self.rates.latency_ms), status: spec.and_then(|s| s.status), conflict_item })
    }

    /// The one draw of the rates for a request no rule took.
    fn draw(&mut self, info: &RequestInfo) -> Option<FaultKind> {
        if info.presigned || info.service == Service::SecretsManager || self.rates.is_zero() {
            return None;
        }
        let u: f64 = self.rng.random();
        let mut edge = 0.0;
        for kind in RATE_ORDER {
            let p = self.rates.rate(kind);
            if p > 0.0 && kind.applies_to(info.service, &info.operation) {
                edge += p;
                if u < edge {
                    return Some(kind);
                }
            }
        }
        None
    }

    /// Decides the trigger faults of one batch; also returns each fault with who decided it.
    pub fn trigger(&mut self, bodies: &[&str]) -> (TriggerFaults, Vec<(FaultKind, By)>) {
        let mut faults = TriggerFaults::default();
        let mut decided = Vec::new();
        if bodies.is_empty() {
            return (faults, decided);
        }
        self.stats.batch(bodies.len());
        // The whole batch: a rule matching any body decides, else one draw of the rate.
        let by = match self.rules.take_trigger(FaultKind::LoseBatch, bodies) {
            Some(Verdict::Fire(_, id)) => Some(By::Rule(id)),
            Some(Verdict::Skip) => None,
            None => self.bernoulli(self.rates.lose_batch).then_some(By::Rate),
        };
        if let Some(by) = by {
            faults.lose_batch = true;
            decided.push((FaultKind::LoseBatch, by));
        }
        // Each message on its own: its own rule match, else its own draw.
        for (i, body) in bodies.iter().enumerate() {
            let by = match self.rules.take_trigger(FaultKind::DuplicateDelivery, &[body]) {
                Some(Verdict::Fire(_, id)) => Some(By::Rule(id)),
                Some(Verdict::Skip) => None,
                None => self.bernoulli(self.rates.duplicate_delivery).then_some(By::Rate),
            };
            if let Some(by) = by {
                faults.duplicate.push(i);
                decided.push((FaultKind::DuplicateDelivery, by));
            }
        }
        for (kind, by) in &decided {
            self.stats.trigger_fault(*kind, *by);
        }
        (faults, decided)
    }

    fn bernoulli(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random::<f64>() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSpec;

    fn info(service: Service, operation: &str, presigned: bool) -> RequestInfo {
        RequestInfo { service, operation: operation.into(), tables: Vec::new(), transact_items: 4, presigned }
    }

    fn state(rates: &str) -> State {
        State::new(FaultConfig { rates: Rates::parse(rates).expect("rates"), rules: Vec::new() })
    }

    fn run(state: &mut State, n: usize) -> Vec<Option<FaultKind>> {
        let req = info(Service::DynamoDb, "TransactWriteItems", false);
        (0..n).map(|_| state.decide(&req, b"").map(|i| i.kind)).collect()
    }

    #[test]
    fn seeded_rates_are_reproducible_and_zero_rates_never_fire() {
        let rates = "conflict=0.2,throttle=0.2,server_error=0.1,reset=0.1,lost_response=0.1,latency=0.1,seed=42";
        let first = run(&mut state(rates), 400);
        assert_eq!(first, run(&mut state(rates), 400));
        for kind in RATE_ORDER {
            let n = first.iter().filter(|k| **k == Some(kind)).count();
            assert!(n > 10, "{} fired {n} times out of 400", kind.as_str());
        }
        let mut other = state(&rates.replace("seed=42", "seed=43"));
        assert_ne!(first, run(&mut other, 400));
        let mut reset = state(rates);
        run(&mut reset, 7);
        reset.reset();
        assert_eq!(first[..50], run(&mut reset, 50)[..]);

        assert!(run(&mut state("seed=1"), 500).iter().all(Option::is_none));
        assert!(run(&mut state("throttle=0,seed=1"), 500).iter().all(Option::is_none));
        let mut always = state("throttle=1");
        assert!(run(&mut always, 50).iter().all(|k| *k == Some(FaultKind::Throttle)));
    }

    #[test]
    fn presigned_and_secrets_are_exempt_from_rates_and_ineligible_kinds_skip() {
        let mut st = state("server_error=1");
        assert!(st.decide(&info(Service::S3, "PutObject", true), b"").is_none());
        assert!(st.decide(&info(Service::SecretsManager, "GetSecretValue", false), b"").is_none());
        assert!(st.decide(&info(Service::S3, "PutObject", false), b"").is_some());
        let mut conflicts = state("conflict=1");
        assert!(conflicts.decide(&info(Service::DynamoDb, "GetItem", false), b"").is_none());
        assert!(conflicts.decide(&info(Service::S3, "PutObject", false), b"").is_none());
        let hit = conflicts.decide(&info(Service::DynamoDb, "TransactWriteItems", false), b"");
        assert!(hit.is_some_and(|i| i.kind == FaultKind::Conflict && i.conflict_item < 4));
    }

    #[test]
    fn a_skipping_rule_shields_the_request_from_rates() {
        let mut st = state("throttle=1");
        st.rules.add(vec![RuleSpec { skip: 1, times: Some(1), item: Some(2), ..RuleSpec::new(FaultKind::Conflict) }]);
        assert_eq!(run(&mut st, 3), [None, Some(FaultKind::Conflict), Some(FaultKind::Throttle)]);
        let req = info(Service::DynamoDb, "TransactWriteItems", false);
        st.rules.add(vec![RuleSpec { item: Some(2), ..RuleSpec::new(FaultKind::Conflict) }]);
        let hit = st.decide(&req, b"").expect("fault");
        assert_eq!((hit.by, hit.conflict_item), (By::Rule(2), 2));
    }

    #[test]
    fn trigger_rules_and_rates() {
        let mut st = state("");
        st.rules.add(vec![
            RuleSpec { pattern: vec!["job-2".into()], times: Some(1), ..RuleSpec::new(FaultKind::DuplicateDelivery) },
            RuleSpec { pattern: vec!["job-3".into()], skip: 1, ..RuleSpec::new(FaultKind::LoseBatch) },
        ]);
        let batch = ["job-1", "job-2", "job-3"];
        let (faults, decided) = st.trigger(&batch);
        assert_eq!(faults, TriggerFaults { duplicate: vec![1], lose_batch: false });
        assert_eq!(decided, [(FaultKind::DuplicateDelivery, By::Rule(1))]);
        let (faults, _) = st.trigger(&batch);
        assert_eq!(faults, TriggerFaults { duplicate: vec![], lose_batch: true });
        assert!(st.trigger(&["job-9"]).0.is_none());
        assert!(st.trigger(&[]).0.is_none());

        let mut always = state("duplicate_delivery=1,lose_batch=1");
        let (faults, _) = always.trigger(&["a", "b"]);
        assert_eq!(faults, TriggerFaults { duplicate: vec![0, 1], lose_batch: true });
        let view = always.stats.view();
        assert_eq!(view["trigger"]["injected"]["duplicate_delivery"]["rate"], 2);
        let seeded = |seed| {
            let mut st = state(&format!("duplicate_delivery=0.5,lose_batch=0.5,seed={seed}"));
            (0..20).map(|_| st.trigger(&["a", "b", "c"]).0).collect::<Vec<_>>()
        };
        assert_eq!(seeded(5), seeded(5));
    }
}
