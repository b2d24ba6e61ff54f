//! The reaper's run over the active jobs that need a look (`GSI2`, by the
//! time they need it): a job past its deadline is settled, by one last look
//! at the provider or as `timed_out` with its credits back; a job that missed
//! its expected next step (a function died between two steps, a message was
//! lost) has that step sent again. Each job gets its own time budget and
//! jobs run a few at a time, so one that hangs or fails delays no other: it
//! is logged and looked at again on the next run.

use std::time::Duration;

use futures_util::StreamExt;

use super::generation::{Pipeline, STEP_BUDGET};
use crate::error::StoreError;
use crate::jobs::{DueJob, Job, JobError, JobStatus};
use crate::messages::{GenerationMessage, Step};
use crate::object_keys::result_key;
use crate::ports::{ImageProvider, PhotoStore, PipelineStore, ProviderBudget, Queue};
use crate::provider::TaskState;

/// How long past its deadline a job still gets a last look at the provider
/// (one that keeps failing to settle is timed out after it).
pub const LAST_LOOK_GRACE_SECS: i64 = 600;

/// How the reaper runs.
#[derive(Debug, Clone, Copy)]
pub struct ReaperLimits {
    /// Jobs read per run.
    pub batch: usize,
    /// Jobs handled at once.
    pub parallel: usize,
    /// The time one job may take.
    pub per_job: Duration,
    /// The last look at the provider (part of a job's budget): a hung
    /// provider costs this, not the job's whole budget.
    pub provider_check: Duration,
    /// No job is started after this much of the run: with `per_job` after
    /// it, the run ends within the function's timeout.
    pub start_within: Duration,
}

