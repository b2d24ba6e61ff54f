//! `POST /v1/auth/refresh`: exchanges a refresh token for a new pair (200
//! `Session`); reuse after the grace revokes the session (401).

use serde::Deserialize;
use shared::auth::service;
use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};

/// The body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

/// The route.
pub struct AuthRefresh {
    ctx: AppContext,
}

impl AuthRefresh {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { AuthRefresh { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(AuthRefresh { ctx: AppContext::from_env().await? })
    }
}

impl Route for AuthRefresh {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let body: RefreshRequest = request::json_body(&req)?;
        let c = &self.ctx;
        let grant = service::refresh(&c.store, &c.settings, &c.secrets, &body.refresh_token, shared::time::now()).await?;
        Ok(response::json(200, &grant))
    }
}
