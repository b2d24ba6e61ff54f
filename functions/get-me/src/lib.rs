//! `GET /v1/me`: the caller's id, balance and creation time, behind a live
//! session (one read confirms the session and returns the profile).

use serde::Serialize;
use shared::context::AppContext;
use shared::error::{ApiError, BoxError, unauthorized};
use shared::http::{Body, Request, Response, Route, response};
use shared::ports::AccountStore;

/// The contract's `Me`.
#[derive(Serialize)]
struct Me {
    user_id: String,
    credits: i64,
    created_at: String,
}

/// The route.
pub struct GetMe {
    ctx: AppContext,
}

impl GetMe {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { GetMe { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(GetMe { ctx: AppContext::from_env().await? })
    }
}

impl Route for GetMe {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.ctx.authenticate(&req)?;
        let profile = self
            .ctx
            .store
            .profile_with_live_session(&claims.sub, &claims.sid, shared::time::now())
            .await?
            // Revoked or lapsed session, or a deleted account.
            .ok_or_else(unauthorized)?;
        Ok(response::json(200, &Me { user_id: profile.user_id, credits: profile.credits, created_at: profile.created_at }))
    }
}
