//! `POST /v1/webhooks/revenuecat`: RevenueCat's events. It checks the
//! `Authorization` value (current or previous, in constant time), then acts
//! on the event once: grants a purchase, revokes a refunded one, moves
//! transferred credits; every other type is answered 200 and changes nothing.
//! Only DynamoDB is called, so it answers in milliseconds.

use sha2::{Digest, Sha256};
use shared::adapters::dynamo::purchases::{EventRef, Grant, GrantOutcome, RevokeOutcome};
use shared::adapters::dynamo::transfers::TransferOutcome;
use shared::context::AppContext;
use shared::credits::event::{Action, Event, Purchase};
use shared::credits::{CreditSettings, StoreEnvironment, is_our_user_id, transaction_hash, user_hash};
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, request, response};
use subtle::ConstantTimeEq;

/// The route.
pub struct RevenueCatWebhook {
    ctx: AppContext,
    credits: CreditSettings,
}

impl RevenueCatWebhook {
    /// Builds the route over a ready context.
    pub fn new(ctx: AppContext, credits: CreditSettings) -> Result<Self, BoxError> {
        if ctx.secrets.revenuecat_webhook_auth.is_empty() {
            return Err("REVENUECAT_WEBHOOK_AUTH (or revenuecat_webhook_auth in the app secret) is required".into());
        }
        Ok(RevenueCatWebhook { ctx, credits })
    }

    /// Builds the route from the environment.
    pub async fn from_env() -> Result<Self, BoxError> {
        Self::new(AppContext::from_env().await?, CreditSettings::from_env()?)
    }
}

/// Whether `given` is one of the accepted values. Digests are compared so
/// neither the values nor their lengths leak through timing.
pub fn authorized(accepted: &[String], given: Option<&str>) -> bool {
    let given = Sha256::digest(given.unwrap_or_default().as_bytes());
    accepted
        .iter()
        .filter(|a| !a.is_empty())
        .fold(false, |ok, a| ok | bool::from(Sha256::digest(a.as_bytes()).ct_eq(&given)))
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
        let outcome = self.apply(&event, shared::time::now()).await?;
        tracing::info!(event_id = %event.id, event_type = %event.kind, outcome, "revenuecat event");
        Ok(response::json(200, &serde_json::json!({"status": outcome})))
    }
}

impl RevenueCatWebhook {
    async fn apply(&self, event: &Event, now: i64) -> Result<&'static str, ApiError> {
        let ev = EventRef { id: &event.id, kind: &event.kind };
        let store = &self.ctx.store;
        Ok(match &event.action {
            Action::Nothing => self.record(ev, "ignored", now).await?,
            Action::Purchase(p) => self.purchase(ev, p, now).await?,
            Action::Cancellation(p) => {
                let users = ours(&p.users);
                let credits = self.credits.products.credits(&p.product_id).unwrap_or(0);
                let hash = transaction_hash(&self.ctx.secrets.ip_hash_key, &p.transaction_id);
                match store.revoke_purchase(ev, &users, &hash, &p.product_id, credits, now).await? {
                    RevokeOutcome::Revoked { owed, .. } if owed > 0 => "revoked_with_debt",
                    RevokeOutcome::Revoked { .. } => "revoked",
                    RevokeOutcome::MarkedRevoked => "marked_revoked",
                    RevokeOutcome::AlreadyRevoked => self.record(ev, "already_revoked", now).await?,
                    RevokeOutcome::DuplicateEvent => "duplicate",
                    RevokeOutcome::NoSuchUser => self.unknown_user(ev, p.users.first(), Some(&p.product_id), now).await?,
                }
            }
            Action::Transfer { from, to } => {
                if !is_our_user_id(to) {
                    return self.unknown_user(ev, Some(to), None, now).await;
                }
                match store.transfer_purchases(ev, &ours(from), to, now).await? {
                    TransferOutcome::Moved(_) => "transferred",
                    TransferOutcome::DuplicateEvent => "duplicate",
                    TransferOutcome::NoSuchUser => self.unknown_user(ev, Some(to), None, now).await?,
                }
            }
        })
    }

    async fn purchase(&self, ev: EventRef<'_>, p: &Purchase, now: i64) -> Result<&'static str, ApiError> {
        let Some(credits) = self.credits.products.credits(&p.product_id) else {
            tracing::warn!(alert = "unknown_product", product_id = %p.product_id, event_id = ev.id, "purchase of a product not in PRODUCT_CREDITS");
            return self.record(ev, "unknown_product", now).await;
        };
        match p.environment {
            StoreEnvironment::Sandbox if !self.credits.sandbox_grants => return self.record(ev, "sandbox_ignored", now).await,
            StoreEnvironment::Unknown => {
                tracing::warn!(event_id = ev.id, "a purchase without a known environment: nothing granted");
                return self.record(ev, "unknown_environment", now).await;
            }
            _ => {}
        }
        let hash = transaction_hash(&self.ctx.secrets.ip_hash_key, &p.transaction_id);
        for user_id in ours(&p.users) {
            let grant = Grant { event: Some(ev), user_id: &user_id, txn_hash: &hash, product_id: &p.product_id, credits, now };
            match self.ctx.store.grant_purchase(&grant).await? {
                GrantOutcome::Granted { .. } => return Ok("granted"),
                GrantOutcome::AlreadyKnown => return self.record(ev, "already_granted", now).await,
                GrantOutcome::DuplicateEvent => return Ok("duplicate"),
                GrantOutcome::NoSuchUser => continue, // an alias may be the account
            }
        }
        self.unknown_user(ev, p.users.first(), Some(&p.product_id), now).await
    }

    /// Records an event that changes nothing; a repeat says so.
    async fn record(&self, ev: EventRef<'_>, outcome: &'static str, now: i64) -> Result<&'static str, ApiError> {
        Ok(if self.ctx.store.record_event(ev, outcome, now).await? { outcome } else { "duplicate" })
    }

    /// An event for a user we do not have (never had, or deleted): kept for
    /// operators under a keyed hash of the id only, for 30 days.
    async fn unknown_user(&self, ev: EventRef<'_>, user: Option<&String>, product: Option<&str>, now: i64) -> Result<&'static str, ApiError> {
        let hash = user_hash(&self.ctx.secrets.ip_hash_key, user.map(String::as_str).unwrap_or_default());
        self.ctx.store.record_unknown_user_event(&hash, ev, product, now).await?;
        tracing::warn!(alert = "revenuecat_unknown_user", event_id = ev.id, event_type = ev.kind, "event for a user we do not have");
        self.record(ev, "unknown_user", now).await
    }
}

/// The ids that can be ours, in order.
fn ours(users: &[String]) -> Vec<String> {
    users.iter().filter(|u| is_our_user_id(u)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_accepted_value_passes() {
        let accepted = vec!["Bearer new".to_string(), "Bearer old".to_string()];
        assert!(authorized(&accepted, Some("Bearer new")));
        assert!(authorized(&accepted, Some("Bearer old")));
        assert!(!authorized(&accepted, Some("Bearer other")));
        assert!(!authorized(&accepted, Some("Bearer ne")));
        assert!(!authorized(&accepted, None));
        assert!(!authorized(&["".to_string()], Some("")), "an empty secret accepts nothing");
    }
}
