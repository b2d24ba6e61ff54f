//! Balances and their ledger.

use crate::credits::ledger::{InvariantViolation, LedgerEntry, Posting};
use crate::error::StoreError;

/// Balance changes and the ledger that explains them.
pub trait LedgerStore {
    /// Posts one balance change on its own (a grant), paying a debt first.
    /// `false`: no such account (or one being deleted), or the balance would
    /// go below zero.
    fn post(&self, posting: &Posting<'_>) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The user's ledger, oldest first, read consistently.
    fn ledger_entries(&self, user_id: &str) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send;

    /// Checks balance = sum of the ledger, never below zero; the balance.
    fn check_balance_invariant(&self, user_id: &str) -> impl Future<Output = Result<Result<i64, InvariantViolation>, StoreError>> + Send;
}
