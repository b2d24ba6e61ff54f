//! Unit tests of an account's erasure over the in-memory ports: everything
//! of the user goes, a second run is harmless, and a failure anywhere is
//! resumed by the retry.

use super::*;
use crate::credits::event::Event;
use crate::credits::{CreditSettings, DEFAULT_PRODUCTS, ProductCredits};
use crate::object_keys::result_key;
use crate::usecases::memory::{FakeHistory, Fault, HASH_KEY, MemoryPhotos, MemoryQueue, MemoryStore, balanced, queued_job, tiny_jpeg, user_id};
use crate::usecases::purchases::Purchases;

const NOW: i64 = 1_800_000_000;

type Eraser = AccountEraser<MemoryStore, MemoryPhotos, FakeHistory, MemoryQueue<DeletionMessage>>;

fn eraser() -> Eraser {
    AccountEraser {
        store: MemoryStore::default(),
        photos: MemoryPhotos::default(),
        history: Some(FakeHistory::default()),
        hash_key: HASH_KEY.to_vec(),
        queue: MemoryQueue::default(),
        final_pass_delay_secs: 900,
    }
}

/// The webhook's answer to a production purchase of 5 credits.
async fn buy(store: &MemoryStore, event_id: &str, user: &str, transaction: &str) -> &'static str {
    let credits = CreditSettings { products: ProductCredits::parse(DEFAULT_PRODUCTS).unwrap(), sandbox_grants: false, sync_limit_per_minute: 6 };
    let body = serde_json::json!({"event": {"id": event_id, "type": "NON_RENEWING_PURCHASE", "app_user_id": user,
        "product_id": "credits_5", "transaction_id": transaction, "environment": "PRODUCTION"}});
    Purchases { store, credits: &credits, hash_key: HASH_KEY }.apply(&Event::parse(&body).unwrap(), NOW).await.unwrap()
}

/// A user with everything an account can have: two sessions, a job, a
/// purchase, an upload, the job's photo and result, and an object under the
/// prefix of jobs from before the opaque layout.
async fn full_account(e: &Eraser) -> String {
    let user = user_id();
    e.store.add_account(&user, 3);
    e.store.add_session(&user, "s1");
    e.store.add_session(&user, "s2");
    let job = queued_job(&user, 1, NOW);
    e.store.add_job(&job);
    assert_eq!(buy(&e.store, "e1", &user, "GPA.1").await, "granted");
    let objects = UserObjects::new(HASH_KEY, &user);
    for key in [objects.upload(&job.upload_id), job.input_key.clone(), result_key(&job.input_key, &job.job_id), format!("users/{user}/uploads/old")] {
        e.photos.put(&key, tiny_jpeg(), "image/jpeg").await.unwrap();
    }
    user
}

/// A user who stays.
async fn bystander(e: &Eraser) -> String {
    let user = user_id();
    e.store.add_account(&user, 3);
    e.store.add_session(&user, "s1");
    e.photos.put(&UserObjects::new(HASH_KEY, &user).upload("u1"), tiny_jpeg(), "image/jpeg").await.unwrap();
    user
}

#[tokio::test]
async fn an_erasure_removes_everything_and_a_second_run_is_harmless() {
    let e = eraser();
    let (user, other) = (full_account(&e).await, bystander(&e).await);

    assert!(request_deletion(&e.store, &e.queue, &user, NOW).await.unwrap());
    let mut queued = e.queue.take();
    assert_eq!(queued.len(), 1);
    let (msg, _) = queued.remove(0);
    assert_eq!(msg, DeletionMessage { user_id: user.clone(), final_pass: false });
    assert!(!e.store.remaining_records(&user).await.unwrap().iter().any(|k| k.starts_with("SESSION#")), "signed out at once");
    assert_eq!(buy(&e.store, "e2", &user, "GPA.2").await, "unknown_user", "no purchase lands in an account being deleted");

    let erased = e.handle(&msg, NOW).await.unwrap();
    assert_eq!(erased, Erased { objects: 4, items: 6 }, "4 objects; the job, 3 ledger rows, the purchase and the profile");
    let final_pass = DeletionMessage { final_pass: true, ..msg.clone() };
    assert_eq!(e.queue.take(), vec![(final_pass.clone(), 900)]);
    assert!(verify_gone(&e.store, &e.photos, HASH_KEY, &user).await.unwrap().is_empty());
    assert_eq!(e.history.as_ref().unwrap().deleted(), [user.as_str()]);
    assert_eq!(e.store.deletion_log().await.unwrap(), [user_hash(HASH_KEY, &user)]);

    // The final pass (and any redelivery) finds nothing and queues nothing.
    assert_eq!(e.handle(&final_pass, NOW + 900).await.unwrap(), Erased::default());
    assert_eq!(e.handle(&msg, NOW + 901).await.unwrap(), Erased::default());
    assert_eq!(e.queue.take().len(), 1, "only the redelivered first pass queues a final pass");
    assert!(verify_gone(&e.store, &e.photos, HASH_KEY, &user).await.unwrap().is_empty());
    assert_eq!(e.store.deletion_log().await.unwrap().len(), 1, "logged once");
    assert_eq!(balanced(&e.store, &user).await, 0);

    // The purchase, restored to a new account, is not granted again.
    let new_account = user_id();
    e.store.add_account(&new_account, 3);
    assert_eq!(buy(&e.store, "e3", &new_account, "GPA.1").await, "already_granted");

    let left = e.store.remaining_records(&other).await.unwrap();
    assert_eq!(left, ["PROFILE", "SESSION#s1", "LEDGER#0"], "the bystander keeps everything");
    assert_eq!(e.photos.list("uploads/").await.unwrap().len(), 1);
    assert_eq!(balanced(&e.store, &other).await, 3);
}

