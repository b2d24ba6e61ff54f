//! Rate limits over DynamoDB: a sliding log of hit times in one item (per
//! hashed IP for sign-ups, in the user's partition for per-user limits),
//! expiring by TTL. Concurrent requests must not turn into errors, so a hit
//! is appended atomically while the log has room (DynamoDB applies
//! concurrent appends one after the other; the condition on the log's size
//! keeps the limit); only dropping hits that left the window replaces the
//! log, conditioned on what was read, retried with jittered backoff.

use aws_sdk_dynamodb::types::AttributeValue;

use super::DynamoStore;
use super::attrs::n_or_zero;
use super::attrs::{Item, get_num_list, n, num_list, s};
use super::schema::{TTL_ATTRIBUTE, provider_tasks_key, rate_key, signup_key, spend_key};
use super::store_error;
use crate::backoff::Backoff;
use crate::error::StoreError;
use crate::ports::{ActionLimiter, ProviderBudget, SignupLimiter};
use crate::rate_limit::{Admission, slide};

/// Reads of a contended log before giving up (a 503).
const TRIES: usize = 8;

impl SignupLimiter for DynamoStore {
    async fn admit_signup(&self, ip_key: &str, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        let key = signup_key(ip_key);
        self.admit_hit(key, "signup_limit", now, limit, window_secs).await
    }
}

impl ActionLimiter for DynamoStore {
    /// Records one use of `action` by the user unless `limit` were made in the
    /// last `window_secs` (the counter lives, and is deleted, with the user).
    async fn admit_user_action(&self, user_id: &str, action: &str, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        let key = rate_key(user_id, action);
        self.admit_hit(key, "rate_limit", now, limit, window_secs).await
    }
}

impl ProviderBudget for DynamoStore {
    async fn admit_provider_task(&self, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        self.admit_hit(provider_tasks_key(), "provider_tasks", now, limit, window_secs).await
    }

    async fn add_spend(&self, day: &str, micro_usd: i64) -> Result<(), StoreError> {
        // Kept a week (TTL), long enough for an operator to look back.
        let expires = crate::time::now() + 7 * 86_400;
        self.update(spend_key(day))
            .update_expression("ADD spent :amount SET entity = :entity, #exp = :exp")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":amount", n(micro_usd))
            .expression_attribute_values(":entity", s("provider_spend"))
            .expression_attribute_values(":exp", n(expires))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn spent(&self, day: &str) -> Result<i64, StoreError> {
        self.get_consistent(spend_key(day)).await?.map_or(Ok(0), |it| n_or_zero(&it, "spent"))
    }
}

impl DynamoStore {
    async fn admit_hit(&self, key: Item, entity: &str, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        let mut backoff = Backoff::contention();
        for _ in 0..TRIES {
            let hits = self.get_consistent(key.clone()).await?.map(|it| get_num_list(&it, "hits")).unwrap_or_default();
            let log = match slide(&hits, now, limit, window_secs) {
                Ok(log) => log,
                Err(retry_after_secs) => return Ok(Admission::Limited { retry_after_secs }),
            };
            let update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":entity", s(entity))
                .expression_attribute_values(":exp", n(now + window_secs));
            let update = if log.len() == hits.len() + 1 {
                // Nothing left the window: append, as long as the log has room.
                update
                    .update_expression("SET hits = list_append(if_not_exists(hits, :empty), :hit), entity = :entity, #exp = :exp")
                    .condition_expression("attribute_not_exists(hits) OR size(hits) < :limit")
                    .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
                    .expression_attribute_values(":hit", num_list(&[now]))
                    .expression_attribute_values(":limit", n(i64::from(limit)))
            } else {
                // Old hits leave the log: replace it, if it is still as read.
                update
                    .update_expression("SET hits = :log, entity = :entity, #exp = :exp")
                    .condition_expression("hits = :seen")
                    .expression_attribute_values(":log", num_list(&log))
                    .expression_attribute_values(":seen", num_list(&hits))
            };
            if self.update_if(update).await? {
                return Ok(Admission::Admitted);
            }
            backoff.pause().await;
        }
        Err(StoreError::Unavailable("rate-limit counter contended".into()))
    }
}
