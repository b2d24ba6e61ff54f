//! Objects to delete after their record went: a record's deletion writes,
//! in the same transaction, a trash item listing its objects, and the
//! objects are deleted after it. When that is cut short (an answer lost after
//! the transaction committed, a function stopped), the trash item remains: a
//! retried request finishes it, and so does the sweep once it is older than
//! a stalled step could be.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::attrs::{Item, get_s, get_str_list, item, n, s, str_list};
use super::schema::{GSI1, TRASH, TTL_ATTRIBUTE, trash_key};
use super::{DynamoStore, store_error};
use crate::error::StoreError;
use crate::ports::TrashStore;
use crate::trash::Trash;

/// The `Put` of a trash item, for the transaction that deletes the record.
pub(crate) fn trash_put(table: &str, user_id: &str, name: &str, keys: &[String], now: i64) -> Result<TransactWriteItem, StoreError> {
    let mut it = trash_key(user_id, name);
    it.extend(item([
        ("entity", s("trash")),
        ("user_id", s(user_id)),
        ("name", s(name)),
        ("keys", str_list(keys)),
        ("gsi1pk", s(TRASH)),
        ("gsi1sk", s(format!("{now:012}#{user_id}#{name}"))),
        (TTL_ATTRIBUTE, n(now + 7 * 86_400)),
    ]));
    let put = aws_sdk_dynamodb::types::Put::builder().table_name(table).set_item(Some(it)).build().map_err(StoreError::other)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn trash_from(it: &Item) -> Result<Trash, StoreError> {
    Ok(Trash { user_id: get_s(it, "user_id")?, name: get_s(it, "name")?, keys: get_str_list(it, "keys") })
}

impl TrashStore for DynamoStore {
    /// The trash item of `name`, if its deletion was not finished.
    async fn trash(&self, user_id: &str, name: &str) -> Result<Option<Trash>, StoreError> {
        self.get_consistent(trash_key(user_id, name)).await?.as_ref().map(trash_from).transpose()
    }

    /// Trash written before `before` (Unix seconds), oldest first, at most `limit`.
    async fn due_trash(&self, before: i64, limit: usize) -> Result<Vec<Trash>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :trash AND gsi1sk < :before")
            .expression_attribute_values(":trash", s(TRASH))
            .expression_attribute_values(":before", s(format!("{before:012}")))
            .limit(limit as i32)
            .send()
            .await
            .map_err(store_error)?;
        out.items().iter().map(trash_from).collect()
    }

    /// Removes a trash item once its objects are deleted.
    async fn empty_trash(&self, user_id: &str, name: &str) -> Result<(), StoreError> {
        self.client.delete_item().table_name(&self.table).set_key(Some(trash_key(user_id, name))).send().await.map_err(store_error)?;
        Ok(())
    }
}
