//! Purchases: granted once per transaction, revoked, transferred, and the
//! webhook events' dedupe records.

use crate::credits::purchases::{EventRef, Grant, GrantOutcome, Holder, RevokeOutcome, TransferOutcome};
use crate::error::StoreError;

/// Purchase records and the balances they change.
pub trait PurchaseStore {
    /// The user's credit fields and purchases, unless the account is
    /// missing or being deleted.
    fn credit_holder(&self, user_id: &str) -> impl Future<Output = Result<Option<Holder>, StoreError>> + Send;

    /// Which of `txn_hashes` have a purchase record (granted, revoked or
    /// erased: none may be granted again), read in batches of 100.
    fn known_purchases(&self, txn_hashes: &[String]) -> impl Future<Output = Result<std::collections::HashSet<String>, StoreError>> + Send;

    /// Grants a purchase once per transaction (and once per event).
    fn grant_purchase(&self, grant: &Grant<'_>) -> impl Future<Output = Result<GrantOutcome, StoreError>> + Send;

    /// Revokes a refunded purchase: from its owner, or from the first of
    /// `users` that exists when it was never granted.
    fn revoke_purchase(
        &self,
        event: EventRef<'_>,
        users: &[String],
        txn_hash: &str,
        product_id: &str,
        credits: i64,
        now: i64,
    ) -> impl Future<Output = Result<RevokeOutcome, StoreError>> + Send;

    /// Moves what the `from` users own to `to`, then records the event.
    fn transfer_purchases(&self, event: EventRef<'_>, from: &[String], to: &str, now: i64) -> impl Future<Output = Result<TransferOutcome, StoreError>> + Send;

    /// Records an event that changed nothing. `false`: recorded before.
    fn record_event(&self, event: EventRef<'_>, outcome: &str, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Keeps an event for a user we do not have, under a keyed hash only.
    fn record_unknown_user_event(
        &self,
        user_hash: &str,
        event: EventRef<'_>,
        product_id: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's purchases as (hash, credits, state), for operators.
    fn purchases_of(&self, user_id: &str) -> impl Future<Output = Result<Vec<(String, i64, String)>, StoreError>> + Send;
}
