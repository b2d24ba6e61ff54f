//! `DELETE /v1/jobs/{job_id}`: removes the job's photo, its result and its
//! record (204). A queued or processing job is refunded and frees its slot in
//! the same transaction; ledger entries stay, so the balance stays explainable.

use shared::context::AppContext;
use shared::error::{ApiError, BoxError, unauthorized};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::jobs::is_id;

/// The route.
pub struct DeleteJob {
    ctx: AppContext,
}

impl DeleteJob {
    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(DeleteJob { ctx: AppContext::from_env().await? })
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("No such job.".into())
}

impl Route for DeleteJob {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.ctx.authenticate(&req)?;
        let job_id = request::path_param(&req, "job_id").unwrap_or_default();
        if !is_id(job_id) {
            self.ctx.authenticate_live(&req).await?;
            return Err(not_found());
        }
        // The job may change (the worker finishing it) between read and delete: read again.
        for _ in 0..5 {
            let job = self
                .ctx
                .store
                .job_with_live_session(&claims.sub, &claims.sid, job_id, shared::time::now())
                .await?
                .ok_or_else(unauthorized)?
                .ok_or_else(not_found)?;
            // Objects first: if this stops part-way, the record still lists what to delete on a retry.
            let keys: Vec<String> = std::iter::once(job.input_key.clone()).chain(job.result_key.clone()).collect();
            self.ctx.photos.delete(&keys).await?;
            if self.ctx.store.delete_job(&job).await? {
                return Ok(response::no_content());
            }
        }
        Err(ApiError::Unavailable("The job is changing; retry the deletion.".into()))
    }
}
