//! [`PipelineStore`] in memory: every transition conditional on the job's
//! state and on the account not being deleted, as in the DynamoDB adapter.

use crate::credits::ledger::Posting;
use crate::error::StoreError;
use crate::jobs::{Claim, DueJob, Job, JobError, JobStatus, Replacing};
use crate::ports::PipelineStore;

use super::*;

impl PipelineStore for MemoryStore {
    async fn job(&self, user_id: &str, job_id: &str) -> Result<Option<Job>, StoreError> {
        let st = self.state.lock().unwrap();
        Ok(st.jobs.get(&(user_id.into(), job_id.into())).map(|s| s.job.clone()).filter(|j| !j.is_expired(crate::time::now())))
    }

    async fn job_by_id(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let st = self.state.lock().unwrap();
        Ok(st.jobs.values().map(|s| &s.job).find(|j| j.job_id == job_id && !j.is_expired(crate::time::now())).cloned())
    }

    async fn claim_job(&self, job: &Job, claim: &str, callback_hash: &str, now: i64, lease_until: i64, watch_at: i64) -> Result<Claim, StoreError> {
        self.write("claim_job", |st| {
            if st.live_profile(&job.user_id).is_none() {
                return Claim::AccountGone;
            }
            let Some(s) = st.job(job) else { return Claim::Refused };
            let j = &s.job;
            let reclaim =
                j.status == JobStatus::Processing && j.claim.as_deref() == Some(claim) && j.task_id.is_none() && s.lease_until.is_none_or(|l| l <= now);
            if j.status != JobStatus::Queued && !reclaim {
                return Claim::Refused;
            }
            s.job.status = JobStatus::Processing;
            s.job.claim = Some(claim.into());
            s.job.callback_hash = Some(callback_hash.into());
            s.job.updated_at = now;
            s.job.watch_at = Some(watch_at);
            s.lease_until = Some(lease_until);
            Claim::Claimed
        })
    }

    async fn release_lease(&self, job: &Job, claim: &str) -> Result<bool, StoreError> {
        self.write("release_lease", |st| match st.job(job) {
            Some(s) if s.job.status == JobStatus::Processing && s.job.claim.as_deref() == Some(claim) && s.job.task_id.is_none() => {
                s.lease_until = Some(0);
                true
            }
            _ => false,
        })
    }

    async fn pass_claim(&self, job: &Job, from: &str, to: &str, watch_at: i64) -> Result<bool, StoreError> {
        self.write("pass_claim", |st| {
            if st.live_profile(&job.user_id).is_none() {
                return false;
            }
            match st.job(job) {
                Some(s) if s.job.status == JobStatus::Processing && s.job.claim.as_deref() == Some(from) && s.job.task_id.is_none() => {
                    s.job.claim = Some(to.into());
                    s.job.watch_at = Some(watch_at);
                    s.lease_until = Some(0);
                    true
                }
                _ => false,
            }
        })
    }

    async fn store_task_id(&self, job: &Job, claim: &str, task_id: &str, model: &str, now: i64, watch_at: i64) -> Result<bool, StoreError> {
        self.write("store_task_id", |st| {
            if st.live_profile(&job.user_id).is_none() {
                return false;
            }
            match st.job(job) {
                Some(s) if s.job.status == JobStatus::Processing && s.job.claim.as_deref() == Some(claim) && s.job.task_id.is_none() => {
                    s.job.task_id = Some(task_id.into());
                    s.job.task_model = Some(model.into());
                    s.job.updated_at = now;
                    s.job.poll_seq = 0;
                    s.job.watch_at = Some(watch_at);
                    true
                }
                _ => false,
            }
        })
    }

