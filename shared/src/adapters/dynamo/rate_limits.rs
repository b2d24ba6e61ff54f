//! Rate limits over DynamoDB: a sliding log in one item (per hashed IP for
//! sign-ups, in the user's partition for per-user limits), updated with
//! optimistic concurrency (a version number), expiring by TTL.

use super::attrs::{get_n, get_num_list, item, n, num_list, s};
use super::{DynamoStore, TTL_ATTRIBUTE, store_error};
use crate::error::StoreError;
use crate::ports::SignupLimiter;
use crate::rate_limit::{Admission, slide};

impl SignupLimiter for DynamoStore {
    async fn admit_signup(&self, ip_key: &str, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        let key = item([("pk", s(format!("SIGNUP#{ip_key}"))), ("sk", s("SIGNUP"))]);
        self.admit_hit(key, "signup_limit", now, limit, window_secs).await
    }
}

impl DynamoStore {
    /// Records one use of `action` by the user unless `limit` were made in the
    /// last `window_secs` (the counter lives, and is deleted, with the user).
    pub async fn admit_user_action(&self, user_id: &str, action: &str, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        let key = item([("pk", s(super::user_pk(user_id))), ("sk", s(format!("RATE#{action}")))]);
        self.admit_hit(key, "rate_limit", now, limit, window_secs).await
    }

    async fn admit_hit(&self, key: super::attrs::Item, entity: &str, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        for _ in 0..8 {
            let current = self
                .client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(key.clone()))
                .consistent_read(true)
                .send()
                .await
                .map_err(store_error)?;
            let (hits, version) = match current.item() {
                Some(it) => (get_num_list(it, "hits"), get_n(it, "version")?),
                None => (Vec::new(), 0),
            };
            let log = match slide(&hits, now, limit, window_secs) {
                Ok(log) => log,
                Err(retry_after_secs) => return Ok(Admission::Limited { retry_after_secs }),
            };
            let mut next = key.clone();
            next.extend(item([
                ("entity", s(entity)),
                ("hits", num_list(&log)),
                ("version", n(version + 1)),
                (TTL_ATTRIBUTE, n(now + window_secs)),
            ]));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(next))
                .condition_expression("attribute_not_exists(pk) OR version = :v")
                .expression_attribute_values(":v", n(version))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(Admission::Admitted),
                Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => continue,
                Err(e) => return Err(store_error(e)),
            }
        }
        Err(StoreError::Unavailable("rate-limit counter contended".into()))
    }
}
