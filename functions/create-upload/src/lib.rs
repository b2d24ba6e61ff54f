//! `POST /v1/uploads`: checks the declared type and size (415, 413, 422 before
//! any URL exists), records the upload, and returns a presigned `PUT` (valid
//! 30 s) for `uploads/<the user's opaque prefix>/<upload_id>` that signs the
//! type and length.

use std::time::Duration;

use serde::Serialize;
use shared::context::AppContext;
use shared::error::{ApiError, BoxError, unauthorized};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::jobs::new_job_id;
use shared::object_keys::UserObjects;
use shared::time::{now, rfc3339};
use shared::uploads::UploadRequest;

use shared::uploads::UPLOAD_LINK_SECONDS as URL_SECONDS;

/// The contract's `Upload`.
#[derive(Serialize)]
struct Upload {
    upload_id: String,
    upload_url: String,
    method: &'static str,
    headers: serde_json::Map<String, serde_json::Value>,
    expires_at: String,
}

/// The route.
pub struct CreateUpload {
    ctx: AppContext,
}

impl CreateUpload {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { CreateUpload { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(CreateUpload { ctx: AppContext::from_env().await? })
    }
}

impl Route for CreateUpload {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body = request::json_value(&req)?;
        let claims = self.ctx.authenticate(&req)?;
        let (content_type, length) = request::typed::<UploadRequest>(body)?.validate()?;
        let (upload_id, now) = (new_job_id(), now());
        let key = UserObjects::new(&self.ctx.secrets.ip_hash_key, &claims.sub).upload(&upload_id);
        let use_by = now + self.ctx.settings.unused_upload_seconds;
        if !self.ctx.store.create_upload(&claims.sub, &claims.sid, &upload_id, &key, content_type, length, now, use_by).await? {
            return Err(unauthorized());
        }
        let put = self.ctx.photos.presign_put(&key, content_type, length, Duration::from_secs(URL_SECONDS)).await?;
        let headers = put.headers.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
        Ok(response::json(
            201,
            &Upload { upload_id, upload_url: put.url, method: "PUT", headers, expires_at: rfc3339(now + URL_SECONDS as i64) },
        ))
    }
}
