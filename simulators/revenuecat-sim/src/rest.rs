//! RevenueCat's REST API v1 as the backend uses it: `GET /v1/subscribers/{app_user_id}` (the
//! customer info, creating the customer when unknown) and `DELETE /v1/subscribers/{app_user_id}`.

use std::collections::BTreeMap;

use http::StatusCode;
use serde_json::{Map, Value, json};

use crate::model::{iso8601, now_ms, rest_store};
use crate::reply::{self, Response};
use crate::state::State;

/// `GET /v1/subscribers/{app_user_id}`: the customer info, with every listed one-time purchase
/// of the customer under `non_subscriptions.<product_id>` (oldest first). An unknown customer is
/// created, as RevenueCat does, and answered with empty collections.
pub(crate) fn get_subscriber(state: &mut State, app_user_id: &str) -> Response {
    let now = now_ms();
    state.touch_customer(app_user_id, now);
    let first_seen = state.customers.get(app_user_id).copied().unwrap_or(now);
    let mut by_product: BTreeMap<&str, Vec<(u64, Value)>> = BTreeMap::new();
    for p in state.purchases.iter().filter(|p| p.app_user_id == app_user_id && p.listed && !p.customer_deleted) {
        let entry = json!({
            "id": p.id,
            "is_sandbox": p.environment == "SANDBOX",
            "purchase_date": iso8601(p.purchased_at_ms),
            "store": rest_store(&p.store),
            "store_transaction_id": p.transaction_id,
        });
        by_product.entry(&p.product_id).or_default().push((p.purchased_at_ms, entry));
    }
    let non_subscriptions: Map<String, Value> = by_product
        .into_iter()
        .map(|(product, mut entries)| {
            entries.sort_by_key(|(at, _)| *at);
            let list = entries.into_iter().map(|(_, e)| e).collect();
            (product.to_string(), Value::Array(list))
        })
        .collect();
    reply::json(
        StatusCode::OK,
        &json!({
            "request_date": iso8601(now),
            "request_date_ms": now,
            "subscriber": {
                "entitlements": {},
                "first_seen": iso8601(first_seen),
                "last_seen": iso8601(now),
                "management_url": null,
                "non_subscriptions": non_subscriptions,
                "original_app_user_id": app_user_id,
                "original_application_version": null,
                "original_purchase_date": null,
                "other_purchases": {},
                "subscriptions": {},
                "subscriber_attributes": {},
            },
        }),
    )
}

/// `DELETE /v1/subscribers/{app_user_id}`: records the deletion, forgets the customer and hides
/// its purchases, and answers `{"app_user_id": …}` (also for a customer that did not exist).
pub(crate) fn delete_subscriber(state: &mut State, app_user_id: &str) -> Response {
    state.deleted.push(app_user_id.to_string());
    state.customers.remove(app_user_id);
    for p in state.purchases.iter_mut().filter(|p| p.app_user_id == app_user_id) {
        p.customer_deleted = true;
        p.listed = false;
    }
    reply::json(StatusCode::OK, &json!({"app_user_id": app_user_id}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Purchase;
    use http_body_util::BodyExt;

    fn body(resp: Response) -> Value {
        let bytes = body_bytes(resp);
        serde_json::from_slice(&bytes).expect("json")
    }

    fn body_bytes(resp: Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async { resp.into_body().collect().await.expect("body").to_bytes() }).to_vec()
    }

    fn purchase(user: &str, tx: &str, at: u64) -> Purchase {
        Purchase {
            app_user_id: user.into(),
            original_app_user_id: user.into(),
            product_id: "credits_10".into(),
            transaction_id: tx.into(),
            id: "cadba0c81b".into(),
            event_id: "e".into(),
            environment: "SANDBOX".into(),
            store: "PLAY_STORE".into(),
            price: 4.99,
            currency: "DKK".into(),
            country_code: "DK".into(),
            purchased_at_ms: at,
            refunded: false,
            refunded_at_ms: None,
            listed: true,
            customer_deleted: false,
        }
    }

    #[test]
    fn subscriber_lists_listed_purchases_oldest_first() {
        let mut state = State::default();
        state.purchases.push(purchase("u", "GPA.2", 1_795_694_500_000));
        state.purchases.push(purchase("u", "GPA.1", 1_795_694_400_000));
        let mut hidden = purchase("u", "GPA.3", 1);
        hidden.listed = false;
        state.purchases.push(hidden);
        state.purchases.push(purchase("other", "GPA.4", 1));
        let v = body(get_subscriber(&mut state, "u"));
        let list = v["subscriber"]["non_subscriptions"]["credits_10"].as_array().expect("list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["store_transaction_id"], "GPA.1");
        assert_eq!(list[0]["purchase_date"], "2026-11-26T12:00:00Z");
        assert_eq!(list[0]["store"], "play_store");
        assert_eq!(list[0]["is_sandbox"], true);
        assert!(state.customers.contains_key("u"));

        let v = body(delete_subscriber(&mut state, "u"));
        assert_eq!(v, json!({"app_user_id": "u"}));
        assert_eq!(state.deleted, ["u"]);
        let v = body(get_subscriber(&mut state, "u"));
        assert_eq!(v["subscriber"]["non_subscriptions"], json!({}));
    }
}
