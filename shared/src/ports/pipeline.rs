//! The generation pipeline's job transitions. Every write is conditional on
//! the job's current state (and on the account not being deleted), so a
//! duplicate step, a late callback or the reaper never writes twice.

use crate::error::StoreError;
use crate::jobs::{Claim, DueJob, Job, JobError, Replacing};

/// The pipeline's view of jobs.
pub trait PipelineStore {
    /// The job, read consistently; `None` when it does not exist (deleted).
    fn job(&self, user_id: &str, job_id: &str) -> impl Future<Output = Result<Option<Job>, StoreError>> + Send;

    /// A job found by id alone (the provider's callback names no user).
    fn job_by_id(&self, job_id: &str) -> impl Future<Output = Result<Option<Job>, StoreError>> + Send;

    /// Claims a queued job for the worker run `claim` (or re-claims it for
    /// the same run when no task was created yet and no delivery of that run
    /// holds it: a lease until `lease_until`), saving the callback secret's
    /// hash before the provider is called; the next step is due by `watch_at`.
    fn claim_job(
        &self,
        job: &Job,
        claim: &str,
        callback_hash: &str,
        now: i64,
        lease_until: i64,
        watch_at: i64,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Gives up the lease of run `claim` (its step failed and will be retried).
    fn release_lease(&self, job: &Job, claim: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Hands the claim from run `from` to run `to`, whose next step is due by `watch_at`.
    fn pass_claim(&self, job: &Job, from: &str, to: &str, watch_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores the provider's task id and its `model` for the run that owns
    /// the claim and starts poll chain 0, whose first poll is due by `watch_at`.
    fn store_task_id(
        &self,
        job: &Job,
        claim: &str,
        task_id: &str,
        model: &str,
        now: i64,
        watch_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Switches a processing job to its second `model`, once: what it
    /// replaces (the primary's failed task, or the start run the primary
    /// kept refusing) is given up, and the claim goes to the start run
    /// `next_claim`, due by `watch_at`. `false`: the job switched already,
    /// moved on, or the account is going.
    fn switch_to_fallback(
        &self,
        job: &Job,
        replacing: Replacing<'_>,
        model: &str,
        next_claim: &str,
        now: i64,
        watch_at: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves the poll chain from number `seq` to `seq + 1`, due by `watch_at`.
    /// `false`: another chain took over, or the job is no longer processing.
    fn advance_poll(&self, job: &Job, seq: u32, watch_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves a queued job's watch from what was read to `watch_at`. `false`:
    /// it changed meanwhile.
    fn renew_watch(&self, job: &Job, watch_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks a processing job succeeded with its stored result and frees its
    /// slot, in one transaction, if its task is still `job`'s (a result of
    /// a task the job gave up is never taken). `false`: it was deleted,
    /// settled or switched to another task meanwhile.
    fn complete_success(&self, job: &Job, result_key: &str, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Fails a queued or processing job and refunds it (paying a debt
    /// first), in one transaction; when `job` has a task, only while that
    /// task is still the job's. `false`: it is no longer active, it
    /// switched to another task, or the account is going.
    fn fail_and_refund(&self, job: &Job, error: &JobError, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Active jobs that need a look by `now` (stalled, or past their
    /// deadline), earliest first, at most `limit`.
    fn due_jobs(&self, now: i64, limit: usize) -> impl Future<Output = Result<Vec<DueJob>, StoreError>> + Send;
}
