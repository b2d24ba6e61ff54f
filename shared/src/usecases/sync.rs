//! `POST /v1/credits/sync`: asks the store's purchase history for the
//! caller's one-time purchases and grants those not granted yet, through the
//! same once-only write as the webhook, so credits appear the moment the
//! app's purchase completes even if the webhook is late or lost.
//! Rate-limited per user.

use crate::auth::access_token::Claims;
use crate::credits::history::HistoryError;
use crate::credits::purchases::{Grant, GrantOutcome};
use crate::credits::{CreditSettings, transaction_hash};
use crate::error::{ApiError, unauthorized};
use crate::ports::{ActionLimiter, PurchaseHistory, PurchaseStore};
use crate::rate_limit::Admission;

/// The sliding window of the per-user limit.
const SYNC_WINDOW_SECS: i64 = 60;

/// What a sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synced {
    /// The balance afterwards.
    pub credits: i64,
    /// Credits granted by this sync.
    pub granted: i64,
}

/// The history's failure as the app sees it: 503, retry later.
fn provider_down(err: HistoryError) -> ApiError {
    let retry_after_secs = match &err {
        HistoryError::Unavailable { retry_after_secs, .. } => retry_after_secs.unwrap_or(5).clamp(1, 300),
        HistoryError::Refused(status) => {
            tracing::error!(alert = "revenuecat_refused", status, "RevenueCat refused the sync call: check REVENUECAT_API_KEY");
            60
        }
    };
    tracing::warn!(error = %err, "credits sync could not reach RevenueCat");
    ApiError::UnavailableFor { message: "The purchase service is unavailable. Please retry shortly.".into(), retry_after_secs }
}

/// Grants the caller's purchases not granted yet (the caller's session was
/// confirmed alive); 429 past the per-user limit.
pub async fn sync<S, H>(store: &S, history: &H, credits: &CreditSettings, hash_key: &[u8], claims: &Claims, now: i64) -> Result<Synced, ApiError>
where
    S: PurchaseStore + ActionLimiter + Sync,
    H: PurchaseHistory + Sync,
{
    let user_id = claims.sub.as_str();
    if let Admission::Limited { retry_after_secs } =
        store.admit_user_action(user_id, "credits_sync", now, credits.sync_limit_per_minute, SYNC_WINDOW_SECS).await?
    {
        return Err(ApiError::RateLimited { message: "Too many purchase syncs; try again shortly.".into(), retry_after_secs });
    }
    let purchases = history.purchases(user_id).await.map_err(provider_down)?;
    // A fixed number of calls however long the history: the caller's own
    // purchases are listed on the profile (one read), the rest are looked up
    // in batches, and only what is new is written.
    let owned = store.credit_holder(user_id).await?.ok_or_else(unauthorized)?.purchases;
    let mut candidates = Vec::new();
    for p in purchases {
        if !p.environment.grants(credits.sandbox_grants) {
            continue;
        }
        let Some(amount) = credits.products.credits(&p.product_id) else {
            tracing::warn!(alert = "unknown_product", product_id = %p.product_id, "purchase of a product not in PRODUCT_CREDITS");
            continue;
        };
        let hash = transaction_hash(hash_key, &p.store_transaction_id);
        if !owned.contains(&hash) {
            candidates.push((hash, p.product_id, amount));
        }
    }
    let hashes: Vec<String> = candidates.iter().map(|(h, _, _)| h.clone()).collect();
    let known = if hashes.is_empty() { Default::default() } else { store.known_purchases(&hashes).await? };
    let mut granted = 0;
    for (hash, product_id, amount) in candidates.into_iter().filter(|(h, _, _)| !known.contains(h)) {
        let grant = Grant { event: None, user_id, txn_hash: &hash, product_id: &product_id, credits: amount, now };
        match store.grant_purchase(&grant).await? {
            GrantOutcome::Granted { net } => {
                tracing::info!(credits = net, source = "sync", "credits granted");
                granted += net;
            }
            GrantOutcome::AlreadyKnown | GrantOutcome::DuplicateEvent => {}
            // The account is being deleted.
            GrantOutcome::NoSuchUser => return Err(unauthorized()),
        }
    }
    let holder = store.credit_holder(user_id).await?.ok_or_else(unauthorized)?;
    Ok(Synced { credits: holder.state.credits, granted })
}
