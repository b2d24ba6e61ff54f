//! `POST /v1/credits/sync`: asks RevenueCat for the caller's one-time
//! purchases and grants those not granted yet, through the same once-only
//! write as the webhook, so credits appear the moment the app's purchase
//! completes even if the webhook is late or lost. Rate-limited per user.

use serde::{Deserialize, Serialize};
use shared::adapters::dynamo::purchases::{Grant, GrantOutcome};
use shared::context::AppContext;
use shared::credits::{CreditSettings, transaction_hash};
use shared::error::{ApiError, BoxError, unauthorized};
use shared::http::{Body, Request, Response, Route, request, response};
use shared::rate_limit::Admission;
use shared::revenuecat::{RevenueCatClient, RevenueCatError};

/// The sliding window of the per-user limit.
const SYNC_WINDOW_SECS: i64 = 60;

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

/// The route.
pub struct CreditsSync {
    ctx: AppContext,
    credits: CreditSettings,
    revenuecat: RevenueCatClient,
}

impl CreditsSync {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext, credits: CreditSettings, revenuecat: RevenueCatClient) -> Self {
        CreditsSync { ctx, credits, revenuecat }
    }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        let ctx = AppContext::from_env().await?;
        let key = ctx.secrets.revenuecat_api_key.clone().ok_or("REVENUECAT_API_KEY (or revenuecat_api_key in the app secret) is required")?;
        let base = shared::config::optional("REVENUECAT_API_BASE_URL").unwrap_or_else(|| "https://api.revenuecat.com".into());
        Ok(Self::new(ctx, CreditSettings::from_env()?, RevenueCatClient::new(base, key)))
    }
}

/// RevenueCat's failure as the app sees it: 503, retry later.
fn provider_down(err: RevenueCatError) -> ApiError {
    let retry_after_secs = match &err {
        RevenueCatError::Unavailable { retry_after_secs, .. } => retry_after_secs.unwrap_or(5).clamp(1, 300),
        RevenueCatError::Refused(status) => {
            tracing::error!(alert = "revenuecat_refused", status, "RevenueCat refused the sync call: check REVENUECAT_API_KEY");
            60
        }
    };
    tracing::warn!(error = %err, "credits sync could not reach RevenueCat");
    ApiError::UnavailableFor { message: "The purchase service is unavailable. Please retry shortly.".into(), retry_after_secs }
}

impl Route for CreditsSync {
    async fn handle(&self, req: Request) -> Result<Response<Body>, ApiError> {
        // No body is needed; one that is sent must be `{}` as JSON (400 before 401, 422 after it).
        let body = if req.body().is_empty() { None } else { Some(request::json_value(&req)?) };
        let claims = self.ctx.authenticate_live(&req).await?;
        if let Some(body) = body {
            // serde would read `[]` as an empty struct too.
            if !body.is_object() {
                return Err(ApiError::ValidationFailed("The body must be an empty JSON object, or nothing.".into()));
            }
            request::typed::<SyncRequest>(body)?;
        }
        let user_id = claims.sub.as_str();
        let now = shared::time::now();
        let admission = self.ctx.store.admit_user_action(user_id, "credits_sync", now, self.credits.sync_limit_per_minute, SYNC_WINDOW_SECS).await?;
        if let Admission::Limited { retry_after_secs } = admission {
            return Err(ApiError::RateLimited { message: "Too many purchase syncs; try again shortly.".into(), retry_after_secs });
        }
        let purchases = self.revenuecat.purchases(user_id).await.map_err(provider_down)?;
        let mut granted = 0;
        for p in purchases {
            if !p.environment.grants(self.credits.sandbox_grants) {
                continue;
            }
            let Some(credits) = self.credits.products.credits(&p.product_id) else {
                tracing::warn!(alert = "unknown_product", product_id = %p.product_id, "purchase of a product not in PRODUCT_CREDITS");
                continue;
            };
            let hash = transaction_hash(&self.ctx.secrets.ip_hash_key, &p.store_transaction_id);
            let grant = Grant { event: None, user_id, txn_hash: &hash, product_id: &p.product_id, credits, now };
            match self.ctx.store.grant_purchase(&grant).await? {
                GrantOutcome::Granted { net } => granted += net,
                GrantOutcome::AlreadyKnown | GrantOutcome::DuplicateEvent => {}
                // The account is being deleted.
                GrantOutcome::NoSuchUser => return Err(unauthorized()),
            }
        }
        let holder = self.ctx.store.credit_holder(user_id).await?.ok_or_else(unauthorized)?;
        Ok(response::json(200, &Synced { credits: holder.state.credits, granted }))
    }
}
