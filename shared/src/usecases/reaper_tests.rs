//! Unit tests of the reaper over the in-memory ports: jobs past their
//! deadline settled within tiny budgets whatever the provider does, and
//! stalled jobs given their next step once.

use std::time::Instant;

use super::*;
use crate::usecases::memory::{TestPipeline, balanced, paid_job, pipeline, queued_job, stored, tiny_jpeg, user_id};
use crate::usecases::reaper;

/// Budgets in milliseconds: a hung provider costs 20 ms, a job at most 100 ms.
const LIMITS: ReaperLimits = ReaperLimits {
    batch: 10,
    parallel: 4,
    per_job: Duration::from_millis(100),
    provider_check: Duration::from_millis(20),
    start_within: Duration::from_secs(1),
};

/// A job of a new user (3 credits, 1 paid), created at `created`, as its
/// start step leaves it: claimed, its provider task `task` running.
fn processing_job(p: &TestPipeline, created: i64, task: &str) -> Job {
    let user = user_id();
    p.store.add_account(&user, 3);
    let job = Job {
        status: JobStatus::Processing,
        claim: Some("m1".into()),
        task_id: Some(task.into()),
        watch_at: Some(created + 63),
        ..queued_job(&user, 1, created)
    };
    p.store.add_job(&job);
    job
}

#[tokio::test]
async fn a_job_past_its_deadline_with_a_hung_provider_is_timed_out_and_refunded_within_budget() {
    let p = pipeline();
    let created = crate::time::now() - 800;
    let job = processing_job(&p, created, "task-h");
    p.provider.state_hangs("task-h");

    let clock = Instant::now();
    let report = reaper::run(&p, job.deadline_at + 1, LIMITS).await.unwrap();
    assert_eq!(report, ReaperReport { settled: 1, ..ReaperReport::default() }, "settled, not cut short by the job's budget");
    assert!(clock.elapsed() < Duration::from_secs(1), "{:?}", clock.elapsed());

    let settled = stored(&p, &job).await;
    assert_eq!((settled.status, settled.refunded), (JobStatus::Failed, true));
    assert_eq!(settled.error.unwrap().code, "timed_out");
    assert_eq!(reaper::run(&p, job.deadline_at + 60, LIMITS).await.unwrap(), ReaperReport::default(), "nothing left to do");
    assert!(p.queue.take().is_empty());
    assert_eq!(balanced(&p.store, &job.user_id).await, 3, "refunded once");
}

