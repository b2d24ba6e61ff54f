//! A user's purchases at the simulated RevenueCat: webhooks delivered twice,
//! or recorded and delivered later out of order, or granted by the app's
//! sync; refunds; and buying more on a 402.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Answer, Call};
use crate::model::{Delivery, PurchaseLog};
use crate::user::User;

/// The webhook's route, as the simulator's deliveries are counted.
const WEBHOOK_ROUTE: &str = "POST /v1/webhooks/revenuecat";

impl User {
    /// A call to the RevenueCat simulator's control API.
    async fn revenuecat(&self, path: &str, body: Value) -> Answer {
        let base = self.world.stack.get("REVENUECAT_SIM_URL").unwrap_or_default();
        self.send(Call::new(Method::POST, format!("{base}{path}"), format!("simulator POST {path}")).json(body)).await
    }

    /// Counts the webhook answers a simulator call reports; whether one was a 200.
    fn deliveries_ok(&self, answer: &Answer) -> bool {
        let mut ok = false;
        for d in answer.body["deliveries"].as_array().into_iter().flatten() {
            let status = d["status"].as_u64().unwrap_or(0);
            if status == 200 {
                ok = true;
            } else {
                self.world.stats.record(WEBHOOK_ROUTE, &if status == 0 { "connection error".to_string() } else { status.to_string() });
            }
        }
        ok
    }

    /// Buys a pack, delivered one of the three ways.
    pub(crate) async fn buy(&mut self) {
        let Some((product_id, credits)) = self.world.products.choose(&mut self.rng).cloned() else { return };
        let delivery = match self.rng.random_range(0..10) {
            0..6 => Delivery::Webhook,
            6..8 => Delivery::Late,
            _ => Delivery::Sync,
        };
        let mut body = json!({"app_user_id": self.log.user_id, "product_id": product_id, "deliver": delivery == Delivery::Webhook});
        if delivery == Delivery::Webhook {
            // RevenueCat delivers at least once: here always twice.
            body["times"] = json!(2);
        }
        let answer = self.revenuecat("/_sim/purchases", body).await;
        let Some(transaction_id) = answer.str("transaction_id") else {
            self.note(format!("purchase at the simulator: {} {}", answer.status, answer.body));
            return;
        };
        let confirmed = self.deliveries_ok(&answer);
        self.log.purchases.push(PurchaseLog { transaction_id, product_id, credits, delivery, confirmed, refunded: false, refund_acknowledged: false });
        let index = self.log.purchases.len() - 1;
        match delivery {
            Delivery::Late => self.pending.push((index, answer.body["event"].clone())),
            // Every webhook delivery failed: the app's sync grants it.
            Delivery::Webhook if !confirmed => self.sync().await,
            Delivery::Sync => self.sync().await,
            Delivery::Webhook => {}
        }
    }

    /// On a 402: the late webhooks if any are waiting, else a new pack.
    pub(crate) async fn top_up(&mut self) {
        if self.pending.is_empty() {
            self.buy().await;
        } else {
            self.deliver_pending().await;
        }
    }

    /// Delivers every recorded-only purchase's webhook, in a random order
    /// (so often not the order of the purchases), once or twice each.
    pub(crate) async fn deliver_pending(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.shuffle(&mut self.rng);
        let mut missed = false;
        for (index, payload) in pending {
            let times = self.rng.random_range(1..=2);
            let answer = self.revenuecat("/_sim/deliver", json!({"payload": payload, "times": times})).await;
            if self.deliveries_ok(&answer) {
                if let Some(p) = self.log.purchases.get_mut(index) {
                    p.confirmed = true;
                }
            } else {
                missed = true;
            }
        }
        if missed {
            self.sync().await;
        }
    }

    /// `POST /v1/credits/sync` (a 429 waits its `Retry-After`); on a 200
    /// every purchase recorded so far has been granted (or was refunded).
    pub(crate) async fn sync(&mut self) {
        let call = Call::new(Method::POST, self.world.stack.url("/v1/credits/sync"), "POST /v1/credits/sync");
        let answer = self.authed(call).await;
        if answer.ok() {
            for p in &mut self.log.purchases {
                p.confirmed = true;
            }
        } else {
            self.note(format!("credits sync: {} {}", answer.status, answer.body));
        }
    }

    /// Refunds one purchase not refunded yet (granted or still waiting for
    /// its webhook): a `CANCELLATION` delivered, re-delivered until answered.
    pub(crate) async fn refund(&mut self) {
        let candidates: Vec<usize> = (0..self.log.purchases.len()).filter(|&i| !self.log.purchases[i].refunded).collect();
        let Some(&index) = candidates.choose(&mut self.rng) else { return };
        let transaction_id = self.log.purchases[index].transaction_id.clone();
        self.log.purchases[index].refunded = true;
        let answer = self.revenuecat("/_sim/events", json!({"type": "CANCELLATION", "transaction_id": transaction_id})).await;
        let mut acknowledged = self.deliveries_ok(&answer);
        let payload = answer.body["event"].clone();
        for _ in 0..5 {
            if acknowledged || payload.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let again = self.revenuecat("/_sim/deliver", json!({"payload": payload})).await;
            acknowledged = self.deliveries_ok(&again);
        }
        self.log.purchases[index].refund_acknowledged = acknowledged;
        if !acknowledged {
            self.note(format!("refund of {transaction_id} never acknowledged"));
        }
    }
}
