//! Credits bought through RevenueCat: the product map, the settings, the
//! webhook's events and the arithmetic of grants, refunds and transfers.
//! No I/O here; the writes are behind `ports::PurchaseStore` and `ports::LedgerStore`.

pub mod balance;
pub mod event;
pub mod history;
pub mod ledger;
pub mod purchases;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{self, ConfigError};

/// The default `PRODUCT_CREDITS`.
pub const DEFAULT_PRODUCTS: &str = "credits_5=5,credits_10=10,credits_20=20,credits_50=50";

/// Days an event record (dedupe) and an unknown user's record are kept.
pub const RECORD_DAYS: i64 = 30;

/// Product id → credits, from configuration (never from the payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductCredits(Vec<(String, i64)>);

impl ProductCredits {
    /// Parses `product=credits[,product=credits…]`.
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let err = |problem: String| ConfigError { name: "PRODUCT_CREDITS", problem };
        let mut map = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, n) = part.split_once('=').ok_or_else(|| err(format!("`{part}` is not product=credits")))?;
            let n: i64 = n.trim().parse().map_err(|_| err(format!("`{part}`: credits must be a whole number")))?;
            let id = id.trim();
            if id.is_empty() || !(1..=10_000).contains(&n) || map.iter().any(|(p, _): &(String, i64)| p == id) {
                return Err(err(format!("`{part}`: needs a product id seen once and 1 to 10000 credits")));
            }
            map.push((id.to_string(), n));
        }
        if map.is_empty() {
            return Err(err("at least one product is required".into()));
        }
        Ok(ProductCredits(map))
    }

    /// The credits a product adds, if it is one of ours.
    pub fn credits(&self, product_id: &str) -> Option<i64> {
        self.0.iter().find(|(p, _)| p == product_id).map(|(_, n)| *n)
    }
}

/// Where a purchase was made, as the store says. Only a purchase known to be
/// a production one grants credits (a sandbox one only where the deployment
/// allows it): a missing or unknown environment grants nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEnvironment {
    /// A real purchase.
    Production,
    /// A test purchase.
    Sandbox,
    /// Missing, or a value we do not know.
    Unknown,
}

impl StoreEnvironment {
    /// A webhook event's `environment`.
    pub fn from_event(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.eq_ignore_ascii_case("PRODUCTION") => StoreEnvironment::Production,
            Some(v) if v.eq_ignore_ascii_case("SANDBOX") => StoreEnvironment::Sandbox,
            _ => StoreEnvironment::Unknown,
        }
    }

    /// The REST API's `is_sandbox`.
    pub fn from_is_sandbox(value: Option<bool>) -> Self {
        match value {
            Some(false) => StoreEnvironment::Production,
            Some(true) => StoreEnvironment::Sandbox,
            None => StoreEnvironment::Unknown,
        }
    }

    /// Whether a purchase made here grants credits, with sandbox purchases
    /// granting only when `sandbox_grants`.
    pub fn grants(self, sandbox_grants: bool) -> bool {
        match self {
            StoreEnvironment::Production => true,
            StoreEnvironment::Sandbox => sandbox_grants,
            StoreEnvironment::Unknown => false,
        }
    }
}

/// What the credits routes read from the environment.
#[derive(Debug, Clone)]
pub struct CreditSettings {
    /// `PRODUCT_CREDITS`.
    pub products: ProductCredits,
    /// `SANDBOX_PURCHASES_GRANT`: whether sandbox purchases add credits
    /// (default false, as in production).
    pub sandbox_grants: bool,
    /// `CREDITS_SYNC_LIMIT_PER_MINUTE`: syncs a user may ask for per sliding minute.
    pub sync_limit_per_minute: u32,
}

impl CreditSettings {
    /// Reads the settings, with their defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let products = ProductCredits::parse(&config::optional("PRODUCT_CREDITS").unwrap_or_else(|| DEFAULT_PRODUCTS.into()))?;
        Ok(CreditSettings {
            products,
            sandbox_grants: config::parsed("SANDBOX_PURCHASES_GRANT", false)?,
            sync_limit_per_minute: config::parsed("CREDITS_SYNC_LIMIT_PER_MINUTE", 6)?,
        })
    }
}

/// A keyed hash (hex HMAC-SHA256) of `value` for purpose `domain`: how a
/// transaction id, or an unknown user's id, is stored.
pub fn keyed_hash(key: &[u8], domain: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(domain.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The keyed hash a transaction id is stored under.
pub fn transaction_hash(key: &[u8], transaction_id: &str) -> String {
    keyed_hash(key, "transaction", transaction_id)
}

/// The keyed hash an unknown user's id is kept under.
pub fn user_hash(key: &[u8], user_id: &str) -> String {
    keyed_hash(key, "user", user_id)
}

/// Whether an app user id can be one of ours (we make 32 lowercase hex
/// digits); RevenueCat's own `$RCAnonymousID:` ids never are.
pub fn is_our_user_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod environment_tests {
    use super::StoreEnvironment::{self, *};

    #[test]
    fn only_a_known_production_purchase_grants_by_default() {
        for (raw, env) in
            [(Some("PRODUCTION"), Production), (Some("production"), Production), (Some("SANDBOX"), Sandbox), (Some("STAGING"), Unknown), (None, Unknown)]
        {
            assert_eq!(StoreEnvironment::from_event(raw), env);
        }
        assert!(Production.grants(false) && !Sandbox.grants(false) && Sandbox.grants(true));
        assert!(!Unknown.grants(false) && !Unknown.grants(true), "missing or unknown never grants");
        assert_eq!(StoreEnvironment::from_is_sandbox(None), Unknown);
        assert_eq!(StoreEnvironment::from_is_sandbox(Some(false)), Production);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_map() {
        let p = ProductCredits::parse(DEFAULT_PRODUCTS).unwrap();
        assert_eq!((p.credits("credits_5"), p.credits("credits_50"), p.credits("credits_7")), (Some(5), Some(50), None));
    }

    #[test]
    fn malformed_maps_are_refused() {
        for bad in ["", "credits_5", "credits_5=x", "credits_5=0", "a=1,a=2", "=3"] {
            assert!(ProductCredits::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_depend_on_key_and_purpose() {
        let h = keyed_hash(b"k", "txn", "GPA.1");
        assert_eq!(h.len(), 64);
        assert_ne!(h, keyed_hash(b"k2", "txn", "GPA.1"));
        assert_ne!(h, keyed_hash(b"k", "user", "GPA.1"));
        assert!(!h.contains("GPA"));
    }
}
