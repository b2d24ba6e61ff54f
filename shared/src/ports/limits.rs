//! Rate limits kept in the store: sign-ups per source, actions per user.

use crate::error::StoreError;
use crate::rate_limit::Admission;

/// Counting sign-ups per (hashed) source IP.
pub trait SignupLimiter {
    /// Records one sign-up for `ip_key` at `now` unless `limit` were already
    /// made in the last `window_secs`.
    fn admit_signup(&self, ip_key: &str, now: i64, limit: u32, window_secs: i64) -> impl Future<Output = Result<Admission, StoreError>> + Send;
}

/// Counting one user's actions of a kind.
pub trait ActionLimiter {
    /// Records one `action` of `user_id` at `now` unless `limit` were
    /// already made in the last `window_secs`.
    fn admit_user_action(
        &self,
        user_id: &str,
        action: &str,
        now: i64,
        limit: u32,
        window_secs: i64,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send;
}
