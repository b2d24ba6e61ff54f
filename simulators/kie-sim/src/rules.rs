//! Behaviour rules set through the control API: which tasks they apply to, what they make the
//! simulator do, and the per-rule counters tests assert on.
//!
//! A rule applies to a `createTask` call when its `match` string is a substring of one of the
//! call's input image URLs, its `callBackUrl` or its prompt (an empty `match` applies to every
//! call) and, when the rule names a `model`, the call asks for that model. The newest matching
//! rule wins; only that rule applies.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

/// The body of `POST /sim/rules`: `{"match": "<substring>", "model": "<model>", "behaviour": {...}}`
/// (`model` optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Substring of an input URL, the callback URL or the prompt; `""` matches every task.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Only `createTask` calls for this model (its `model` field exactly); absent: any model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What happens to matching tasks (every field optional).
    #[serde(default, alias = "behavior")]
    pub behaviour: Behaviour,
}

/// What the simulator does with the tasks a rule applies to. Every field is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Final state of the task (default `success`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// `failCode` of a failed task (default `"500"`); a JSON number is accepted too.
    #[serde(default, deserialize_with = "string_or_number", skip_serializing_if = "Option::is_none")]
    pub fail_code: Option<String>,
    /// `failMsg` of a failed task (default `"Generation failed (simulated)."`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_msg: Option<String>,
    /// Error answers for the next matching `createTask` calls, in order; no task is created on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_errors: Vec<ErrorAnswer>,
    /// Error answers for the next `recordInfo` calls of each matching task, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub record_errors: Vec<ErrorAnswer>,
    /// Time from creation to the final state (default: the configured default delay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// How the callback is delivered (default `normal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<CallbackMode>,
    /// The task never finishes: it stays `generating` and sends no callback.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stall: bool,
    /// Probability (0 to 1) that the task fails with code `"500"` whatever `outcome` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_rate: Option<f64>,
    /// Every `recordInfo` call for a matching task is answered only after this many
    /// milliseconds (before any `record_errors` answer too), like a provider that hangs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_delay_ms: Option<u64>,
    /// Probability (0 to 1), drawn once per task at creation, that the task sends no callback
    /// at all (as `callback: none` does), whatever `callback` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_callback_rate: Option<f64>,
    /// Probability (0 to 1), drawn per matching `createTask` call once `create_errors` is used
    /// up, that the call is refused with `create_error_code` (no task is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_error_rate: Option<f64>,
    /// Envelope code of the refusals `create_error_rate` draws (default 429), under HTTP 200
    /// with KIE's message for the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_error_code: Option<i64>,
}

/// The final state a rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// `state: success` with a result image.
    Success,
    /// `state: fail` with the rule's `fail_code` and `fail_msg`.
    Fail,
}

/// How the callback of a task is delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackMode {
    /// One POST once the task has finished.
    #[default]
    Normal,
    /// No callback at all.
    None,
    /// The same POST twice, one after the other.
    Twice,
    /// The POST is sent before `recordInfo` reports the final state, which it keeps hiding
    /// (answering `generating`) for one more second after the callback was answered.
    Early,
}

/// One scripted error answer: envelope `{"code": code, "msg": msg, "data": null}` under HTTP
/// `http_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorAnswer {
    /// HTTP status of the answer (default 200, as KIE puts most business errors under 200).
    #[serde(default = "http_ok")]
    pub http_status: u16,
    /// The envelope `code`.
    pub code: i64,
    /// The envelope `msg` (default: a text naming the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

impl ErrorAnswer {
    /// The envelope message of this answer.
    pub(crate) fn message(&self) -> String {
        self.msg.clone().unwrap_or_else(|| default_message(self.code).to_string())
    }
}

fn http_ok() -> u16 {
    200
}

/// KIE's meaning of an envelope code, used when a scripted error gives no `msg`.
pub(crate) fn default_message(code: i64) -> &'static str {
    match code {
        400 => "Bad request",
        401 => "You do not have access permissions",
        402 => "Insufficient credits",
        404 => "task not found",
        422 => "Validation error",
        429 => "Rate limited: too many requests, please try again later",
        433 => "Sub-key usage limit exceeded",
        455 => "Service under maintenance",
        500 => "Internal server error",
        501 => "Generation failed",
        505 => "Feature disabled",
        _ => "Simulated error",
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(de)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!("fail_code must be a string, got {other}"))),
    }
}

impl RuleSpec {
    /// Rejects values the simulator cannot honour (a bad probability or HTTP status, a model it
    /// does not know, or a `create_error_code` without the `create_error_rate` that would use it).
    pub fn validate(&self) -> Result<(), String> {
        let b = &self.behaviour;
        let rates = [("fail_rate", b.fail_rate), ("no_callback_rate", b.no_callback_rate), ("create_error_rate", b.create_error_rate)];
        for (name, rate) in rates {
            if let Some(rate) = rate
                && !(0.0..=1.0).contains(&rate)
            {
                return Err(format!("{name} must be between 0 and 1, got {rate}"));
            }
        }
        if let Some(model) = self.model.as_deref().filter(|m| !crate::api::is_known_model(m)) {
            return Err(format!("model {model} is not one the simulator knows"));
        }
        if b.create_error_code.is_some() && b.create_error_rate.is_none() {
            return Err("create_error_code needs create_error_rate".to_string());
        }
        let answers = self.behaviour.create_errors.iter().chain(&self.behaviour.record_errors);
        if let Some(bad) = answers.into_iter().find(|a| !(100..=599).contains(&a.http_status)) {
            return Err(format!("http_status must be between 100 and 599, got {}", bad.http_status));
        }
        Ok(())
    }
}

