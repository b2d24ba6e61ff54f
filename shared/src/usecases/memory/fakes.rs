//! A bucket, a queue, a scripted image provider and a purchase history, in memory.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::credits::history::{HistoryError, StorePurchase};
use crate::error::StoreError;
use crate::ports::{ImageProvider, ObjectUploads, PhotoStore, PurchaseHistory, Queue};
use crate::provider::{ProviderError, TaskRequest, TaskState};
use crate::storage::{ObjectPrefix, PresignedPut};

/// A multipart upload in progress: its key and its parts by number.
type PendingUpload = (String, BTreeMap<i32, Vec<u8>>);

/// The bucket, in memory.
#[derive(Debug, Default)]
pub(crate) struct MemoryPhotos {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Multipart uploads in progress: id → (key, parts by number).
    uploads: Mutex<BTreeMap<String, PendingUpload>>,
}

impl MemoryPhotos {
    /// Every upload in progress, as (key, parts sent).
    pub(crate) fn uploads(&self) -> Vec<(String, usize)> {
        self.uploads.lock().unwrap().values().map(|(k, parts)| (k.clone(), parts.len())).collect()
    }
}

impl ObjectUploads for MemoryPhotos {
    async fn start_upload(&self, key: &str, _content_type: &str, _tag: (&str, &str)) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.uploads.lock().unwrap().insert(id.clone(), (key.into(), BTreeMap::new()));
        Ok(id)
    }

    async fn upload_part(&self, _key: &str, upload_id: &str, number: i32, bytes: Vec<u8>) -> Result<String, StoreError> {
        let mut uploads = self.uploads.lock().unwrap();
        let (_, parts) = uploads.get_mut(upload_id).ok_or_else(|| StoreError::other("NoSuchUpload"))?;
        parts.insert(number, bytes);
        Ok(format!("etag-{number}"))
    }

    /// Like S3: every part but the last must be at least 5 MiB.
    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[(i32, String)]) -> Result<(), StoreError> {
        let (_, stored) = self.uploads.lock().unwrap().remove(upload_id).ok_or_else(|| StoreError::other("NoSuchUpload"))?;
        let mut object = Vec::new();
        for (i, (number, _)) in parts.iter().enumerate() {
            let part = stored.get(number).ok_or_else(|| StoreError::other("InvalidPart"))?;
            if i + 1 < parts.len() && part.len() < crate::exports::MIN_PART_BYTES {
                return Err(StoreError::other("EntityTooSmall"));
            }
            object.extend_from_slice(part);
        }
        self.objects.lock().unwrap().insert(key.into(), object);
        Ok(())
    }

    async fn abort_upload(&self, _key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.uploads.lock().unwrap().remove(upload_id);
        Ok(())
    }

    async fn uploads_in_progress(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.uploads.lock().unwrap().values().filter(|(k, _)| k.starts_with(prefix)).map(|(k, _)| k.clone()).collect())
    }

    async fn abort_uploads_under(&self, prefix: &str) -> Result<usize, StoreError> {
        let mut uploads = self.uploads.lock().unwrap();
        let before = uploads.len();
        uploads.retain(|_, (k, _)| !k.starts_with(prefix));
        Ok(before - uploads.len())
    }
}

impl PhotoStore for MemoryPhotos {
    async fn presign_put(&self, key: &str, content_type: &str, length: u64, _ttl: Duration) -> Result<PresignedPut, StoreError> {
        let headers = vec![("content-type".into(), content_type.into()), ("content-length".into(), length.to_string())];
        Ok(PresignedPut { url: format!("memory://{key}"), headers })
    }

    async fn presign_get(&self, key: &str, _ttl: Duration) -> Result<String, StoreError> {
        Ok(format!("memory://{key}"))
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Option<ObjectPrefix>, StoreError> {
        Ok(self.objects.lock().unwrap().get(key).map(|b| {
            let from = (start as usize).min(b.len());
            let to = from.saturating_add(len as usize).min(b.len());
            ObjectPrefix { bytes: b[from..to].to_vec(), total_size: b.len() as u64 }
        }))
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.objects.lock().unwrap().get(key).cloned())
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        self.objects.lock().unwrap().insert(key.into(), bytes);
        Ok(())
    }

    async fn copy(&self, from: &str, to: &str) -> Result<bool, StoreError> {
        let mut objects = self.objects.lock().unwrap();
        let Some(bytes) = objects.get(from).cloned() else { return Ok(false) };
        objects.insert(to.into(), bytes);
        Ok(true)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.objects.lock().unwrap().keys().filter(|k| k.starts_with(prefix)).cloned().collect())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let mut objects = self.objects.lock().unwrap();
        let before = objects.len();
        objects.retain(|k, _| !k.starts_with(prefix));
        Ok(before - objects.len())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut objects = self.objects.lock().unwrap();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }
}

/// A queue that keeps what was sent, with its delay.
#[derive(Debug)]
pub(crate) struct MemoryQueue<M> {
    sent: Mutex<Vec<(M, u32)>>,
}

