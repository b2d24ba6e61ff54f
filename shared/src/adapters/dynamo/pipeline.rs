//! The generation pipeline's writes: claiming a job for one worker run,
//! storing the provider's task id, finishing it. Every write is conditional on
//! the job's current status and on the user not being marked `deleting`, so a
//! duplicate, a late callback or the reaper can never write twice or write
//! into a deleted account.

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};

use super::attrs::{get_s, n, s};
use super::job_record::job_from;
use super::ledger::{free_slot, posting};
use super::schema::{GSI1, GSI2, PROFILE, active_jobs_partitions, attention_sk, job_id_index, job_key, user_pk};
use super::{DynamoStore, store_error};
use crate::credits::ledger::Posting;
use crate::error::StoreError;
use crate::jobs::{Claim, DueJob, Job, JobError, JobStatus, Replacing};
use crate::ports::PipelineStore;

impl PipelineStore for DynamoStore {
    /// The job, read consistently; `None` when it does not exist (deleted).
    async fn job(&self, user_id: &str, job_id: &str) -> Result<Option<Job>, StoreError> {
        let job = self.get_consistent(job_key(user_id, job_id)).await?.as_ref().map(job_from).transpose()?;
        Ok(job.filter(|j| !j.is_expired(crate::time::now())))
    }

    /// Finds a job by id alone (the provider's callback names no user), via
    /// `GSI1`, then reads it consistently.
    async fn job_by_id(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("gsi1pk = :id")
            .expression_attribute_values(":id", s(job_id_index(job_id)))
            .limit(1)
            .send()
            .await
            .map_err(store_error)?;
        let Some(it) = out.items().first() else { return Ok(None) };
        self.job(&get_s(it, "user_id")?, job_id).await
    }

