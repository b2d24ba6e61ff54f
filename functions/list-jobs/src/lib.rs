//! `GET /v1/jobs`: the caller's jobs newest first (a query on the user's
//! partition, never a scan), `limit` 1–100 and an opaque cursor.

use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::jobs::Page;

/// The route.
pub struct ListJobs {
    ctx: AppContext,
}

impl ListJobs {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { ListJobs { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(ListJobs { ctx: AppContext::from_env().await? })
    }
}

impl Route for ListJobs {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        self.ctx.authenticate(&req)?;
        let page = Page::parse(request::query_param(&req, "limit"), request::query_param(&req, "cursor"))?;
        let claims = self.ctx.authenticate_live(&req).await?;
        let (jobs, next) = self.ctx.store.list_jobs(&claims.sub, page.limit, page.after.as_deref()).await?;
        let mut views = Vec::with_capacity(jobs.len());
        for job in &jobs {
            views.push(self.ctx.job_json(job).await?);
        }
        let next_cursor = next.as_deref().map(Page::cursor_after);
        Ok(response::json(200, &serde_json::json!({"jobs": views, "next_cursor": next_cursor})))
    }
}
