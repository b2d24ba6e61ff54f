//! Sessions and their refresh-token rotation.

use crate::auth::session::SessionRecord;
use crate::error::StoreError;

/// Sessions and their refresh-token rotation.
pub trait SessionStore {
    /// The session, if it exists (alive or lapsed).
    fn session(&self, user_id: &str, session_id: &str) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    /// Consumes `consumed` (if still live: a compare-and-set on the live
    /// token), records it among the consumed tokens at `now`, and makes
    /// `next` the one live token. `false` when another refresh consumed it
    /// first (or the session went).
    fn rotate(&self, session: &SessionRecord, consumed: &str, next: &str, now: i64, expires_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes the session: every token of it answers 401 from now on.
    fn revoke(&self, user_id: &str, session_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the session is alive at `now` (one small, consistent read).
    fn session_alive(&self, user_id: &str, session_id: &str, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
