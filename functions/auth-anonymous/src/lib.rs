//! `POST /v1/auth/anonymous`: creates an anonymous user with its first
//! session (201 `Session`), rate-limited per source IP.

use serde::Deserialize;
use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::sessions;

/// The body: `{}` (nothing else is accepted).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {}

/// `POST /v1/auth/anonymous`.
pub struct AuthAnonymous(AppContext);

impl FromContext for AuthAnonymous {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        Ok(AuthAnonymous(ctx))
    }
}

impl Route for AuthAnonymous {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let SignUpRequest {} = request::json_body(&req)?;
        // API Gateway always sets the source IP; without it we cannot rate-limit.
        let ip = request::source_ip(&req).ok_or_else(|| ApiError::internal("request has no source IP"))?;
        let app = &self.0;
        let grant = sessions::sign_up(&app.store, &app.settings, &app.secrets, ip, shared::time::now()).await?;
        Ok(response::json(201, &grant))
    }
}
