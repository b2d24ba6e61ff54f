//! The session flows behind `POST /v1/auth/anonymous`, `POST /v1/auth/refresh`
//! and every bearer route: sign-up, refresh rotation, authentication.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::accounts::{NewAccount, Profile};
pub use crate::auth::access_token::authenticate;
use crate::auth::access_token::{self, Claims};
use crate::auth::keys::{KeyRing, Secrets};
use crate::auth::refresh_token::RefreshToken;
use crate::auth::session::{MAX_CONSUMED, RefreshDecision, SessionRecord};
use crate::config::Settings;
use crate::error::{ApiError, unauthorized};
use crate::ports::{AccountStore, SessionStore, SignupLimiter};
use crate::rate_limit::Admission;
use crate::time::rfc3339;

/// The contract's `Session`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionGrant {
    /// The user.
    pub user_id: String,
    /// A signed access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The single-use refresh token.
    pub refresh_token: String,
}

const SIGNUP_WINDOW_SECS: i64 = 3600;

/// The keyed hash under which a source IP is counted: never stored in clear,
/// and not reversible by hashing all IPv4 addresses without the key.
pub fn ip_key(secret: &[u8], ip: IpAddr) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(ip.to_string().as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn grant(keys: &KeyRing, settings: &Settings, refresh: &RefreshToken, now: i64) -> SessionGrant {
    SessionGrant {
        user_id: refresh.user_id.clone(),
        access_token: access_token::issue(keys, &refresh.user_id, &refresh.session_id, now, settings.access_token_seconds),
        token_type: "Bearer",
        expires_in: settings.access_token_seconds,
        refresh_token: refresh.expose(),
    }
}

/// Creates an anonymous user with its first session, unless `source_ip` made
/// too many sign-ups in the last hour.
pub async fn sign_up<S: AccountStore + SignupLimiter>(
    store: &S,
    settings: &Settings,
    secrets: &Secrets,
    source_ip: IpAddr,
    now: i64,
) -> Result<SessionGrant, ApiError> {
    let key = ip_key(&secrets.ip_hash_key, source_ip);
    if let Admission::Limited { retry_after_secs } = store.admit_signup(&key, now, settings.signup_limit_per_hour, SIGNUP_WINDOW_SECS).await? {
        return Err(ApiError::RateLimited { message: "Too many new accounts from this network. Try again later.".into(), retry_after_secs });
    }
    let user_id = uuid::Uuid::new_v4().simple().to_string();
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let refresh = RefreshToken::generate(&user_id, &session_id);
    let account = NewAccount {
        profile: Profile { user_id: user_id.clone(), credits: settings.free_credits, created_at: rfc3339(now) },
        session: SessionRecord {
            user_id,
            session_id,
            live_hashes: vec![refresh.hash()],
            consumed: Vec::new(),
            rotated_at: now,
            expires_at: now + settings.session_idle_seconds(),
        },
    };
    store.create_account(&account).await?;
    if settings.free_credits > 0 {
        tracing::info!(credits = settings.free_credits, source = "free_credits", "credits granted");
    }
    Ok(grant(&secrets.token_keys, settings, &refresh, now))
}

/// Exchanges a refresh token for a new pair (see `session` for the rules):
/// the live token rotates to its successor; a token used within the grace
/// gets the live token its successors lead to, as often as it is presented;
/// a token used before the grace revokes the session; anything else is a
/// plain 401. What happened is logged (never the token).
pub async fn refresh<S: SessionStore>(store: &S, settings: &Settings, secrets: &Secrets, raw_token: &str, now: i64) -> Result<SessionGrant, ApiError> {
    let presented = RefreshToken::parse(raw_token).ok_or_else(refresh_rejected)?;
    let hash = presented.hash();
    let key = &secrets.ip_hash_key;
    let expires_at = now + settings.session_idle_seconds();
    // A lost race (or a lost answer to our own rotation) reads again: the
    // token is then a consumed one, answered by replay.
    for _ in 0..3 {
        let session = store.session(&presented.user_id, &presented.session_id).await?.ok_or_else(refresh_rejected)?;
        match session.decide(&hash, now, settings.refresh_grace_seconds) {
            RefreshDecision::Rotate => {
                let next = presented.successor(key);
                if store.rotate(&session, &hash, &next.hash(), now, expires_at).await? {
                    return Ok(grant(&secrets.token_keys, settings, &next, now));
                }
            }
            RefreshDecision::Replay => {
                // Walk the successors to the live token (refreshes may have gone on since).
                let mut next = presented.successor(key);
                for _ in 0..MAX_CONSUMED {
                    if session.is_live(&next.hash()) {
                        tracing::info!(session_id = %session.session_id, "refresh token presented again within the grace: answered with its live successor");
                        return Ok(grant(&secrets.token_keys, settings, &next, now));
                    }
                    if session.consumed_at(&next.hash()).is_none() {
                        break;
                    }
                    next = next.successor(key);
                }
                // A session from before successors were derived: its live token cannot be given again.
                tracing::info!(session_id = %session.session_id, "refresh token presented again within the grace, but its successor is not derived: plain 401");
                return Err(refresh_rejected());
            }
            RefreshDecision::Reuse => {
                tracing::warn!(session_id = %session.session_id, "refresh token used again after the grace: session revoked");
                store.revoke(&session.user_id, &session.session_id).await?;
                return Err(refresh_rejected());
            }
            RefreshDecision::Unknown => {
                tracing::info!(session_id = %session.session_id, "a refresh token this session never issued (or used too long ago): plain 401, nothing changed");
                return Err(refresh_rejected());
            }
            RefreshDecision::Expired => return Err(refresh_rejected()),
        }
    }
    Err(ApiError::Unavailable("The session is busy; retry the refresh.".into()))
}

fn refresh_rejected() -> ApiError {
    ApiError::Unauthorized("The refresh token is invalid, used or revoked. Sign in again.".into())
}

/// Verified claims whose session is confirmed alive with one small read:
/// 401 for a revoked or lapsed session, or a deleted account.
pub async fn require_live<S: SessionStore>(store: &S, claims: Claims, now: i64) -> Result<Claims, ApiError> {
    if !store.session_alive(&claims.sub, &claims.sid, now).await? {
        return Err(unauthorized());
    }
    Ok(claims)
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
