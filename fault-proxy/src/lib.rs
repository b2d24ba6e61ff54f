//! `fault-proxy`: an HTTP/1.1 reverse proxy between the AWS SDK clients and the local AWS
//! emulator that injects the faults real AWS produces.
//!
//! The emulator is kind: it serves one request at a time and never fails. Real DynamoDB
//! cancels transactions on conflicts, every service throttles and fails now and then,
//! connections reset, and a write can be applied while its answer is lost. The proxy forwards
//! every request to the emulator unchanged unless a fault rule or a fault rate says otherwise;
//! with no rules and all rates 0 it is a transparent pass-through.
//!
//! - [`FaultConfig`]: rates (`AWS_FAULTS`) and start rules (`AWS_FAULT_RULES`).
//! - [`Faults`]: the proxy; [`Faults::spawn`] serves it (and its control API under
//!   `/_faults`) on a listener; [`Faults::trigger`] decides the SQS trigger's faults.
//! - [`RuleSpec`], [`FaultKind`]: the rules, as posted to `POST /_faults/rules`.
//!
//! See the crate's README for the wire shape of every fault.

mod classify;
mod config;
mod control;
mod kinds;
mod rules;
mod server;
mod state;
mod stats;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::{ConfigError, DEFAULT_LATENCY_MS, FaultConfig, RATE_ORDER, Rates, parse_rules};
pub use kinds::{CONFLICT_OPERATIONS, FaultKind};
pub use rules::{RuleService, RuleSpec};
pub use server::MAX_BODY_BYTES;
pub use state::TriggerFaults;

use state::State;

/// A fault proxy: where it forwards to, and its rates, rules and counters. Clones share all
/// of it.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

struct Inner {
    /// `http://127.0.0.1:<port>` of the emulator, without a trailing slash.
    upstream: String,
    /// One client, so connections to the emulator are pooled.
    client: reqwest::Client,
    state: Mutex<State>,
}

impl Faults {
    /// A proxy forwarding to `upstream` (e.g. `http://127.0.0.1:5000`) with `config`. Rules or
    /// rates of a hand-built `config` that do not validate are left out, with an error logged.
    pub fn new(upstream: impl Into<String>, config: FaultConfig) -> Self {
        let mut config = config;
        config.rules.retain(|rule| match rule.validate() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "fault-proxy: invalid start rule left out");
                false
            }
        });
        if let Err(e) = config.rates.validate() {
            tracing::error!(error = %e, "fault-proxy: invalid start rates, all set to 0");
            config.rates = Rates { seed: config.rates.seed, ..Rates::default() };
        }
        let client = reqwest::Client::builder()
            // The emulator is on loopback: never through a proxy from the environment.
            .no_proxy()
            // Redirects are the SDK's business (S3 answers 301/307), not ours.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Faults { inner: Arc::new(Inner { upstream: upstream.into().trim_end_matches('/').to_string(), client, state: Mutex::new(State::new(config)) }) }
    }

    /// Serves the proxy and its control API on `listener` until the task is aborted.
    pub fn spawn(&self, listener: TcpListener) -> JoinHandle<()> {
        tokio::spawn(server::serve(self.clone(), listener))
    }

    /// The faults the SQS trigger is to apply to one batch received from `queue_url`, whose
    /// message bodies are `bodies` (in the batch's order).
    ///
    /// `lose_batch` comes from the oldest unspent `lose_batch` rule whose `match` is in any
    /// body (one match per batch), else from one draw of the `lose_batch` rate.
    /// `duplicate` lists the messages to hand over twice: each message is matched on its own
    /// against the `duplicate_delivery` rules (one match per message), else drawn with the
    /// `duplicate_delivery` rate.
    pub fn trigger(&self, queue_url: &str, bodies: &[&str]) -> TriggerFaults {
        let (faults, decided) = self.state().trigger(bodies);
        for (kind, by) in decided {
            tracing::info!(
                service = "sqs_trigger",
                queue_url,
                fault = kind.as_str(),
                by = %by,
                "fault-proxy: injected fault"
            );
        }
        faults
    }

    /// The counters: per service and operation, requests, forwarded, and faults injected by
    /// rule and by rate; and the trigger's batches, messages and faults.
    pub fn stats(&self) -> Value {
        self.state().stats.view()
    }

    /// Validates and adds rules (after the existing ones); all or none. Answers their ids.
    pub fn add_rules(&self, specs: Vec<RuleSpec>) -> Result<Vec<u64>, String> {
        for spec in &specs {
            spec.validate()?;
        }
        Ok(self.state().rules.add(specs))
    }

    /// Removes rule `id`; whether it existed.
    pub fn remove_rule(&self, id: u64) -> bool {
        self.state().rules.remove(id)
    }

    /// Removes every rule; how many there were.
    pub fn clear_rules(&self) -> usize {
        self.state().rules.clear()
    }

    /// The rules, oldest first, each with `id`, `matched`, `fired` and `spent`.
    pub fn rules(&self) -> Value {
        Value::Array(self.state().rules.iter().map(rules::Rule::view).collect())
    }

    /// The rates in force.
    pub fn rates(&self) -> Rates {
        self.state().rates.clone()
    }

    /// Replaces every rate (a `seed` restarts the random source from it).
    pub fn set_rates(&self, rates: Rates) -> Result<(), String> {
        rates.validate()?;
        self.state().set_rates(rates);
        Ok(())
    }

    /// No rules, no counters, the start rates and random source.
    pub fn reset(&self) {
        self.state().reset();
    }

    /// Rates, rules and stats together, as `GET /_faults` answers.
    pub fn view(&self) -> Value {
        let st = self.state();
        json!({
            "upstream": self.inner.upstream,
            "rates": st.rates,
            "rules": st.rules.iter().map(rules::Rule::view).collect::<Vec<_>>(),
            "stats": st.stats.view(),
        })
    }

    fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Locks the state; a panic elsewhere while holding it does not poison the proxy.
    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
