//! Export records: created under the hourly limit, read behind a live
//! session, settled by the worker, swept when due.

use crate::error::StoreError;
use crate::exports::Export;

/// What creating an export came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateExportOutcome {
    /// Recorded, preparing.
    Created,
    /// The session is gone (or the account is being deleted).
    SessionGone,
    /// The user made one less than an hour ago, created then.
    Limited {
        /// When the last export was created (Unix seconds).
        last_created_at: i64,
    },
}

/// Export records.
pub trait ExportStore {
    /// Records `export` in one transaction with the checks that the session
    /// `session_id` is alive, the account is not being deleted, and the
    /// user's last export is an hour old (its time is then moved to now).
    fn create_export(&self, export: &Export, session_id: &str, interval_secs: i64) -> impl Future<Output = Result<CreateExportOutcome, StoreError>> + Send;

    /// The export, behind a live session, in one read. `None`: the session
    /// is gone; `Some(None)`: no such export of this user.
    fn export_with_live_session(
        &self,
        user_id: &str,
        session_id: &str,
        export_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<Option<Export>>, StoreError>> + Send;

    /// The export, read consistently.
    fn export(&self, user_id: &str, export_id: &str) -> impl Future<Output = Result<Option<Export>, StoreError>> + Send;

    /// Moves a preparing export to `next` (ready or failed), only if it is
    /// still preparing and the account is not being deleted. `false`: it is not.
    fn settle_export(&self, next: &Export) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves a preparing export's next look to `due_at`, if it is still as read.
    fn renew_export_watch(&self, export: &Export, due_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Exports the sweep must look at by `now`, earliest first, at most `limit`.
    fn due_exports(&self, now: i64, limit: usize) -> impl Future<Output = Result<Vec<Export>, StoreError>> + Send;

    /// Deletes an export's record, if it is still as read. `false`: it changed.
    fn delete_export_record(&self, export: &Export) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every export of the user, newest first (for operators).
    fn exports_of(&self, user_id: &str) -> impl Future<Output = Result<Vec<Export>, StoreError>> + Send;
}

/// Objects written in parts (S3 multipart uploads), and those in progress.
pub trait ObjectUploads {
    /// Starts an upload of `key` with `content_type` and the tag `tag`; its id.
    fn start_upload(&self, key: &str, content_type: &str, tag: (&str, &str)) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// Uploads part `number` (from 1); its entity tag.
    fn upload_part(&self, key: &str, upload_id: &str, number: i32, bytes: Vec<u8>) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// Completes the upload from its parts, in order: the object appears.
    fn complete_upload(&self, key: &str, upload_id: &str, parts: &[(i32, String)]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Aborts an upload (its parts are discarded).
    fn abort_upload(&self, key: &str, upload_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The keys of the uploads in progress under `prefix`.
    fn uploads_in_progress(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Aborts every upload in progress under `prefix`; how many.
    fn abort_uploads_under(&self, prefix: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
