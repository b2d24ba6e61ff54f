//! A simulator of RevenueCat, for tests and the local stack.
//!
//! It speaks the wire contract of `shared/contracts/revenuecat.md`: webhook deliveries
//! (`{"api_version": "1.0", "event": {…}}` POSTed with the configured `Authorization` header)
//! and the REST API v1 the backend calls with `Authorization: Bearer <secret key>`:
//!
//! - `GET /v1/subscribers/{app_user_id}`: the customer info; `subscriber.non_subscriptions` maps
//!   each product id to the customer's one-time purchases (`id`, `store_transaction_id`,
//!   `purchase_date`, `store` lower-cased, `is_sandbox`), oldest first. An unknown customer is
//!   created and answered with empty collections, as RevenueCat does.
//! - `DELETE /v1/subscribers/{app_user_id}`: answers `{"app_user_id": …}` (also for an unknown
//!   customer), records the deletion and hides the customer's purchases.
//!
//! A wrong or missing key answers 401 `{"code": 7225, "message": "Invalid API Key."}`. Queued
//! failures and stalls apply to the REST calls that pass the key check.
//!
//! ## Control API (`/_sim/`, no auth; errors are 400/404/409 `{"error": "…"}`)
//!
//! - `POST /_sim/purchases` `{"app_user_id", "product_id", "transaction_id"?, "event_id"?,
//!   "environment"?: "PRODUCTION"|"SANDBOX", "store"?, "price"?, "currency"?, "country_code"?,
//!   …other event fields, "deliver"?: false, …delivery options}` records a one-time purchase
//!   (a `GPA.dddd-dddd-dddd-ddddd` transaction id and a UUID event id when not given) and answers
//!   `{"transaction_id", "event": <NON_RENEWING_PURCHASE payload>, "deliveries": […]}`; 409 when
//!   the transaction id is already recorded.
//! - `GET /_sim/purchases[?app_user_id=]`: the purchases recorded (see [`Purchase`]).
//! - `POST /_sim/events` `{"type", …event fields, "deliver"?: true, "omit"?: [field…],
//!   "record"?: true, "refund_in_rest"?: "remove"|"keep", …delivery options}` builds a full
//!   payload (fields given win over defaults; `omit` drops fields) and answers
//!   `{"event": payload, "deliveries": [{"status", "body"}, …]}`. Effects on the REST view, made
//!   when the event is built (delivered or not): NON_RENEWING_PURCHASE records its purchase (if
//!   new, unless `"record": false`); CANCELLATION (negative `price`, `cancel_reason`
//!   `CUSTOMER_SUPPORT` by default) marks the purchase with its `transaction_id` refunded and
//!   removes it from `non_subscriptions` (`"refund_in_rest": "keep"` leaves it listed; the
//!   contract leaves this open); TRANSFER (no `app_user_id`; `transferred_from`/`transferred_to`)
//!   moves the purchases of the `transferred_from` users to the first `transferred_to` user.
//!   Other fields of purchase-like events default from the recorded purchase with the same
//!   `transaction_id`, if any.
//! - `POST /_sim/deliver` `{"payload": <any JSON> | "raw": "<text>", …delivery options}` delivers
//!   as given (use it to deliver events built with `"deliver": false` in any order); answers
//!   `{"deliveries": […]}`.
//! - Delivery options: `"times"`: 1–100 (the same payload, one after the other), `"delay_ms"`
//!   (before each), `"authorization"`: a string to send instead of the configured value, or
//!   `null` for no header, `"url"`: instead of the configured webhook URL, `"background"`: true to
//!   answer at once and deliver in a task.
//! - `GET /_sim/deliveries`: every delivery made (see [`Delivery`]).
//! - `POST /_sim/failures` `{"rest": [{"status"?: 400–599, "retry_after"?: s, "stall_ms"?: ms,
//!   "times"?: n, "app_user_id"?: id}, …], "stall_ms"?: ms}` queues answers for the next REST
//!   calls (a 429 carries `Retry-After`, 1 unless given; an entry with only `stall_ms` delays
//!   then answers normally; one with `app_user_id` waits for a call on that customer, so work
//!   for other customers cannot take it) and sets a stall applied to every REST call; `GET`
//!   shows them, `DELETE` clears both.
//! - `GET /_sim/deleted`, `GET /_sim/customers`, `GET /_sim/requests`: deleted app_user_ids,
//!   existing customers, REST calls received (`method`, `path`, `app_user_id`, `status`, `at_ms`).
//! - `POST /_sim/reset`: forgets everything.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use revenuecat_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::new(SimConfig {
//!     api_key: "sk_test".into(),
//!     webhook_url: Some("http://127.0.0.1:8080/v1/webhooks/revenuecat".into()),
//!     webhook_authorization: "Bearer webhook-secret".into(),
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let base = format!("http://{}", listener.local_addr()?);
//! let server = sim.spawn(listener);
//! // … point the code under test at `base` …
//! server.abort();
//! # Ok(()) }
//! ```

mod control;
mod events;
mod model;
mod reply;
mod rest;
mod server;
mod state;
mod webhook;

use std::sync::{Arc, Mutex, MutexGuard};

use http::StatusCode;

pub use events::DEFAULT_APP_ID;
pub use model::{Delivery, Purchase, new_transaction_id};

/// How a simulator instance is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The secret API key our backend must send (`Authorization: Bearer <key>`) to the REST API.
    pub api_key: String,
    /// Where webhook deliveries go (our `POST /v1/webhooks/revenuecat`).
    pub webhook_url: Option<String>,
    /// The `Authorization` header value sent with each delivery (none when empty).
    pub webhook_authorization: String,
}

/// A control call that cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The request is malformed (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the state, e.g. a transaction id already recorded (HTTP 409).
    #[error("{0}")]
    Conflict(String),
}

impl SimError {
    /// The HTTP status the control API answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
        }
    }
}

/// A RevenueCat simulator: its configuration and all shared state.
///
/// Create it with [`Simulator::new`], serve it with [`Simulator::spawn`] (one instance may be
/// served on several listeners). The control methods ([`Simulator::purchase`],
/// [`Simulator::event`], …) do what the `/_sim/` routes of the same names do.
pub struct Simulator {
    config: SimConfig,
    state: Mutex<state::State>,
    /// Posts webhooks; no proxy (RevenueCat's servers do not use ours).
    client: reqwest::Client,
}

impl Simulator {
    /// Builds a simulator with no customers, purchases or queued failures.
    pub fn new(config: SimConfig) -> Arc<Self> {
        Arc::new(Self { config, state: Mutex::new(state::State::default()), client: sim_http::outbound_client(None) })
    }

    /// Serves the REST and control APIs on `listener` until the returned task is aborted.
    pub fn spawn(self: &Arc<Self>, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let base_url = sim_http::base_url(&listener);
        tracing::debug!(%base_url, "revenuecat-sim: serving");
        tokio::spawn(server::serve(Arc::clone(self), listener))
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
