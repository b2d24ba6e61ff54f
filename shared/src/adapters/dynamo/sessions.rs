//! `SessionStore` over DynamoDB: every rotation is a conditional update (a
//! compare-and-set on the live token), so two refreshes racing with one
//! token cannot both consume it.

use aws_sdk_dynamodb::types::AttributeValue;

use super::attrs::{Item, get_n, get_s, get_str_list, item, n, opt_s, s, str_list};
use super::schema::{TTL_ATTRIBUTE, session_key};
use super::{DynamoStore, session_alive_in, store_error};
use crate::auth::session::{Consumed, SessionRecord};
use crate::error::StoreError;
use crate::ports::SessionStore;

pub(super) fn session_item(rec: &SessionRecord) -> Item {
    let mut it = session_key(&rec.user_id, &rec.session_id);
    it.extend(item([
        ("entity", s("session")),
        ("user_id", s(rec.user_id.as_str())),
        ("session_id", s(rec.session_id.as_str())),
        ("live_hashes", str_list(&rec.live_hashes)),
        ("consumed", consumed_list(&rec.consumed)),
        ("rotated_at", n(rec.rotated_at)),
        (TTL_ATTRIBUTE, n(rec.expires_at)),
    ]));
    it
}

/// The consumed tokens as stored: a list of `{h: hash, at: seconds}`.
fn consumed_list(consumed: &[Consumed]) -> AttributeValue {
    AttributeValue::L(consumed.iter().map(|c| AttributeValue::M(item([("h", s(c.hash.as_str())), ("at", n(c.at))]))).collect())
}

fn session_from(it: &Item) -> Result<SessionRecord, StoreError> {
    let rotated_at = get_n(it, "rotated_at")?;
    let consumed = match it.get("consumed").and_then(|v| v.as_l().ok()) {
        Some(list) => list
            .iter()
            .filter_map(|v| v.as_m().ok())
            .map(|m| Ok(Consumed { hash: get_s(m, "h")?, at: get_n(m, "at")? }))
            .collect::<Result<Vec<_>, StoreError>>()?,
        // Sessions written before the consumed list kept only the last one.
        None => opt_s(it, "previous_hash").map(|hash| Consumed { hash, at: rotated_at }).into_iter().collect(),
    };
    Ok(SessionRecord {
        user_id: get_s(it, "user_id")?,
        session_id: get_s(it, "session_id")?,
        live_hashes: get_str_list(it, "live_hashes"),
        consumed,
        rotated_at,
        expires_at: get_n(it, TTL_ATTRIBUTE)?,
    })
}

impl SessionStore for DynamoStore {
    async fn session(&self, user_id: &str, session_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.get_consistent(session_key(user_id, session_id)).await?.as_ref().map(session_from).transpose()
    }

    async fn rotate(&self, session: &SessionRecord, consumed: &str, next: &str, now: i64, expires_at: i64) -> Result<bool, StoreError> {
        let result = self
            .update(session_key(&session.user_id, &session.session_id))
            .update_expression("SET live_hashes = :next, #consumed = :list, rotated_at = :now, #exp = :exp REMOVE previous_hash")
            .condition_expression("contains(live_hashes, :consumed) AND #exp > :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            // A reserved word in expressions.
            .expression_attribute_names("#consumed", "consumed")
            .expression_attribute_values(":next", str_list(&[next.to_string()]))
            .expression_attribute_values(":list", consumed_list(&session.consumed_after(consumed, now)))
            .expression_attribute_values(":consumed", s(consumed))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":exp", n(expires_at));
        self.update_if(result).await
    }

    async fn revoke(&self, user_id: &str, session_id: &str) -> Result<(), StoreError> {
        self.client.delete_item().table_name(&self.table).set_key(Some(session_key(user_id, session_id))).send().await.map_err(store_error)?;
        Ok(())
    }

    /// Whether the session is alive (one small read).
    async fn session_alive(&self, user_id: &str, session_id: &str, now: i64) -> Result<bool, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user_id, session_id)))
            .projection_expression("#exp")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            // Strongly consistent: a session revoked a moment ago (a deleted account) is refused.
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(session_alive_in(out.item(), now))
    }
}
