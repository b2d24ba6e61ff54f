//! Unit tests of the second model over the in-memory ports: when a job
//! switches (a provider failure of its task, `createTask` refused after its
//! retries), when it does not (moderation, an unusable photo, no second
//! model, one used already, too little time), and that lost answers, lost
//! steps and stale looks at the primary's task never make a second switch,
//! a second charge or a second refund.

use std::time::Duration;

use crate::jobs::{Job, JobStatus};
use crate::messages::{GenerationMessage, Step};
use crate::ports::{LedgerStore, PhotoStore};
use crate::provider::{FailReason, ProviderError, TaskState};
use crate::usecases::memory::{Fault, TestPipeline, balanced, paid_job, pipeline, stored, tiny_jpeg};
use crate::usecases::reaper::{self, ReaperLimits, ReaperReport};

const PRIMARY: &str = "google/nano-banana-edit";
const FALLBACK: &str = "seedream/4.5-edit";
const RESULT_URL: &str = "https://provider.test/results/2.png";

/// The test pipeline with `FALLBACK` as the standard quality's second model.
fn with_fallback() -> TestPipeline {
    let mut p = pipeline();
    p.settings.models.standard.fallback = Some(FALLBACK.into());
    p
}

fn poll(job: &Job, attempt: u32, seq: u32) -> GenerationMessage {
    GenerationMessage { step: Step::Poll, attempt, seq, ..GenerationMessage::start(&job.user_id, &job.job_id) }
}

fn callback(job: &Job) -> GenerationMessage {
    GenerationMessage { step: Step::Callback, ..GenerationMessage::start(&job.user_id, &job.job_id) }
}

fn provider_fail(code: &str) -> TaskState {
    TaskState::Fail { reason: crate::adapters::kie::record::fail_reason(code), code: code.into() }
}

/// A JPEG of noise, which a second encoding changes.
fn noisy_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 37 % 251) as u8, (y * 91 % 241) as u8, ((x * y) % 199) as u8]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(&img).unwrap();
    out
}

async fn reasons(p: &TestPipeline, user_id: &str) -> Vec<String> {
    p.store.ledger_entries(user_id).await.unwrap().into_iter().map(|e| e.reason).collect()
}

/// The one message queued since the last look.
fn only_sent(p: &TestPipeline) -> GenerationMessage {
    let mut sent = p.queue.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent.remove(0).0
}

/// A new job of `p`, created `created`, started with the primary's task `task-1`; its first poll.
async fn started_at(p: &TestPipeline, created: i64) -> (Job, GenerationMessage) {
    let (job, start) = paid_job(p, created).await;
    p.provider.create_answers(Ok("task-1"));
    p.run(&start, "m1").await.unwrap();
    (job, only_sent(p))
}

/// Fails the primary's task at the first poll; the fallback's start step it queued.
async fn primary_failed(p: &TestPipeline) -> (Job, GenerationMessage) {
    let (job, first_poll) = started_at(p, crate::time::now()).await;
    p.provider.state_answers("task-1", Ok(provider_fail("500")));
    p.run(&first_poll, "p1").await.unwrap();
    (job, only_sent(p))
}

/// Runs the fallback's start (creating `task-2`) and a poll that finds it done.
async fn fallback_succeeds(p: &TestPipeline, job: &Job, start: &GenerationMessage) {
    p.provider.create_answers(Ok("task-2"));
    p.run(start, "f1").await.unwrap();
    let first_poll = only_sent(p);
    assert_eq!(first_poll, poll(job, 0, 0));
    p.provider.state_answers("task-2", Ok(TaskState::Success(vec![RESULT_URL.into()])));
    p.provider.serves(RESULT_URL, Some(tiny_jpeg()));
    p.run(&first_poll, "f2").await.unwrap();
}

