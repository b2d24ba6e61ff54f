//! `POST /v1/credits/sync`: grants the caller's purchases the webhook has not
//! granted yet (see `shared::usecases::sync`): 200 with the balance and what
//! was granted.

use serde::{Deserialize, Serialize};
use shared::adapters::revenuecat::RevenueCatClient;
use shared::context::{self, AppContext};
use shared::credits::CreditSettings;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::sessions::require_live;
use shared::usecases::sync::sync;

/// The body a sync may carry: `{}` (nothing else is accepted).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncRequest {}

/// The contract's answer.
#[derive(Serialize)]
struct Synced {
    credits: i64,
    granted: i64,
}

/// `POST /v1/credits/sync`.
pub struct CreditsSync {
    ctx: AppContext,
    credits: CreditSettings,
    revenuecat: RevenueCatClient,
}

impl CreditsSync {
    /// The route over `ctx`, the product map and RevenueCat's client.
    pub fn with(ctx: AppContext, credits: CreditSettings, revenuecat: RevenueCatClient) -> Self {
        CreditsSync { ctx, credits, revenuecat }
    }
}

impl FromContext for CreditsSync {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        let revenuecat = context::revenuecat(&ctx).ok_or("REVENUECAT_API_KEY (or revenuecat_api_key in the app secret) is required")?;
        Ok(Self::with(ctx, CreditSettings::from_env()?, revenuecat))
    }
}

impl Route for CreditsSync {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        // No body is needed; one that is sent must be `{}` as JSON (400 before 401, 422 after it).
        let body = if req.body().is_empty() { None } else { Some(request::json_value(&req)?) };
        let now = shared::time::now();
        let claims = require_live(&self.ctx.store, self.ctx.claims(request::authorization(&req))?, now).await?;
        if let Some(body) = body {
            // serde would read `[]` as an empty struct too.
            if !body.is_object() {
                return Err(ApiError::ValidationFailed("The body must be an empty JSON object, or nothing.".into()));
            }
            request::typed::<SyncRequest>(body)?;
        }
        let synced = sync(&self.ctx.store, &self.revenuecat, &self.credits, &self.ctx.secrets.ip_hash_key, &claims, now).await?;
        Ok(response::json(200, &Synced { credits: synced.credits, granted: synced.granted }))
    }
}
