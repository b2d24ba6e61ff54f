//! Building RevenueCat webhook payloads (`{"api_version": "1.0", "event": {…}}`) from the loose
//! fields a test gives, every field of the contract's examples filled plausibly, and the effect
//! each event has on the REST view (a recorded purchase, a refund, a transfer).

use serde_json::{Map, Value, json};

use crate::SimError;
use crate::model::{Purchase, local_price, new_event_id, new_purchase_id, new_transaction_id, now_ms};
use crate::state::State;

/// The `app_id` of events unless a test gives one.
pub const DEFAULT_APP_ID: &str = "app5e7d1c2a";

/// Options of `POST /_sim/events` (and `/_sim/purchases`) that are not event fields.
#[derive(Debug, Clone)]
pub(crate) struct EventOptions {
    /// Whether to deliver the event after building it.
    pub deliver: bool,
    /// Event fields to drop from the payload.
    pub omit: Vec<String>,
    /// Whether a NON_RENEWING_PURCHASE records its purchase in the REST view.
    pub record: bool,
    /// Whether a CANCELLATION leaves the refunded purchase listed in the REST view.
    pub keep_listed: bool,
}

/// Removes the option keys from `obj` and returns them; `deliver` defaults to `deliver_default`.
pub(crate) fn take_event_options(obj: &mut Map<String, Value>, deliver_default: bool) -> Result<EventOptions, SimError> {
    let flag = |obj: &mut Map<String, Value>, key: &str, default: bool| match obj.remove(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(SimError::BadRequest(format!("{key} must be true or false"))),
    };
    let deliver = flag(obj, "deliver", deliver_default)?;
    let record = flag(obj, "record", true)?;
    let keep_listed = match obj.remove("refund_in_rest") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "remove" => false,
        Some(Value::String(s)) if s == "keep" => true,
        Some(_) => {
            return Err(SimError::BadRequest("refund_in_rest must be \"remove\" or \"keep\"".into()));
        }
    };
    let omit = match obj.remove("omit") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => string_list(&v).ok_or_else(|| SimError::BadRequest("omit must be a list of field names".into()))?,
    };
    Ok(EventOptions { deliver, omit, record, keep_listed })
}

/// What an event changes in the REST view.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// Nothing.
    None,
    /// A new one-time purchase (skipped if its transaction id is already recorded).
    Record(Box<Purchase>),
    /// The purchase with this transaction id is refunded.
    Refund { transaction_id: String, at_ms: u64, keep_listed: bool },
    /// Purchases owned by `from` move to the first of `to`.
    Transfer { from: Vec<String>, to: Vec<String> },
}

/// A list of strings, or a single string as a list of one.
fn string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

/// A string field given by the test: `Ok(None)` when absent or null, an error for other types.
fn given_str(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, SimError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SimError::BadRequest(format!("{key} must be a string"))),
    }
}

/// A number field given by the test: `Ok(None)` when absent or null, an error for other types.
fn given_f64(fields: &Map<String, Value>, key: &str) -> Result<Option<f64>, SimError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(|| SimError::BadRequest(format!("{key} must be a number"))),
    }
}

/// Builds the payload for `fields` (which must hold a string `type`) and the effect it has.
/// Fields given by the test win over the defaults; `omit` drops fields last.
pub(crate) fn build(mut fields: Map<String, Value>, state: &State, opts: &EventOptions) -> Result<(Value, Effect), SimError> {
    let event_type = match fields.get("type") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => {
            return Err(SimError::BadRequest("type must be a non-empty string".into()));
        }
    };
    let now = now_ms();
    let mut event = Map::new();
    event.insert("id".into(), json!(new_event_id()));
    event.insert("type".into(), json!(event_type));
    event.insert("app_id".into(), json!(DEFAULT_APP_ID));
    event.insert("event_timestamp_ms".into(), json!(now));

    if event_type == "TRANSFER" {
        for key in ["transferred_from", "transferred_to"] {
            let list = match fields.get(key) {
                None | Some(Value::Null) => vec![uuid::Uuid::new_v4().to_string()],
                Some(v) => string_list(v).ok_or_else(|| SimError::BadRequest(format!("{key} must be a list of app user ids")))?,
            };
            fields.insert(key.into(), json!(list));
        }
        event.insert("store".into(), json!("PLAY_STORE"));
        event.insert("environment".into(), json!("PRODUCTION"));
    } else {
        purchase_defaults(&mut event, &fields, state, now)?;
        if event_type == "CANCELLATION" {
            event.insert("cancel_reason".into(), json!("CUSTOMER_SUPPORT"));
        }
    }

    event.extend(fields);
    if event_type == "CANCELLATION" {
        for key in ["price", "price_in_purchased_currency"] {
            if let Some(p) = event.get(key).and_then(Value::as_f64) {
                event.insert(key.into(), json!(-p.abs()));
            }
        }
    }
    for key in &opts.omit {
        event.remove(key);
    }
    let effect = effect_of(&event_type, &event, opts, now);
    Ok((json!({"api_version": "1.0", "event": event}), effect))
}