/// What was decided for one task when it was created.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// `Some((failCode, failMsg))` when the task is to fail.
    pub failure: Option<(String, String)>,
    pub delay: Duration,
    pub callback: CallbackMode,
    pub stall: bool,
    /// How long each `recordInfo` answer for the task is held.
    pub record_delay: Duration,
}

impl Behaviour {
    /// Resolves the behaviour for one task, rolling `fail_rate`'s and `no_callback_rate`'s dice.
    pub(crate) fn plan(&self, default_delay: Duration) -> Plan {
        let rolled_fail = roll(self.fail_rate);
        let rolled_no_callback = roll(self.no_callback_rate);
        let failure = if rolled_fail {
            Some(("500".to_string(), "Internal error during generation (simulated).".to_string()))
        } else if self.outcome == Some(Outcome::Fail) {
            Some((
                self.fail_code.clone().unwrap_or_else(|| "500".to_string()),
                self.fail_msg.clone().unwrap_or_else(|| "Generation failed (simulated).".to_string()),
            ))
        } else {
            None
        };
        Plan {
            failure,
            delay: self.delay_ms.map_or(default_delay, Duration::from_millis),
            callback: if rolled_no_callback { CallbackMode::None } else { self.callback.unwrap_or_default() },
            stall: self.stall,
            record_delay: Duration::from_millis(self.record_delay_ms.unwrap_or(0)),
        }
    }

    /// The refusal of one matching `createTask` call (once `create_errors` is used up), rolling
    /// `create_error_rate`'s dice: `create_error_code` (default 429) under HTTP 200.
    pub(crate) fn roll_create_error(&self) -> Option<ErrorAnswer> {
        roll(self.create_error_rate).then(|| ErrorAnswer {
            http_status: http_ok(),
            code: self.create_error_code.unwrap_or(DEFAULT_CREATE_ERROR_CODE),
            msg: None,
        })
    }
}

/// The envelope code of `create_error_rate`'s refusals unless `create_error_code` is given.
const DEFAULT_CREATE_ERROR_CODE: i64 = 429;

/// One draw of a probability: `true` with probability `rate` (never for `None` or 0, always for 1).
fn roll(rate: Option<f64>) -> bool {
    rate.is_some_and(|rate| rand::random::<f64>() < rate)
}

/// A stored rule with its counters.
#[derive(Debug)]
pub(crate) struct Rule {
    pub id: u64,
    pub spec: RuleSpec,
    /// `create_errors` not answered yet.
    pub pending_create_errors: VecDeque<ErrorAnswer>,
    /// `createTask` calls this rule applied to, error answers included.
    pub create_calls: u64,
    /// Tasks created under this rule.
    pub tasks_created: u64,
    /// `createTask` calls this rule refused (`create_errors` and `create_error_rate` answers):
    /// always `create_calls - tasks_created`.
    pub create_refused: u64,
}

impl Rule {
    /// Counts one `createTask` call this rule applies to and decides it: `Some(answer)` refuses
    /// it (the next `create_errors` entry, else a `create_error_rate` draw), `None` creates a task.
    pub fn on_create_call(&mut self) -> Option<ErrorAnswer> {
        self.create_calls += 1;
        let refusal = self.pending_create_errors.pop_front().or_else(|| self.spec.behaviour.roll_create_error());
        if refusal.is_some() {
            self.create_refused += 1;
        } else {
            self.tasks_created += 1;
        }
        refusal
    }

    /// The rule as `GET /sim/rules` shows it.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "match": self.spec.pattern,
            "model": self.spec.model,
            "behaviour": self.spec.behaviour,
            "create_calls": self.create_calls,
            "tasks_created": self.tasks_created,
            "create_refused": self.create_refused,
            "create_errors_left": self.pending_create_errors.len(),
        })
    }
}

/// All rules, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    next_id: u64,
    list: Vec<Rule>,
}

impl Rules {
    /// Stores a rule and returns its id (1, 2, …).
    pub fn add(&mut self, spec: RuleSpec) -> u64 {
        self.next_id += 1;
        let pending_create_errors = spec.behaviour.create_errors.iter().cloned().collect();
        self.list.push(Rule { id: self.next_id, spec, pending_create_errors, create_calls: 0, tasks_created: 0, create_refused: 0 });
        self.next_id
    }

    /// Removes every rule and returns how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.list).len()
    }

    /// The newest rule whose pattern is in one of `haystacks` and whose model, if it names
    /// one, is `model`.
    pub fn find_mut(&mut self, haystacks: &[&str], model: &str) -> Option<&mut Rule> {
        self.list.iter_mut().rev().find(|rule| {
            let pattern = rule.spec.pattern.as_str();
            rule.spec.model.as_deref().is_none_or(|m| m == model) && (pattern.is_empty() || haystacks.iter().any(|h| h.contains(pattern)))
        })
    }

    /// The rules, newest first (the order they are tried in).
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.list.iter().rev()
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
