//! The generation pipeline's job transitions. Every write is conditional on
//! the job's current state (and on the account not being deleted), so a
//! duplicate step, a late callback or the reaper never writes twice.

use crate::error::StoreError;
use crate::jobs::{Claim, DueJob, Job, JobError};

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

    /// Stores the provider's task id for the run that owns the claim and
    /// starts poll chain 0, whose first poll is due by `watch_at`.
    fn store_task_id(&self, job: &Job, claim: &str, task_id: &str, now: i64, watch_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves the poll chain from number `seq` to `seq + 1`, due by `watch_at`.
    /// `false`: another chain took over, or the job is no longer processing.
    fn advance_poll(&self, job: &Job, seq: u32, watch_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves a queued job's watch from what was read to `watch_at`. `false`:
    /// it changed meanwhile.
    fn renew_watch(&self, job: &Job, watch_at: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks a processing job succeeded with its stored result and frees its
    /// slot, in one transaction. `false`: it was deleted or settled meanwhile.
    fn complete_success(&self, job: &Job, result_key: &str, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Fails a queued or processing job and refunds it (paying a debt
    /// first), in one transaction. `false`: it is no longer active, or the
    /// account is going.
    fn fail_and_refund(&self, job: &Job, error: &JobError, now: i64) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Active jobs that need a look by `now` (stalled, or past their
    /// deadline), earliest first, at most `limit`.
    fn due_jobs(&self, now: i64, limit: usize) -> impl Future<Output = Result<Vec<DueJob>, StoreError>> + Send;
}
