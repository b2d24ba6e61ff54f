//! `POST /v1/me/exports`: parses `{}` (400, 401, 422), records a data export
//! of the caller and queues it (see `shared::usecases::exports`): 202
//! `Export`, preparing; 429 with `Retry-After` within an hour of the last.

use shared::context::{self, AppContext};
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::exports::{ExportRequest, ExportSettings};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::exports;

/// `POST /v1/me/exports`, with the exports' deadlines read at cold start.
pub struct CreateExport(AppContext, ExportSettings);

impl FromContext for CreateExport {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.photos.ready();
        ctx.queue.ready();
        Ok(CreateExport(ctx, ExportSettings::from_env()?))
    }
}

impl Route for CreateExport {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body = request::json_value(&req)?;
        let app = &self.0;
        let claims = app.claims(request::authorization(&req))?;
        let _: ExportRequest = request::typed(body)?;
        let export = exports::request_export(&app.store, &context::export_queue(app), &app.secrets.ip_hash_key, &claims, &self.1, shared::time::now()).await?;
        Ok(response::json(202, &exports::view(&app.photos, &export).await?))
    }
}
