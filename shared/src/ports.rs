//! Port traits, one per capability. The DynamoDB adapter implements them for
//! the Lambdas; unit tests implement them in memory.

use crate::auth::session::SessionRecord;
use crate::error::StoreError;
use crate::rate_limit::Admission;

/// A user's public profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The user id.
    pub user_id: String,
    /// The credit balance.
    pub credits: i64,
    /// When the account was created (RFC 3339).
    pub created_at: String,
}

/// Everything a sign-up writes, atomically.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The profile, with its starting balance.
    pub profile: Profile,
    /// The first session.
    pub session: SessionRecord,
}

/// Creating accounts and reading a profile behind a live session.
pub trait AccountStore {
    /// Writes the profile, its first session and (for free credits) the
    /// opening ledger entry in one transaction.
    fn create_account(&self, account: &NewAccount) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The profile, only if `session_id` of `user_id` is alive at `now`
    /// (one read that confirms the session and returns the profile).
    fn profile_with_live_session(
        &self,
        user_id: &str,
        session_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Profile>, StoreError>> + Send;
}

/// Sessions and their refresh-token rotation.
pub trait SessionStore {
    /// The session, if it exists (alive or lapsed).
    fn session(&self, user_id: &str, session_id: &str) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    /// Consumes `consumed` (if still live: a compare-and-set on the live
    /// token), records it among the consumed tokens at `now`, and makes
    /// `next` the one live token. `false` when another refresh consumed it
    /// first (or the session went).
    fn rotate(
        &self,
        session: &SessionRecord,
        consumed: &str,
        next: &str,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes the session: every token of it answers 401 from now on.
    fn revoke(&self, user_id: &str, session_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Counting sign-ups per (hashed) source IP.
pub trait SignupLimiter {
    /// Records one sign-up for `ip_key` at `now` unless `limit` were already
    /// made in the last `window_secs`.
    fn admit_signup(
        &self,
        ip_key: &str,
        now: i64,
        limit: u32,
        window_secs: i64,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send;
}
