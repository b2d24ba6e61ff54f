//! Unit tests of the generation pipeline over the in-memory ports: the
//! start, poll and callback steps, duplicates, provider failures and store
//! faults, each ending with the balance matching its ledger.

use super::*;
use crate::photo_clean::has_exif;
use crate::ports::{DeletionStore, LedgerStore, ProviderBudget};
use crate::usecases::memory::{Fault, TestPipeline, balanced, paid_job, pipeline, stored, tiny_jpeg};
use crate::usecases::reaper::{self, ReaperLimits, ReaperReport};

const RESULT_URL: &str = "https://provider.test/results/1.jpg";

/// The messages sent since the last look.
fn sent(p: &TestPipeline) -> Vec<(GenerationMessage, u32)> {
    p.queue.take()
}

/// A poll of chain `seq`, after `attempt` polls.
fn poll(job: &Job, attempt: u32, seq: u32) -> GenerationMessage {
    GenerationMessage { step: Step::Poll, attempt, seq, ..GenerationMessage::start(&job.user_id, &job.job_id) }
}

/// The provider's callback, as the webhook queues it.
fn callback(job: &Job) -> GenerationMessage {
    GenerationMessage { step: Step::Callback, ..GenerationMessage::start(&job.user_id, &job.job_id) }
}

async fn reasons(p: &TestPipeline, user_id: &str) -> Vec<String> {
    p.store.ledger_entries(user_id).await.unwrap().into_iter().map(|e| e.reason).collect()
}

/// Runs the start step of a new job with the provider creating `task-1`; the poll it queued.
async fn started(p: &TestPipeline) -> (Job, GenerationMessage) {
    let (job, start) = paid_job(p, crate::time::now()).await;
    p.provider.create_answers(Ok("task-1"));
    p.run(&start, "m1").await.unwrap();
    let mut queued = sent(p);
    assert_eq!(queued.len(), 1, "{queued:?}");
    (job, queued.remove(0).0)
}

