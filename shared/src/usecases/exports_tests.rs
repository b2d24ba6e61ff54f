//! Unit tests of data exports over the in-memory ports: the hourly limit,
//! the sweep's three duties (a stalled export sent again, a late one failed,
//! an old one deleted), and the ZIP streamed in parts of at least 5 MiB
//! with bounded memory, byte for byte.

use std::io::Read;

use super::*;
use crate::exports::MIN_PART_BYTES;
use crate::ports::DeletionStore;
use crate::usecases::export_zip::StreamedZip;
use crate::usecases::memory::{HASH_KEY, MemoryPhotos, MemoryQueue, MemoryStore, user_id};

const NOW: i64 = 1_800_000_000;

fn settings() -> ExportSettings {
    ExportSettings { retention_seconds: 86_400, deadline_seconds: 3600, stall_seconds: 1200 }
}

fn claims(user: &str) -> Claims {
    Claims { sub: user.into(), sid: "s1".into(), iat: NOW, exp: NOW + 900, iss: "pro-portrait".into(), jti: "j".into() }
}

fn user(store: &MemoryStore) -> String {
    let user = user_id();
    store.add_account(&user, 2);
    store.add_session(&user, "s1");
    user
}

#[tokio::test]
async fn one_export_an_hour_and_each_is_queued() {
    let (store, queue) = (MemoryStore::default(), MemoryQueue::default());
    let u = user(&store);
    let first = request_export(&store, &queue, HASH_KEY, &claims(&u), &settings(), NOW).await.unwrap();
    assert_eq!(first.status, ExportStatus::Preparing);
    assert!(first.prefix.starts_with(&UserObjects::new(HASH_KEY, &u).prefixes()[1]), "under the user's prefix");
    let sent = queue.take();
    assert_eq!(sent, vec![(ExportMessage { user_id: u.clone(), export_id: first.export_id.clone() }, 0)]);

    let err = request_export(&store, &queue, HASH_KEY, &claims(&u), &settings(), NOW + 600).await.unwrap_err();
    assert_eq!((err.status(), err.retry_after()), (429, Some(3000)));
    assert!(queue.take().is_empty(), "nothing queued for a refused request");
    assert_eq!(store.exports_of(&u).await.unwrap().len(), 1);

    let later = request_export(&store, &queue, HASH_KEY, &claims(&u), &settings(), NOW + 3600).await.unwrap();
    assert_ne!(later.export_id, first.export_id);
    assert_eq!(store.exports_of(&u).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_dead_session_or_an_account_being_deleted_gets_no_export() {
    let (store, queue) = (MemoryStore::default(), MemoryQueue::default());
    let u = user(&store);
    let mut stranger = claims(&u);
    stranger.sid = "gone".into();
    assert_eq!(request_export(&store, &queue, HASH_KEY, &stranger, &settings(), NOW).await.unwrap_err().status(), 401);
    store.begin_deletion(&u, NOW).await.unwrap();
    store.add_session(&u, "s1");
    assert_eq!(request_export(&store, &queue, HASH_KEY, &claims(&u), &settings(), NOW).await.unwrap_err().status(), 401);
    assert!(store.exports_of(&u).await.unwrap().is_empty() && queue.take().is_empty());
}

#[tokio::test]
async fn the_sweep_resends_a_stalled_export_then_fails_it_at_its_deadline() {
    let (store, photos, queue) = (MemoryStore::default(), MemoryPhotos::default(), MemoryQueue::default());
    let u = user(&store);
    let export = request_export(&store, &queue, HASH_KEY, &claims(&u), &settings(), NOW).await.unwrap();
    queue.take(); // the request's message was lost with its function
    let before_stall = sweep_exports(&store, &photos, &queue, &settings(), NOW + 1199, 10).await.unwrap();
    assert_eq!(before_stall, ExportSweep::default(), "not due yet");

    let stalled = sweep_exports(&store, &photos, &queue, &settings(), NOW + 1200, 10).await.unwrap();
    assert_eq!(stalled.resent, 1);
    assert_eq!(queue.take().len(), 1, "its message again");
    assert_eq!(sweep_exports(&store, &photos, &queue, &settings(), NOW + 1300, 10).await.unwrap(), ExportSweep::default(), "sent once");

    // A run that died mid-way left a part and an object.
    photos.start_upload(&format!("{}r1.zip", export.prefix), "application/zip", ("kind", "export")).await.unwrap();
    photos.put(&format!("{}r0.zip", export.prefix), vec![1, 2, 3], "application/zip").await.unwrap();
    let late = sweep_exports(&store, &photos, &queue, &settings(), NOW + 3600, 10).await.unwrap();
    assert_eq!(late.failed, 1);
    let failed = store.export(&u, &export.export_id).await.unwrap().unwrap();
    assert_eq!(failed.status, ExportStatus::Failed, "never preparing forever");
    assert!(photos.list(&export.prefix).await.unwrap().is_empty() && photos.uploads_in_progress(&export.prefix).await.unwrap().is_empty());
    let shown = failed.view(Some("memory://x".into()));
    assert_eq!(serde_json::to_value(shown).unwrap()["download_url"], serde_json::Value::Null);

    // Its record goes after the retention.
    let gone = sweep_exports(&store, &photos, &queue, &settings(), NOW + 3600 + 86_400, 10).await.unwrap();
    assert_eq!(gone.deleted, 1);
    assert!(store.exports_of(&u).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_ready_export_is_deleted_when_its_day_is_over_and_not_before() {
    let (store, photos, queue) = (MemoryStore::default(), MemoryPhotos::default(), MemoryQueue::default());
    let u = user(&store);
    let export = request_export(&store, &queue, HASH_KEY, &claims(&u), &settings(), NOW).await.unwrap();
    let key = format!("{}run.zip", export.prefix);
    photos.put(&key, b"PK".to_vec(), "application/zip").await.unwrap();
    assert!(store.settle_export(&export.ready(&key, NOW + 60, &settings())).await.unwrap());
    assert!(!store.settle_export(&export.failed(NOW + 61, &settings())).await.unwrap(), "a ready export stays ready");

    let shown = view(&photos, &store.export(&u, &export.export_id).await.unwrap().unwrap()).await.unwrap();
    assert_eq!(shown["status"], "ready");
    assert_eq!(shown["download_url"], format!("memory://{key}"));
    assert_eq!(shown["expires_at"], crate::time::rfc3339(NOW + 60 + 86_400));

    assert_eq!(sweep_exports(&store, &photos, &queue, &settings(), NOW + 60 + 86_399, 10).await.unwrap(), ExportSweep::default());
    assert!(photos.read(&key).await.unwrap().is_some());
    let swept = sweep_exports(&store, &photos, &queue, &settings(), NOW + 60 + 86_400, 10).await.unwrap();
    assert_eq!(swept.deleted, 1);
    assert!(photos.read(&key).await.unwrap().is_none(), "the ZIP is gone");
    assert!(store.export(&u, &export.export_id).await.unwrap().is_none(), "and its record");
    assert!(queue.take().len() == 1, "only the request's message was ever sent");
}

/// Deterministic bytes that do not compress (a stand-in for a photo).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn the_zip_goes_out_in_parts_of_at_least_5_mib_and_reads_back_byte_for_byte() {
    let photos = MemoryPhotos::default();
    let files: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("jobs/j{i}/photo.jpg"), noise(3 * 1024 * 1024 + i * 1000, i as u64))).collect();
    let at = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
    let mut zip = StreamedZip::start(&photos, "users/p/exports/e/r.zip", MIN_PART_BYTES, at).await.unwrap();
    for (name, bytes) in &files {
        zip.begin_entry(name).unwrap();
        for chunk in bytes.chunks(1024 * 1024) {
            zip.write(chunk).await.unwrap();
        }
    }
    let peak = zip.peak_buffer;
    let parts = zip.finish().await.unwrap();
    assert!(parts >= 3, "15 MiB in parts of 5 MiB: {parts}");
    assert!(peak < MIN_PART_BYTES + 1024 * 1024 + 4096, "at most a part and a chunk held: {peak}");
    assert!(photos.uploads().is_empty(), "completed");

    let stored = photos.read("users/p/exports/e/r.zip").await.unwrap().unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(stored)).unwrap();
    assert_eq!(archive.len(), files.len());
    for (name, bytes) in &files {
        let mut entry = archive.by_name(name).unwrap();
        let mut read = Vec::new();
        entry.read_to_end(&mut read).unwrap();
        assert!(read == *bytes, "{name} is byte-identical");
    }
}

#[tokio::test]
async fn an_aborted_zip_leaves_no_object_and_no_parts() {
    let photos = MemoryPhotos::default();
    let at = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
    let mut zip = StreamedZip::start(&photos, "users/p/exports/e/r.zip", MIN_PART_BYTES, at).await.unwrap();
    zip.begin_entry("a.bin").unwrap();
    zip.write(&noise(6 * 1024 * 1024, 9)).await.unwrap();
    assert_eq!(photos.uploads(), vec![("users/p/exports/e/r.zip".to_string(), 1)], "a part went out");
    zip.abort().await;
    assert!(photos.uploads().is_empty());
    assert!(photos.list("users/p/").await.unwrap().is_empty());
    // An account's erasure finds the upload of a run still writing, and aborts it.
    photos.start_upload("users/p/exports/e/r2.zip", "application/zip", ("kind", "export")).await.unwrap();
    assert_eq!(photos.abort_uploads_under("users/p/").await.unwrap(), 1);
}
