//! Session rules: what a refresh with a given token does to a session.
//! Pure functions; the store applies the outcome with conditional writes.

/// Valid, unused refresh hashes a session keeps at most (one normally, a few
/// more when concurrent refreshes inside the grace each got a fresh pair).
pub const MAX_LIVE_REFRESH_TOKENS: usize = 5;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The user.
    pub user_id: String,
    /// The session.
    pub session_id: String,
    /// Hashes of the refresh tokens that may be used now.
    pub live_hashes: Vec<String>,
    /// Hash of the token consumed by the last rotation.
    pub previous_hash: Option<String>,
    /// When the last rotation happened (Unix seconds).
    pub rotated_at: i64,
    /// When the session lapses if not used again (Unix seconds; the TTL).
    pub expires_at: i64,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// A live token: consume it and issue the next.
    Rotate,
    /// The token just consumed, inside the grace: a concurrent refresh; issue
    /// another fresh pair of the same session.
    ReissueInGrace,
    /// A consumed token outside the grace, or one the session never issued
    /// live: treat as theft and revoke the whole session.
    Revoke,
    /// The session lapsed: answer 401, nothing to change.
    Expired,
}

impl SessionRecord {
    /// Whether the session is still alive at `now`.
    pub fn is_alive(&self, now: i64) -> bool {
        self.expires_at > now
    }

    /// Decides what a refresh presenting `hash` at `now` does.
    pub fn decide(&self, hash: &str, now: i64, grace_seconds: i64) -> RefreshDecision {
        if !self.is_alive(now) {
            RefreshDecision::Expired
        } else if self.live_hashes.iter().any(|h| h == hash) {
            RefreshDecision::Rotate
        } else if self.previous_hash.as_deref() == Some(hash)
            && now - self.rotated_at <= grace_seconds
            && self.live_hashes.len() < MAX_LIVE_REFRESH_TOKENS
        {
            RefreshDecision::ReissueInGrace
        } else {
            RefreshDecision::Revoke
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RefreshDecision::*;

    fn record() -> SessionRecord {
        SessionRecord {
            user_id: "u".into(),
            session_id: "s".into(),
            live_hashes: vec!["new".into()],
            previous_hash: Some("old".into()),
            rotated_at: 1_000,
            expires_at: 10_000,
        }
    }

    #[test]
    fn live_token_rotates() {
        assert_eq!(record().decide("new", 1_001, 10), Rotate);
    }

    #[test]
    fn consumed_token_inside_grace_reissues_then_revokes() {
        assert_eq!(record().decide("old", 1_010, 10), ReissueInGrace);
        assert_eq!(record().decide("old", 1_011, 10), Revoke);
    }

    #[test]
    fn unknown_token_revokes() {
        assert_eq!(record().decide("older", 1_001, 10), Revoke);
    }

    #[test]
    fn lapsed_session_is_expired_whatever_the_token() {
        assert_eq!(record().decide("new", 10_000, 10), Expired);
    }

    #[test]
    fn grace_reissues_are_bounded() {
        let mut r = record();
        r.live_hashes = (0..MAX_LIVE_REFRESH_TOKENS).map(|i| i.to_string()).collect();
        assert_eq!(r.decide("old", 1_001, 10), Revoke);
    }
}