/// The purchase-shaped fields of every type but TRANSFER, taken from the recorded purchase with
/// the same `transaction_id` when there is one.
fn purchase_defaults(event: &mut Map<String, Value>, fields: &Map<String, Value>, state: &State, now: u64) -> Result<(), SimError> {
    let transaction_id = given_str(fields, "transaction_id")?.unwrap_or_else(new_transaction_id);
    let known = state.purchase(&transaction_id);
    let user = match given_str(fields, "app_user_id")? {
        Some(user) => user,
        None => known.map_or_else(|| uuid::Uuid::new_v4().to_string(), |p| p.app_user_id.clone()),
    };
    let price = match given_f64(fields, "price")? {
        Some(p) => p,
        None => known.map_or(4.99, |p| p.price),
    };
    let currency = match given_str(fields, "currency")? {
        Some(c) => c,
        None => known.map_or_else(|| "DKK".to_string(), |p| p.currency.clone()),
    };
    let pick = |key: &str, default: &str| -> String {
        known.map_or_else(
            || default.to_string(),
            |p| match key {
                "product_id" => p.product_id.clone(),
                "environment" => p.environment.clone(),
                "store" => p.store.clone(),
                _ => p.country_code.clone(),
            },
        )
    };
    let purchased_at = known.map_or(now.saturating_sub(2000), |p| p.purchased_at_ms);
    let defaults = json!({
        "app_user_id": user,
        "original_app_user_id": user,
        "aliases": [user],
        "product_id": pick("product_id", "credits_10"),
        "period_type": "NORMAL",
        "purchased_at_ms": purchased_at,
        "expiration_at_ms": null,
        "environment": pick("environment", "PRODUCTION"),
        "entitlement_ids": null,
        "presented_offering_id": "credits",
        "transaction_id": transaction_id,
        "original_transaction_id": transaction_id,
        "is_family_share": false,
        "country_code": pick("country_code", "DK"),
        "currency": currency,
        "price": price,
        "price_in_purchased_currency": local_price(price, &currency),
        "subscriber_attributes": {},
        "store": pick("store", "PLAY_STORE"),
        "tax_percentage": 0.2,
        "commission_percentage": 0.15,
        "offer_code": null,
        "experiments": [],
    });
    if let Value::Object(defaults) = defaults {
        event.extend(defaults);
    }
    Ok(())
}

/// The REST-view effect of a built event.
fn effect_of(event_type: &str, event: &Map<String, Value>, opts: &EventOptions, now: u64) -> Effect {
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_string);
    match event_type {
        "NON_RENEWING_PURCHASE" if opts.record => {
            let (Some(user), Some(product), Some(tx)) = (text("app_user_id"), text("product_id"), text("transaction_id")) else {
                return Effect::None;
            };
            let or = |key: &str, default: &str| text(key).unwrap_or_else(|| default.to_string());
            Effect::Record(Box::new(Purchase {
                original_app_user_id: text("original_app_user_id").unwrap_or_else(|| user.clone()),
                app_user_id: user,
                product_id: product,
                transaction_id: tx,
                id: new_purchase_id(),
                event_id: or("id", ""),
                environment: or("environment", "PRODUCTION"),
                store: or("store", "PLAY_STORE"),
                price: event.get("price").and_then(Value::as_f64).unwrap_or(0.0),
                currency: or("currency", "USD"),
                country_code: or("country_code", "US"),
                purchased_at_ms: event.get("purchased_at_ms").and_then(Value::as_u64).unwrap_or(now),
                refunded: false,
                refunded_at_ms: None,
                listed: true,
                customer_deleted: false,
            }))
        }
        "CANCELLATION" => match text("transaction_id") {
            Some(transaction_id) => Effect::Refund { transaction_id, at_ms: now, keep_listed: opts.keep_listed },
            None => Effect::None,
        },
        "TRANSFER" => {
            let list = |key: &str| event.get(key).and_then(string_list).unwrap_or_default();
            Effect::Transfer { from: list("transferred_from"), to: list("transferred_to") }
        }
        _ => Effect::None,
    }
}

/// Applies an effect to the state.
pub(crate) fn apply(state: &mut State, effect: Effect) {
    match effect {
        Effect::None => {}
        Effect::Record(purchase) => {
            if state.purchase(&purchase.transaction_id).is_none() {
                state.touch_customer(&purchase.app_user_id, purchase.purchased_at_ms);
                state.purchases.push(*purchase);
            }
        }
        Effect::Refund { transaction_id, at_ms, keep_listed } => {
            if let Some(p) = state.purchase_mut(&transaction_id) {
                p.refunded = true;
                p.refunded_at_ms.get_or_insert(at_ms);
                if !keep_listed {
                    p.listed = false;
                }
            }
        }
        Effect::Transfer { from, to } => {
            let Some(target) = to.first() else { return };
            let mut moved = false;
            for p in &mut state.purchases {
                if from.contains(&p.app_user_id) && !p.customer_deleted {
                    p.app_user_id.clone_from(target);
                    moved = true;
                }
            }
            if moved {
                state.touch_customer(target, now_ms());
            }
        }
    }
}
