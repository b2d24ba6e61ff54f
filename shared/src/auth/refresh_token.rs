//! Refresh tokens: 256 bits, handed to the app once and stored only as a
//! SHA-256 hash. The token also names its user and session so the session
//! can be read with one key lookup. A session's first token is random; each
//! next one is derived from the one it replaces with a server key (an HMAC),
//! so the same used token presented again can be answered with the same
//! successor without storing that successor anywhere but as its hash.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "rt1";

/// A refresh token as the app holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The user it belongs to.
    pub user_id: String,
    /// The session it belongs to.
    pub session_id: String,
    secret: String,
}

impl RefreshToken {
    /// A new token with 256 fresh random bits.
    pub fn generate(user_id: &str, session_id: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        RefreshToken { user_id: user_id.to_string(), session_id: session_id.to_string(), secret: URL_SAFE_NO_PAD.encode(bytes) }
    }

    /// Parses `rt1.<user>.<session>.<secret>`; `None` when malformed.
    pub fn parse(raw: &str) -> Option<Self> {
        let mut parts = raw.split('.');
        let (prefix, user, session, secret) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let id_ok = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let secret_ok = secret.len() == 43 && URL_SAFE_NO_PAD.decode(secret).is_ok_and(|b| b.len() == 32);
        (parts.next().is_none() && prefix == PREFIX && id_ok(user) && id_ok(session) && secret_ok).then(|| RefreshToken {
            user_id: user.to_string(),
            session_id: session.to_string(),
            secret: secret.to_string(),
        })
    }

    /// The token that replaces this one when it is used: an HMAC of this
    /// token under `key`, so only the server can make it and it is the same
    /// however many times it is made.
    pub fn successor(&self, key: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        for part in ["refresh-successor", &self.user_id, &self.session_id, &self.secret] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        RefreshToken { user_id: self.user_id.clone(), session_id: self.session_id.clone(), secret: URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()) }
    }

    /// The hash that is stored instead of the token.
    pub fn hash(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.secret.as_bytes()))
    }

    /// The string given to the app.
    pub fn expose(&self) -> String {
        format!("{PREFIX}.{}.{}.{}", self.user_id, self.session_id, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hashes_without_the_secret() {
        let token = RefreshToken::generate("u-1", "s-1");
        let parsed = RefreshToken::parse(&token.expose()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(parsed.hash(), token.hash());
        assert!(!token.hash().contains(&token.secret));
    }

    #[test]
    fn tokens_are_unique() {
        let a = RefreshToken::generate("u", "s");
        let b = RefreshToken::generate("u", "s");
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn a_successor_is_the_same_each_time_and_only_with_the_key() {
        let token = RefreshToken::generate("u", "s");
        let next = token.successor(b"key-one");
        assert_eq!(next, token.successor(b"key-one"));
        assert_ne!(next, token.successor(b"key-two"));
        assert_ne!(next.hash(), token.hash());
        assert_eq!(RefreshToken::parse(&next.expose()), Some(next.clone()), "a successor is a well-formed token");
        assert_ne!(next.successor(b"key-one"), next, "each step is new");
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let good = RefreshToken::generate("u", "s").expose();
        for bad in [
            "",
            "rt1",
            "rt1.u.s",
            &good.replacen("rt1", "rt2", 1),
            &format!("{good}.x"),
            &good[..good.len() - 1],
            "rt1.u#.s.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }
}
