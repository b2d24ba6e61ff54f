//! A simulator of KIE AI's image-generation API, for tests and the local stack.
//!
//! It speaks the wire contract of `shared/contracts/kie.md`: `createTask`, `recordInfo`, the
//! callback (optionally HMAC-signed), the file-stream upload, the credit balance, and a temp file
//! host for results. Each task really downloads its first input URL and derives a small PNG from
//! it, so a test sees the same data flow as with KIE. A control API under `/sim/` (no auth) lets
//! tests script behaviours (failures, error answers, delays, duplicate or early callbacks, stalls)
//! and inspect what was received.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use kie_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::new(SimConfig {
//!     api_key: "test-key".into(),
//!     hmac_key: None,
//!     default_delay: Duration::from_millis(100),
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let base = format!("http://{}", listener.local_addr()?);
//! let server = sim.spawn(listener);
//! // … point the code under test at `base` …
//! server.abort();
//! # Ok(()) }
//! ```

mod api;
mod callback;
mod control;
mod derive;
mod reply;
mod rules;
mod server;
mod state;
mod upload;
mod worker;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use callback::signature;
pub use rules::{Behaviour, CallbackMode, ErrorAnswer, Outcome, RuleSpec};

/// How a simulator instance behaves by default.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The only key accepted in `Authorization: Bearer <api_key>`.
    pub api_key: String,
    /// When set, callbacks carry `X-Webhook-Timestamp` and `X-Webhook-Signature`
    /// (base64 of HMAC-SHA256 over `taskId + "." + timestamp`), like an account with an HMAC key.
    pub hmac_key: Option<Vec<u8>>,
    /// How long a task takes from creation to its final state, unless a rule sets `delay_ms`.
    pub default_delay: Duration,
}

/// A KIE simulator: its configuration and all shared state (tasks, files, rules, counters).
///
/// Create it with [`Simulator::new`], serve it with [`Simulator::spawn`]. One instance may be
/// served on several listeners; each listener's address is the base of the URLs it hands out.
pub struct Simulator {
    config: SimConfig,
    state: Mutex<state::State>,
    /// Downloads inputs and posts callbacks; no proxy (KIE's servers do not use ours).
    client: reqwest::Client,
}

impl Simulator {
    /// Builds a simulator with no tasks and no rules.
    pub fn new(config: SimConfig) -> Arc<Self> {
        Arc::new(Self { config, state: Mutex::new(state::State::default()), client: sim_http::outbound_client(Some(Duration::from_secs(30))) })
    }

    /// Enforces KIE's per-account task rate: at most `tasks` accepted
    /// `createTask` calls in any `window`; more are answered 429 and counted
    /// (`rate_refusals` in `/sim/stats`).
    pub fn limit_rate(&self, tasks: usize, window: Duration) {
        self.state().rate_limit = Some((tasks, u64::try_from(window.as_millis()).unwrap_or(u64::MAX)));
    }

    /// Serves the API on `listener` until the returned task is aborted.
    ///
    /// URLs handed out (result files, uploads) start with `http://<listener address>`, with an
    /// unspecified address (`0.0.0.0`, `::`) replaced by loopback.
    pub fn spawn(self: &Arc<Self>, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let base_url = sim_http::base_url(&listener);
        tokio::spawn(server::serve(Arc::clone(self), listener, base_url))
    }

    /// The configuration this simulator was built with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Locks the shared state; a panic elsewhere while holding it does not poison the simulator.
    fn state(&self) -> MutexGuard<'_, state::State> {
        sim_http::lock(&self.state)
    }
}
