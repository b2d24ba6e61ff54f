//! `DELETE /v1/jobs/{job_id}`: removes the job's record, then its photo and
//! result (204). A queued or processing job frees its slot in the same
//! transaction, and is refunded only while no provider task was started for
//! it; ledger entries stay, so the balance stays explainable.

use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, response};

/// The route.
pub struct DeleteJob {
    ctx: AppContext,
}

impl DeleteJob {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { DeleteJob { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(DeleteJob { ctx: AppContext::from_env().await? })
    }
}

impl DeleteJob {
    async fn delete_objects(&self, keys: &[String]) -> Result<(), shared::error::StoreError> {
        let mut last = Ok(());
        for attempt in 0..3u64 {
            last = self.ctx.photos.delete(keys).await;
            if last.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 * (attempt + 1))).await;
        }
        last
    }
}

impl Route for DeleteJob {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        // The job may change (the worker finishing it) between read and delete: read again.
        for _ in 0..5 {
            let job = self.ctx.caller_job(&req).await?;
            let job_id = job.job_id.as_str();
            // The record first: from then on the worker, seeing no record, removes
            // anything it writes itself, so nothing can reappear after the objects go.
            if !self.ctx.store.delete_job(&job).await? {
                continue;
            }
            // The result by its rule too: a step cut short may have stored one without recording it.
            let mut keys = vec![job.input_key.clone(), shared::object_keys::result_key(&job.input_key, &job.job_id)];
            keys.extend(job.result_key.clone().filter(|k| !keys.contains(k)));
            if let Err(err) = self.delete_objects(&keys).await {
                tracing::error!(alert = "orphaned_objects", job_id, error = %err, "a deleted job's photos could not be removed");
                return Err(err.into());
            }
            return Ok(response::no_content());
        }
        Err(ApiError::Unavailable("The job is changing; retry the deletion.".into()))
    }
}
