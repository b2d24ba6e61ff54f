//! `DELETE /v1/jobs/{job_id}`: removes the job's record, then its photo and
//! result (204). A queued or processing job frees its slot in the same
//! transaction, and is refunded only while no provider task was started for
//! it; ledger entries stay, so the balance stays explainable.

use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::object_keys::job_objects;

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
            let job = match self.ctx.caller_job(&req).await {
                Ok(job) => job,
                Err(ApiError::NotFound(why)) => return self.finish_earlier(&req).await?.ok_or(ApiError::NotFound(why)),
                Err(err) => return Err(err),
            };
            // The record first (with a trash item listing its objects): from then on the
            // worker, seeing no record, removes anything it writes itself, so nothing can
            // reappear after the objects go.
            if !self.ctx.store.delete_job(&job).await? {
                continue;
            }
            self.empty(&job.user_id, &job.job_id, &job_objects(&job)).await?;
            return Ok(response::no_content());
        }
        Err(ApiError::Unavailable("The job is changing; retry the deletion.".into()))
    }
}

impl DeleteJob {
    /// A retry of a deletion whose record went but whose objects may not
    /// have (its answer was lost, or the function stopped): finished now.
    async fn finish_earlier(&self, req: &Request) -> Result<Option<Response<Body>>, ApiError> {
        let claims = self.ctx.authenticate(req)?;
        let job_id = request::path_param(req, "job_id").unwrap_or_default();
        let Some(trash) = self.ctx.store.trash(&claims.sub, job_id).await? else { return Ok(None) };
        self.empty(&trash.user_id, &trash.name, &trash.keys).await?;
        Ok(Some(response::no_content()))
    }

    /// Deletes a deleted job's objects, then its trash item.
    async fn empty(&self, user_id: &str, job_id: &str, keys: &[String]) -> Result<(), ApiError> {
        if let Err(err) = self.delete_objects(keys).await {
            // The trash item stays: the sweep tries again.
            tracing::error!(alert = "orphaned_objects", job_id, error = %err, "a deleted job's photos could not be removed yet");
            return Err(err.into());
        }
        self.ctx.store.empty_trash(user_id, job_id).await?;
        Ok(())
    }
}
