//! `GET /v1/me`: the caller's profile, behind a live session (one read
//! confirms the session and returns the profile).

use crate::accounts::Profile;
use crate::auth::access_token::Claims;
use crate::error::{ApiError, unauthorized};
use crate::ports::AccountStore;

/// The caller's profile; 401 for a revoked or lapsed session, or a deleted account.
pub async fn me<S: AccountStore>(store: &S, claims: &Claims, now: i64) -> Result<Profile, ApiError> {
    store.profile_with_live_session(&claims.sub, &claims.sid, now).await?.ok_or_else(unauthorized)
}
