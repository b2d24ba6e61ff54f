//! What every route works with, over any adapters: the settings, the
//! secrets and one implementation of each port. `context` picks the AWS
//! adapters; unit tests pick memory.

use crate::auth::access_token::{Claims, authenticate};
use crate::auth::keys::Secrets;
use crate::config::Settings;
use crate::error::ApiError;

/// Settings, secrets and ports, built once and shared by every request.
#[derive(Debug, Clone)]
pub struct App<S, P, G, D> {
    pub settings: Settings,
    pub secrets: Secrets,
    /// The store (every store port).
    pub store: S,
    /// Photo storage.
    pub photos: P,
    /// The generation queue.
    pub queue: G,
    /// The account deletion queue.
    pub deletions: D,
}

impl<S, P, G, D> App<S, P, G, D> {
    /// The bearer token's verified claims (signature and lifetime only: no
    /// call), or 401.
    pub fn claims(&self, authorization: Option<&str>) -> Result<Claims, ApiError> {
        authenticate(&self.secrets.token_keys, authorization, crate::time::now(), self.settings.access_token_seconds)
    }
}
