//! Account deletion over DynamoDB: the mark that stops every write and the
//! revocation of every session (one transaction), then the erasure of every
//! item of the user, the profile last, and a deletion log that holds only a
//! keyed hash (so a restore from a backup can re-apply the deletions).

use aws_sdk_dynamodb::types::{Delete, DeleteRequest, TransactWriteItem, Update, WriteRequest};

use super::attrs::{Item, get_s, item, n, s};
use super::schema::{DELETION_LOG_PK, GSI1, PROFILE, TTL_ATTRIBUTE, deletion_log_key, owner_index, profile_key, purchase_hash, purchase_key, user_pk};
use super::{DynamoStore, store_error};
use crate::error::StoreError;
use crate::ports::DeletionStore;
use crate::time::rfc3339;

/// Days the deletion log keeps an entry: longer than point-in-time recovery's 35.
pub const DELETION_LOG_DAYS: i64 = 40;

impl DynamoStore {
    /// The keys of the user's items (those whose sort key starts with
    /// `prefix`, when given), read consistently.
    async fn partition_keys(&self, user_id: &str, prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .projection_expression("pk, sk")
            .consistent_read(true);
        let query = match prefix {
            Some(p) => query.key_condition_expression("pk = :pk AND begins_with(sk, :prefix)").expression_attribute_values(":prefix", s(p)),
            None => query.key_condition_expression("pk = :pk"),
        };
        self.query_all(query).await
    }

    /// The keys of the purchase records that name the user as owner.
    async fn owned_purchase_keys(&self, user_id: &str) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :owner")
            .expression_attribute_values(":owner", s(owner_index(user_id)));
        self.query_all(query).await?.iter().map(|it| Ok(purchase_key(purchase_hash(&get_s(it, "pk")?)))).collect()
    }

    /// Deletes items by key, 25 per call, until none is left unprocessed.
    async fn erase(&self, keys: &[Item]) -> Result<usize, StoreError> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(StoreError::other)
                })
                .collect::<Result<_, _>>()?;
            for attempt in 0..8u64 {
                let out = self.client.batch_write_item().request_items(&self.table, requests).send().await.map_err(store_error)?;
                requests = out.unprocessed_items().and_then(|m| m.get(&self.table)).cloned().unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt == 7 {
                    return Err(StoreError::Unavailable("deletions left unprocessed".into()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(keys.len())
    }
}

impl DeletionStore for DynamoStore {
    /// Marks the account as being deleted (no balance, job or purchase write
    /// succeeds after it) and deletes every session, in one transaction, so
    /// every token answers 401 from now on. `false`: no such profile (its
    /// sessions, if any, are deleted all the same).
    async fn begin_deletion(&self, user_id: &str, now: i64) -> Result<bool, StoreError> {
        let sessions = self.partition_keys(user_id, Some("SESSION#")).await?;
        let mark = Update::builder()
            .table_name(&self.table)
            .set_key(Some(profile_key(user_id)))
            .update_expression("SET deleting = if_not_exists(deleting, :now)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", s(rfc3339(now)))
            .build()
            .map_err(StoreError::other)?;
        let mut writes = vec![TransactWriteItem::builder().update(mark).build()];
        // A transaction takes 100 items; a user has a handful of sessions.
        for key in sessions.iter().take(99) {
            let delete = Delete::builder().table_name(&self.table).set_key(Some(key.clone())).build().map_err(StoreError::other)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        let exists = match self.transact(writes).await? {
            Ok(()) => true,
            Err(refused) if refused.failed_at(0) => false,
            Err(_) => return Err(StoreError::other("a session deletion was refused")),
        };
        if !exists || sessions.len() > 99 {
            self.erase(&sessions).await?;
        }
        Ok(exists)
    }

    /// Strips the user's purchase records down to tombstones: the keyed hash
    /// of the transaction and `state = erased`, no owner, product or credits.
    /// The record is the once-only guard of its transaction, so a purchase
    /// restored to a new account after the deletion is not granted again.
    /// Conditional on the owner, so a record just transferred to another user
    /// (the index lags) is left alone. Returns how many were stripped.
    async fn tombstone_purchases(&self, user_id: &str, now: i64) -> Result<usize, StoreError> {
        let mut keys = self.owned_purchase_keys(user_id).await?;
        // The profile's own list is read consistently; the index may lag.
        if let Some(profile) = self.get_consistent(profile_key(user_id)).await? {
            keys.extend(super::attrs::get_str_set(&profile, "purchases").iter().map(|h| purchase_key(h)));
        }
        let mut stripped = 0;
        for key in keys {
            let out = self
                .update(key)
                .update_expression("SET #state = :erased, updated_at = :now REMOVE user_id, gsi1pk, gsi1sk, product_id, credits")
                .condition_expression("user_id = :me")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":erased", s("erased"))
                .expression_attribute_values(":now", s(rfc3339(now)))
                .expression_attribute_values(":me", s(user_id));
            if self.update_if(out).await? {
                stripped += 1;
            }
        }
        Ok(stripped)
    }

    /// Deletes the profile, last, and logs the deletion under `user_hash`.
    async fn finish_deletion(&self, user_id: &str, user_hash: &str, now: i64) -> Result<bool, StoreError> {
        if self.partition_keys(user_id, Some(PROFILE)).await?.is_empty() {
            return Ok(false);
        }
        let mut log = deletion_log_key(now, user_hash);
        log.extend(item([("entity", s("deletion_log")), ("user_hash", s(user_hash)), (TTL_ATTRIBUTE, n(now + DELETION_LOG_DAYS * 86_400))]));
        self.client.put_item().table_name(&self.table).set_item(Some(log)).send().await.map_err(store_error)?;
        self.client.delete_item().table_name(&self.table).set_key(Some(profile_key(user_id))).send().await.map_err(store_error)?;
        Ok(true)
    }

    /// The user hashes in the deletion log (to re-apply after a restore).
    async fn deletion_log(&self) -> Result<Vec<String>, StoreError> {
        let query = self.client.query().table_name(&self.table).key_condition_expression("pk = :pk").expression_attribute_values(":pk", s(DELETION_LOG_PK));
        self.query_all(query).await?.iter().map(|it| get_s(it, "user_hash")).collect()
    }

    /// Every user id with a profile (a full scan: for the operators' command
    /// that re-applies deletions after a restore, never for a request).
    async fn all_user_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("sk = :profile")
                .expression_attribute_values(":profile", s(PROFILE))
                .projection_expression("user_id")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error)?;
            for it in page.items() {
                ids.push(get_s(it, "user_id")?);
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(ids);
            }
        }
    }

    async fn erase_records(&self, user_id: &str) -> Result<usize, StoreError> {
        let rest: Vec<_> =
            self.partition_keys(user_id, None).await?.into_iter().filter(|k| k.get("sk").and_then(|v| v.as_s().ok()).is_none_or(|sk| sk != PROFILE)).collect();
        self.erase(&rest).await
    }

    async fn remaining_records(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.partition_keys(user_id, None).await?.iter().filter_map(|k| k.get("sk")?.as_s().ok().cloned()).collect())
    }

    async fn owned_purchases(&self, user_id: &str) -> Result<usize, StoreError> {
        Ok(self.owned_purchase_keys(user_id).await?.len())
    }
}
