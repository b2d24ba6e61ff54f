//! Unit tests of the session flows against an in-memory store.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::error::StoreError;

#[derive(Default)]
struct Memory {
    sessions: Mutex<HashMap<(String, String), SessionRecord>>,
    profiles: Mutex<HashMap<String, Profile>>,
    hits: Mutex<HashMap<String, Vec<i64>>>,
}

impl AccountStore for Memory {
    async fn create_account(&self, account: &NewAccount) -> Result<(), StoreError> {
        let s = &account.session;
        self.sessions.lock().unwrap().insert((s.user_id.clone(), s.session_id.clone()), s.clone());
        self.profiles.lock().unwrap().insert(account.profile.user_id.clone(), account.profile.clone());
        Ok(())
    }
    async fn profile_with_live_session(&self, user: &str, sid: &str, now: i64) -> Result<Option<Profile>, StoreError> {
        let alive = self.sessions.lock().unwrap().get(&(user.into(), sid.into())).is_some_and(|s| s.is_alive(now));
        Ok(alive.then(|| self.profiles.lock().unwrap().get(user).cloned()).flatten())
    }
    async fn profile_record(&self, _user: &str) -> Result<Option<crate::accounts::ProfileRecord>, StoreError> {
        Ok(None)
    }
}

impl SessionStore for Memory {
    async fn session(&self, user: &str, sid: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.sessions.lock().unwrap().get(&(user.into(), sid.into())).cloned())
    }
    async fn rotate(&self, s: &SessionRecord, consumed: &str, next: &str, now: i64, exp: i64) -> Result<bool, StoreError> {
        let mut all = self.sessions.lock().unwrap();
        let Some(rec) = all.get_mut(&(s.user_id.clone(), s.session_id.clone())) else { return Ok(false) };
        if !rec.is_live(consumed) {
            return Ok(false);
        }
        rec.consumed = rec.consumed_after(consumed, now);
        rec.live_hashes = vec![next.into()];
        rec.rotated_at = now;
        rec.expires_at = exp;
        Ok(true)
    }
    async fn revoke(&self, user: &str, sid: &str) -> Result<(), StoreError> {
        self.sessions.lock().unwrap().remove(&(user.into(), sid.into()));
        Ok(())
    }
    async fn session_alive(&self, user: &str, sid: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self.sessions.lock().unwrap().get(&(user.into(), sid.into())).is_some_and(|s| s.is_alive(now)))
    }
}

impl SignupLimiter for Memory {
    async fn admit_signup(&self, key: &str, now: i64, limit: u32, window: i64) -> Result<Admission, StoreError> {
        let mut hits = self.hits.lock().unwrap();
        let log = hits.entry(key.into()).or_default();
        Ok(match crate::rate_limit::slide(log, now, limit, window) {
            Ok(next) => {
                *log = next;
                Admission::Admitted
            }
            Err(retry_after_secs) => Admission::Limited { retry_after_secs },
        })
    }
}

fn settings() -> Settings {
    Settings {
        table_name: "t".into(),
        bucket_name: "b".into(),
        queue_url: "q".into(),
        deletion_queue_url: "d".into(),
        export_queue_url: "e".into(),
        result_retention_days: 0,
        stall_seconds: 60,
        unused_upload_seconds: 3600,
        job_deadline_seconds: 780,
        access_token_seconds: 900,
        refresh_grace_seconds: 10,
        session_idle_days: 180,
        signup_limit_per_hour: 2,
        free_credits: 3,
        uploads_per_hour: 60,
        jobs_per_hour: 30,
        daily_spend_limit_micro_usd: 0,
    }
}

fn secrets() -> Secrets {
    Secrets::parse(&format!("k1:{}", URL_SAFE_NO_PAD.encode([5u8; 32])), &"i".repeat(32)).unwrap()
}

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

#[tokio::test]
async fn sign_up_then_me() {
    let (store, s, k) = (Memory::default(), settings(), secrets());
    let grant = sign_up(&store, &s, &k, IP, 1_000).await.unwrap();
    let claims = authenticate(&k.token_keys, Some(&format!("Bearer {}", grant.access_token)), 1_001, 900).unwrap();
    assert_eq!(claims.sub, grant.user_id);
    let profile = store.profile_with_live_session(&claims.sub, &claims.sid, 1_001).await.unwrap().unwrap();
    assert_eq!(profile.credits, 3);
    assert_eq!(grant.expires_in, 900);
}

