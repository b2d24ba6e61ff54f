//! `GET /v1/jobs?limit=&cursor=`: the caller's jobs, newest first, a page
//! at a time.

use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::jobs::Page;
use shared::usecases::jobs;

/// `GET /v1/jobs`.
pub struct ListJobs(AppContext);

impl FromContext for ListJobs {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.photos.ready();
        Ok(ListJobs(ctx))
    }
}

impl Route for ListJobs {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.0.claims(request::authorization(&req))?;
        let page = Page::parse(request::query_param(&req, "limit"), request::query_param(&req, "cursor"))?;
        let list = jobs::list_jobs(&self.0.store, &self.0.photos, claims, &page, shared::time::now()).await?;
        Ok(response::json(200, &list))
    }
}
