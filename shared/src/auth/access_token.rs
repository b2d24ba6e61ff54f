//! Access tokens: short-lived HS256 JWTs carrying the user and session ids,
//! verified by signature alone (no database read).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::KeyRing;
use crate::error::{ApiError, unauthorized};

const ISSUER: &str = "pro-portrait";

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The session id, so revocation can be checked with one small read.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Always `pro-portrait`.
    pub iss: String,
    /// A random id: no two tokens are the same, even issued in one second.
    pub jti: String,
}

/// Signs a token for `user_id`'s session, valid `ttl` seconds from `now`.
pub fn issue(keys: &KeyRing, user_id: &str, session_id: &str, now: i64, ttl: i64) -> String {
    let key = keys.signing();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let claims = Claims {
        sub: user_id.to_string(),
        sid: session_id.to_string(),
        iat: now,
        exp: now + ttl,
        iss: ISSUER.to_string(),
        jti: uuid::Uuid::new_v4().simple().to_string(),
    };
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&key.secret)).expect("HS256 signing with an in-memory key cannot fail")
}

/// Checks the signature (with the key its `kid` names), the algorithm, the
/// issuer, the expiry at `now` and that the token was not issued for longer
/// than `max_lifetime` seconds (a token minted with any other lifetime, with
/// a leaked key say, is refused). `None` for any failure: callers answer 401
/// without saying which check failed.
pub fn verify(keys: &KeyRing, token: &str, now: i64, max_lifetime: i64) -> Option<Claims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::HS256 {
        return None;
    }
    let key = keys.by_kid(header.kid.as_deref()?)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    // Expiry is checked below against the caller's clock, exactly.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&key.secret), &validation).ok()?;
    let claims = data.claims;
    (claims.exp > now && claims.iat <= now + 60 && claims.exp - claims.iat <= max_lifetime).then_some(claims)
}

/// The bearer token of a request's `Authorization` header, verified by
/// signature only (and its lifetime: at most `max_lifetime` seconds).
pub fn authenticate(keys: &KeyRing, authorization: Option<&str>, now: i64, max_lifetime: i64) -> Result<Claims, ApiError> {
    let token = authorization
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(unauthorized)?;
    verify(keys, token, now, max_lifetime).ok_or_else(unauthorized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    fn ring(spec: &[(&str, u8)]) -> KeyRing {
        let s: Vec<String> = spec.iter().map(|(k, b)| format!("{k}:{}", B64.encode([*b; 32]))).collect();
        KeyRing::parse(&s.join(",")).unwrap()
    }

    #[test]
    fn round_trip_until_expiry() {
        let keys = ring(&[("k1", 1)]);
        let token = issue(&keys, "u1", "s1", 1_000, 900);
        let claims = verify(&keys, &token, 1_899, 900).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("u1", "s1"));
        assert!(verify(&keys, &token, 1_900, 900).is_none(), "expired at exp");
    }

    #[test]
    fn tampered_or_foreign_tokens_fail() {
        let keys = ring(&[("k1", 1)]);
        let token = issue(&keys, "u1", "s1", 1_000, 900);
        let other = ring(&[("k1", 9)]);
        assert!(verify(&other, &token, 1_001, 900).is_none(), "wrong secret");
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let forged = B64.encode(br#"{"sub":"u2","sid":"s1","iat":1000,"exp":1900,"iss":"pro-portrait","jti":"x"}"#);
        parts[1] = forged;
        assert!(verify(&keys, &parts.join("."), 1_001, 900).is_none(), "payload swapped");
        assert!(verify(&keys, "not-a-token", 1_001, 900).is_none());
        let none_alg = format!("{}.{}.", B64.encode(br#"{"alg":"none","kid":"k1"}"#), parts[1]);
        assert!(verify(&keys, &none_alg, 1_001, 900).is_none(), "alg none");
    }

    #[test]
    fn a_token_issued_for_longer_than_the_setting_is_refused() {
        let keys = ring(&[("k1", 1)]);
        let day = issue(&keys, "u1", "s1", 1_000, 86_400);
        assert!(verify(&keys, &day, 1_001, 900).is_none(), "a day-long token under a 15-minute setting");
        assert!(verify(&keys, &day, 1_001, 86_400).is_some());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_until_the_old_key_is_removed() {
        let old = ring(&[("k1", 1)]);
        let token = issue(&old, "u1", "s1", 1_000, 900);
        let rotated = ring(&[("k2", 2), ("k1", 1)]);
        assert!(verify(&rotated, &token, 1_001, 900).is_some());
        assert!(issue(&rotated, "u", "s", 1_000, 60).len() > 10);
        let retired = ring(&[("k2", 2)]);
        assert!(verify(&retired, &token, 1_001, 900).is_none());
    }
}
