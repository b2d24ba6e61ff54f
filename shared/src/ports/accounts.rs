//! Accounts: sign-up and the profile behind a live session.

use crate::accounts::{NewAccount, Profile, ProfileRecord};
use crate::error::StoreError;

/// Creating accounts and reading a profile behind a live session.
pub trait AccountStore {
    /// Writes the profile, its first session and (for free credits) the
    /// opening ledger entry in one transaction.
    fn create_account(&self, account: &NewAccount) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The profile, only if `session_id` of `user_id` is alive at `now`
    /// (one read that confirms the session and returns the profile).
    fn profile_with_live_session(&self, user_id: &str, session_id: &str, now: i64) -> impl Future<Output = Result<Option<Profile>, StoreError>> + Send;

    /// The profile as stored (for operators), if any.
    fn profile_record(&self, user_id: &str) -> impl Future<Output = Result<Option<ProfileRecord>, StoreError>> + Send;
}
