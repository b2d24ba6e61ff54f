//! Deleting an account for good: `DELETE /v1/me` and the support command's
//! `delete-user` mark it and revoke its sessions at once, and queue the
//! erasure; the deletion worker runs [`AccountEraser::erase`] until it
//! succeeds. Every step is idempotent, so a run that fails half-way is simply
//! run again; the profile goes last, so a half-done deletion is still marked.
//! [`verify_gone`] proves the result.

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::s3::PhotoStorage;
use crate::adapters::sqs::{DeletionMessage, DeletionQueue};
use crate::credits::user_hash;
use crate::error::StoreError;
use crate::object_keys::UserObjects;
use crate::revenuecat::RevenueCatClient;

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
}

impl Leftovers {
    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.purchases == 0 && self.objects.is_empty()
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
    RevenueCat(#[from] crate::revenuecat::RevenueCatError),
    /// Something appeared while erasing (a late write); the next run takes it.
    #[error("left after erasing: {0:?}")]
    Incomplete(Leftovers),
}

/// Starts a deletion: queues the erasure first (so nothing is lost if the
/// rest fails), then marks the account and revokes every session. `false`:
/// there was no such profile (the erasure still runs and finds nothing).
pub async fn request_deletion(store: &DynamoStore, queue: &DeletionQueue, user_id: &str, now: i64) -> Result<bool, StoreError> {
    queue.send(&DeletionMessage { user_id: user_id.to_string(), final_pass: false }).await?;
    store.begin_deletion(user_id, now).await
}

/// The erasure, with what it needs.
#[derive(Debug, Clone)]
pub struct AccountEraser {
    /// The table.
    pub store: DynamoStore,
    /// The bucket.
    pub photos: PhotoStorage,
    /// RevenueCat's REST API, to delete the customer there too (`None`: not configured).
    pub revenuecat: Option<RevenueCatClient>,
    /// The key the deletion log hashes user ids with (and objects' prefixes
    /// are derived with).
    pub hash_key: Vec<u8>,
}

/// Deletes every object under every prefix of the user; how many there were.
async fn delete_objects(photos: &PhotoStorage, objects: &UserObjects) -> Result<usize, StoreError> {
    let mut deleted = 0;
    for prefix in objects.prefixes() {
        deleted += photos.delete_prefix(&prefix).await?;
    }
    Ok(deleted)
}

/// Every object left under the user's prefixes.
async fn list_objects(photos: &PhotoStorage, objects: &UserObjects) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    for prefix in objects.prefixes() {
        keys.extend(photos.list(&prefix).await?);
    }
    Ok(keys)
}

impl AccountEraser {
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
        let rest: Vec<_> = store
            .partition_keys(user_id, None)
            .await?
            .into_iter()
            .filter(|k| k.get("sk").and_then(|v| v.as_s().ok()).is_none_or(|sk| sk != "PROFILE"))
            .collect();
        erased.items += store.erase(&rest).await?;
        if let Some(rc) = &self.revenuecat {
            rc.delete_customer(user_id).await?;
        }
        // A result written while we erased (its job's write then failed) is removed now.
        erased.objects += delete_objects(&self.photos, &objects).await?;
        if !store.partition_keys(user_id, Some("PROFILE")).await?.is_empty() {
            store.finish_deletion(user_id, &user_hash(&self.hash_key, user_id), now).await?;
            erased.items += 1;
        }
        // The strongly consistent half of the verifier (the purchase index
        // lags on AWS; its records were deleted by key above).
        let left = Leftovers {
            items: store.partition_keys(user_id, None).await?.iter().filter_map(|k| k.get("sk")?.as_s().ok().cloned()).collect(),
            purchases: 0,
            objects: list_objects(&self.photos, &objects).await?,
        };
        if !left.is_empty() {
            return Err(EraseError::Incomplete(left));
        }
        Ok(erased)
    }
}

/// Proves a user is gone: no item in the user's partition, no purchase
/// record naming the user, no object under the user's prefixes (derived with
/// `hash_key`, the app secret's `ip_hash_key`).
pub async fn verify_gone(store: &DynamoStore, photos: &PhotoStorage, hash_key: &[u8], user_id: &str) -> Result<Leftovers, StoreError> {
    let items = store
        .partition_keys(user_id, None)
        .await?
        .iter()
        .map(|k| k.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default())
        .collect();
    Ok(Leftovers {
        items,
        purchases: store.owned_purchase_keys(user_id).await?.len(),
        objects: list_objects(photos, &UserObjects::new(hash_key, user_id)).await?,
    })
}
