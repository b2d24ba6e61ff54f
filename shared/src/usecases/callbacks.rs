//! The provider's callback (`POST /v1/webhooks/kie?job=…&token=…`): the
//! per-job secret (stored only as a hash) is checked, and the provider's own
//! signature when the route was given a key; then a re-check of the task is
//! queued. The body is never trusted: the worker reads the task's state
//! from the provider before acting.

use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::jobs::{Job, is_id};
use crate::messages::{GenerationMessage, Step};
use crate::ports::{PipelineStore, Queue};
use crate::usecases::generation::secret_hash;

/// What a genuine callback came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// A look at the task was queued.
    Queued,
    /// The job is unknown or deleted: nothing to do (and nothing to tell).
    Ignored,
}

fn forged() -> ApiError {
    ApiError::Unauthorized("The callback's credentials are not valid.".into())
}

/// Checks the callback for `job_id` with `token`, then `signed` (the
/// provider's signature over the job's task, `true` when none is
/// configured), and queues a look at the task.
pub async fn callback<S, Q>(store: &S, queue: &Q, job_id: &str, token: &str, signed: impl FnOnce(&Job) -> bool) -> Result<CallbackOutcome, ApiError>
where
    S: PipelineStore,
    Q: Queue<GenerationMessage>,
{
    if !is_id(job_id) || token.is_empty() {
        return Err(forged());
    }
    let Some(job) = store.job_by_id(job_id).await? else { return Ok(CallbackOutcome::Ignored) };
    let stored = job.callback_hash.as_deref().unwrap_or_default();
    if stored.is_empty() || !bool::from(secret_hash(token).as_bytes().ct_eq(stored.as_bytes())) {
        tracing::warn!(job_id, "callback with a wrong secret");
        return Err(forged());
    }
    if !signed(&job) {
        tracing::warn!(job_id, "callback with a wrong signature");
        return Err(forged());
    }
    let check = GenerationMessage { step: Step::Callback, ..GenerationMessage::start(&job.user_id, &job.job_id) };
    queue.send(&check, 0).await?;
    Ok(CallbackOutcome::Queued)
}
