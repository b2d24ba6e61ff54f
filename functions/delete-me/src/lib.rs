//! `DELETE /v1/me`: deletes the caller's account for good. The erasure is
//! queued first; then the account is marked (no write for it succeeds any
//! more) and every session revoked in one transaction, so any later call
//! with the user's tokens answers 401. The deletion worker erases the rest.

use shared::account_deletion::request_deletion;
use shared::context::AppContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, response};

/// The route.
pub struct DeleteMe {
    ctx: AppContext,
}

impl DeleteMe {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext) -> Self { DeleteMe { ctx } }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(DeleteMe { ctx: AppContext::from_env().await? })
    }
}

impl Route for DeleteMe {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let claims = self.ctx.authenticate_live(&req).await?;
        request_deletion(&self.ctx.store, &self.ctx.deletions, &claims.sub, shared::time::now()).await?;
        tracing::info!("account deletion requested");
        Ok(response::json(202, &serde_json::json!({"status": "deleting"})))
    }
}
