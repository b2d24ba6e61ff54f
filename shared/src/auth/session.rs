//! Session rules: what a refresh with a given token does to a session.
//! Pure functions; the store applies the outcome with conditional writes.
//!
//! A session has one live refresh token. Using it consumes it and makes its
//! successor (derived from it, see `refresh_token`) the live one. The tokens
//! consumed lately are kept as hashes with the time they were used, so that:
//! a used token presented again within the grace (a retry, concurrent
//! refreshes) is answered with the live token its successors lead to, however
//! many times, without any new live token; a used token presented after the
//! grace is reuse (someone else has a copy), which revokes the session; and
//! anything else (a token never issued, or used too long ago to be known) is
//! a plain 401 that changes nothing.

/// Consumed tokens a session remembers (the newest), to tell reuse from a
/// string that was never a token of the session.
pub const MAX_CONSUMED: usize = 8;

/// A consumed refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// Its hash.
    pub hash: String,
    /// When it was used (Unix seconds).
    pub at: i64,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The user.
    pub user_id: String,
    /// The session.
    pub session_id: String,
    /// Hashes of the refresh tokens that may be used now: one (sessions from
    /// before successors were derived may still hold a few).
    pub live_hashes: Vec<String>,
    /// The tokens consumed lately, oldest first, at most [`MAX_CONSUMED`].
    pub consumed: Vec<Consumed>,
    /// When the last rotation happened (Unix seconds).
    pub rotated_at: i64,
    /// When the session lapses if not used again (Unix seconds; the TTL).
    pub expires_at: i64,
}

/// What a presented refresh token is to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// The live token: consume it; its successor becomes the live one.
    Rotate,
    /// A token consumed within the grace: answer with the live token its
    /// successors lead to, changing nothing.
    Replay,
    /// A token consumed before the grace: someone else holds a copy; revoke
    /// the whole session.
    Reuse,
    /// Not a token this session knows: a plain 401, nothing changes.
    Unknown,
    /// The session lapsed: a plain 401.
    Expired,
}

impl SessionRecord {
    /// Whether the session is still alive at `now`.
    pub fn is_alive(&self, now: i64) -> bool {
        self.expires_at > now
    }

    /// When `hash` was consumed, if the session remembers it.
    pub fn consumed_at(&self, hash: &str) -> Option<i64> {
        self.consumed.iter().rev().find(|c| c.hash == hash).map(|c| c.at)
    }

    /// Whether `hash` is a live token.
    pub fn is_live(&self, hash: &str) -> bool {
        self.live_hashes.iter().any(|h| h == hash)
    }

    /// Decides what a refresh presenting `hash` at `now` does.
    pub fn decide(&self, hash: &str, now: i64, grace_seconds: i64) -> RefreshDecision {
        if !self.is_alive(now) {
            return RefreshDecision::Expired;
        }
        if self.is_live(hash) {
            return RefreshDecision::Rotate;
        }
        match self.consumed_at(hash) {
            Some(at) if now - at <= grace_seconds => RefreshDecision::Replay,
            Some(_) => RefreshDecision::Reuse,
            None => RefreshDecision::Unknown,
        }
    }

    /// The consumed list after `hash` is used at `now`: appended, the oldest
    /// dropped past [`MAX_CONSUMED`].
    pub fn consumed_after(&self, hash: &str, now: i64) -> Vec<Consumed> {
        let mut list = self.consumed.clone();
        list.push(Consumed { hash: hash.to_string(), at: now });
        let extra = list.len().saturating_sub(MAX_CONSUMED);
        list.drain(..extra);
        list
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
            consumed: vec![Consumed { hash: "older".into(), at: 400 }, Consumed { hash: "old".into(), at: 1_000 }],
            rotated_at: 1_000,
            expires_at: 10_000,
        }
    }

    #[test]
    fn the_live_token_rotates() {
        assert_eq!(record().decide("new", 1_001, 10), Rotate);
    }

    #[test]
    fn a_consumed_token_replays_within_the_grace_then_is_reuse() {
        assert_eq!(record().decide("old", 1_010, 10), Replay);
        assert_eq!(record().decide("old", 1_011, 10), Reuse);
        assert_eq!(record().decide("older", 1_001, 10), Reuse, "consumed long ago");
    }

    #[test]
    fn a_token_the_session_never_knew_changes_nothing() {
        assert_eq!(record().decide("forged", 1_001, 10), Unknown);
    }

    #[test]
    fn a_lapsed_session_is_expired_whatever_the_token() {
        assert_eq!(record().decide("new", 10_000, 10), Expired);
    }

    #[test]
    fn the_consumed_list_keeps_the_newest() {
        let mut r = record();
        for i in 0..20 {
            r.consumed = r.consumed_after(&format!("t{i}"), 2_000 + i);
        }
        assert_eq!(r.consumed.len(), MAX_CONSUMED);
        assert_eq!(r.consumed.last().map(|c| c.hash.as_str()), Some("t19"));
        assert_eq!(r.consumed_at("t12"), Some(2_012));
        assert_eq!(r.consumed_at("t11"), None);
    }
}