    /// Claims a queued job for the worker run `claim` (or re-claims it for
    /// the same run when no task was created yet and no delivery of that run
    /// holds it: a lease until `lease_until`, so two concurrent deliveries of
    /// one message never both call the provider), saving the callback
    /// secret's hash before the provider is called; the run must make its
    /// next step by `watch_at`.
    async fn claim_job(&self, job: &Job, claim: &str, callback_hash: &str, now: i64, lease_until: i64, watch_at: i64) -> Result<Claim, StoreError> {
        let update = self
            .job_update(job, Some(watch_at))
            .update_expression("SET #st = :processing, claim = :claim, callback_hash = :hash, updated_at = :now, lease_until = :lease, watch_at = :watch, gsi2sk = :attention")
            .condition_expression(
                "#st = :queued OR (#st = :processing AND claim = :claim AND attribute_not_exists(task_id) AND (attribute_not_exists(lease_until) OR lease_until <= :now))",
            )
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":claim", s(claim))
            .expression_attribute_values(":hash", s(callback_hash))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":lease", n(lease_until))
            .build()
            .map_err(StoreError::other)?;
        Ok(match self.transact(vec![self.not_deleting(&job.user_id)?, TransactWriteItem::builder().update(update).build()]).await? {
            Ok(()) => Claim::Claimed,
            Err(refused) if refused.failed_at(0) => Claim::AccountGone,
            Err(_) => Claim::Refused,
        })
    }

    /// Gives up the lease of run `claim` (its step failed and will be
    /// retried), so the retried delivery can claim the job at once.
    async fn release_lease(&self, job: &Job, claim: &str) -> Result<bool, StoreError> {
        let update = self
            .update(job_key(&job.user_id, &job.job_id))
            .update_expression("SET lease_until = :zero")
            .condition_expression("#st = :processing AND claim = :claim AND attribute_not_exists(task_id)")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":claim", s(claim))
            .expression_attribute_values(":zero", n(0));
        self.update_if(update).await
    }

    /// Hands the claim from run `from` to run `to` (a delayed retry of the
    /// provider call, or the reaper taking over a stalled run), which must
    /// make its next step by `watch_at`.
    async fn pass_claim(&self, job: &Job, from: &str, to: &str, watch_at: i64) -> Result<bool, StoreError> {
        let update = self
            .job_update(job, Some(watch_at))
            // The passing run is done with it: its lease goes too.
            .update_expression("SET claim = :to, lease_until = :zero, watch_at = :watch, gsi2sk = :attention")
            .condition_expression("#st = :processing AND claim = :from AND attribute_not_exists(task_id)")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":from", s(from))
            .expression_attribute_values(":to", s(to))
            .build()
            .map_err(StoreError::other)?;
        self.transact_if(vec![self.not_deleting(&job.user_id)?, TransactWriteItem::builder().update(update).build()]).await
    }

    /// Stores the provider's task id and its `model` for the run that owns
    /// the claim and starts poll chain 0, whose first poll is due by `watch_at`.
    async fn store_task_id(&self, job: &Job, claim: &str, task_id: &str, model: &str, now: i64, watch_at: i64) -> Result<bool, StoreError> {
        let update = self
            .job_update(job, Some(watch_at))
            .update_expression("SET task_id = :task, task_model = :model, updated_at = :now, poll_seq = :zero, watch_at = :watch, gsi2sk = :attention")
            .condition_expression("#st = :processing AND claim = :claim AND attribute_not_exists(task_id)")
            .expression_attribute_values(":claim", s(claim))
            .expression_attribute_values(":task", s(task_id))
            .expression_attribute_values(":model", s(model))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(StoreError::other)?;
        self.transact_if(vec![self.not_deleting(&job.user_id)?, TransactWriteItem::builder().update(update).build()]).await
    }

    /// Switches a processing job to its second `model`, once, giving up
    /// what it replaces (the primary's failed task, kept as
    /// `primary_task_id`, or the refused start run's claim) and handing the
    /// claim to the start run `next_claim`, due by `watch_at`.
    async fn switch_to_fallback(
        &self,
        job: &Job,
        replacing: Replacing<'_>,
        model: &str,
        next_claim: &str,
        now: i64,
        watch_at: i64,
    ) -> Result<bool, StoreError> {
        let once = "#st = :processing AND attribute_not_exists(fallback_model)";
        let update = self.job_update(job, Some(watch_at));
        let update = match replacing {
            Replacing::Task(task_id) => update
                .update_expression("SET fallback_model = :model, primary_task_id = :old, claim = :next, lease_until = :zero, updated_at = :now, watch_at = :watch, gsi2sk = :attention REMOVE task_id, task_model")
                .condition_expression(format!("{once} AND task_id = :old"))
                .expression_attribute_values(":old", s(task_id)),
            Replacing::Start(claim) => update
                .update_expression("SET fallback_model = :model, claim = :next, lease_until = :zero, updated_at = :now, watch_at = :watch, gsi2sk = :attention")
                .condition_expression(format!("{once} AND claim = :old AND attribute_not_exists(task_id)"))
                .expression_attribute_values(":old", s(claim)),
        };
        let update = update
            .expression_attribute_values(":model", s(model))
            .expression_attribute_values(":next", s(next_claim))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now))
            .build()
            .map_err(StoreError::other)?;
        self.transact_if(vec![self.not_deleting(&job.user_id)?, TransactWriteItem::builder().update(update).build()]).await
    }

    /// Moves the poll chain from number `seq` to `seq + 1`, due by
    /// `watch_at`. `false`: another chain (a re-sent poll) took over, or
    /// the job is no longer processing; the caller's chain then ends.
    async fn advance_poll(&self, job: &Job, seq: u32, watch_at: i64) -> Result<bool, StoreError> {
        let update = self
            .update(job_key(&job.user_id, &job.job_id))
            .update_expression("SET poll_seq = :next, watch_at = :watch, gsi2sk = :attention")
            // Jobs from before poll chains were numbered have no `poll_seq`.
            .condition_expression("#st = :processing AND (poll_seq = :seq OR attribute_not_exists(poll_seq))")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
            .expression_attribute_values(":seq", n(i64::from(seq)))
            .expression_attribute_values(":next", n(i64::from(seq) + 1))
            .expression_attribute_values(":watch", n(watch_at))
            .expression_attribute_values(":attention", s(attention_sk(job, Some(watch_at))));
        self.update_if(update).await
    }

    /// Moves a queued job's watch from what was read to `watch_at` (the
    /// reaper is about to send its start step again). `false`: it changed
    /// meanwhile (claimed, deleted, or another reaper run got there first).
    async fn renew_watch(&self, job: &Job, watch_at: i64) -> Result<bool, StoreError> {
        let update = self
            .job_update(job, Some(watch_at))
            .update_expression("SET watch_at = :watch, gsi2sk = :attention")
            .condition_expression("#st = :queued AND (watch_at = :seen OR attribute_not_exists(watch_at))")
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":seen", n(job.watch_at.unwrap_or_default()))
            .build()
            .map_err(StoreError::other)?;
        self.transact_if(vec![TransactWriteItem::builder().update(update).build()]).await
    }

    /// Marks a processing job succeeded with its stored result and frees its
    /// slot, in one transaction, if its task is still `job`'s. `false`: it
    /// was deleted, settled or switched to another task meanwhile.
    async fn complete_success(&self, job: &Job, result_key: &str, now: i64) -> Result<bool, StoreError> {
        let update = same_task(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(job_key(&job.user_id, &job.job_id)))
                .update_expression("SET #st = :succeeded, result_key = :key, updated_at = :now, completed_at = :now REMOVE gsi2pk, gsi2sk"),
            "#st = :processing",
            job,
        )
        .expression_attribute_names("#st", "status")
        .expression_attribute_values(":succeeded", s(JobStatus::Succeeded.as_str()))
        .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
        .expression_attribute_values(":key", s(result_key))
        .expression_attribute_values(":now", n(now))
        .build()
        .map_err(StoreError::other)?;
        self.transact_if(vec![TransactWriteItem::builder().update(update).build(), free_slot(&self.table, &job.user_id)?]).await
    }

    /// Active jobs the reaper must look at by `now` (stalled, or past their
    /// deadline), earliest first, at most `limit`: every partition read in
    /// parallel.
    async fn due_jobs(&self, now: i64, limit: usize) -> Result<Vec<DueJob>, StoreError> {
        let due = self.due_in(GSI2, ("gsi2pk", "gsi2sk"), active_jobs_partitions(), now, limit).await?;
        due.iter().map(|it| Ok(DueJob { user_id: get_s(it, "user_id")?, job_id: get_s(it, "job_id")? })).collect()
    }

    /// Fails a queued or processing job and refunds it (paying a debt first),
    /// in one transaction; when `job` has a task, only while that task is
    /// still the job's. `false` when the job is no longer active (someone
    /// else finished it), switched to another task, or the account is going.
    async fn fail_and_refund(&self, job: &Job, error: &JobError, now: i64) -> Result<bool, StoreError> {
        let update = same_task(
            Update::builder().table_name(&self.table).set_key(Some(job_key(&job.user_id, &job.job_id))).update_expression(
                "SET #st = :failed, refunded = :t, error_code = :code, error_message = :msg, updated_at = :now, completed_at = :now REMOVE gsi2pk, gsi2sk",
            ),
            "#st IN (:queued, :processing)",
            job,
        )
        .expression_attribute_names("#st", "status")
        .expression_attribute_values(":failed", s(JobStatus::Failed.as_str()))
        .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
        .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()))
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .expression_attribute_values(":code", s(error.code.as_str()))
        .expression_attribute_values(":msg", s(error.message.as_str()))
        .expression_attribute_values(":now", n(now))
        .build()
        .map_err(StoreError::other)?;
        let fail = TransactWriteItem::builder().update(update).build();
        let outcome = self
            .transact_paying_debt(&job.user_id, |owed| {
                let mut writes = vec![fail.clone()];
                writes.extend(posting(&self.table, &Posting::refund(&job.user_id, &job.job_id, job.credits_charged, now), owed)?);
                Ok((writes, 1))
            })
            .await?;
        Ok(outcome.is_ok())
    }
}

/// `update` conditional on `condition` and, when `job` has a task, on that
/// task still being the job's (after a switch to the second model, a step
/// that read the primary's task writes nothing).
fn same_task(update: aws_sdk_dynamodb::types::builders::UpdateBuilder, condition: &str, job: &Job) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
    match &job.task_id {
        Some(task_id) => update.condition_expression(format!("{condition} AND task_id = :task")).expression_attribute_values(":task", s(task_id.as_str())),
        None => update.condition_expression(condition),
    }
}

impl DynamoStore {
    /// The start of an update of `job`'s record with `#st`, `:processing`
    /// and, for a new watch time, `:watch` and `:attention` bound.
    fn job_update(&self, job: &Job, watch_at: Option<i64>) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(job_key(&job.user_id, &job.job_id)))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.as_str()));
        match watch_at {
            Some(w) => update.expression_attribute_values(":watch", n(w)).expression_attribute_values(":attention", s(attention_sk(job, Some(w)))),
            None => update,
        }
    }

    fn not_deleting(&self, user_id: &str) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(user_pk(user_id)))
            .key("sk", s(PROFILE))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(deleting)")
            .build()
            .map_err(StoreError::other)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}