#[tokio::test]
async fn a_purchase_history_outage_fails_the_erasure_and_the_retry_completes() {
    let e = eraser();
    let user = full_account(&e).await;
    let msg = DeletionMessage { user_id: user.clone(), final_pass: false };
    e.history.as_ref().unwrap().fail_next(1);

    let failed = e.handle(&msg, NOW).await;
    assert!(matches!(failed, Err(EraseError::RevenueCat(HistoryError::Unavailable { .. }))), "{failed:?}");
    assert_eq!(e.store.remaining_records(&user).await.unwrap(), ["PROFILE"], "the marked profile goes last");
    assert!(e.queue.take().is_empty(), "no final pass yet");

    e.handle(&msg, NOW + 30).await.unwrap();
    assert!(verify_gone(&e.store, &e.photos, HASH_KEY, &user).await.unwrap().is_empty());
    assert_eq!(e.history.as_ref().unwrap().deleted(), [user.as_str()]);
    assert_eq!(e.queue.take().len(), 1, "the final pass");
    assert_eq!(balanced(&e.store, &user).await, 0);
}

#[tokio::test]
async fn store_faults_mid_erasure_are_resumed_by_the_retries() {
    let e = eraser();
    let user = full_account(&e).await;
    e.store.fail_once("erase_records", Fault::Refused);
    e.store.fail_once("finish_deletion", Fault::LostAnswer);

    for _ in 0..2 {
        assert!(matches!(e.erase(&user, NOW).await, Err(EraseError::Store(StoreError::Unavailable(_)))));
    }
    e.erase(&user, NOW).await.unwrap();
    assert!(verify_gone(&e.store, &e.photos, HASH_KEY, &user).await.unwrap().is_empty());
    assert_eq!(e.store.deletion_log().await.unwrap(), [user_hash(HASH_KEY, &user)], "logged once, though its answer was lost");
    assert_eq!(balanced(&e.store, &user).await, 0);
}

#[tokio::test]
async fn a_request_that_fails_after_queuing_is_still_carried_out() {
    let e = eraser();
    let user = full_account(&e).await;
    e.store.fail_once("begin_deletion", Fault::Refused);
    assert!(request_deletion(&e.store, &e.queue, &user, NOW).await.is_err(), "the caller sees the failure");
    let (msg, _) = e.queue.take().pop().expect("the erasure was queued first");
    e.handle(&msg, NOW).await.unwrap();
    assert!(verify_gone(&e.store, &e.photos, HASH_KEY, &user).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_erasure_takes_the_exports_and_the_export_still_being_written() {
    use crate::exports::ExportSettings;
    use crate::ports::{ExportStore, ObjectUploads};
    let e = eraser();
    let user = full_account(&e).await;
    let claims = crate::auth::access_token::Claims { sub: user.clone(), sid: "s1".into(), iat: NOW, exp: NOW + 900, iss: "i".into(), jti: "j".into() };
    let queue = MemoryQueue::default();
    let export = crate::usecases::exports::request_export(&e.store, &queue, HASH_KEY, &claims, &ExportSettings::default(), NOW).await.unwrap();
    // An earlier run's ZIP, and a run still writing its parts.
    e.photos.put(&format!("{}r0.zip", export.prefix), b"PK".to_vec(), "application/zip").await.unwrap();
    e.photos.start_upload(&format!("{}r1.zip", export.prefix), "application/zip", ("kind", "export")).await.unwrap();
    let left = verify_gone(&e.store, &e.photos, HASH_KEY, &user).await.unwrap();
    assert!(left.items.iter().any(|k| k.starts_with("EXPORT#")) && left.uploads.len() == 1, "the verifier sees them: {left:?}");

    e.handle(&DeletionMessage { user_id: user.clone(), final_pass: false }, NOW).await.unwrap();
    assert!(verify_gone(&e.store, &e.photos, HASH_KEY, &user).await.unwrap().is_empty());
    assert!(e.store.export(&user, &export.export_id).await.unwrap().is_none());
    // The writing run, finishing late, finds its upload gone: nothing appears.
    assert!(e.photos.upload_part(&format!("{}r1.zip", export.prefix), "any", 1, vec![0]).await.is_err());
}