#[tokio::test]
async fn a_provider_failure_of_the_primary_task_switches_to_the_fallback_which_succeeds_charged_once() {
    let p = with_fallback();
    let (job, start) = primary_failed(&p).await;
    let switched = stored(&p, &job).await;
    assert_eq!(switched.status, JobStatus::Processing, "not failed");
    assert_eq!((switched.task_id.as_deref(), switched.primary_task_id.as_deref()), (None, Some("task-1")));
    assert_eq!(switched.fallback_model.as_deref(), Some(FALLBACK));
    assert_eq!((start.step, start.attempt, start.photo_ready), (Step::Start, 0, true));
    assert_eq!(start.claim, switched.claim, "the fallback's start holds the claim");
    fallback_succeeds(&p, &job, &start).await;
    let done = stored(&p, &job).await;
    assert_eq!((done.status, done.refunded, done.task_id.as_deref()), (JobStatus::Succeeded, false, Some("task-2")));
    assert_eq!(done.task_model.as_deref(), Some(FALLBACK), "the record names the model that made the result");
    let models: Vec<String> = p.provider.asked().into_iter().map(|t| t.model).collect();
    assert_eq!(models, [PRIMARY, FALLBACK]);
    assert_eq!(reasons(&p, &job.user_id).await, ["free_credits", "job_charge"], "charged once, never refunded");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_create_task_refused_after_its_retries_switches_to_the_fallback() {
    let p = with_fallback();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    let mut next = start;
    for _ in 0..3 {
        p.provider.create_answers(Err(ProviderError::Retryable("503".into())));
        p.run(&next, &format!("m{}", next.attempt)).await.unwrap();
        next = only_sent(&p);
    }
    let switched = stored(&p, &job).await;
    assert_eq!((switched.status, switched.fallback_model.as_deref(), switched.primary_task_id.as_deref()), (JobStatus::Processing, Some(FALLBACK), None));
    assert_eq!((next.attempt, next.photo_ready, next.claim.as_ref()), (0, true, switched.claim.as_ref()), "the fallback gets its own retries");

    fallback_succeeds(&p, &job, &next).await;
    assert_eq!(stored(&p, &job).await.status, JobStatus::Succeeded);
    let models: Vec<String> = p.provider.asked().into_iter().map(|t| t.model).collect();
    assert_eq!(models, [PRIMARY, PRIMARY, PRIMARY, FALLBACK], "the first try and CREATE_RETRIES = 2 on the primary");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn moderation_and_an_unusable_photo_never_reach_the_fallback() {
    for (code, error) in [("422", "content_rejected"), ("400", "invalid_image")] {
        let p = with_fallback();
        let (job, first_poll) = started_at(&p, crate::time::now()).await;
        p.provider.state_answers("task-1", Ok(provider_fail(code)));
        p.run(&first_poll, "p1").await.unwrap();
        let failed = stored(&p, &job).await;
        assert_eq!((failed.status, failed.refunded, failed.fallback_model.as_ref()), (JobStatus::Failed, true, None), "{code}");
        assert_eq!(failed.error.unwrap().code, error);
        assert!(p.queue.take().is_empty() && p.provider.asked().len() == 1, "{code}: no second task");
        assert_eq!(balanced(&p.store, &job.user_id).await, 3, "{code}: refunded");
    }
    // Nor does a createTask refused by moderation, or for our account.
    for refusal in [ProviderError::Rejected("prohibited".into()), ProviderError::Operator { code: 402, message: "credits".into() }] {
        let p = with_fallback();
        let (job, start) = paid_job(&p, crate::time::now()).await;
        p.provider.create_answers(Err(refusal.clone()));
        p.run(&start, "m1").await.unwrap();
        assert_eq!((stored(&p, &job).await.status, p.provider.asked().len()), (JobStatus::Failed, 1), "{refusal}");
        assert_eq!(balanced(&p.store, &job.user_id).await, 3);
    }
}

#[tokio::test]
async fn without_a_fallback_model_a_provider_failure_fails_and_refunds_as_before() {
    let p = pipeline();
    let (job, first_poll) = started_at(&p, crate::time::now()).await;
    p.provider.state_answers("task-1", Ok(provider_fail("500")));
    p.run(&first_poll, "p1").await.unwrap();
    let failed = stored(&p, &job).await;
    assert_eq!((failed.status, failed.error.map(|e| e.code)), (JobStatus::Failed, Some("provider_failed".to_string())));
    assert!(p.queue.take().is_empty() && p.provider.asked().len() == 1);
    assert_eq!(reasons(&p, &job.user_id).await, ["free_credits", "job_charge", "job_refund"]);
    // A fallback for the other quality changes nothing for this one.
    let mut p = pipeline();
    p.settings.models.high.fallback = Some(FALLBACK.into());
    let (job, first_poll) = started_at(&p, crate::time::now()).await;
    p.provider.state_answers("task-1", Ok(provider_fail("501")));
    p.run(&first_poll, "p1").await.unwrap();
    assert_eq!((stored(&p, &job).await.status, p.provider.asked().len()), (JobStatus::Failed, 1));
    assert_eq!(balanced(&p.store, &job.user_id).await, 3);
}

#[tokio::test]
async fn a_failing_fallback_fails_the_job_once_with_no_third_task() {
    let p = with_fallback();
    let (job, start) = primary_failed(&p).await;
    p.provider.create_answers(Ok("task-2"));
    p.run(&start, "f1").await.unwrap();
    let first_poll = only_sent(&p);
    p.provider.state_answers("task-2", Ok(provider_fail("500")));
    p.run(&first_poll, "f2").await.unwrap();
    let failed = stored(&p, &job).await;
    assert_eq!((failed.status, failed.refunded, failed.task_model.as_deref()), (JobStatus::Failed, true, Some(FALLBACK)));
    assert_eq!(failed.error.unwrap().code, "provider_failed");
    assert!(p.queue.take().is_empty(), "no third start");
    assert_eq!(p.provider.asked().len(), 2);
    assert_eq!(reasons(&p, &job.user_id).await, ["free_credits", "job_charge", "job_refund"], "refunded once");
    assert_eq!(balanced(&p.store, &job.user_id).await, 3);
}

#[tokio::test]
async fn with_less_than_a_third_of_its_time_left_the_job_fails_instead() {
    let p = with_fallback();
    // Created 600 s ago: 180 s of its 780 s are left, less than 260.
    let (job, first_poll) = started_at(&p, crate::time::now() - 600).await;
    p.provider.state_answers("task-1", Ok(provider_fail("500")));
    p.run(&first_poll, "p1").await.unwrap();
    let failed = stored(&p, &job).await;
    assert_eq!((failed.status, failed.fallback_model.as_ref()), (JobStatus::Failed, None));
    assert!(p.queue.take().is_empty() && p.provider.asked().len() == 1);
    assert_eq!(balanced(&p.store, &job.user_id).await, 3);
    // Just inside the room, it switches.
    let p = with_fallback();
    let (job, first_poll) = started_at(&p, crate::time::now() - 500).await;
    p.provider.state_answers("task-1", Ok(provider_fail("500")));
    p.run(&first_poll, "p1").await.unwrap();
    assert_eq!(stored(&p, &job).await.fallback_model.as_deref(), Some(FALLBACK));
}

#[tokio::test]
async fn a_stale_look_at_the_primary_task_writes_nothing_after_the_switch() {
    let p = with_fallback();
    let (job, first_poll) = started_at(&p, crate::time::now()).await;
    let seen_before = stored(&p, &job).await; // a step that read the job with the primary's task
    p.provider.state_answers("task-1", Ok(provider_fail("500")));
    p.run(&first_poll, "p1").await.unwrap();
    let start = only_sent(&p);

    // Its callback before the fallback's task exists: looked at again shortly, nothing else.
    p.run(&callback(&job), "c1").await.unwrap();
    let again = only_sent(&p);
    assert_eq!((again.step, again.attempt), (Step::Callback, 1));
    p.provider.create_answers(Ok("task-2"));
    p.run(&start, "f1").await.unwrap();
    let fallback_poll = only_sent(&p);

    // Whatever the stale step makes of the primary's task, the job is not settled by it.
    p.settle(&seen_before, provider_fail("500")).await.unwrap();
    p.settle(&seen_before, provider_fail("422")).await.unwrap();
    p.provider.serves("https://provider.test/results/1.png", Some(tiny_jpeg()));
    p.settle(&seen_before, TaskState::Success(vec!["https://provider.test/results/1.png".into()])).await.unwrap();
    let current = stored(&p, &job).await;
    assert_eq!((current.status, current.task_id.as_deref(), current.result_key.as_ref()), (JobStatus::Processing, Some("task-2"), None));
    assert!(p.queue.take().is_empty(), "no second switch");
    assert_eq!(p.photos.read(&crate::object_keys::result_key(&job.input_key, &job.job_id)).await.unwrap(), None, "the stale result is not kept");

    // The delayed callback now looks at the fallback's task, which finishes the job.
    p.provider.state_answers("task-2", Ok(TaskState::Success(vec![RESULT_URL.into()])));
    p.provider.serves(RESULT_URL, Some(tiny_jpeg()));
    p.run(&again, "c2").await.unwrap();
    p.run(&fallback_poll, "f2").await.unwrap(); // finds it done: no look at the provider
    assert_eq!(stored(&p, &job).await.status, JobStatus::Succeeded);
    assert_eq!(p.provider.asked().len(), 2);
    assert_eq!(reasons(&p, &job.user_id).await, ["free_credits", "job_charge"]);
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_switch_whose_answer_was_lost_is_finished_by_the_reaper_with_one_fallback_task() {
    let p = with_fallback();
    let (job, first_poll) = started_at(&p, crate::time::now()).await;
    p.provider.state_answers("task-1", Ok(provider_fail("500")));
    p.store.fail_once("switch_to_fallback", Fault::LostAnswer);
    assert!(p.run(&first_poll, "p1").await.is_err(), "the step is retried");
    assert!(p.queue.take().is_empty(), "the fallback's start was never sent");
    // SQS delivers the poll again: the job has no task now, so the poll chain ends.
    p.run(&first_poll, "p1").await.unwrap();
    assert!(p.queue.take().is_empty());
    let switched = stored(&p, &job).await;
    assert_eq!((switched.status, switched.fallback_model.as_deref()), (JobStatus::Processing, Some(FALLBACK)));

    // When the start should have happened, the reaper sends it.
    let limits = ReaperLimits { per_job: Duration::from_millis(200), provider_check: Duration::from_millis(20), ..ReaperLimits::default() };
    assert_eq!(reaper::run(&p, switched.watch_at.unwrap(), limits).await.unwrap(), ReaperReport { nudged: 1, ..ReaperReport::default() });
    let start = only_sent(&p);
    assert_eq!((start.step, start.photo_ready), (Step::Start, false));
    // The clean copy (here one whose re-encoding would change it) is used as it is.
    let photo = noisy_jpeg();
    p.photos.put(&job.input_key, photo.clone(), "image/jpeg").await.unwrap();
    fallback_succeeds(&p, &job, &start).await;
    assert_eq!(p.photos.read(&job.input_key).await.unwrap(), Some(photo), "the clean photo is not cleaned again");
    let done = stored(&p, &job).await;
    assert_eq!((done.status, done.task_model.as_deref()), (JobStatus::Succeeded, Some(FALLBACK)));
    assert_eq!(p.provider.asked().len(), 2, "one primary task, one fallback task");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn steps_that_all_saw_the_primary_fail_switch_once() {
    let p = with_fallback();
    let (job, first_poll) = started_at(&p, crate::time::now()).await;
    let seen_before = stored(&p, &job).await;
    // The poll and the callback both read the failure; the switch is made once.
    p.provider.state_answers("task-1", Ok(provider_fail("500")));
    p.run(&first_poll, "p1").await.unwrap();
    p.settle(&seen_before, provider_fail("500")).await.unwrap();
    let sent = p.queue.take();
    assert_eq!(sent.len(), 1, "one fallback start: {sent:?}");
    // Its start delivered twice creates one task.
    let start = sent[0].0.clone();
    p.provider.create_answers(Ok("task-2"));
    p.run(&start, "f1").await.unwrap();
    p.run(&start, "f1").await.unwrap();
    assert_eq!(p.provider.asked().len(), 2);
    assert_eq!(p.queue.take().len(), 1, "one poll chain");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn the_reapers_last_look_past_the_deadline_never_switches() {
    let p = with_fallback();
    let (job, _) = started_at(&p, crate::time::now() - 800).await;
    p.provider.state_answers("task-1", Ok(TaskState::Fail { reason: FailReason::Provider, code: "500".into() }));
    let limits = ReaperLimits { per_job: Duration::from_millis(200), provider_check: Duration::from_millis(50), ..ReaperLimits::default() };
    assert_eq!(reaper::run(&p, crate::time::now(), limits).await.unwrap(), ReaperReport { settled: 1, ..ReaperReport::default() });
    let failed = stored(&p, &job).await;
    assert_eq!((failed.status, failed.fallback_model.as_ref()), (JobStatus::Failed, None));
    assert_eq!(failed.error.unwrap().code, "provider_failed");
    assert!(p.queue.take().is_empty());
    assert_eq!(balanced(&p.store, &job.user_id).await, 3);
}