#[tokio::test]
async fn refresh_rotates_and_old_token_dies_after_grace() {
    let (store, s, k) = (Memory::default(), settings(), secrets());
    let first = sign_up(&store, &s, &k, IP, 1_000).await.unwrap();
    let second = refresh(&store, &s, &k, &first.refresh_token, 2_000).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    // Within the grace the consumed token gets the same successor, however often.
    for at in [2_001, 2_005, 2_010] {
        let again = refresh(&store, &s, &k, &first.refresh_token, at).await.unwrap();
        assert_eq!((again.user_id.as_str(), again.refresh_token.as_str()), (first.user_id.as_str(), second.refresh_token.as_str()));
    }
    let third = refresh(&store, &s, &k, &second.refresh_token, 2_011).await.unwrap();
    // After the grace, reuse of a token that was really issued and used revokes the whole session.
    let reuse = refresh(&store, &s, &k, &second.refresh_token, 2_100).await;
    assert!(matches!(reuse, Err(ApiError::Unauthorized(_))));
    let after = refresh(&store, &s, &k, &third.refresh_token, 2_101).await;
    assert!(matches!(after, Err(ApiError::Unauthorized(_))), "revocation covers every token of the session");
}

#[tokio::test]
async fn a_chain_of_refreshes_and_the_first_token_again_lead_to_the_live_token() {
    let (store, s, k) = (Memory::default(), settings(), secrets());
    let a = sign_up(&store, &s, &k, IP, 1_000).await.unwrap();
    let b = refresh(&store, &s, &k, &a.refresh_token, 2_000).await.unwrap();
    let c = refresh(&store, &s, &k, &b.refresh_token, 2_001).await.unwrap();
    let again = refresh(&store, &s, &k, &a.refresh_token, 2_002).await.unwrap();
    assert_eq!(again.refresh_token, c.refresh_token, "A leads through B to the live C");
    let live = store.sessions.lock().unwrap().values().next().unwrap().live_hashes.len();
    assert_eq!(live, 1, "never more than one live token");
    assert!(refresh(&store, &s, &k, &c.refresh_token, 2_003).await.is_ok());
}

#[tokio::test]
async fn a_token_that_was_never_issued_changes_nothing() {
    let (store, s, k) = (Memory::default(), settings(), secrets());
    let real = sign_up(&store, &s, &k, IP, 1_000).await.unwrap();
    let parsed = crate::auth::refresh_token::RefreshToken::parse(&real.refresh_token).unwrap();
    // The ids are public (the access token shows them); the secret part is made up.
    let forged = format!("rt1.{}.{}.{}", parsed.user_id, parsed.session_id, URL_SAFE_NO_PAD.encode([7u8; 32]));
    for at in [1_001, 5_000] {
        assert!(matches!(refresh(&store, &s, &k, &forged, at).await, Err(ApiError::Unauthorized(_))));
    }
    assert!(refresh(&store, &s, &k, &real.refresh_token, 5_001).await.is_ok(), "the session is untouched");
}

#[tokio::test]
async fn idle_sessions_lapse_and_use_slides_the_window() {
    let (store, s, k) = (Memory::default(), settings(), secrets());
    let idle = s.session_idle_seconds();
    let g = sign_up(&store, &s, &k, IP, 0).await.unwrap();
    let g = refresh(&store, &s, &k, &g.refresh_token, idle - 1).await.unwrap();
    let g = refresh(&store, &s, &k, &g.refresh_token, 2 * idle - 2).await.unwrap();
    let lapsed = refresh(&store, &s, &k, &g.refresh_token, 3 * idle).await;
    assert!(matches!(lapsed, Err(ApiError::Unauthorized(_))));
}

#[tokio::test]
async fn sign_ups_are_limited_per_ip() {
    let (store, s, k) = (Memory::default(), settings(), secrets());
    sign_up(&store, &s, &k, IP, 0).await.unwrap();
    sign_up(&store, &s, &k, IP, 10).await.unwrap();
    match sign_up(&store, &s, &k, IP, 20).await {
        Err(ApiError::RateLimited { retry_after_secs, .. }) => assert_eq!(retry_after_secs, 3580),
        other => panic!("expected 429, got {other:?}"),
    }
    let other_ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    assert!(sign_up(&store, &s, &k, other_ip, 20).await.is_ok());
    assert!(store.hits.lock().unwrap().keys().all(|k| !k.contains("203.0.113.7")));
}

#[test]
fn ip_key_is_keyed() {
    assert_ne!(ip_key(b"key-one", IP), ip_key(b"key-two", IP));
    assert_eq!(ip_key(b"key-one", IP).len(), 64);
}

#[test]
fn bearer_parsing() {
    let k = secrets();
    assert!(authenticate(&k.token_keys, None, 0, 900).is_err());
    assert!(authenticate(&k.token_keys, Some("Basic abc"), 0, 900).is_err());
    assert!(authenticate(&k.token_keys, Some("Bearer "), 0, 900).is_err());
    let t = access_token::issue(&k.token_keys, "u", "s", 0, 60);
    assert!(authenticate(&k.token_keys, Some(&format!("Bearer {t}")), 1, 900).is_ok());
}
