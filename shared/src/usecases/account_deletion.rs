//! Deleting an account for good: `DELETE /v1/me` and the support command's
//! `delete-user` mark it and revoke its sessions at once, and queue the
//! erasure; the deletion worker runs [`AccountEraser::handle`] until it
//! succeeds. Every step is idempotent, so a run that fails half-way is simply
//! run again; the profile goes last, so a half-done deletion is still marked.
//! [`verify_gone`] proves the result.

use crate::credits::history::HistoryError;
use crate::credits::user_hash;
use crate::error::StoreError;
use crate::messages::DeletionMessage;
use crate::object_keys::UserObjects;
use crate::ports::{DeletionStore, ObjectUploads, PhotoStore, PurchaseHistory, Queue};

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Objects deleted from the bucket.
    pub objects: usize,
    /// Items deleted from the table (profile included), and purchase records
    /// stripped to tombstones.
    pub items: usize,
}

/// What is left of a user (empty: gone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Sort keys of items still in the user's partition.
    pub items: Vec<String>,
    /// Purchase records that still name the user.
    pub purchases: usize,
    /// Objects still under the user's prefix.
    pub objects: Vec<String>,
    /// Multipart uploads (a data export being written) still in progress
    /// under the user's prefixes, by key.
    pub uploads: Vec<String>,
}

impl Leftovers {
    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.purchases == 0 && self.objects.is_empty() && self.uploads.is_empty()
    }
}

/// Why an erasure must run again.
#[derive(Debug, thiserror::Error)]
pub enum EraseError {
    /// Storage failed or was throttled.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// RevenueCat did not confirm the customer's deletion.
    #[error("RevenueCat: {0}")]
    RevenueCat(#[from] HistoryError),
    /// Something appeared while erasing (a late write); the next run takes it.
    #[error("left after erasing: {0:?}")]
    Incomplete(Leftovers),
}

/// Starts a deletion: queues the erasure first (so nothing is lost if the
/// rest fails), then marks the account and revokes every session. `false`:
/// there was no such profile (the erasure still runs and finds nothing).
pub async fn request_deletion<S: DeletionStore, Q: Queue<DeletionMessage>>(store: &S, queue: &Q, user_id: &str, now: i64) -> Result<bool, StoreError> {
    queue.send(&DeletionMessage { user_id: user_id.to_string(), final_pass: false }, 0).await?;
    store.begin_deletion(user_id, now).await
}

/// The erasure, with what it needs.
#[derive(Debug, Clone)]
pub struct AccountEraser<S, P, H, Q> {
    /// The account's records.
    pub store: S,
    /// The bucket.
    pub photos: P,
    /// The store's purchase history, to delete the customer there too (`None`: not configured).
    pub history: Option<H>,
    /// The key the deletion log hashes user ids with (and objects' prefixes
    /// are derived with).
    pub hash_key: Vec<u8>,
    /// The deletion queue, for the final pass.
    pub queue: Q,
    /// How long after a completed erasure its final pass comes: after the
    /// last upload link issued before the deletion expired.
    pub final_pass_delay_secs: u32,
}

/// Deletes every object under every prefix of the user, after aborting the
/// uploads in progress under its exports (a data export being written, whose
/// worker then cannot complete it); how many objects and uploads there were.
async fn delete_objects<P: PhotoStore + ObjectUploads>(photos: &P, objects: &UserObjects) -> Result<usize, StoreError> {
    let mut deleted = photos.abort_uploads_under(&objects.exports()).await?;
    for prefix in objects.prefixes() {
        deleted += photos.delete_prefix(&prefix).await?;
    }
    Ok(deleted)
}

/// Every object left under the user's prefixes, and every upload in
/// progress under its exports.
async fn list_objects<P: PhotoStore + ObjectUploads>(photos: &P, objects: &UserObjects) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let mut keys = Vec::new();
    for prefix in objects.prefixes() {
        keys.extend(photos.list(&prefix).await?);
    }
    Ok((keys, photos.uploads_in_progress(&objects.exports()).await?))
}

impl<S, P, H, Q> AccountEraser<S, P, H, Q>
where
    S: DeletionStore + Sync,
    P: PhotoStore + ObjectUploads + Sync,
    H: PurchaseHistory + Sync,
    Q: Queue<DeletionMessage> + Sync,
{
    /// Handles one message: erases the account and, after a first pass,
    /// queues the final one. `Err`: the message must be retried (every step
    /// is idempotent, so the retry resumes where this one stopped).
    pub async fn handle(&self, msg: &DeletionMessage, now: i64) -> Result<Erased, EraseError> {
        let erased = self.erase(&msg.user_id, now).await?;
        if !msg.final_pass {
            // Retried whole if this fails: erasing again is harmless.
            self.queue.send(&DeletionMessage { final_pass: true, ..msg.clone() }, self.final_pass_delay_secs).await?;
        }
        Ok(erased)
    }

    /// Erases everything of `user_id`: objects, purchase records, every item
    /// of the partition, the RevenueCat customer, then the profile; then
    /// checks that nothing is left.
    pub async fn erase(&self, user_id: &str, now: i64) -> Result<Erased, EraseError> {
        let store = &self.store;
        let objects = UserObjects::new(&self.hash_key, user_id);
        // Idempotent; covers an erasure queued by a request that failed after queuing.
        store.begin_deletion(user_id, now).await?;
        let mut erased = Erased { objects: delete_objects(&self.photos, &objects).await?, items: 0 };
        erased.items += store.tombstone_purchases(user_id, now).await?;
        erased.items += store.erase_records(user_id).await?;
        if let Some(history) = &self.history {
            history.delete_customer(user_id).await?;
        }
        // A result written while we erased (its job's write then failed) is removed now.
        erased.objects += delete_objects(&self.photos, &objects).await?;
        if store.finish_deletion(user_id, &user_hash(&self.hash_key, user_id), now).await? {
            erased.items += 1;
        }
        // The strongly consistent half of the verifier (the purchase index
        // lags on AWS; its records were deleted by key above).
        let (objects, uploads) = list_objects(&self.photos, &objects).await?;
        let left = Leftovers { items: store.remaining_records(user_id).await?, purchases: 0, objects, uploads };
        if !left.is_empty() {
            return Err(EraseError::Incomplete(left));
        }
        Ok(erased)
    }
}

/// Proves a user is gone: no item in the user's partition (data exports
/// included), no purchase record naming the user, no object and no upload in
/// progress under the user's prefixes (derived with `hash_key`, the app
/// secret's `ip_hash_key`).
pub async fn verify_gone<S: DeletionStore, P: PhotoStore + ObjectUploads>(
    store: &S,
    photos: &P,
    hash_key: &[u8],
    user_id: &str,
) -> Result<Leftovers, StoreError> {
    let (objects, uploads) = list_objects(photos, &UserObjects::new(hash_key, user_id)).await?;
    Ok(Leftovers { items: store.remaining_records(user_id).await?, purchases: store.owned_purchases(user_id).await?, objects, uploads })
}

#[cfg(test)]
#[path = "account_deletion_tests.rs"]
mod tests;
