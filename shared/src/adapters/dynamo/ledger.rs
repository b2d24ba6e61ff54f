//! The ledger: every change of a balance is one entry written in the same
//! transaction as the balance change, so for every user, at every moment,
//! balance = sum of the user's ledger entries, and never below zero.
//! Every ledger row is written by [`entry_put`]: [`posting`] pairs it with
//! the conditional balance change of charges, refunds and grants; purchases
//! (`purchases.rs`) pair it with an optimistic update of the credit fields.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::DynamoStore;
use super::attrs::{get_n, item, n, opt_s, s};
use super::schema::{PROFILE, ledger_sk, user_pk};
use crate::credits::ledger::{InvariantViolation, LedgerEntry, LedgerReason, Posting};
use crate::error::StoreError;
use crate::ports::LedgerStore;
use crate::time::rfc3339;

/// The `Put` of a ledger row alone, for sign-up, where the profile is created
/// with its opening balance in the same transaction.
pub(crate) fn entry_put(
    table: &str,
    user_id: &str,
    amount: i64,
    reason: LedgerReason,
    reference: Option<&str>,
    now: i64,
) -> Result<TransactWriteItem, StoreError> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let mut row = item([
        ("pk", s(user_pk(user_id))),
        ("sk", s(ledger_sk(&id))),
        ("entity", s("ledger")),
        ("user_id", s(user_id)),
        ("amount", n(amount)),
        ("reason", s(reason.as_str())),
        ("created_at", s(rfc3339(now))),
    ]);
    if let Some(r) = reference {
        row.insert("reference".into(), s(r));
    }
    super::put_new(table, row)
}

/// The writes of a balance change: the profile's balance (only if the
/// account exists and is not being deleted, the balance stays at or above
/// zero, and the active-job limit holds) and its ledger row. They go into one
/// transaction, with whatever else the change belongs to. Index 0 is the
/// profile update.
///
/// A credit coming back (a positive amount: a job refund, a grant) pays the
/// owner's debt first (see `credits::balance`), so credits taken back by a
/// refunded purchase cannot return through a refunded job. `owed` is the debt
/// as read: with 0 the write requires there to be no debt; otherwise it
/// requires exactly that debt, pays `min(owed, amount)` of it and adds a
/// `debt_paid` row. [`DynamoStore::transact_paying_debt`] reads the debt when
/// the first guess was wrong.
pub(crate) fn posting(table: &str, p: &Posting<'_>, owed: i64) -> Result<Vec<TransactWriteItem>, StoreError> {
    // An account being deleted takes no more changes.
    let mut condition = "attribute_exists(pk) AND attribute_not_exists(deleting) AND credits >= :debit".to_string();
    let paid = if p.amount > 0 { owed.min(p.amount).max(0) } else { 0 };
    let mut update = Update::builder()
        .table_name(table)
        .key("pk", s(user_pk(p.user_id)))
        .key("sk", s(PROFILE))
        .expression_attribute_values(":amount", n(p.amount - paid))
        .expression_attribute_values(":debit", n((-p.amount).max(0)))
        .expression_attribute_values(":delta", n(p.active_jobs_delta))
        .expression_attribute_values(":zero", n(0));
    let mut set = "SET credits = credits + :amount, active_jobs = if_not_exists(active_jobs, :zero) + :delta".to_string();
    if p.amount > 0 {
        if owed > 0 {
            condition.push_str(" AND owed = :owed");
            set.push_str(", owed = :owed_after");
            update = update.expression_attribute_values(":owed", n(owed)).expression_attribute_values(":owed_after", n(owed - paid));
        } else {
            condition.push_str(" AND (attribute_not_exists(owed) OR owed = :zero)");
        }
    }
    if let Some(max) = p.max_active_jobs {
        condition.push_str(" AND (attribute_not_exists(active_jobs) OR active_jobs < :max_active)");
        update = update.expression_attribute_values(":max_active", n(max));
    }
    let update = update.update_expression(set).condition_expression(condition).build().map_err(StoreError::other)?;
    let mut writes = vec![TransactWriteItem::builder().update(update).build(), entry_put(table, p.user_id, p.amount, p.reason, p.reference, p.now)?];
    if paid > 0 {
        writes.push(entry_put(table, p.user_id, -paid, LedgerReason::DebtPaid, p.reference, p.now)?);
    }
    Ok(writes)
}

