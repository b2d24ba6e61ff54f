//! `GET /v1/me/exports/{export_id}`: one of the caller's data exports, with a
//! short-lived download link once ready; 404 for anyone else's.

use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::exports;

/// `GET /v1/me/exports/{export_id}`.
pub struct GetExport(AppContext);

impl FromContext for GetExport {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.photos.ready();
        Ok(GetExport(ctx))
    }
}

impl Route for GetExport {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.0.claims(request::authorization(&req))?;
        let export_id = request::path_param(&req, "export_id").unwrap_or_default();
        let export = exports::get_export(&self.0.store, &self.0.photos, &claims, export_id, shared::time::now()).await?;
        Ok(response::json(200, &export))
    }
}
