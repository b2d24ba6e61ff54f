//! `POST /v1/uploads`: checks the declared type and size (415, 413, 422 before
//! any URL exists), records the upload, and returns a presigned `PUT` (valid
//! 30 s) for `uploads/<the user's opaque prefix>/<upload_id>` that signs the
//! type and length.

use serde::Serialize;
use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::time::rfc3339;
use shared::uploads::UploadRequest;
use shared::usecases::uploads;

/// The contract's `Upload`.
#[derive(Serialize)]
struct Upload {
    upload_id: String,
    upload_url: String,
    method: &'static str,
    headers: serde_json::Map<String, serde_json::Value>,
    expires_at: String,
}

/// `POST /v1/uploads`.
pub struct CreateUpload(AppContext);

impl FromContext for CreateUpload {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.photos.ready();
        Ok(CreateUpload(ctx))
    }
}

impl Route for CreateUpload {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body = request::json_value(&req)?;
        let app = &self.0;
        let claims = app.claims(request::authorization(&req))?;
        let (content_type, length) = request::typed::<UploadRequest>(body)?.validate()?;
        let now = shared::time::now();
        let issued = uploads::create_upload(app, &claims, content_type, length, now).await?;
        let headers = issued.put.headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        let upload = Upload { upload_id: issued.upload_id, upload_url: issued.put.url, method: "PUT", headers, expires_at: rfc3339(issued.expires_at) };
        Ok(response::json(201, &upload))
    }
}
