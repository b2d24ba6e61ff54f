//! `DELETE /v1/jobs/{job_id}`: removes the job's record, then its photo and
//! result (204). A queued or processing job frees its slot in the same
//! transaction, and is refunded only while no provider task was started for
//! it; ledger entries stay, so the balance stays explainable.

use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::jobs;

/// `DELETE /v1/jobs/{job_id}`.
pub struct DeleteJob(AppContext);

impl FromContext for DeleteJob {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.photos.ready();
        Ok(DeleteJob(ctx))
    }
}

impl Route for DeleteJob {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.0.claims(request::authorization(&req))?;
        let job_id = request::path_param(&req, "job_id").unwrap_or_default();
        jobs::delete_job(&self.0.store, &self.0.photos, &claims, job_id, shared::time::now()).await?;
        Ok(response::no_content())
    }
}