    async fn switch_to_fallback(
        &self,
        job: &Job,
        replacing: Replacing<'_>,
        model: &str,
        next_claim: &str,
        now: i64,
        watch_at: i64,
    ) -> Result<bool, StoreError> {
        self.write("switch_to_fallback", |st| {
            if st.live_profile(&job.user_id).is_none() {
                return false;
            }
            let Some(s) = st.job(job).filter(|s| s.job.status == JobStatus::Processing && s.job.fallback_model.is_none()) else { return false };
            match replacing {
                Replacing::Task(task_id) if s.job.task_id.as_deref() == Some(task_id) => {
                    s.job.primary_task_id = s.job.task_id.take();
                    s.job.task_model = None;
                }
                Replacing::Start(claim) if s.job.task_id.is_none() && s.job.claim.as_deref() == Some(claim) => {}
                _ => return false,
            }
            s.job.fallback_model = Some(model.into());
            s.job.claim = Some(next_claim.into());
            s.job.updated_at = now;
            s.job.watch_at = Some(watch_at);
            s.lease_until = Some(0);
            true
        })
    }

    async fn advance_poll(&self, job: &Job, seq: u32, watch_at: i64) -> Result<bool, StoreError> {
        self.write("advance_poll", |st| match st.job(job) {
            Some(s) if s.job.status == JobStatus::Processing && s.job.poll_seq == seq => {
                s.job.poll_seq = seq + 1;
                s.job.watch_at = Some(watch_at);
                true
            }
            _ => false,
        })
    }

    async fn renew_watch(&self, job: &Job, watch_at: i64) -> Result<bool, StoreError> {
        self.write("renew_watch", |st| match st.job(job) {
            Some(s) if s.job.status == JobStatus::Queued && s.job.watch_at.is_none_or(|w| w == job.watch_at.unwrap_or_default()) => {
                s.job.watch_at = Some(watch_at);
                true
            }
            _ => false,
        })
    }

    async fn complete_success(&self, job: &Job, result_key: &str, now: i64) -> Result<bool, StoreError> {
        self.write("complete_success", |st| {
            let processing = st.job(job).is_some_and(|s| s.job.status == JobStatus::Processing && same_task(&s.job, job));
            let Some(profile) = st.live_profile(&job.user_id).filter(|_| processing) else { return false };
            profile.active_jobs -= 1;
            let s = st.job(job).expect("checked above");
            s.job.status = JobStatus::Succeeded;
            s.job.result_key = Some(result_key.into());
            s.job.updated_at = now;
            s.job.completed_at = Some(now);
            true
        })
    }

    async fn fail_and_refund(&self, job: &Job, error: &JobError, now: i64) -> Result<bool, StoreError> {
        self.write("fail_and_refund", |st| {
            if !st.job(job).is_some_and(|s| s.job.status.is_active() && same_task(&s.job, job))
                || !st.post(&Posting::refund(&job.user_id, &job.job_id, job.credits_charged, now))
            {
                return false;
            }
            let s = st.job(job).expect("checked above");
            s.job.status = JobStatus::Failed;
            s.job.refunded = true;
            s.job.error = Some(error.clone());
            s.job.updated_at = now;
            s.job.completed_at = Some(now);
            true
        })
    }

    async fn due_jobs(&self, now: i64, limit: usize) -> Result<Vec<DueJob>, StoreError> {
        let st = self.state.lock().unwrap();
        let mut due: Vec<&Job> = st.jobs.values().map(|s| &s.job).filter(|j| j.status.is_active() && j.attention_at() <= now).collect();
        due.sort_by_key(|j| (j.attention_at(), j.user_id.clone(), j.job_id.clone()));
        Ok(due.into_iter().take(limit).map(|j| DueJob { user_id: j.user_id.clone(), job_id: j.job_id.clone() }).collect())
    }
}

/// Whether `stored` still has the task the caller read in `seen` (any task
/// when `seen` had none), as the DynamoDB adapter's conditions check.
fn same_task(stored: &Job, seen: &Job) -> bool {
    seen.task_id.is_none() || stored.task_id == seen.task_id
}
