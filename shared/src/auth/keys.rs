//! The app's secrets: token signing keys (each with a key id, two may be
//! active during rotation), the key for hashing source IPs (and other ids we
//! keep only hashed), and the providers' keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::ConfigError;

/// One HMAC signing key and its id (the JWT `kid`).
#[derive(Clone)]
pub struct SigningKey {
    /// The key id written in every token it signs.
    pub kid: String,
    /// The key bytes.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The active keys: the first signs, all verify.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

/// Keys shorter than this are refused: HS256 wants at least 256 bits.
const MIN_KEY_BYTES: usize = 32;

impl KeyRing {
    /// Parses `kid:base64url-secret[,kid:secret]`; the first key signs.
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let err = |problem: String| ConfigError { name: "TOKEN_SIGNING_KEYS", problem };
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kid, secret) = part.split_once(':').ok_or_else(|| err("each key must be `kid:base64url-secret`".into()))?;
            let secret = URL_SAFE_NO_PAD.decode(secret.trim_end_matches('=')).map_err(|_| err(format!("key `{kid}` is not base64url")))?;
            if kid.is_empty() || secret.len() < MIN_KEY_BYTES {
                return Err(err(format!("key `{kid}` needs an id and at least {MIN_KEY_BYTES} bytes")));
            }
            if keys.iter().any(|k: &SigningKey| k.kid == kid) {
                return Err(err(format!("key id `{kid}` appears twice")));
            }
            keys.push(SigningKey { kid: kid.to_string(), secret });
        }
        if keys.is_empty() {
            return Err(err("at least one key is required".into()));
        }
        Ok(KeyRing { keys })
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> &SigningKey {
        &self.keys[0]
    }

    /// The key with this id, if it is still active.
    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Every secret the app uses, loaded once at cold start.
#[derive(Clone)]
pub struct Secrets {
    /// Token signing keys.
    pub token_keys: KeyRing,
    /// The HMAC key for source IPs, so they are never stored in clear.
    pub ip_hash_key: Vec<u8>,
    /// KIE's API key (the worker and the reaper need it).
    pub kie_api_key: Option<String>,
    /// KIE's webhook HMAC key, when the account has one enabled.
    pub kie_webhook_hmac_key: Option<Vec<u8>>,
    /// RevenueCat's secret REST API key (sync and account deletion need it).
    pub revenuecat_api_key: Option<String>,
    /// The `Authorization` values RevenueCat's webhook may send: the current
    /// one and, during a rotation, the previous one.
    pub revenuecat_webhook_auth: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("token_keys", &self.token_keys).finish_non_exhaustive()
    }
}

impl Secrets {
    /// Builds the secrets from their two textual forms.
    pub fn parse(token_signing_keys: &str, ip_hash_key: &str) -> Result<Self, ConfigError> {
        if ip_hash_key.len() < MIN_KEY_BYTES {
            return Err(ConfigError { name: "IP_HASH_KEY", problem: format!("must be at least {MIN_KEY_BYTES} characters") });
        }
        Ok(Secrets {
            token_keys: KeyRing::parse(token_signing_keys)?,
            ip_hash_key: ip_hash_key.as_bytes().to_vec(),
            kie_api_key: None,
            kie_webhook_hmac_key: None,
            revenuecat_api_key: None,
            revenuecat_webhook_auth: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        URL_SAFE_NO_PAD.encode([byte; 32])
    }

    #[test]
    fn first_key_signs_all_verify() {
        let ring = KeyRing::parse(&format!("new:{}, old:{}", key(1), key(2))).unwrap();
        assert_eq!(ring.signing().kid, "new");
        assert_eq!(ring.by_kid("old").unwrap().secret, vec![2; 32]);
        assert!(ring.by_kid("gone").is_none());
    }

    #[test]
    fn weak_or_malformed_keys_are_refused() {
        assert!(KeyRing::parse("").is_err());
        assert!(KeyRing::parse("k1").is_err());
        assert!(KeyRing::parse(&format!("k1:{}", URL_SAFE_NO_PAD.encode([1u8; 8]))).is_err());
        assert!(KeyRing::parse(&format!("k1:{},k1:{}", key(1), key(2))).is_err());
        assert!(Secrets::parse(&format!("k1:{}", key(1)), "short").is_err());
    }

    #[test]
    fn debug_never_prints_key_material() {
        let s = Secrets::parse(&format!("k1:{}", key(7)), &"x".repeat(40)).unwrap();
        let shown = format!("{s:?}");
        assert!(shown.contains("k1") && !shown.contains("xxxx") && !shown.contains(&key(7)));
    }
}
