//! `POST /v1/auth/anonymous`: creates an anonymous user and its first session
//! (201 `Session`), at most `SIGNUP_LIMIT_PER_HOUR` per source IP.

use serde::Deserialize;
use shared::auth::service;
use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};

/// The body: an empty object; any field is unknown (422).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {}

/// The route.
pub struct AuthAnonymous {
    ctx: AppContext,
}

impl AuthAnonymous {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { AuthAnonymous { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(AuthAnonymous { ctx: AppContext::from_env().await? })
    }
}

impl Route for AuthAnonymous {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let SignUpRequest {} = request::json_body(&req)?;
        // API Gateway always sets the source IP; without it we cannot rate-limit.
        let ip = request::source_ip(&req).ok_or_else(|| ApiError::internal("request has no source IP"))?;
        let c = &self.ctx;
        let grant = service::sign_up(&c.store, &c.settings, &c.secrets, ip, shared::time::now()).await?;
        Ok(response::json(201, &grant))
    }
}
