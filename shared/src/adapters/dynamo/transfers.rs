//! RevenueCat's `TRANSFER`: each source user's unspent purchased credits,
//! and the ownership of its purchases, move to the receiving user in one
//! transaction (a later refund then debits the new owner). Re-running it is
//! harmless: a source that has moved everything has nothing left to move.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::DynamoStore;
use super::attrs::{n, s, str_set};
use super::ledger::entry_put;
use super::purchases::credit_update;
use super::schema::{owner_index, profile_key, purchase_key};
use crate::backoff::Backoff;
use crate::credits::ledger::LedgerReason;
use crate::credits::purchases::{EventRef, TransferOutcome};
use crate::error::StoreError;
use crate::ports::PurchaseStore;

/// Purchases moved per transaction beside the balances (DynamoDB takes 100 items).
const PURCHASES_PER_TRANSACTION: usize = 90;

impl DynamoStore {
    /// Moves what `from` users own to `to`, then records the event.
    pub(crate) async fn transfer(&self, event: EventRef<'_>, from: &[String], to: &str, now: i64) -> Result<TransferOutcome, StoreError> {
        // A repeated delivery must not move what the source bought since the first.
        if self.event_recorded(event.id).await? {
            return Ok(TransferOutcome::DuplicateEvent);
        }
        if self.credit_holder(to).await?.is_none() {
            return Ok(TransferOutcome::NoSuchUser);
        }
        let mut moved_total = 0;
        for source in from {
            moved_total += self.transfer_one(source, to, now).await?;
        }
        Ok(if self.record_event(event, "transferred", now).await? { TransferOutcome::Moved(moved_total) } else { TransferOutcome::DuplicateEvent })
    }

    /// One source: balances and the first purchases together, then any
    /// further purchases in their own transactions.
    async fn transfer_one(&self, source: &str, to: &str, now: i64) -> Result<i64, StoreError> {
        let mut moved_total = 0;
        let mut backoff = Backoff::contention();
        for _ in 0..32 {
            let Some(src) = self.credit_holder(source).await? else { return Ok(moved_total) };
            let change = src.state.transfer_out();
            let moved = change.taken;
            let chunk: Vec<String> = src.purchases.iter().take(PURCHASES_PER_TRANSACTION).cloned().collect();
            if moved == 0 && chunk.is_empty() {
                return Ok(moved_total);
            }
            let mut writes = vec![credit_update(&self.table, source, &src.state, &change.next, Some(("DELETE", &chunk)))?];
            let mut expr = "SET credits = credits + :moved, purchased = if_not_exists(purchased, :zero) + :moved".to_string();
            let mut receiver = Update::builder()
                .table_name(&self.table)
                .set_key(Some(profile_key(to)))
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
                .expression_attribute_values(":moved", n(moved))
                .expression_attribute_values(":zero", n(0));
            if !chunk.is_empty() {
                expr.push_str(" ADD purchases :hashes");
                receiver = receiver.expression_attribute_values(":hashes", str_set(&chunk));
            }
            writes.push(TransactWriteItem::builder().update(receiver.update_expression(expr).build().map_err(StoreError::other)?).build());
            if moved > 0 {
                writes.push(entry_put(&self.table, source, -moved, LedgerReason::TransferOut, None, now)?);
                writes.push(entry_put(&self.table, to, moved, LedgerReason::TransferIn, None, now)?);
            }
            for h in &chunk {
                let owner = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(purchase_key(h)))
                    .update_expression("SET user_id = :to, gsi1pk = :to_index")
                    .condition_expression("user_id = :from")
                    .expression_attribute_values(":to", s(to))
                    .expression_attribute_values(":to_index", s(owner_index(to)))
                    .expression_attribute_values(":from", s(source))
                    .build()
                    .map_err(StoreError::other)?;
                writes.push(TransactWriteItem::builder().update(owner).build());
            }
            match self.transact(writes).await? {
                Ok(()) => moved_total += moved,
                Err(refused) if refused.failed_at(1) => return Ok(moved_total), // the receiver went away
                // The source's balance moved (a job, a grant): read again.
                Err(_) => backoff.pause().await,
            }
        }
        Err(StoreError::Unavailable("transfer kept conflicting".into()))
    }
}
