//! `GET /v1/me`: the caller's id, balance and creation time, behind a live
//! session.

use serde::Serialize;
use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::profile;

/// The contract's `Me`.
#[derive(Serialize)]
struct Me {
    user_id: String,
    credits: i64,
    created_at: String,
}

/// `GET /v1/me`.
pub struct GetMe(AppContext);

impl FromContext for GetMe {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        Ok(GetMe(ctx))
    }
}

impl Route for GetMe {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.0.claims(request::authorization(&req))?;
        let profile = profile::me(&self.0.store, &claims, shared::time::now()).await?;
        Ok(response::json(200, &Me { user_id: profile.user_id, credits: profile.credits, created_at: profile.created_at }))
    }
}
