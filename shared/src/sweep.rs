//! The sweep of unused uploads: an upload no job took by its deadline is
//! marked (so no job can take it any more), its object deleted, then its
//! record. Runs on a schedule on AWS and on a timer in the local stack.

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::s3::PhotoStorage;
use crate::error::StoreError;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Unused uploads deleted.
    pub deleted: usize,
    /// Uploads a job took at the last moment, left alone.
    pub taken: usize,
}

/// Deletes up to `batch` unused uploads whose deadline passed before `now`.
pub async fn sweep_unused_uploads(store: &DynamoStore, photos: &PhotoStorage, now: i64, batch: usize) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    for upload in store.due_uploads(now, batch).await? {
        if !store.mark_sweeping(&upload).await? {
            report.taken += 1;
            continue;
        }
        photos.delete(std::slice::from_ref(&upload.s3_key)).await?;
        store.delete_upload_record(&upload.user_id, &upload.upload_id).await?;
        report.deleted += 1;
    }
    Ok(report)
}
