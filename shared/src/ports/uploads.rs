//! Upload records: created with their link, taken by a job, swept when unused.

use crate::error::StoreError;
use crate::uploads::{DueUpload, NewUpload};

/// Upload records.
pub trait UploadStore {
    /// Records an upload behind a live session. `false`: the session is gone.
    fn create_upload(&self, upload: &NewUpload<'_>) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `None`: no record; `Some(true)`: a job took it (or the sweep is
    /// deleting it); `Some(false)`: unused.
    fn upload_state(&self, user_id: &str, upload_id: &str) -> impl Future<Output = Result<Option<bool>, StoreError>> + Send;

    /// Unused uploads whose time ran out before `now`, at most `limit`.
    fn due_uploads(&self, now: i64, limit: usize) -> impl Future<Output = Result<Vec<DueUpload>, StoreError>> + Send;

    /// Marks an unused upload as being swept (no job can take it after).
    /// `false`: a job took it first, or it is gone.
    fn mark_sweeping(&self, upload: &DueUpload) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes an upload record.
    fn delete_upload_record(&self, user_id: &str, upload_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
