//! The generation pipeline's writes: claiming a job for one worker run,
//! storing the provider's task id, finishing it. Every write is conditional on
//! the job's current status and on the user not being marked `deleting`, so a
//! duplicate, a late callback or the reaper can never write twice or write
//! into a deleted account.

use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem, Update};

use super::attrs::{get_s, n, s};
use super::jobs::{job_from, job_key};
use super::{DynamoStore, cancellation_codes, store_error, user_pk};
use crate::error::StoreError;
use crate::jobs::{Job, JobStatus};

/// The partition of `GSI2` that lists active jobs by deadline.
pub const ACTIVE_JOBS: &str = "ACTIVE_JOBS";

/// A job past its deadline, as the reaper finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueJob {
    /// The owner.
    pub user_id: String,
    /// The job.
    pub job_id: String,
}

impl DynamoStore {
    /// The job, read consistently; `None` when it does not exist (deleted).
    pub async fn job(&self, user_id: &str, job_id: &str) -> Result<Option<Job>, StoreError> {
        let job = self.get_consistent(job_key(user_id, job_id)).await?.as_ref().map(job_from).transpose()?;
        Ok(job.filter(|j| !j.is_expired(crate::time::now())))
    }

    /// Finds a job by id alone (the provider's callback names no user), via
    /// `GSI1`, then reads it consistently.
    pub async fn job_by_id(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI1")
            .key_condition_expression("gsi1pk = :id")
            .expression_attribute_values(":id", s(format!("JOBID#{job_id}")))
            .limit(1)
            .send()
            .await
            .map_err(store_error)?;
        let Some(it) = out.items().first() else { return Ok(None) };
        self.job(&get_s(it, "user_id")?, job_id).await
    }

    fn not_deleting(&self, user_id: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(user_pk(user_id)))
            .key("sk", s("PROFILE"))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .build()
            .map_err(StoreError::other)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    async fn write_if(&self, writes: Vec<TransactWriteItem>) -> Result<bool, StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => Ok(true),
            Err(e) if cancellation_codes(&e).is_some() => Ok(false),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Claims a queued job for the worker run `claim` (or re-claims it for
    /// the same run when no task was created yet), saving the callback
    /// secret's hash before the provider is called. `false`: someone else owns it.
    pub async fn claim_job(&self, job: &Job, claim: &str, callback_hash: &str, now: i64) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(job_key(&job.user_id, &job.job_id)))
            .update_expression("SET #st = :processing, claim = :claim, callback_hash = :hash, updated_at = :now")
            .condition_expression("#st = :queued OR (#st = :processing AND claim = :claim AND attribute_not_exists(task_id))")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":claim", s(claim))
            .expression_attribute_values(":hash", s(callback_hash))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(StoreError::other)?;
        self.write_if(vec![self.not_deleting(&job.user_id)?, TransactWriteItem::builder().update(update).build()]).await
    }

    /// Hands the claim to a later run (a delayed retry of the provider call).
    pub async fn pass_claim(&self, job: &Job, from: &str, to: &str) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(job_key(&job.user_id, &job.job_id)))
            .update_expression("SET claim = :to")
            .condition_expression("#st = :processing AND claim = :from AND attribute_not_exists(task_id)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .build()
            .map_err(StoreError::other)?;
        self.write_if(vec![self.not_deleting(&job.user_id)?, TransactWriteItem::builder().update(update).build()]).await
    }

    /// Stores the provider's task id for the run that owns the claim.
    pub async fn store_task_id(&self, job: &Job, claim: &str, task_id: &str, now: i64) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(job_key(&job.user_id, &job.job_id)))
            .update_expression("SET task_id = :task, updated_at = :now")
            .condition_expression("#st = :processing AND claim = :claim AND attribute_not_exists(task_id)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":claim", s(claim))
            .expression_attribute_values(":task", s(task_id))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(StoreError::other)?;
        self.write_if(vec![self.not_deleting(&job.user_id)?, TransactWriteItem::builder().update(update).build()]).await
    }

    /// Marks a processing job succeeded with its stored result and frees its
    /// slot, in one transaction. `false`: it was deleted or settled meanwhile.
    pub async fn complete_success(&self, job: &Job, result_key: &str, now: i64) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(job_key(&job.user_id, &job.job_id)))
            .update_expression("SET #st = :succeeded, result_key = :key, updated_at = :now, completed_at = :now REMOVE gsi2pk, gsi2sk")
            .condition_expression("#st = :processing")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":succeeded", s(JobStatus::Succeeded.as_str()))
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":key", s(result_key))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(StoreError::other)?;
        let slot = Update::builder()
            .table_name(&self.table)
            .key("pk", s(user_pk(&job.user_id)))
            .key("sk", s("PROFILE"))
            .update_expression("SET active_jobs = active_jobs - :one")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(StoreError::other)?;
        self.write_if(vec![TransactWriteItem::builder().update(update).build(), TransactWriteItem::builder().update(slot).build()]).await
    }

    /// Active jobs whose deadline passed before `now`, at most `limit`.
    pub async fn due_jobs(&self, now: i64, limit: usize) -> Result<Vec<DueJob>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("GSI2")
            .key_condition_expression("gsi2pk = :active AND gsi2sk <= :now")
            .expression_attribute_values(":active", s(ACTIVE_JOBS))
            .expression_attribute_values(":now", s(format!("{now:012}~")))
            .limit(limit as i32)
            .send()
            .await
            .map_err(store_error)?;
        out.items()
            .iter()
            .map(|it| Ok(DueJob { user_id: get_s(it, "user_id")?, job_id: get_s(it, "job_id")? }))
            .collect()
    }
}
