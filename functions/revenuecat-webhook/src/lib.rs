//! `POST /v1/webhooks/revenuecat`: RevenueCat's events. The `Authorization`
//! value is checked (current or previous, in constant time), then the event
//! is acted on once (see `shared::usecases::purchases`). Only DynamoDB is
//! called, so it answers in milliseconds.

use shared::context::AppContext;
use shared::credits::CreditSettings;
use shared::credits::event::Event;
use shared::entry::FromContext;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::usecases::purchases::{Purchases, authorized};

/// `POST /v1/webhooks/revenuecat`.
pub struct RevenueCatWebhook {
    ctx: AppContext,
    credits: CreditSettings,
}

impl RevenueCatWebhook {
    /// The route over `ctx` with the product map `credits`.
    pub fn with_credits(ctx: AppContext, credits: CreditSettings) -> Result<Self, BoxError> {
        if ctx.secrets.revenuecat_webhook_auth.is_empty() {
            return Err("REVENUECAT_WEBHOOK_AUTH (or revenuecat_webhook_auth in the app secret) is required".into());
        }
        Ok(RevenueCatWebhook { ctx, credits })
    }
}

impl FromContext for RevenueCatWebhook {
    fn from_context(ctx: AppContext) -> Result<Self, BoxError> {
        Self::with_credits(ctx, CreditSettings::from_env()?)
    }
}

impl Route for RevenueCatWebhook {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        // 400 comes before 401, as on every route.
        let body = request::provider_json(&req)?;
        if !authorized(&self.ctx.secrets.revenuecat_webhook_auth, request::authorization(&req)) {
            tracing::warn!("revenuecat webhook with a wrong authorization");
            return Err(ApiError::Unauthorized("The webhook's authorization is not valid.".into()));
        }
        let event = Event::parse(&body).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
        let purchases = Purchases { store: &self.ctx.store, credits: &self.credits, hash_key: &self.ctx.secrets.ip_hash_key };
        let outcome = purchases.apply(&event, shared::time::now()).await?;
        tracing::info!(event_id = %event.id, event_type = %event.kind, outcome, "revenuecat event");
        Ok(response::json(200, &serde_json::json!({"status": outcome})))
    }
}
