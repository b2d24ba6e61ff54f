//! `DELETE /v1/me`: marks the account as being deleted and revokes every
//! session at once (202), and queues the erasure, which the deletion worker
//! finishes within the contract's 60 seconds.

use shared::context::AppContext;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::account_deletion::request_deletion;
use shared::usecases::sessions::require_live;

/// `DELETE /v1/me`.
pub struct DeleteMe(AppContext);

impl FromContext for DeleteMe {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        // The clients this function uses, built now rather than in its first request.
        ctx.deletions.ready();
        Ok(DeleteMe(ctx))
    }
}

impl Route for DeleteMe {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let app = &self.0;
        let now = shared::time::now();
        let claims = require_live(&app.store, app.claims(request::authorization(&req))?, now).await?;
        request_deletion(&app.store, &app.deletions, &claims.sub, now).await?;
        tracing::info!("account deletion requested");
        Ok(response::json(202, &serde_json::json!({"status": "deleting"})))
    }
}
