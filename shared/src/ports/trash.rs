//! Trash left by deletions that were cut short.

use crate::error::StoreError;
use crate::trash::Trash;

/// Trash items.
pub trait TrashStore {
    /// The trash item of `name`, if its deletion was not finished.
    fn trash(&self, user_id: &str, name: &str) -> impl Future<Output = Result<Option<Trash>, StoreError>> + Send;

    /// Trash items older than `before`, at most `limit`.
    fn due_trash(&self, before: i64, limit: usize) -> impl Future<Output = Result<Vec<Trash>, StoreError>> + Send;

    /// Removes a trash item once its objects are gone.
    fn empty_trash(&self, user_id: &str, name: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