/// Frees one of the user's active-job slots, with no balance change (a job
/// that succeeded, or was deleted after its provider task started).
pub(crate) fn free_slot(table: &str, user_id: &str) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(user_pk(user_id)))
        .key("sk", s(PROFILE))
        .update_expression("SET active_jobs = active_jobs - :one")
        .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
        .expression_attribute_values(":one", n(1))
        .build()
        .map_err(StoreError::other)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

impl DynamoStore {
    /// The user's debt; `None` when the account is missing or being deleted.
    pub(crate) async fn owed(&self, user_id: &str) -> Result<Option<i64>, StoreError> {
        let profile = self.get_consistent(super::profile_key(user_id)).await?;
        profile.filter(|p| !p.contains_key("deleting")).map(|p| super::attrs::n_or_zero(&p, "owed")).transpose()
    }

    /// Runs the transaction `build(owed)` makes (with the index of its
    /// profile update): first assuming no debt, then, when the profile's
    /// condition refused it, with the debt read. A refusal for any other
    /// reason (the account went, a job changed) is the answer.
    pub(crate) async fn transact_paying_debt(
        &self,
        user_id: &str,
        build: impl Fn(i64) -> Result<(Vec<TransactWriteItem>, usize), StoreError>,
    ) -> Result<Result<(), super::transact::Refused>, StoreError> {
        let mut owed = 0;
        for _ in 0..8 {
            let (writes, profile_at) = build(owed)?;
            match self.transact(writes).await? {
                Ok(()) => return Ok(Ok(())),
                Err(refused) if refused.failed_at(profile_at) => match self.owed(user_id).await? {
                    Some(now_owed) if now_owed != owed => owed = now_owed,
                    _ => return Ok(Err(refused)),
                },
                Err(refused) => return Ok(Err(refused)),
            }
        }
        Err(StoreError::Unavailable("the debt kept changing".into()))
    }
}

impl LedgerStore for DynamoStore {
    /// Posts one balance change on its own (a grant, for instance), paying a
    /// debt first. `false` when the account does not exist (or is being
    /// deleted) or the balance would go below zero.
    async fn post(&self, p: &Posting<'_>) -> Result<bool, StoreError> {
        Ok(self.transact_paying_debt(p.user_id, |owed| Ok((posting(&self.table, p, owed)?, 0))).await?.is_ok())
    }

    /// The user's ledger, oldest first, read consistently.
    async fn ledger_entries(&self, user_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :ledger)")
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .expression_attribute_values(":ledger", s("LEDGER#"))
            .consistent_read(true);
        self.query_all(query)
            .await?
            .iter()
            .map(|row| {
                Ok(LedgerEntry {
                    created_at: opt_s(row, "created_at").unwrap_or_default(),
                    amount: get_n(row, "amount")?,
                    reason: opt_s(row, "reason").unwrap_or_default(),
                    reference: opt_s(row, "reference"),
                })
            })
            .collect()
    }

    /// Checks the invariant for one user from DynamoDB: balance = sum of the
    /// ledger, and never below zero. Returns the balance.
    async fn check_balance_invariant(&self, user_id: &str) -> Result<Result<i64, InvariantViolation>, StoreError> {
        let profile = self.get_consistent(super::profile_key(user_id)).await?;
        let balance = profile.as_ref().map(|it| get_n(it, "credits")).transpose()?.unwrap_or(0);
        let ledger_sum = self.ledger_entries(user_id).await?.iter().map(|e| e.amount).sum();
        Ok(if balance == ledger_sum && balance >= 0 { Ok(balance) } else { Err(InvariantViolation { user_id: user_id.to_string(), balance, ledger_sum }) })
    }
}
