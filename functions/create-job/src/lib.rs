//! `POST /v1/jobs`: parses the request (400, 401, the `Idempotency-Key`,
//! 422) and creates the job (see `shared::usecases::create_job`): 202 `Job`.

use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::jobs::{CreateJobRequest, idempotency_key};
use shared::usecases::create_job::create_job;

/// `POST /v1/jobs`.
pub struct CreateJob(AppContext);

impl FromContext for CreateJob {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.photos.ready();
        ctx.queue.ready();
        Ok(CreateJob(ctx))
    }
}

impl Route for CreateJob {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body = request::json_value(&req)?;
        let claims = self.0.claims(request::authorization(&req))?;
        let key = idempotency_key(req.headers().get("idempotency-key").map(shared::http::HeaderValue::as_bytes))?;
        let create: CreateJobRequest = request::typed(body)?;
        let job = create_job(&self.0, &claims, &create, key.as_deref(), shared::time::now()).await?;
        Ok(response::json(202, &job))
    }
}