impl Default for ReaperLimits {
    /// For a one-minute schedule and a 60 s function timeout: 100 jobs, 8 at
    /// a time, 25 s each at most (a result download included), none started
    /// after 30 s.
    fn default() -> Self {
        ReaperLimits {
            batch: 100,
            parallel: 8,
            per_job: Duration::from_secs(25),
            provider_check: Duration::from_secs(8),
            start_within: Duration::from_secs(30),
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReaperReport {
    /// Jobs past their deadline that were settled.
    pub settled: usize,
    /// Stalled jobs whose next step was sent again.
    pub nudged: usize,
    /// Jobs that failed or ran out of time (looked at again next run).
    pub failed: usize,
}

/// What the reaper did with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tended {
    Settled,
    Nudged,
    Nothing,
}

/// One run: every due job, a few at a time, each within its budget.
pub async fn run<S, P, Q, K>(pipeline: &Pipeline<S, P, Q, K>, now: i64, limits: ReaperLimits) -> Result<ReaperReport, StoreError>
where
    S: PipelineStore + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    Q: Queue<GenerationMessage> + Sync,
    K: ImageProvider + Sync,
{
    let started = std::time::Instant::now();
    let due = pipeline.store.due_jobs(now, limits.batch).await?;
    let outcomes: Vec<_> = futures_util::stream::iter(due)
        // The rest waits for the next run.
        .take_while(|_| std::future::ready(started.elapsed() < limits.start_within))
        .map(|d| async move {
            let outcome = tokio::time::timeout(limits.per_job, tend(pipeline, &d, now, limits)).await;
            (d, outcome)
        })
        .buffer_unordered(limits.parallel.max(1))
        .collect()
        .await;
    let mut report = ReaperReport::default();
    for (due, outcome) in outcomes {
        match outcome {
            Ok(Ok(Tended::Settled)) => report.settled += 1,
            Ok(Ok(Tended::Nudged)) => report.nudged += 1,
            Ok(Ok(Tended::Nothing)) => {}
            Ok(Err(err)) => {
                report.failed += 1;
                tracing::warn!(job_id = %due.job_id, error = %err, "the reaper could not settle a job; next run tries again");
            }
            Err(_) => {
                report.failed += 1;
                tracing::warn!(job_id = %due.job_id, "the reaper ran out of time on a job; next run tries again");
            }
        }
    }
    Ok(report)
}

async fn tend<S, P, Q, K>(pipeline: &Pipeline<S, P, Q, K>, due: &DueJob, now: i64, limits: ReaperLimits) -> Result<Tended, StoreError>
where
    S: PipelineStore + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    Q: Queue<GenerationMessage> + Sync,
    K: ImageProvider + Sync,
{
    let Some(job) = pipeline.store.job(&due.user_id, &due.job_id).await? else { return Ok(Tended::Nothing) };
    if !job.status.is_active() {
        return Ok(Tended::Nothing); // finished since the index was read
    }
    if now > job.deadline_at {
        reap(pipeline, &job, now, limits).await?;
        return Ok(Tended::Settled);
    }
    if job.is_stalled(now) && nudge(pipeline, &job, now).await? {
        return Ok(Tended::Nudged);
    }
    Ok(Tended::Nothing)
}

/// A job past its deadline: one last look at the provider (within
/// [`LAST_LOOK_GRACE_SECS`] of the deadline), else fail and refund it as
/// `timed_out`.
pub async fn reap<S, P, Q, K>(pipeline: &Pipeline<S, P, Q, K>, job: &Job, now: i64, limits: ReaperLimits) -> Result<(), StoreError>
where
    S: PipelineStore + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    Q: Queue<GenerationMessage> + Sync,
    K: ImageProvider + Sync,
{
    // Past the grace the last look is skipped: a result the provider reports
    // but that cannot be fetched (its download failing or hanging run after
    // run) must not hold the job, and the user's credits, for ever.
    if let Some(task_id) = job.task_id.as_ref().filter(|_| now <= job.deadline_at + LAST_LOOK_GRACE_SECS) {
        let look = tokio::time::timeout(limits.provider_check, pipeline.provider.task_state(task_id)).await;
        if let Ok(Ok(state @ (TaskState::Success(_) | TaskState::Fail { .. }))) = look {
            return pipeline.settle(job, state).await;
        }
    }
    let timed_out = JobError { code: "timed_out".into(), message: "The headshot took too long; the credits were refunded.".into() };
    let now = crate::time::now();
    if pipeline.store.fail_and_refund(job, &timed_out, now).await? {
        super::generation::finished(job, Some(&timed_out), now);
        // A result stored by a step that was cut short must not outlive the job's failure.
        pipeline.photos.delete(&[result_key(&job.input_key, &job.job_id)]).await?;
    }
    Ok(())
}

/// Sends a stalled job's next step again, after moving its watch (so the
/// next run does not send it twice) and, for a started job, taking the
/// claim or the poll chain over (so the old message, should it still come,
/// steps aside). `false`: the job moved on meanwhile.
async fn nudge<S, P, Q, K>(pipeline: &Pipeline<S, P, Q, K>, job: &Job, now: i64) -> Result<bool, StoreError>
where
    S: PipelineStore + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    Q: Queue<GenerationMessage> + Sync,
    K: ImageProvider + Sync,
{
    let store = &pipeline.store;
    let settings = &pipeline.settings;
    let base = GenerationMessage::start(&job.user_id, &job.job_id);
    let (message, step) = match (job.status, &job.task_id) {
        (JobStatus::Queued, _) => {
            // Never sent (create-job died after its transaction), or lost.
            if !store.renew_watch(job, settings.watch(now, 0)).await? {
                return Ok(false);
            }
            (base, "start")
        }
        (_, None) => {
            // A run claimed it (or passed the claim on) and went quiet.
            let claim = uuid::Uuid::new_v4().simple().to_string();
            let watch = settings.watch(now, STEP_BUDGET.as_secs() as u32);
            if !store.pass_claim(job, job.claim.as_deref().unwrap_or_default(), &claim, watch).await? {
                return Ok(false);
            }
            (GenerationMessage { claim: Some(claim), ..base }, "start (claim taken over)")
        }
        (_, Some(_)) => {
            // The task exists but no poll is pending.
            if !store.advance_poll(job, job.poll_seq, settings.watch(now, 0)).await? {
                return Ok(false);
            }
            (GenerationMessage { step: Step::Poll, seq: job.poll_seq + 1, ..base }, "poll")
        }
    };
    tracing::warn!(job_id = %job.job_id, step, "a job missed its next step: sent again");
    pipeline.send(message, 0).await?;
    Ok(true)
}

#[cfg(test)]
#[path = "reaper_tests.rs"]
mod tests;
