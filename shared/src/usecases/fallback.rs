//! The second model before a refund. When the primary model fails a job on
//! the provider's side (its task fails with a provider code, the provider
//! loses it, or `createTask` is still refused after its retries; never for
//! moderation, an unusable photo or our account's problems), a quality with
//! a fallback model (`KIE_FALLBACK_MODEL_*`) gets one task on it before the
//! job fails and is refunded: once per job, and only while a third of the
//! job's time is left (`Job::may_fall_back`).
//!
//! The switch is one conditional write: it records the second model, gives
//! up what it replaces (the primary's task, kept as `primary_task_id`, or
//! the refused start's claim) and hands the claim to a new start step. Of
//! the steps that saw the primary fail only one switches; a poll, callback
//! or reaper look that read the primary's task writes nothing after it (the
//! success and failure writes are conditional on the task id). Should the
//! new start step be lost, the job has no task and a claim: the reaper
//! sends the start again when its watch passes, as for any start.

use std::fmt::Display;

use crate::error::StoreError;
use crate::jobs::{Job, JobError, Replacing};
use crate::messages::GenerationMessage;
use crate::ports::{ImageProvider, PhotoStore, PipelineStore, ProviderBudget, Queue};

use super::generation::Pipeline;

impl<S, P, Q, K> Pipeline<S, P, Q, K>
where
    S: PipelineStore + ProviderBudget + Sync,
    P: PhotoStore + Sync,
    Q: Queue<GenerationMessage> + Sync,
    K: ImageProvider + Sync,
{
    /// The model a start of `job` asks for: its second model once it
    /// switched (as recorded, whatever the settings say since), else its
    /// quality's primary.
    pub(crate) fn model_for(&self, job: &Job) -> String {
        match &job.fallback_model {
            Some(model) => model.clone(),
            None => self.settings.models.for_quality(&job.style.quality).primary.clone(),
        }
    }

    /// After a failure on the provider's side of what `replacing` names
    /// (`cause`, for the log): switches `job` to its quality's second model
    /// and sends that model's start step, or, with no second model, one
    /// used already, or too little time left, fails the job with `error`
    /// and refunds it.
    pub(crate) async fn fall_back_or_fail(&self, job: &Job, replacing: Replacing<'_>, error: JobError, cause: &(dyn Display + Sync)) -> Result<(), StoreError> {
        let now = crate::time::now();
        let failed = job.task_model.clone().unwrap_or_else(|| self.model_for(job));
        tracing::warn!(job_id = %job.job_id, model = %failed, %cause, "the model failed on the provider's side");
        let configured = self.settings.models.for_quality(&job.style.quality).fallback.as_deref();
        let Some(model) = configured.filter(|_| job.may_fall_back(now)) else {
            if configured.is_some() && job.fallback_model.is_none() {
                tracing::info!(job_id = %job.job_id, "too little time left for the fallback model: the job fails");
            }
            return self.fail(job, error).await;
        };
        let next_claim = uuid::Uuid::new_v4().simple().to_string();
        if !self.store.switch_to_fallback(job, replacing, model, &next_claim, now, self.settings.watch(now, 0)).await? {
            return Ok(()); // another step switched (or settled) the job
        }
        tracing::warn!(job_id = %job.job_id, failed_model = %failed, fallback_model = %model, "the primary model failed: the fallback model takes over");
        let start = GenerationMessage { claim: Some(next_claim), photo_ready: true, ..GenerationMessage::start(&job.user_id, &job.job_id) };
        self.send(start, 0).await
    }
}

#[cfg(test)]
#[path = "fallback_tests.rs"]
mod tests;
