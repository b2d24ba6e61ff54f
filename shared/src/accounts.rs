//! Accounts: the public profile, what a sign-up writes, and the profile as
//! operators see it.

use crate::auth::session::SessionRecord;

/// A user's public profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
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

/// A profile as operators see it (the support command's `show-user`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    /// The balance.
    pub credits: i64,
    /// Purchased credits not yet taken back or moved.
    pub purchased: i64,
    /// Refunded credits still owed.
    pub owed: i64,
    /// When the account was created.
    pub created_at: String,
    /// When its deletion was requested, if it was.
    pub deleting: Option<String>,
}
