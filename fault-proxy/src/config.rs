//! The proxy's configuration: fault rates (from `AWS_FAULTS` or `PUT /_faults/rates`) and the
//! rules loaded at start (`AWS_FAULT_RULES`).
//!
//! `AWS_FAULTS` is comma-separated `name=value` pairs: a probability (0 to 1) per fault kind
//! (`conflict`, `throttle`, `server_error`, `reset`, `lost_response`, `latency`,
//! `duplicate_delivery`, `lose_batch`), plus `latency_ms=N` and `seed=N`. Unset or empty: off.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kinds::FaultKind;
use crate::rules::RuleSpec;

/// Delay of a `latency` drawn by rate when `latency_ms` is not given.
pub const DEFAULT_LATENCY_MS: u64 = 200;

/// The request fault kinds a rate can draw, in the order their intervals are laid out on the
/// one draw per request (see [`Rates`]).
pub const RATE_ORDER: [FaultKind; 6] =
    [FaultKind::Conflict, FaultKind::Throttle, FaultKind::ServerError, FaultKind::Reset, FaultKind::LostResponse, FaultKind::Latency];

/// A probability per fault kind, applied to the eligible requests no rule took.
///
/// One number `u` is drawn uniformly in `[0, 1)` per request; the kinds of [`RATE_ORDER`] that
/// apply to the request take consecutive intervals of `[0, 1)` as long as their rates, in that
/// order, and the interval `u` falls in fires. So each kind fires with exactly its own
/// probability, at most one fires, and the request goes through untouched with the rest.
/// The request rates must therefore add up to at most 1. The trigger rates are drawn apart:
/// `lose_batch` once per batch, `duplicate_delivery` once per message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rates {
    /// DynamoDB `TransactWriteItems`, `PutItem`, `UpdateItem`, `DeleteItem` conflicts.
    pub conflict: f64,
    /// Throttling answers (DynamoDB, S3, SQS).
    pub throttle: f64,
    /// 500 answers.
    pub server_error: f64,
    /// Connections reset without an answer.
    pub reset: f64,
    /// Requests applied whose answer is lost.
    pub lost_response: f64,
    /// Requests held `latency_ms` before being forwarded.
    pub latency: f64,
    /// The delay of a `latency` fault drawn by rate, in milliseconds.
    pub latency_ms: u64,
    /// Per message handed to the SQS trigger: delivered twice.
    pub duplicate_delivery: f64,
    /// Per batch handed to the SQS trigger: its result lost.
    pub lose_batch: f64,
    /// Seed of the random source (absent: seeded from the OS, not reproducible).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            conflict: 0.0,
            throttle: 0.0,
            server_error: 0.0,
            reset: 0.0,
            lost_response: 0.0,
            latency: 0.0,
            latency_ms: DEFAULT_LATENCY_MS,
            duplicate_delivery: 0.0,
            lose_batch: 0.0,
            seed: None,
        }
    }
}

impl Rates {
    /// The probability of `kind` (0 for kinds that have no rate).
    pub fn rate(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::Conflict => self.conflict,
            FaultKind::Throttle => self.throttle,
            FaultKind::ServerError => self.server_error,
            FaultKind::Reset => self.reset,
            FaultKind::LostResponse => self.lost_response,
            FaultKind::Latency => self.latency,
            FaultKind::DuplicateDelivery => self.duplicate_delivery,
            FaultKind::LoseBatch => self.lose_batch,
            FaultKind::ProvisionedThroughput | FaultKind::SlowDown => 0.0,
        }
    }

    fn rate_mut(&mut self, name: &str) -> Option<&mut f64> {
        Some(match name {
            "conflict" => &mut self.conflict,
            "throttle" => &mut self.throttle,
            "server_error" => &mut self.server_error,
            "reset" => &mut self.reset,
            "lost_response" => &mut self.lost_response,
            "latency" => &mut self.latency,
            "duplicate_delivery" => &mut self.duplicate_delivery,
            "lose_batch" => &mut self.lose_batch,
            _ => return None,
        })
    }

    /// Whether no rate can ever fire.
    pub fn is_zero(&self) -> bool {
        RATE_ORDER.iter().chain(&[FaultKind::DuplicateDelivery, FaultKind::LoseBatch]).all(|k| self.rate(*k) == 0.0)
    }

    /// Rejects probabilities outside 0..=1 and request rates adding up to more than 1.
    pub fn validate(&self) -> Result<(), String> {
        for kind in RATE_ORDER.iter().chain(&[FaultKind::DuplicateDelivery, FaultKind::LoseBatch]) {
            let p = self.rate(*kind);
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{} must be a probability between 0 and 1, got {p}", kind.as_str()));
            }
        }
        let total: f64 = RATE_ORDER.iter().map(|k| self.rate(*k)).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!("the request rates ({}) add up to {total}, more than 1", RATE_ORDER.map(FaultKind::as_str).join(", ")));
        }
        Ok(())
    }

    /// Parses the `AWS_FAULTS` format; an error names the offending pair.
    pub fn parse(text: &str) -> Result<Rates, String> {
        let mut rates = Rates::default();
        let mut seen: Vec<&str> = Vec::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').map(|(n, v)| (n.trim(), v.trim())).ok_or_else(|| format!("`{pair}` is not name=value"))?;
            if seen.contains(&name) {
                return Err(format!("`{pair}`: {name} is given twice"));
            }
            seen.push(name);
            match name {
                "latency_ms" => {
                    rates.latency_ms = value.parse().map_err(|_| format!("`{pair}`: latency_ms must be a whole number of milliseconds"))?;
                }
                "seed" => {
                    rates.seed = Some(value.parse().map_err(|_| format!("`{pair}`: seed must be a whole number"))?);
                }
                _ => {
                    let slot = rates.rate_mut(name).ok_or_else(|| {
                        format!(
                            "`{pair}`: unknown name {name} (expected one of {}, duplicate_delivery, lose_batch, latency_ms, seed)",
                            RATE_ORDER.map(FaultKind::as_str).join(", ")
                        )
                    })?;
                    *slot = value
                        .parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=1.0).contains(p))
                        .ok_or_else(|| format!("`{pair}`: {name} must be a probability between 0 and 1"))?;
                }
            }
        }
        rates.validate()?;
        Ok(rates)
    }
}

