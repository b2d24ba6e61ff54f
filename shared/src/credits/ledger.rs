//! The ledger's vocabulary: why a balance changed, one posting (a balance
//! change and what changes with it), a stored entry, and a broken invariant.

/// Why a balance changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerReason {
    /// Credits every new account starts with (`FREE_CREDITS`).
    FreeCredits,
    /// The price of a job.
    JobCharge,
    /// A failed or deleted job's price given back.
    JobRefund,
    /// Credits granted by an operator (the support command).
    SupportGrant,
    /// A purchase's credits (reference: the transaction's keyed hash).
    Purchase,
    /// A refunded purchase taken back, as far as the balance goes.
    PurchaseRefund,
    /// A debt left by a refund, paid from a later purchase.
    DebtPaid,
    /// Unspent purchased credits moved to another user (reference: the event id).
    TransferOut,
    /// Unspent purchased credits received from another user.
    TransferIn,
}

impl LedgerReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerReason::FreeCredits => "free_credits",
            LedgerReason::JobCharge => "job_charge",
            LedgerReason::JobRefund => "job_refund",
            LedgerReason::SupportGrant => "support_grant",
            LedgerReason::Purchase => "purchase",
            LedgerReason::PurchaseRefund => "purchase_refund",
            LedgerReason::DebtPaid => "debt_paid",
            LedgerReason::TransferOut => "transfer_out",
            LedgerReason::TransferIn => "transfer_in",
        }
    }
}

/// One balance change and what else changes on the profile with it.
#[derive(Debug, Clone)]
pub struct Posting<'a> {
    /// The user.
    pub user_id: &'a str,
    /// Credits added (negative: taken).
    pub amount: i64,
    /// Why.
    pub reason: LedgerReason,
    /// What it refers to (a job id), if anything.
    pub reference: Option<&'a str>,
    /// Change of the user's count of queued or processing jobs.
    pub active_jobs_delta: i64,
    /// With a positive delta: the count must stay at most this.
    pub max_active_jobs: Option<i64>,
    /// When (Unix seconds).
    pub now: i64,
}

/// One ledger row, as the support command shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// When (RFC 3339).
    pub created_at: String,
    /// Credits added (negative: taken).
    pub amount: i64,
    /// Why (the stored name of a [`LedgerReason`]).
    pub reason: String,
    /// What it refers to, if anything.
    pub reference: Option<String>,
}

/// A balance that does not match its ledger.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("user {user_id}: balance {balance}, ledger sum {ledger_sum}")]
pub struct InvariantViolation {
    /// The user.
    pub user_id: String,
    /// The stored balance.
    pub balance: i64,
    /// The sum of the user's ledger entries.
    pub ledger_sum: i64,
}

impl Posting<'_> {
    /// A job's price taken, taking one of the user's active-job slots
    /// (at most `max_active` of them).
    pub fn charge<'a>(user_id: &'a str, job_id: &'a str, price: i64, max_active: i64, now: i64) -> Posting<'a> {
        Posting {
            user_id,
            amount: -price,
            reason: LedgerReason::JobCharge,
            reference: Some(job_id),
            active_jobs_delta: 1,
            max_active_jobs: Some(max_active),
            now,
        }
    }

    /// A job's price given back, freeing its slot.
    pub fn refund<'a>(user_id: &'a str, job_id: &'a str, price: i64, now: i64) -> Posting<'a> {
        Posting { user_id, amount: price, reason: LedgerReason::JobRefund, reference: Some(job_id), active_jobs_delta: -1, max_active_jobs: None, now }
    }
}