#[tokio::test]
async fn a_start_claims_the_job_creates_one_task_and_queues_a_poll() {
    let p = pipeline();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    p.provider.create_answers(Ok("task-1"));
    p.run(&start, "m1").await.unwrap();

    let now = stored(&p, &job).await;
    assert_eq!((now.status, now.task_id.as_deref(), now.claim.as_deref()), (JobStatus::Processing, Some("task-1"), Some("m1")));
    let asked = p.provider.asked();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].image_url, format!("memory://{}", job.input_key), "the provider fetches our clean copy");
    let token = asked[0].callback_url.split("token=").nth(1).unwrap();
    assert_eq!(now.callback_hash, Some(secret_hash(token)), "the callback's secret was saved, hashed");
    let clean = p.photos.read(&job.input_key).await.unwrap().unwrap();
    assert!(!has_exif(&clean) && imagesize::image_type(&clean).unwrap() == imagesize::ImageType::Jpeg);
    assert_eq!(sent(&p), vec![(poll(&job, 0, 0), 3)], "the first poll, after the schedule's first delay");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_duplicate_start_creates_no_second_task() {
    let p = pipeline();
    let (job, first_poll) = started(&p).await;
    let start = GenerationMessage::start(&job.user_id, &job.job_id);
    p.run(&start, "m1").await.unwrap(); // SQS delivers the same message again
    p.run(&start, "m2").await.unwrap(); // or a second start is sent
    assert_eq!(p.provider.asked().len(), 1, "one task");
    assert!(sent(&p).is_empty(), "no second poll chain");
    assert_eq!(stored(&p, &job).await.task_id.as_deref(), Some("task-1"));
    assert_eq!(first_poll, poll(&job, 0, 0));
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_successful_poll_stores_the_result_and_the_job_is_charged_once() {
    let p = pipeline();
    let (job, first_poll) = started(&p).await;
    p.provider.state_answers("task-1", Ok(TaskState::Pending));
    p.run(&first_poll, "p1").await.unwrap();
    let next = sent(&p);
    assert_eq!(next, vec![(poll(&job, 1, 1), 5)], "still pending: the next poll, on the schedule");

    p.provider.state_answers("task-1", Ok(TaskState::Success(vec![RESULT_URL.into()])));
    p.provider.serves(RESULT_URL, Some(tiny_jpeg()));
    p.run(&next[0].0, "p2").await.unwrap();

    let done = stored(&p, &job).await;
    let key = result_key(&job.input_key, &job.job_id);
    assert_eq!((done.status, done.result_key.as_deref(), done.refunded), (JobStatus::Succeeded, Some(key.as_str()), false));
    assert_eq!(p.photos.read(&key).await.unwrap(), Some(tiny_jpeg()));
    assert!(sent(&p).is_empty(), "no poll after the end");
    // Late arrivals find nothing left to do (an unscripted look at the provider would fail the test).
    p.run(&callback(&job), "c1").await.unwrap();
    p.run(&first_poll, "p1").await.unwrap();
    assert_eq!(reasons(&p, &job.user_id).await, ["free_credits", "job_charge"], "charged once, never refunded");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_callback_finishes_the_job_and_the_pending_poll_steps_aside() {
    let p = pipeline();
    let (job, first_poll) = started(&p).await;
    p.provider.state_answers("task-1", Ok(TaskState::Success(vec![RESULT_URL.into()])));
    p.provider.serves(RESULT_URL, Some(tiny_jpeg()));
    p.run(&callback(&job), "c1").await.unwrap();
    assert_eq!(stored(&p, &job).await.status, JobStatus::Succeeded);
    p.run(&first_poll, "p1").await.unwrap();
    p.run(&callback(&job), "c2").await.unwrap();
    assert!(sent(&p).is_empty());
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_re_sent_poll_chain_never_multiplies() {
    let p = pipeline();
    let (job, first_poll) = started(&p).await;
    p.provider.state_answers("task-1", Ok(TaskState::Pending));
    p.run(&first_poll, "p1").await.unwrap();
    assert_eq!(sent(&p).len(), 1);
    // The same poll again (a redelivery): its chain was taken over, so it ends.
    p.provider.state_answers("task-1", Ok(TaskState::Pending));
    p.run(&first_poll, "p1").await.unwrap();
    assert!(sent(&p).is_empty());
    assert_eq!(stored(&p, &job).await.poll_seq, 1);
}

#[tokio::test]
async fn a_rejected_task_fails_the_job_as_content_rejected_and_refunds_once() {
    let p = pipeline();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    p.provider.create_answers(Err(ProviderError::Rejected("moderation".into())));
    p.run(&start, "m1").await.unwrap();

    let failed = stored(&p, &job).await;
    assert_eq!((failed.status, failed.refunded), (JobStatus::Failed, true));
    assert_eq!(failed.error.unwrap().code, "content_rejected");
    assert!(sent(&p).is_empty(), "nothing to poll");
    // Duplicates and a late callback change nothing.
    p.run(&start, "m1").await.unwrap();
    p.run(&callback(&job), "c1").await.unwrap();
    assert_eq!(p.provider.asked().len(), 1);
    assert_eq!(reasons(&p, &job.user_id).await, ["free_credits", "job_charge", "job_refund"]);
    assert_eq!(balanced(&p.store, &job.user_id).await, 3, "the credit is back, once");
}

#[tokio::test]
async fn a_task_the_provider_rejects_later_is_refunded_once() {
    let p = pipeline();
    let (job, first_poll) = started(&p).await;
    let fail = TaskState::Fail { reason: FailReason::Rejected, code: "400".into() };
    p.provider.state_answers("task-1", Ok(fail.clone()));
    p.run(&first_poll, "p1").await.unwrap();
    p.run(&callback(&job), "c1").await.unwrap(); // the provider's callback about the same failure
    let failed = stored(&p, &job).await;
    assert_eq!((failed.status, failed.error.map(|e| e.code)), (JobStatus::Failed, Some("content_rejected".to_string())));
    assert_eq!(balanced(&p.store, &job.user_id).await, 3);
}

#[tokio::test]
async fn a_refused_create_task_is_retried_later_not_failed() {
    let p = pipeline();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    p.provider.create_answers(Err(ProviderError::Retryable("429".into())));
    p.run(&start, "m1").await.unwrap();

    let waiting = stored(&p, &job).await;
    assert_eq!((waiting.status, waiting.task_id.as_deref(), waiting.error.as_ref()), (JobStatus::Processing, None, None), "not failed");
    let mut queued = sent(&p);
    assert_eq!(queued.len(), 1);
    let (retry, delay) = queued.remove(0);
    assert!((2..=4).contains(&delay), "backed off: {delay}");
    assert_eq!((retry.step, retry.attempt), (Step::Start, 1));
    assert_eq!(retry.claim, waiting.claim, "the retry holds the claim");
    // The original message again steps aside; the retry creates the task.
    p.run(&start, "m1").await.unwrap();
    p.provider.create_answers(Ok("task-2"));
    p.run(&retry, "m2").await.unwrap();
    assert_eq!(stored(&p, &job).await.task_id.as_deref(), Some("task-2"));
    assert_eq!(sent(&p), vec![(poll(&job, 0, 0), 3)]);
    assert_eq!(p.provider.asked().len(), 2);
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_create_task_refused_every_time_fails_the_job_after_its_retries() {
    let p = pipeline();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    let mut next = Some(start);
    while let Some(msg) = next.take() {
        p.provider.create_answers(Err(ProviderError::Retryable("503".into())));
        p.run(&msg, &format!("m{}", msg.attempt)).await.unwrap();
        next = sent(&p).pop().map(|(m, _)| m);
    }
    assert_eq!(p.provider.asked().len(), 3, "the first try and CREATE_RETRIES = 2 retries");
    let failed = stored(&p, &job).await;
    assert_eq!((failed.status, failed.error.map(|e| e.code)), (JobStatus::Failed, Some("provider_failed".to_string())));
    assert_eq!(balanced(&p.store, &job.user_id).await, 3);
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_is_not_made_twice_on_retry() {
    let p = pipeline();
    let (job, first_poll) = started(&p).await;
    p.provider.state_answers("task-1", Ok(TaskState::Fail { reason: FailReason::Provider, code: "500".into() }));
    p.store.fail_once("fail_and_refund", Fault::LostAnswer);
    assert!(p.run(&first_poll, "p1").await.is_err(), "the step is retried");
    // SQS delivers the poll again: the job is settled, so nothing happens.
    p.run(&first_poll, "p1").await.unwrap();
    assert_eq!(stored(&p, &job).await.status, JobStatus::Failed);
    assert_eq!(reasons(&p, &job.user_id).await, ["free_credits", "job_charge", "job_refund"], "refunded exactly once");
    assert_eq!(balanced(&p.store, &job.user_id).await, 3);
}

#[tokio::test]
async fn a_claim_refused_by_the_store_is_retried_and_one_task_created() {
    let p = pipeline();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    p.store.fail_once("claim_job", Fault::Refused);
    assert!(p.run(&start, "m1").await.is_err());
    assert_eq!(stored(&p, &job).await.status, JobStatus::Queued);
    assert!(p.provider.asked().is_empty());
    p.provider.create_answers(Ok("task-1"));
    p.run(&start, "m1").await.unwrap();
    assert_eq!((p.provider.asked().len(), stored(&p, &job).await.task_id.as_deref()), (1, Some("task-1")));
    assert_eq!(sent(&p).len(), 1);
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_task_id_whose_answer_was_lost_is_kept_and_the_reaper_sends_the_missing_poll() {
    let p = pipeline();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    p.provider.create_answers(Ok("task-1"));
    p.store.fail_once("store_task_id", Fault::LostAnswer);
    assert!(p.run(&start, "m1").await.is_err());
    assert!(sent(&p).is_empty(), "the poll was never queued");
    p.run(&start, "m1").await.unwrap(); // the retry: the task exists, no second one
    assert_eq!(p.provider.asked().len(), 1);

    // When the first poll should have happened, the reaper sends it.
    let watch = stored(&p, &job).await.watch_at.unwrap();
    let limits = ReaperLimits { per_job: Duration::from_millis(200), provider_check: Duration::from_millis(20), ..ReaperLimits::default() };
    assert_eq!(reaper::run(&p, watch, limits).await.unwrap(), ReaperReport { nudged: 1, ..ReaperReport::default() });
    let mut queued = sent(&p);
    assert_eq!(queued.len(), 1);
    let (resent, delay) = queued.remove(0);
    assert_eq!((resent.step, resent.seq, delay), (Step::Poll, 1, 0));
    p.provider.state_answers("task-1", Ok(TaskState::Success(vec![RESULT_URL.into()])));
    p.provider.serves(RESULT_URL, Some(tiny_jpeg()));
    p.run(&resent, "p1").await.unwrap();
    assert_eq!(stored(&p, &job).await.status, JobStatus::Succeeded);
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_result_arriving_while_the_account_is_deleted_is_not_kept() {
    let p = pipeline();
    let (job, first_poll) = started(&p).await;
    assert!(p.store.begin_deletion(&job.user_id, crate::time::now()).await.unwrap());
    p.provider.state_answers("task-1", Ok(TaskState::Success(vec![RESULT_URL.into()])));
    p.provider.serves(RESULT_URL, Some(tiny_jpeg()));
    p.run(&first_poll, "p1").await.unwrap();
    let job_now = stored(&p, &job).await;
    assert_eq!((job_now.status, job_now.result_key), (JobStatus::Processing, None), "no write into an account being deleted");
    assert_eq!(p.photos.read(&result_key(&job.input_key, &job.job_id)).await.unwrap(), None, "the result was removed again");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_start_past_the_provider_task_rate_waits_and_is_not_failed() {
    let mut p = pipeline();
    p.settings.task_limit = 1;
    let (first, _) = started(&p).await;
    let (job, start) = paid_job(&p, crate::time::now()).await;
    p.run(&start, "m2").await.unwrap();

    assert_eq!(p.provider.asked().len(), 1, "no second task inside the window");
    let waiting = stored(&p, &job).await;
    assert_eq!((waiting.status, waiting.task_id.as_deref(), waiting.error.as_ref()), (JobStatus::Processing, None, None), "waiting, not failed");
    let mut queued = sent(&p);
    assert_eq!(queued.len(), 1, "{queued:?}");
    let (later, delay) = queued.remove(0);
    assert!((10..=13).contains(&delay), "after the window (+1 s margin): {delay}");
    assert_eq!((later.step, later.attempt, later.photo_ready), (Step::Start, 0, true), "the same start, its retries untouched, its photo kept");
    assert_eq!(later.claim, waiting.claim, "the delayed start holds the claim");
    assert_eq!(p.store.spent(&crate::time::rfc3339(crate::time::now())[..10]).await.unwrap(), 20_000, "only the created task is spent");

    // Once a slot is free (here: a larger limit), the delayed start creates the task.
    p.settings.task_limit = 2;
    p.provider.create_answers(Ok("task-2"));
    p.run(&later, "m3").await.unwrap();
    assert_eq!(stored(&p, &job).await.task_id.as_deref(), Some("task-2"));
    assert_eq!(stored(&p, &first).await.task_id.as_deref(), Some("task-1"));
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}