/// Why the configuration in the environment is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `AWS_FAULTS` is malformed.
    #[error("AWS_FAULTS: {0}")]
    Rates(String),
    /// `AWS_FAULT_RULES` is malformed or holds an invalid rule.
    #[error("AWS_FAULT_RULES: {0}")]
    Rules(String),
}

/// What the proxy starts with, and what `POST /_faults/reset` returns it to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    /// The fault rates (and the seed).
    pub rates: Rates,
    /// Rules loaded at start, oldest first.
    pub rules: Vec<RuleSpec>,
}

impl FaultConfig {
    /// Reads `AWS_FAULTS` and `AWS_FAULT_RULES`; unset or empty variables mean no faults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let faults = std::env::var("AWS_FAULTS").ok();
        let rules = std::env::var("AWS_FAULT_RULES").ok();
        Self::parse(faults.as_deref(), rules.as_deref())
    }

    /// Parses the values of `AWS_FAULTS` and `AWS_FAULT_RULES` (a JSON array of rules, or one
    /// rule).
    pub fn parse(faults: Option<&str>, rules: Option<&str>) -> Result<Self, ConfigError> {
        let rates = Rates::parse(faults.unwrap_or_default()).map_err(ConfigError::Rates)?;
        let rules = match rules.map(str::trim).filter(|r| !r.is_empty()) {
            None => Vec::new(),
            Some(text) => {
                let json: Value = serde_json::from_str(text).map_err(|e| ConfigError::Rules(format!("not JSON: {e}")))?;
                parse_rules(json).map_err(ConfigError::Rules)?
            }
        };
        Ok(FaultConfig { rates, rules })
    }

    /// Whether the proxy is a plain pass-through: no rules and every rate 0.
    pub fn is_off(&self) -> bool {
        self.rules.is_empty() && self.rates.is_zero()
    }
}

/// One rule (an object) or several (an array), each validated; an error names the rule.
pub fn parse_rules(json: Value) -> Result<Vec<RuleSpec>, String> {
    let list = match json {
        Value::Array(list) => list,
        one @ Value::Object(_) => vec![one],
        _ => return Err("expected a rule (an object) or an array of rules".into()),
    };
    let many = list.len() > 1;
    list.into_iter()
        .enumerate()
        .map(|(i, value)| {
            let at = if many { format!("rule {i}: ") } else { String::new() };
            let spec: RuleSpec = serde_json::from_value(value).map_err(|e| format!("{at}invalid rule: {e}"))?;
            spec.validate().map_err(|e| format!("{at}{e}"))?;
            Ok(spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_format_parses() {
        let rates = Rates::parse("conflict=0.05, throttle=0.02,server_error=0.01,lost_response=0.01,latency_ms=30,seed=7,").expect("rates");
        assert_eq!((rates.conflict, rates.throttle, rates.latency_ms), (0.05, 0.02, 30));
        assert_eq!(rates.seed, Some(7));
        assert_eq!(Rates::parse("").expect("empty"), Rates::default());
        assert!(Rates::default().is_zero());
        assert!(!Rates::parse("lose_batch=0.1").expect("rates").is_zero());
    }

    #[test]
    fn malformed_pairs_are_named() {
        for (text, needle) in [
            ("conflict", "`conflict`"),
            ("conflict=2", "`conflict=2`"),
            ("conflict=x", "`conflict=x`"),
            ("bogus=0.1", "unknown name bogus"),
            ("seed=-1", "`seed=-1`"),
            ("latency_ms=1.5", "`latency_ms=1.5`"),
            ("reset=0.1,reset=0.2", "given twice"),
            ("throttle=0.6,server_error=0.6", "more than 1"),
        ] {
            let err = Rates::parse(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn rules_load_from_json() {
        let config = FaultConfig::parse(None, Some(r#"[{"fault": "conflict", "match": "USER#1"}, {"fault": "latency", "ms": 5}]"#)).expect("config");
        assert_eq!(config.rules.len(), 2);
        assert!(!config.is_off());
        assert!(FaultConfig::parse(Some(""), Some(" ")).expect("off").is_off());
        let err = FaultConfig::parse(None, Some(r#"[{"fault": "latency"}, {"fault": "reset"}]"#)).expect_err("bad");
        assert!(err.to_string().starts_with("AWS_FAULT_RULES: rule 0:"), "{err}");
        assert!(FaultConfig::parse(None, Some("nope")).is_err());
        assert!(FaultConfig::parse(Some("x=1"), None).expect_err("bad").to_string().starts_with("AWS_FAULTS:"));
    }

    #[test]
    fn rates_deserialize_strictly() {
        let rates: Rates = serde_json::from_str(r#"{"throttle": 0.5, "seed": 3}"#).expect("rates");
        assert_eq!((rates.throttle, rates.latency_ms, rates.seed), (0.5, DEFAULT_LATENCY_MS, Some(3)));
        assert!(serde_json::from_str::<Rates>(r#"{"thrrottle": 0.5}"#).is_err());
        let bad: Rates = serde_json::from_str(r#"{"reset": 1.5}"#).expect("parses");
        assert!(bad.validate().is_err());
    }
}
