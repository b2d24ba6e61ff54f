//! `GET /v1/jobs/{job_id}`: one of the caller's jobs with fresh links; any
//! other job id is 404.

use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, response};

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

impl Route for GetJob {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let job = self.ctx.caller_job(&req).await?;
        Ok(response::json(200, &self.ctx.job_json(&job).await?))
    }
}