impl<M> Default for MemoryQueue<M> {
    fn default() -> Self {
        MemoryQueue { sent: Mutex::new(Vec::new()) }
    }
}

impl<M> MemoryQueue<M> {
    /// Everything sent since the last call, oldest first, with its delay.
    pub(crate) fn take(&self) -> Vec<(M, u32)> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

impl<M: Clone + Send + Sync> Queue<M> for MemoryQueue<M> {
    async fn send(&self, message: &M, delay_secs: u32) -> Result<(), StoreError> {
        self.sent.lock().unwrap().push((message.clone(), delay_secs));
        Ok(())
    }
}

/// One scripted answer: `None` never comes (a hung provider).
type Answer<T> = Option<Result<T, ProviderError>>;

/// The image provider, answering what the test scripted; an unscripted call
/// fails the test.
#[derive(Debug, Default)]
pub(crate) struct FakeProvider {
    creates: Mutex<VecDeque<Answer<String>>>,
    states: Mutex<HashMap<String, VecDeque<Answer<TaskState>>>>,
    downloads: Mutex<HashMap<String, Answer<Vec<u8>>>>,
    asked: Mutex<Vec<TaskRequest>>,
}

impl FakeProvider {
    /// The next `createTask` answers `answer`.
    pub(crate) fn create_answers(&self, answer: Result<&str, ProviderError>) {
        self.creates.lock().unwrap().push_back(Some(answer.map(Into::into)));
    }

    /// The next `createTask` never answers.
    pub(crate) fn create_hangs(&self) {
        self.creates.lock().unwrap().push_back(None);
    }

    /// The next look at `task` answers `answer`.
    pub(crate) fn state_answers(&self, task: &str, answer: Result<TaskState, ProviderError>) {
        self.states.lock().unwrap().entry(task.into()).or_default().push_back(Some(answer));
    }

    /// The next look at `task` never answers.
    pub(crate) fn state_hangs(&self, task: &str) {
        self.states.lock().unwrap().entry(task.into()).or_default().push_back(None);
    }

    /// Downloads of `url` give `bytes` (`None`: never answer).
    pub(crate) fn serves(&self, url: &str, bytes: Option<Vec<u8>>) {
        self.downloads.lock().unwrap().insert(url.into(), bytes.map(Ok));
    }

    /// The `createTask` calls made, in order.
    pub(crate) fn asked(&self) -> Vec<TaskRequest> {
        self.asked.lock().unwrap().clone()
    }
}

/// Gives a scripted answer, or never answers.
async fn give<T>(answer: Answer<T>) -> Result<T, ProviderError> {
    match answer {
        Some(answer) => answer,
        None => std::future::pending().await,
    }
}

impl ImageProvider for FakeProvider {
    fn cannot_reach(&self, _link: &str) -> bool {
        false
    }

    fn price_micro_usd(&self, _task: &TaskRequest) -> i64 {
        20_000
    }

    async fn upload_photo(&self, _bytes: Vec<u8>, file_name: &str) -> Result<String, ProviderError> {
        Ok(format!("memory://provider/{file_name}"))
    }

    async fn create_task(&self, task: &TaskRequest) -> Result<String, ProviderError> {
        self.asked.lock().unwrap().push(task.clone());
        let answer = self.creates.lock().unwrap().pop_front().expect("an unscripted createTask");
        give(answer).await
    }

    async fn task_state(&self, task_id: &str) -> Result<TaskState, ProviderError> {
        let answer = self.states.lock().unwrap().get_mut(task_id).and_then(VecDeque::pop_front);
        give(answer.unwrap_or_else(|| panic!("an unscripted look at task {task_id}"))).await
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, ProviderError> {
        let answer = self.downloads.lock().unwrap().get(url).cloned();
        give(answer.unwrap_or_else(|| panic!("an unscripted download of {url}"))).await
    }
}

/// RevenueCat's customer records, failing as often as told.
#[derive(Debug, Default)]
pub(crate) struct FakeHistory {
    outages: Mutex<u32>,
    deleted: Mutex<Vec<String>>,
}

impl FakeHistory {
    /// The next `times` calls answer `Unavailable`.
    pub(crate) fn fail_next(&self, times: u32) {
        *self.outages.lock().unwrap() = times;
    }

    /// The customers deleted, in order.
    pub(crate) fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }

    fn outage(&self) -> Result<(), HistoryError> {
        let mut left = self.outages.lock().unwrap();
        if *left == 0 {
            return Ok(());
        }
        *left -= 1;
        Err(HistoryError::Unavailable { retry_after_secs: None, reason: "503 (injected)".into() })
    }
}

impl PurchaseHistory for FakeHistory {
    async fn purchases(&self, _app_user_id: &str) -> Result<Vec<StorePurchase>, HistoryError> {
        self.outage().map(|()| Vec::new())
    }

    async fn delete_customer(&self, app_user_id: &str) -> Result<(), HistoryError> {
        self.outage()?;
        self.deleted.lock().unwrap().push(app_user_id.into());
        Ok(())
    }
}
