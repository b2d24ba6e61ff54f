//! `GET /v1/jobs/{job_id}`: one of the caller's jobs with fresh links; any
//! other job id is 404.

use shared::context::AppContext;
use shared::error::{ApiError, BoxError, unauthorized};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::jobs::is_id;

/// The route.
pub struct GetJob {
    ctx: AppContext,
}

impl GetJob {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { GetJob { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(GetJob { ctx: AppContext::from_env().await? })
    }
}

/// The 404 for a job that is not the caller's.
pub fn job_not_found() -> ApiError {
    ApiError::NotFound("No such job.".into())
}

impl Route for GetJob {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.ctx.authenticate(&req)?;
        let job_id = request::path_param(&req, "job_id").unwrap_or_default();
        if !is_id(job_id) {
            // Still confirm the session, so a revoked token is 401, not 404.
            self.ctx.authenticate_live(&req).await?;
            return Err(job_not_found());
        }
        let job = self
            .ctx
            .store
            .job_with_live_session(&claims.sub, &claims.sid, job_id, shared::time::now())
            .await?
            .ok_or_else(unauthorized)?
            .ok_or_else(job_not_found)?;
        Ok(response::json(200, &self.ctx.job_json(&job).await?))
    }
}
