//! `GET /v1/jobs/{job_id}`: one of the caller's jobs, with fresh links.

use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::jobs;

/// `GET /v1/jobs/{job_id}`.
pub struct GetJob(AppContext);

impl FromContext for GetJob {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.photos.ready();
        Ok(GetJob(ctx))
    }
}

impl Route for GetJob {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.0.claims(request::authorization(&req))?;
        let job_id = request::path_param(&req, "job_id").unwrap_or_default();
        let job = jobs::get_job(&self.0.store, &self.0.photos, &claims, job_id, shared::time::now()).await?;
        Ok(response::json(200, &job))
    }
}
