//! RevenueCat's webhook events, each acted on once: a purchase granted, a
//! refunded one revoked, transferred credits moved; every other type is
//! recorded and changes nothing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::credits::event::{Action, Event, Purchase};
use crate::credits::purchases::{EventRef, Grant, GrantOutcome, RevokeOutcome, TransferOutcome};
use crate::credits::{CreditSettings, StoreEnvironment, is_our_user_id, transaction_hash, user_hash};
use crate::error::StoreError;
use crate::ports::PurchaseStore;

/// Whether `given` is one of the accepted `Authorization` values. Digests
/// are compared so neither the values nor their lengths leak through timing.
pub fn authorized(accepted: &[String], given: Option<&str>) -> bool {
    let given = Sha256::digest(given.unwrap_or_default().as_bytes());
    accepted.iter().filter(|a| !a.is_empty()).fold(false, |ok, a| ok | bool::from(Sha256::digest(a.as_bytes()).ct_eq(&given)))
}

/// The purchase use case over a store.
#[derive(Debug)]
pub struct Purchases<'a, S> {
    pub store: &'a S,
    /// The product map and grant rules.
    pub credits: &'a CreditSettings,
    /// The key transaction ids and unknown users are hashed with.
    pub hash_key: &'a [u8],
}

impl<S: PurchaseStore + Sync> Purchases<'_, S> {
    /// Acts on `event` once; what it came to (the webhook's `status`).
    pub async fn apply(&self, event: &Event, now: i64) -> Result<&'static str, StoreError> {
        let ev = EventRef { id: &event.id, kind: &event.kind };
        Ok(match &event.action {
            Action::Nothing => self.record(ev, "ignored", now).await?,
            Action::Purchase(p) => self.purchase(ev, p, now).await?,
            Action::Cancellation(p) => {
                let users = ours(&p.users);
                let credits = self.credits.products.credits(&p.product_id).unwrap_or(0);
                let hash = transaction_hash(self.hash_key, &p.transaction_id);
                match self.store.revoke_purchase(ev, &users, &hash, &p.product_id, credits, now).await? {
                    RevokeOutcome::Revoked { owed, .. } if owed > 0 => "revoked_with_debt",
                    RevokeOutcome::Revoked { .. } => "revoked",
                    RevokeOutcome::MarkedRevoked => "marked_revoked",
                    RevokeOutcome::AlreadyRevoked => self.record(ev, "already_revoked", now).await?,
                    RevokeOutcome::DuplicateEvent => "duplicate",
                    RevokeOutcome::NoSuchUser => self.unknown_user(ev, p.users.first(), Some(&p.product_id), now).await?,
                }
            }
            Action::Transfer { from, to } => {
                if !is_our_user_id(to) {
                    return self.unknown_user(ev, Some(to), None, now).await;
                }
                match self.store.transfer_purchases(ev, &ours(from), to, now).await? {
                    TransferOutcome::Moved(_) => "transferred",
                    TransferOutcome::DuplicateEvent => "duplicate",
                    TransferOutcome::NoSuchUser => self.unknown_user(ev, Some(to), None, now).await?,
                }
            }
        })
    }

    async fn purchase(&self, ev: EventRef<'_>, p: &Purchase, now: i64) -> Result<&'static str, StoreError> {
        let Some(credits) = self.credits.products.credits(&p.product_id) else {
            tracing::warn!(alert = "unknown_product", product_id = %p.product_id, event_id = ev.id, "purchase of a product not in PRODUCT_CREDITS");
            return self.record(ev, "unknown_product", now).await;
        };
        match p.environment {
            StoreEnvironment::Sandbox if !self.credits.sandbox_grants => return self.record(ev, "sandbox_ignored", now).await,
            StoreEnvironment::Unknown => {
                tracing::warn!(event_id = ev.id, "a purchase without a known environment: nothing granted");
                return self.record(ev, "unknown_environment", now).await;
            }
            _ => {}
        }
        let hash = transaction_hash(self.hash_key, &p.transaction_id);
        for user_id in ours(&p.users) {
            let grant = Grant { event: Some(ev), user_id: &user_id, txn_hash: &hash, product_id: &p.product_id, credits, now };
            match self.store.grant_purchase(&grant).await? {
                GrantOutcome::Granted { net } => {
                    tracing::info!(credits = net, source = "purchase", "credits granted");
                    return Ok("granted");
                }
                GrantOutcome::AlreadyKnown => return self.record(ev, "already_granted", now).await,
                GrantOutcome::DuplicateEvent => return Ok("duplicate"),
                GrantOutcome::NoSuchUser => {} // an alias may be the account
            }
        }
        self.unknown_user(ev, p.users.first(), Some(&p.product_id), now).await
    }

    /// Records an event that changes nothing; a repeat says so.
    async fn record(&self, ev: EventRef<'_>, outcome: &'static str, now: i64) -> Result<&'static str, StoreError> {
        Ok(if self.store.record_event(ev, outcome, now).await? { outcome } else { "duplicate" })
    }

    /// An event for a user we do not have (never had, or deleted): kept for
    /// operators under a keyed hash of the id only, for 30 days.
    async fn unknown_user(&self, ev: EventRef<'_>, user: Option<&String>, product: Option<&str>, now: i64) -> Result<&'static str, StoreError> {
        let hash = user_hash(self.hash_key, user.map(String::as_str).unwrap_or_default());
        self.store.record_unknown_user_event(&hash, ev, product, now).await?;
        tracing::warn!(alert = "revenuecat_unknown_user", event_id = ev.id, event_type = ev.kind, "event for a user we do not have");
        self.record(ev, "unknown_user", now).await
    }
}

/// The ids that can be ours, in order.
fn ours(users: &[String]) -> Vec<String> {
    users.iter().filter(|u| is_our_user_id(u)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_accepted_value_passes() {
        let accepted = vec!["Bearer new".to_string(), "Bearer old".to_string()];
        assert!(authorized(&accepted, Some("Bearer new")));
        assert!(authorized(&accepted, Some("Bearer old")));
        assert!(!authorized(&accepted, Some("Bearer other")));
        assert!(!authorized(&accepted, Some("Bearer ne")));
        assert!(!authorized(&accepted, None));
        assert!(!authorized(&["".to_string()], Some("")), "an empty secret accepts nothing");
    }
}

#[cfg(test)]
#[path = "purchases_tests.rs"]
mod memory_tests;
