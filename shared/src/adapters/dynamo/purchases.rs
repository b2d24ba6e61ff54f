//! Purchases over DynamoDB: grant once per transaction, revoke, and the
//! records the webhook keeps. Every write that changes a balance is one
//! transaction of: the event record (dedupe by event id, when there is an
//! event), the purchase record (once per transaction, keyed by a keyed hash
//! of its id), the profile's credit fields (optimistic: conditioned on the
//! values read) and the ledger rows.
//!
//! An account deletion strips its purchase records to tombstones (`state =
//! erased` and nothing else), which still keep their transactions from being
//! granted again to a new account the purchase is restored to.
//!
//! The profile lists its purchases' hashes (`purchases`, a string set) so a
//! transfer can move them; `GSI1` (`gsi1pk = PURCHASES#<owner>`) finds them
//! for an account deletion and its verifier.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::attrs::{get_n, get_s, get_str_set, item, n, n_or_zero, s, str_set};
use super::ledger::entry_put;
use super::schema::{TTL_ATTRIBUTE, event_key, orphan_event_key, owner_index, profile_key, purchase_hash, purchase_key};
use super::{DynamoStore, put_new, store_error};
use crate::backoff::Backoff;
use crate::credits::RECORD_DAYS;
use crate::credits::balance::CreditState;
use crate::credits::ledger::LedgerReason;
use crate::credits::purchases::{EventRef, Grant, GrantOutcome, Holder, RevokeOutcome, TransferOutcome};
use crate::error::StoreError;
use crate::ports::PurchaseStore;
use crate::time::rfc3339;

/// Tries of an optimistic write before giving up (503, retried by the caller).
const ATTEMPTS: usize = 8;

/// The dedupe record of a webhook event: its id, type and what it did; no
/// user, no payload. Expires after [`RECORD_DAYS`].
pub(crate) fn event_put(table: &str, event: EventRef<'_>, outcome: &str, now: i64) -> Result<TransactWriteItem, StoreError> {
    let mut record = event_key(event.id);
    record.extend(item([
        ("entity", s("revenuecat_event")),
        ("type", s(event.kind)),
        ("outcome", s(outcome)),
        ("created_at", s(rfc3339(now))),
        (TTL_ATTRIBUTE, n(now + RECORD_DAYS * 86_400)),
    ]));
    put_new(table, record)
}

/// The optimistic update of a profile's credit fields from `seen` to `next`,
/// adding or removing purchase hashes (`set_op`: `ADD` or `DELETE`).
pub(crate) fn credit_update(
    table: &str,
    user_id: &str,
    seen: &CreditState,
    next: &CreditState,
    set_op: Option<(&str, &[String])>,
) -> Result<TransactWriteItem, StoreError> {
    // Attributes a profile made before purchases existed are absent: read as 0.
    let same = |name: &str, value: i64| {
        if value == 0 { format!("(attribute_not_exists({name}) OR {name} = :{name}0)") } else { format!("{name} = :{name}0") }
    };
    let mut expr = "SET credits = :credits1, purchased = :purchased1, owed = :owed1".to_string();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(profile_key(user_id)))
        .condition_expression(format!(
            "attribute_exists(pk) AND attribute_not_exists(deleting) AND credits = :credits0 AND {} AND {}",
            same("purchased", seen.purchased),
            same("owed", seen.owed)
        ))
        .expression_attribute_values(":credits0", n(seen.credits))
        .expression_attribute_values(":purchased0", n(seen.purchased))
        .expression_attribute_values(":owed0", n(seen.owed))
        .expression_attribute_values(":credits1", n(next.credits))
        .expression_attribute_values(":purchased1", n(next.purchased))
        .expression_attribute_values(":owed1", n(next.owed));
    if let Some((op, hashes)) = set_op.filter(|(_, h)| !h.is_empty()) {
        expr.push_str(&format!(" {op} purchases :hashes"));
        update = update.expression_attribute_values(":hashes", str_set(hashes));
    }
    let update = update.update_expression(expr).build().map_err(StoreError::other)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The atomic update of a debt-free profile's credit fields by a purchase
/// of `amount` credits (see [`CreditState::grant`]: with no debt, the balance
/// and its purchased part grow by `amount`).
pub(crate) fn credit_add(table: &str, user_id: &str, amount: i64, hashes: &[String]) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(profile_key(user_id)))
        .update_expression("SET credits = credits + :amount, purchased = if_not_exists(purchased, :zero) + :amount ADD purchases :hashes")
        .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting) AND (attribute_not_exists(owed) OR owed = :zero)")
        .expression_attribute_values(":amount", n(amount))
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":hashes", str_set(hashes))
        .build()
        .map_err(StoreError::other)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

impl DynamoStore {
    /// Whether a webhook event was handled before (read consistently).
    pub(crate) async fn event_recorded(&self, event_id: &str) -> Result<bool, StoreError> {
        Ok(self.get_consistent(event_key(event_id)).await?.is_some())
    }
}

