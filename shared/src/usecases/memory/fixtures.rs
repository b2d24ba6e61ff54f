//! Fixtures shared by the use cases' tests.

use crate::jobs::{Job, JobStatus};
use crate::messages::GenerationMessage;
use crate::object_keys::UserObjects;
use crate::photo_clean::Rewriter;
use crate::ports::{LedgerStore, PhotoStore, PipelineStore};
use crate::styles::{DEFAULT_STYLE, StyleChoice};

use crate::usecases::generation::{Pipeline, PipelineSettings};

use super::*;

/// The key the tests derive object prefixes and hashes with.
pub(crate) const HASH_KEY: &[u8] = b"a test key of at least thirty-two bytes";

/// The pipeline over the in-memory ports.
pub(crate) type TestPipeline = Pipeline<MemoryStore, MemoryPhotos, MemoryQueue<GenerationMessage>, FakeProvider>;

/// A pipeline with a short poll schedule, two `createTask` retries and a 60 s stall.
pub(crate) fn pipeline() -> TestPipeline {
    Pipeline {
        store: MemoryStore::default(),
        photos: MemoryPhotos::default(),
        queue: MemoryQueue::default(),
        provider: FakeProvider::default(),
        settings: PipelineSettings {
            public_api_url: "https://api.test".into(),
            poll_schedule: vec![3, 5],
            create_retries: 2,
            stall_seconds: 60,
            decode_concurrency: 1,
            task_limit: 20,
            task_window_secs: 10,
            task_margin_secs: 1,
            models: crate::provider::ModelChoice::default(),
        },
        rewriter: Rewriter::new(1),
    }
}

/// A new user id, in the shape of ours.
pub(crate) fn user_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A small JPEG photo.
pub(crate) fn tiny_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16, 12, image::Rgb([180, 140, 120]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).unwrap();
    out
}

/// A queued job of `user_id` at `price`, created `now` (its start step due
/// within the 60 s stall, its deadline 780 s away), its photo under the
/// user's opaque prefix.
pub(crate) fn queued_job(user_id: &str, price: i64, now: i64) -> Job {
    let (attire, background, lighting, quality) = DEFAULT_STYLE;
    let upload_id = uuid::Uuid::now_v7().simple().to_string();
    Job {
        job_id: crate::jobs::new_job_id(),
        user_id: user_id.into(),
        status: JobStatus::Queued,
        style: StyleChoice { attire: attire.into(), background: background.into(), lighting: lighting.into(), quality: quality.into() },
        credits_charged: price,
        refunded: false,
        created_at: now,
        updated_at: now,
        completed_at: None,
        input_key: UserObjects::new(HASH_KEY, user_id).job_photo(&upload_id),
        upload_id,
        result_key: None,
        error: None,
        deadline_at: now + 780,
        task_id: None,
        task_model: None,
        fallback_model: None,
        primary_task_id: None,
        callback_hash: None,
        claim: None,
        expires_at: None,
        watch_at: Some(now + 60),
        poll_seq: 0,
    }
}

/// A user with 3 credits and a queued job of 1 credit created `now`, its
/// photo stored; the job's start message.
pub(crate) async fn paid_job(p: &TestPipeline, now: i64) -> (Job, GenerationMessage) {
    let user = user_id();
    p.store.add_account(&user, 3);
    let job = queued_job(&user, 1, now);
    p.store.add_job(&job);
    p.photos.put(&job.input_key, tiny_jpeg(), "image/jpeg").await.unwrap();
    let start = GenerationMessage::start(&job.user_id, &job.job_id);
    (job, start)
}

/// The job as stored now.
pub(crate) async fn stored(p: &TestPipeline, job: &Job) -> Job {
    p.store.job(&job.user_id, &job.job_id).await.unwrap().expect("the job exists")
}

/// Checks balance = sum of the ledger, never below zero, through the port; the balance.
pub(crate) async fn balanced(store: &impl LedgerStore, user_id: &str) -> i64 {
    store.check_balance_invariant(user_id).await.unwrap().unwrap_or_else(|broken| panic!("{broken}"))
}
