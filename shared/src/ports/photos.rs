//! Photo storage: presigned links, ranged reads, copies and deletes.

use std::time::Duration;

use crate::error::StoreError;
use crate::storage::{ObjectPrefix, PresignedPut};

/// The photo bucket.
pub trait PhotoStore {
    /// A presigned `PUT` that signs the type and length.
    fn presign_put(&self, key: &str, content_type: &str, length: u64, ttl: Duration) -> impl Future<Output = Result<PresignedPut, StoreError>> + Send;

    /// A presigned `GET` (signed locally, no call).
    fn presign_get(&self, key: &str, ttl: Duration) -> impl Future<Output = Result<String, StoreError>> + Send;

    /// Up to `len` bytes from `start`, and the object's size; `None`: no object.
    fn read_range(&self, key: &str, start: u64, len: u64) -> impl Future<Output = Result<Option<ObjectPrefix>, StoreError>> + Send;

    /// The whole object; `None`: no object.
    fn read(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Stores an object.
    fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A server-side copy. `false`: the source does not exist.
    fn copy(&self, from: &str, to: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every key under `prefix`.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Deletes every object under `prefix`; how many.
    fn delete_prefix(&self, prefix: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Deletes objects by key (a missing one is no error).
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), StoreError>> + Send;
}
