//! Erasing an account's records: the mark that stops every write, the
//! records, the profile last, and the log a restore re-applies.

use crate::error::StoreError;

/// An account's records, for its erasure.
pub trait DeletionStore {
    /// Marks the account as being deleted and deletes every session, in one
    /// transaction. `false`: no such profile.
    fn begin_deletion(&self, user_id: &str, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Strips the user's purchase records to tombstones; how many.
    fn tombstone_purchases(&self, user_id: &str, now: i64) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Deletes every item of the user but the profile; how many.
    fn erase_records(&self, user_id: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Deletes the profile, last, and logs the deletion under `user_hash`.
    /// `false`: there was no profile (nothing logged).
    fn finish_deletion(&self, user_id: &str, user_hash: &str, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The sort keys of the user's items still stored (empty: gone).
    fn remaining_records(&self, user_id: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// How many purchase records still name the user as owner.
    fn owned_purchases(&self, user_id: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The user hashes in the deletion log (to re-apply after a restore).
    fn deletion_log(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Every user id with a profile (a full scan, for operators only).
    fn all_user_ids(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}
