//! The purchase and account-deletion routes: the RevenueCat webhook (a new
//! purchase, then the same event again), the credits sync (one purchase not
//! granted yet, then nothing new) and `DELETE /v1/me`. Purchases are recorded
//! at the stack's RevenueCat simulator without being delivered, so each route
//! sees them only when measured. The sync is rate-limited per user and an
//! account deletion ends its user, so both sign up a fresh user per run.
//! The bench stack runs no queue pollers: the erasure `DELETE /v1/me` queues
//! does not run, and its row is the request path alone.

use serde_json::{Value, json};
use shared::adapters::revenuecat::RevenueCatClient;
use shared::credits::CreditSettings;
use shared::entry::FromContext;
use shared::error::BoxError;

use crate::harness::{Call, Outcome};
use crate::report::Row;
use crate::scenarios::{Run, User, expect};

/// The product every purchase is of (10 credits by default).
const PRODUCT: &str = "credits_10";
/// The credits `PRODUCT` grants.
const PRODUCT_CREDITS: i64 = 10;

/// The routes, built once over the counting context.
struct Routes {
    webhook: revenuecat_webhook::RevenueCatWebhook,
    sync: credits_sync::CreditsSync,
    delete_me: delete_me::DeleteMe,
}

fn env(name: &str) -> Result<String, BoxError> {
    std::env::var(name).map_err(|_| format!("{name} is not set: the stack's env file has no {name}").into())
}

impl Routes {
    fn new(run: &Run<'_>) -> Result<Self, BoxError> {
        let c = || run.b.ctx.clone();
        let revenuecat = RevenueCatClient::new(env("REVENUECAT_API_BASE_URL")?, env("REVENUECAT_API_KEY")?);
        Ok(Routes {
            webhook: revenuecat_webhook::RevenueCatWebhook::with_credits(c(), CreditSettings::from_env()?)?,
            sync: credits_sync::CreditsSync::with(c(), CreditSettings::from_env()?, revenuecat),
            delete_me: delete_me::DeleteMe::from_context(c()).unwrap(),
        })
    }
}

/// What the runs use besides `Run`: the routes, the simulator's URL and the
/// webhook's authorization value.
struct Purchases<'a, 'b> {
    run: &'a Run<'b>,
    r: Routes,
    sim_url: String,
    webhook_auth: String,
}

impl Purchases<'_, '_> {
    /// Records a purchase of `PRODUCT` by `user` at the simulator without
    /// delivering it; returns the webhook payload it would have sent.
    async fn record_purchase(&self, user: &User) -> Result<Value, BoxError> {
        let body = json!({"app_user_id": user.id, "product_id": PRODUCT, "deliver": false});
        let resp = self.run.http.post(format!("{}/_sim/purchases", self.sim_url)).json(&body).send().await?;
        let status = resp.status();
        let answer: Value = resp.json().await?;
        if !status.is_success() {
            return Err(format!("recording a purchase at the simulator: {status} {answer}").into());
        }
        match answer.get("event") {
            Some(event) if event.is_object() => Ok(event.clone()),
            _ => Err(format!("the simulator's answer has no event: {answer}").into()),
        }
    }

    async fn deliver(&self, payload: &Value) -> Result<Outcome, BoxError> {
        let call = Call::new("POST", "/v1/webhooks/revenuecat", "/v1/webhooks/revenuecat").header("authorization", &self.webhook_auth).json(payload.clone());
        Ok(self.run.b.send(&self.r.webhook, call.build()?).await)
    }

    /// `POST /v1/credits/sync`, checked for 200 and `granted`.
    async fn sync(&self, user: &User, granted: i64) -> Result<Outcome, BoxError> {
        let call = Call::new("POST", "/v1/credits/sync", "/v1/credits/sync").bearer(&user.access);
        let out = self.run.b.send(&self.r.sync, call.build()?).await;
        expect(&out, 200, "credits sync")?;
        if out.body["granted"].as_i64() != Some(granted) {
            return Err(format!("credits sync: expected granted {granted}, got {}", out.body).into());
        }
        Ok(out)
    }
}

fn expect_status(out: &Outcome, status: &str, what: &str) -> Result<(), BoxError> {
    expect(out, 200, what)?;
    if out.body != json!({"status": status}) {
        return Err(format!("{what}: expected {{\"status\": \"{status}\"}}, got {}", out.body).into());
    }
    Ok(())
}

/// Runs the purchase and account-deletion routes `runs` times each and
/// returns their rows.
pub(crate) async fn run_all(run: &Run<'_>, runs: usize) -> Result<Vec<Row>, BoxError> {
    let p = Purchases { run, r: Routes::new(run)?, sim_url: env("REVENUECAT_SIM_URL")?, webhook_auth: env("REVENUECAT_WEBHOOK_AUTH")? };
    let mut rows = Vec::new();

    let (mut granted, mut duplicate) = (Row::new("POST /v1/webhooks/revenuecat (purchase)"), Row::new("POST /v1/webhooks/revenuecat (same event again)"));
    let (_, buyer) = run.sign_up().await?;
    for _ in 0..runs {
        let payload = p.record_purchase(&buyer).await?;
        let out = p.deliver(&payload).await?;
        expect_status(&out, "granted", "webhook purchase")?;
        granted.add(&out);
        let out = p.deliver(&payload).await?;
        expect_status(&out, "duplicate", "webhook repeat")?;
        duplicate.add(&out);
    }
    rows.extend([granted, duplicate]);

    let (mut new, mut nothing) = (Row::new("POST /v1/credits/sync (one new purchase)"), Row::new("POST /v1/credits/sync (nothing new)"));
    for _ in 0..runs {
        // A fresh user per pair: the sync allows a few calls per user and minute.
        let (_, user) = run.sign_up().await?;
        p.record_purchase(&user).await?;
        new.add(&p.sync(&user, PRODUCT_CREDITS).await?);
        nothing.add(&p.sync(&user, 0).await?);
    }
    rows.extend([new, nothing]);

    let mut row = Row::new("DELETE /v1/me");
    for _ in 0..runs {
        let (_, user) = run.sign_up().await?;
        let out = run.b.send(&p.r.delete_me, Call::new("DELETE", "/v1/me", "/v1/me").bearer(&user.access).build()?).await;
        expect(&out, 202, "delete me")?;
        row.add(&out);
    }
    rows.push(row);
    Ok(rows)
}
