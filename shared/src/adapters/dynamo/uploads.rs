//! Upload records: one per presigned upload, indexed in `GSI1` by the time it
//! must be used by, until a job uses it. The sweep first marks an unused
//! record `sweeping` (after which no job can take it), then deletes the
//! object, then the record: a failure part-way is finished by the next run.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};

use super::attrs::{get_s, item, n, s};
use super::schema::{GSI1, TTL_ATTRIBUTE, session_key, unused_uploads_index, unused_uploads_partitions, upload_key};
use super::{DynamoStore, store_error};
use crate::error::StoreError;
use crate::ports::UploadStore;
use crate::uploads::{DueUpload, NewUpload};

impl UploadStore for DynamoStore {
    /// Records a new upload, only if the caller's session is alive (checked
    /// in the same transaction). `false` when the session is gone.
    async fn create_upload(&self, upload: &NewUpload<'_>) -> Result<bool, StoreError> {
        let NewUpload { user_id, session_id, upload_id, s3_key, content_type, content_length, now, use_by } = *upload;
        let mut record = upload_key(user_id, upload_id);
        record.extend(item([
            ("entity", s("upload")),
            ("user_id", s(user_id)),
            ("upload_id", s(upload_id)),
            ("s3_key", s(s3_key)),
            ("content_type", s(content_type)),
            ("content_length", n(content_length as i64)),
            ("created_at", n(now)),
            ("use_by", n(use_by)),
            ("gsi1pk", s(unused_uploads_index(upload_id))),
            // A backstop so no record outlives a sweep that stopped running for a week;
            // the sweep, not this TTL, is what deletes unused uploads (and their objects).
            (TTL_ATTRIBUTE, n(use_by + 7 * 86_400)),
            ("gsi1sk", s(format!("{use_by:012}#{user_id}#{upload_id}"))),
        ]));
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(session_key(user_id, session_id)))
            .condition_expression("#exp > :now")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(StoreError::other)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(StoreError::other)?;
        self.transact_if(vec![TransactWriteItem::builder().condition_check(check).build(), TransactWriteItem::builder().put(put).build()]).await
    }

    /// Whether the upload record exists, and whether a job already uses it.
    async fn upload_state(&self, user_id: &str, upload_id: &str) -> Result<Option<bool>, StoreError> {
        let record = self.get_consistent(upload_key(user_id, upload_id)).await?;
        Ok(record.map(|it| it.contains_key("job_id") || it.contains_key("sweeping")))
    }

    /// Unused uploads whose time ran out before `now`, at most `limit`,
    /// earliest first: every partition read in parallel.
    async fn due_uploads(&self, now: i64, limit: usize) -> Result<Vec<DueUpload>, StoreError> {
        let due = self.due_in(GSI1, ("gsi1pk", "gsi1sk"), unused_uploads_partitions(now), now, limit).await?;
        due.iter()
            .filter(|it| !it.contains_key("job_id"))
            .map(|it| Ok(DueUpload { user_id: get_s(it, "user_id")?, upload_id: get_s(it, "upload_id")?, s3_key: get_s(it, "s3_key")? }))
            .collect()
    }

    /// Marks an unused upload as being swept, so no job can use it from now
    /// on. `false` when a job took it first (or it is gone).
    async fn mark_sweeping(&self, upload: &DueUpload) -> Result<bool, StoreError> {
        let result = self
            .update(upload_key(&upload.user_id, &upload.upload_id))
            .update_expression("SET sweeping = :t")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(job_id)")
            .expression_attribute_values(":t", AttributeValue::Bool(true));
        self.update_if(result).await
    }

    /// Removes a swept upload's record.
    async fn delete_upload_record(&self, user_id: &str, upload_id: &str) -> Result<(), StoreError> {
        self.client.delete_item().table_name(&self.table).set_key(Some(upload_key(user_id, upload_id))).send().await.map_err(store_error)?;
        Ok(())
    }
}