#[tokio::test]
async fn a_stalled_queued_job_gets_its_start_sent_again_once() {
    let p = pipeline();
    let created = crate::time::now() - 100;
    let (job, start) = paid_job(&p, created).await; // its start message was lost
    let now = created + 100;
    assert_eq!(reaper::run(&p, now, LIMITS).await.unwrap(), ReaperReport { nudged: 1, ..ReaperReport::default() });
    assert_eq!(p.queue.take(), vec![(start.clone(), 0)]);
    for later in [now, now + 30] {
        assert_eq!(reaper::run(&p, later, LIMITS).await.unwrap(), ReaperReport::default(), "not twice");
    }
    assert!(p.queue.take().is_empty());
    // The re-sent start does the job's work.
    p.provider.create_answers(Ok("task-1"));
    p.run(&start, "m2").await.unwrap();
    assert_eq!(stored(&p, &job).await.task_id.as_deref(), Some("task-1"));
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_start_abandoned_at_a_hung_provider_is_taken_over_once() {
    let p = pipeline();
    let (job, start) = paid_job(&p, crate::time::now()).await;
    p.provider.create_hangs();
    let mut first = Box::pin(p.run(&start, "m1"));
    // The first delivery runs until it waits on the provider.
    tokio::select! {
        _ = &mut first => panic!("the provider never answers"),
        () = async { while p.provider.asked().is_empty() { tokio::time::sleep(Duration::from_millis(1)).await } } => {}
    }
    // A second delivery of the same message meanwhile is told to come back: one call at the provider.
    assert!(matches!(p.run(&start, "m1").await, Err(StoreError::Unavailable(_))));
    assert_eq!(p.provider.asked().len(), 1);
    // The worker gives the step up (its time budget) without a word: the claim stays held.
    drop(first);

    let watch = stored(&p, &job).await.watch_at.unwrap();
    assert_eq!(reaper::run(&p, watch, LIMITS).await.unwrap(), ReaperReport { nudged: 1, ..ReaperReport::default() });
    assert_eq!(reaper::run(&p, watch, LIMITS).await.unwrap(), ReaperReport::default(), "not twice");
    let mut queued = p.queue.take();
    assert_eq!(queued.len(), 1);
    let (takeover, delay) = queued.remove(0);
    assert_eq!((takeover.step, delay), (Step::Start, 0));
    let claim = stored(&p, &job).await.claim;
    assert_eq!((takeover.claim.clone(), claim.as_deref() != Some("m1")), (claim, true), "the new run holds the claim");
    // The old message, should it come again, steps aside; the new run creates the task.
    p.run(&start, "m1").await.unwrap();
    p.provider.create_answers(Ok("task-2"));
    p.run(&takeover, "m3").await.unwrap();
    assert_eq!(p.provider.asked().len(), 2);
    assert_eq!(stored(&p, &job).await.task_id.as_deref(), Some("task-2"));
    assert_eq!(p.queue.take().len(), 1, "its first poll");
    assert_eq!(balanced(&p.store, &job.user_id).await, 2);
}

#[tokio::test]
async fn a_hung_result_download_costs_one_job_budget_and_the_next_run_settles_it() {
    let p = pipeline();
    let created = crate::time::now() - 800;
    let done = processing_job(&p, created, "task-a");
    let hung = processing_job(&p, created, "task-b");
    let url = "https://provider.test/results/a.jpg";
    p.provider.state_answers("task-a", Ok(TaskState::Success(vec![url.into()])));
    p.provider.serves(url, None);
    p.provider.state_hangs("task-b");

    let clock = Instant::now();
    let report = reaper::run(&p, created + 781, LIMITS).await.unwrap();
    assert_eq!(report, ReaperReport { settled: 1, failed: 1, ..ReaperReport::default() });
    assert!(clock.elapsed() < Duration::from_secs(1), "jobs run side by side: {:?}", clock.elapsed());
    assert_eq!(stored(&p, &hung).await.status, JobStatus::Failed);
    assert_eq!(stored(&p, &done).await.status, JobStatus::Processing, "left for the next run");

    // The next run finds the provider's result and keeps it: the user gets the headshot.
    p.provider.state_answers("task-a", Ok(TaskState::Success(vec![url.into()])));
    p.provider.serves(url, Some(tiny_jpeg()));
    assert_eq!(reaper::run(&p, created + 841, LIMITS).await.unwrap(), ReaperReport { settled: 1, ..ReaperReport::default() });
    let finished = stored(&p, &done).await;
    assert_eq!((finished.status, finished.refunded), (JobStatus::Succeeded, false));
    assert_eq!(p.photos.read(&result_key(&done.input_key, &done.job_id)).await.unwrap(), Some(tiny_jpeg()));
    assert_eq!(balanced(&p.store, &done.user_id).await, 2);
    assert_eq!(balanced(&p.store, &hung.user_id).await, 3);
}

#[tokio::test]
async fn a_result_that_cannot_be_fetched_is_timed_out_after_the_grace_not_held_for_ever() {
    let p = pipeline();
    let created = crate::time::now() - 800;
    let stuck = processing_job(&p, created, "task-a");
    let url = "https://provider.test/results/a.jpg";
    p.provider.state_answers("task-a", Ok(TaskState::Success(vec![url.into()])));
    p.provider.serves(url, None); // the download fails, run after run
    assert_eq!(reaper::run(&p, created + 781, LIMITS).await.unwrap(), ReaperReport { failed: 1, ..ReaperReport::default() });
    assert_eq!(stored(&p, &stuck).await.status, JobStatus::Processing, "within the grace: looked at again next run");

    let after_grace = stuck.deadline_at + reaper::LAST_LOOK_GRACE_SECS + 1;
    assert_eq!(reaper::run(&p, after_grace, LIMITS).await.unwrap(), ReaperReport { settled: 1, ..ReaperReport::default() });
    let settled = stored(&p, &stuck).await;
    assert_eq!((settled.status, settled.error.map(|e| e.code), settled.refunded), (JobStatus::Failed, Some("timed_out".into()), true));
    assert_eq!(balanced(&p.store, &stuck.user_id).await, 3, "the credits came back");
}
