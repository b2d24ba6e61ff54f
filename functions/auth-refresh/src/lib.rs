//! `POST /v1/auth/refresh`: exchanges a refresh token for a new pair (200
//! `Session`); reuse after the grace revokes the session (401).

use serde::Deserialize;
use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::sessions;

/// The body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

/// `POST /v1/auth/refresh`.
pub struct AuthRefresh(AppContext);

impl FromContext for AuthRefresh {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        Ok(AuthRefresh(ctx))
    }
}

impl Route for AuthRefresh {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body: RefreshRequest = request::json_body(&req)?;
        let app = &self.0;
        let grant = sessions::refresh(&app.store, &app.settings, &app.secrets, &body.refresh_token, shared::time::now()).await?;
        Ok(response::json(200, &grant))
    }
}