impl PurchaseStore for DynamoStore {
    /// The user's credit fields and purchases, unless the account is missing
    /// or being deleted.
    async fn credit_holder(&self, user_id: &str) -> Result<Option<Holder>, StoreError> {
        let Some(p) = self.get_consistent(profile_key(user_id)).await? else { return Ok(None) };
        if p.contains_key("deleting") {
            return Ok(None);
        }
        let state = CreditState { credits: get_n(&p, "credits")?, purchased: n_or_zero(&p, "purchased")?, owed: n_or_zero(&p, "owed")? };
        Ok(Some(Holder { state, purchases: get_str_set(&p, "purchases") }))
    }

    /// Grants a purchase once: the first of any number of webhooks and syncs
    /// naming the transaction wins; a debt is paid first.
    async fn known_purchases(&self, txn_hashes: &[String]) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut known = std::collections::HashSet::new();
        for chunk in txn_hashes.chunks(100) {
            let mut keys: Vec<_> = chunk.iter().map(|h| purchase_key(h)).collect();
            keys.dedup();
            let mut request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .projection_expression("pk")
                .consistent_read(true)
                .build()
                .map_err(StoreError::other)?;
            for attempt in 0..8u64 {
                let out = self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(store_error)?;
                for it in out.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    known.insert(purchase_hash(&get_s(it, "pk")?).to_string());
                }
                match out.unprocessed_keys().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()) {
                    Some(rest) if attempt < 7 => {
                        request = rest.clone();
                        tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                    }
                    Some(_) => return Err(StoreError::Unavailable("purchase reads left unprocessed".into())),
                    None => break,
                }
            }
        }
        Ok(known)
    }

    async fn grant_purchase(&self, g: &Grant<'_>) -> Result<GrantOutcome, StoreError> {
        let mut backoff = Backoff::contention();
        for _ in 0..ATTEMPTS {
            let Some(holder) = self.credit_holder(g.user_id).await? else { return Ok(GrantOutcome::NoSuchUser) };
            let change = holder.state.grant(g.credits);
            let mut writes = Vec::new();
            let event_at = match g.event {
                Some(ev) => {
                    writes.push(event_put(&self.table, ev, "granted", g.now)?);
                    Some(writes.len() - 1)
                }
                None => None,
            };
            let mut purchase = purchase_key(g.txn_hash);
            purchase.extend(item([
                ("entity", s("purchase")),
                ("user_id", s(g.user_id)),
                ("gsi1pk", s(owner_index(g.user_id))),
                ("gsi1sk", s("PURCHASE")),
                ("product_id", s(g.product_id)),
                ("credits", n(g.credits)),
                ("state", s("granted")),
                ("updated_at", s(rfc3339(g.now))),
            ]));
            writes.push(put_new(&self.table, purchase)?);
            let purchase_at = writes.len() - 1;
            let hashes = [g.txn_hash.to_string()];
            // Without a debt a grant only adds, so it needs no snapshot of the
            // balance: concurrent grants and jobs of one user do not refuse it.
            writes.push(if holder.state.owed == 0 {
                credit_add(&self.table, g.user_id, g.credits, &hashes)?
            } else {
                credit_update(&self.table, g.user_id, &holder.state, &change.next, Some(("ADD", &hashes)))?
            });
            writes.push(entry_put(&self.table, g.user_id, g.credits, LedgerReason::Purchase, Some(g.txn_hash), g.now)?);
            if change.taken > 0 {
                writes.push(entry_put(&self.table, g.user_id, -change.taken, LedgerReason::DebtPaid, Some(g.txn_hash), g.now)?);
            }
            match self.transact(writes).await? {
                Ok(()) => return Ok(GrantOutcome::Granted { net: change.delta() }),
                Err(refused) if event_at.is_some_and(|i| refused.failed_at(i)) => return Ok(GrantOutcome::DuplicateEvent),
                Err(refused) if refused.failed_at(purchase_at) => return Ok(GrantOutcome::AlreadyKnown),
                // The debt changed (a refund) or the account went: read again.
                Err(_) => backoff.pause().await,
            }
        }
        Err(StoreError::Unavailable("purchase grant kept conflicting".into()))
    }

    /// Revokes a purchase (a refund): from its owner's balance as far as it
    /// goes, the rest owed. A purchase not granted yet is marked revoked under
    /// the first named user that exists, so no later event or sync grants it.
    async fn revoke_purchase(
        &self,
        event: EventRef<'_>,
        users: &[String],
        txn_hash: &str,
        product_id: &str,
        credits: i64,
        now: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        let mut backoff = Backoff::contention();
        for _ in 0..ATTEMPTS {
            let stored = self.get_consistent(purchase_key(txn_hash)).await?;
            let mut writes = vec![event_put(&self.table, event, "revoked", now)?];
            let outcome = match &stored {
                None => {
                    let mut owner = None;
                    for u in users {
                        if let Some(h) = self.credit_holder(u).await? {
                            owner = Some((u.clone(), h));
                            break;
                        }
                    }
                    let Some((user_id, holder)) = owner else { return Ok(RevokeOutcome::NoSuchUser) };
                    let mut purchase = purchase_key(txn_hash);
                    purchase.extend(item([
                        ("entity", s("purchase")),
                        ("user_id", s(user_id.as_str())),
                        ("gsi1pk", s(owner_index(&user_id))),
                        ("gsi1sk", s("PURCHASE")),
                        ("product_id", s(product_id)),
                        ("credits", n(credits)),
                        ("state", s("revoked")),
                        ("updated_at", s(rfc3339(now))),
                    ]));
                    writes.push(put_new(&self.table, purchase)?);
                    let hashes = [txn_hash.to_string()];
                    writes.push(credit_update(&self.table, &user_id, &holder.state, &holder.state, Some(("ADD", &hashes)))?);
                    RevokeOutcome::MarkedRevoked
                }
                Some(p) if get_s(p, "state")? == "revoked" => return Ok(RevokeOutcome::AlreadyRevoked),
                // The owner's account was deleted: nothing is left to take back.
                Some(p) if get_s(p, "state")? == "erased" => return Ok(RevokeOutcome::NoSuchUser),
                Some(p) => {
                    let owner = get_s(p, "user_id")?;
                    let amount = get_n(p, "credits")?;
                    // A deleted owner's purchases are deleted with the account.
                    let Some(holder) = self.credit_holder(&owner).await? else { return Ok(RevokeOutcome::NoSuchUser) };
                    let change = holder.state.revoke(amount);
                    let update = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(purchase_key(txn_hash)))
                        .update_expression("SET #state = :revoked, updated_at = :now")
                        .condition_expression("#state = :granted AND user_id = :owner")
                        .expression_attribute_names("#state", "state")
                        .expression_attribute_values(":revoked", s("revoked"))
                        .expression_attribute_values(":granted", s("granted"))
                        .expression_attribute_values(":owner", s(owner.as_str()))
                        .expression_attribute_values(":now", s(rfc3339(now)))
                        .build()
                        .map_err(StoreError::other)?;
                    writes.push(TransactWriteItem::builder().update(update).build());
                    writes.push(credit_update(&self.table, &owner, &holder.state, &change.next, None)?);
                    if change.taken > 0 {
                        writes.push(entry_put(&self.table, &owner, -change.taken, LedgerReason::PurchaseRefund, Some(txn_hash), now)?);
                    }
                    RevokeOutcome::Revoked { taken: change.taken, owed: change.next.owed }
                }
            };
            match self.transact(writes).await? {
                Ok(()) => return Ok(outcome),
                Err(refused) if refused.failed_at(0) => return Ok(RevokeOutcome::DuplicateEvent),
                // The purchase or a balance changed meanwhile: read again.
                Err(_) => backoff.pause().await,
            }
        }
        Err(StoreError::Unavailable("purchase refund kept conflicting".into()))
    }

    /// Records a webhook event that changes no balance (`false`: seen before).
    async fn record_event(&self, event: EventRef<'_>, outcome: &str, now: i64) -> Result<bool, StoreError> {
        self.transact_if(vec![event_put(&self.table, event, outcome, now)?]).await
    }

    /// Keeps an event naming a user we do not have, for operators, under a
    /// keyed hash of the user id only, for [`RECORD_DAYS`].
    async fn record_unknown_user_event(&self, user_hash: &str, event: EventRef<'_>, product_id: Option<&str>, now: i64) -> Result<(), StoreError> {
        let mut row = orphan_event_key(user_hash, event.id);
        row.extend(item([
            ("entity", s("unknown_user_event")),
            ("type", s(event.kind)),
            ("created_at", s(rfc3339(now))),
            (TTL_ATTRIBUTE, n(now + RECORD_DAYS * 86_400)),
        ]));
        if let Some(p) = product_id {
            row.insert("product_id".into(), s(p));
        }
        self.client.put_item().table_name(&self.table).set_item(Some(row)).send().await.map_err(store_error)?;
        Ok(())
    }

    /// The purchases a user owns: product, credits and state (for support).
    async fn purchases_of(&self, user_id: &str) -> Result<Vec<(String, i64, String)>, StoreError> {
        let Some(p) = self.get_consistent(profile_key(user_id)).await? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for h in get_str_set(&p, "purchases") {
            if let Some(it) = self.get_consistent(purchase_key(&h)).await? {
                out.push((get_s(&it, "product_id")?, get_n(&it, "credits")?, get_s(&it, "state")?));
            }
        }
        Ok(out)
    }

    async fn transfer_purchases(&self, event: EventRef<'_>, from: &[String], to: &str, now: i64) -> Result<TransferOutcome, StoreError> {
        self.transfer(event, from, to, now).await
    }
}
