//! The HTTP plumbing the simulators (`kie-sim`, `revenuecat-sim`) share.
//!
//! - [`serve`]: the hyper 1 accept loop, one task a connection, until the task is aborted;
//!   [`base_url`] of a listener, [`read_body`] with a size limit, [`bearer_authorized`].
//! - [`json`], [`bytes`]: building answers; [`query`]: reading query strings.
//! - [`outbound_client`], [`lock`]: the simulator-side HTTP client and state lock.
//! - [`cli`]: the `--port N --api-key K` command line and the serve-until-interrupted startup.

pub mod cli;
mod reply;
mod server;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use reply::{Response, bytes, json, query};
pub use server::{base_url, bearer_authorized, read_body, serve};

/// A client for the simulator's own outgoing calls (downloads, callbacks, webhooks): no proxy
/// (the real services' servers do not use ours), a 10 s connect timeout, and `timeout` as the
/// whole-request timeout when given.
pub fn outbound_client(timeout: Option<Duration>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().no_proxy().connect_timeout(Duration::from_secs(10));
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder.build().unwrap_or_else(|_| reqwest::Client::new())
}

/// Locks `mutex`; a panic elsewhere while holding it does not poison the simulator.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
