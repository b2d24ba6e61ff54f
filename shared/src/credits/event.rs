//! A RevenueCat webhook event, read tolerantly: only the fields we act on,
//! unknown fields and types welcome. Prices, currencies, countries and store
//! details are never read, so they cannot be stored or logged.

use serde_json::Value;

use super::StoreEnvironment;

/// What an event asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `NON_RENEWING_PURCHASE`: grant the product's credits once.
    Purchase(Purchase),
    /// `CANCELLATION`: revoke the purchase (or mark it revoked in advance).
    Cancellation(Purchase),
    /// `TRANSFER`: move unspent purchased credits.
    Transfer {
        /// The users the purchases leave.
        from: Vec<String>,
        /// The user they go to (`transferred_to[0]`).
        to: String,
    },
    /// `TEST`, subscription types, anything unknown: nothing to do.
    Nothing,
}

/// The purchase an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Our user ids the event may name, in order (`app_user_id`,
    /// `original_app_user_id`, `aliases`), without duplicates.
    pub users: Vec<String>,
    /// The store product.
    pub product_id: String,
    /// The store's order id (never stored in clear).
    pub transaction_id: String,
    /// Where it was made (`environment`).
    pub environment: StoreEnvironment,
}

/// A parsed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event id (the delivery dedupe key).
    pub id: String,
    /// The event type as sent (logged; never personal).
    pub kind: String,
    /// What to do.
    pub action: Action,
}

/// Why a JSON body is not an event we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub &'static str);

const MAX_ID: usize = 200;

fn text(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty() && s.len() <= MAX_ID).map(str::to_string)
}

fn list(v: &Value, name: &str) -> Vec<String> {
    match v.get(name) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl Event {
    /// Reads `{"api_version", "event": {…}}`.
    pub fn parse(body: &Value) -> Result<Event, Malformed> {
        let ev = body.get("event").filter(|e| e.is_object()).ok_or(Malformed("The body has no `event` object."))?;
        let id = text(ev, "id").ok_or(Malformed("The event has no `id`."))?;
        let kind = text(ev, "type").ok_or(Malformed("The event has no `type`."))?;
        let purchase = || -> Result<Purchase, Malformed> {
            let mut users = Vec::new();
            for u in text(ev, "app_user_id").into_iter().chain(text(ev, "original_app_user_id")).chain(list(ev, "aliases")) {
                if !users.contains(&u) {
                    users.push(u);
                }
            }
            Ok(Purchase {
                users,
                product_id: text(ev, "product_id").ok_or(Malformed("The purchase event has no `product_id`."))?,
                transaction_id: text(ev, "transaction_id").ok_or(Malformed("The purchase event has no `transaction_id`."))?,
                environment: StoreEnvironment::from_event(text(ev, "environment").as_deref()),
            })
        };
        let action = match kind.as_str() {
            "NON_RENEWING_PURCHASE" => Action::Purchase(purchase()?),
            "CANCELLATION" => match purchase() {
                Ok(p) => Action::Cancellation(p),
                // A subscription's cancellation carries no transaction we granted.
                Err(_) => Action::Nothing,
            },
            "TRANSFER" => {
                let to = list(ev, "transferred_to").into_iter().next().ok_or(Malformed("The transfer has no `transferred_to`."))?;
                Action::Transfer { from: list(ev, "transferred_from").into_iter().filter(|f| *f != to).collect(), to }
            }
            _ => Action::Nothing,
        };
        Ok(Event { id, kind, action })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_purchase_and_ignores_payment_details() {
        let body = json!({"api_version": "1.0", "event": {"id": "e1", "type": "NON_RENEWING_PURCHASE",
            "app_user_id": "u1", "original_app_user_id": "u1", "aliases": ["u1", "u0"], "product_id": "credits_10",
            "transaction_id": "GPA.1", "environment": "PRODUCTION", "price": 4.99, "currency": "DKK", "new_field": 1}});
        let e = Event::parse(&body).unwrap();
        assert_eq!(
            e.action,
            Action::Purchase(Purchase {
                users: vec!["u1".into(), "u0".into()],
                product_id: "credits_10".into(),
                transaction_id: "GPA.1".into(),
                environment: StoreEnvironment::Production
            })
        );
        assert!(!format!("{e:?}").contains("DKK"));
    }

    #[test]
    fn transfers_unknown_types_and_malformed_bodies() {
        let t = Event::parse(&json!({"event": {"id": "e2", "type": "TRANSFER", "transferred_from": ["a"], "transferred_to": ["b", "c"]}})).unwrap();
        assert_eq!(t.action, Action::Transfer { from: vec!["a".into()], to: "b".into() });
        let u = Event::parse(&json!({"event": {"id": "e3", "type": "SOMETHING_NEW"}})).unwrap();
        assert_eq!(u.action, Action::Nothing);
        let s = Event::parse(
            &json!({"event": {"id": "e4", "type": "CANCELLATION", "app_user_id": "u", "environment": "SANDBOX", "product_id": "p", "transaction_id": "t"}}),
        )
        .unwrap();
        assert!(matches!(s.action, Action::Cancellation(Purchase { environment: StoreEnvironment::Sandbox, .. })));
        assert!(Event::parse(&json!({"nothing": 1})).is_err());
        assert!(Event::parse(&json!({"event": {"type": "TEST"}})).is_err());
        assert!(Event::parse(&json!({"event": {"id": "e5", "type": "NON_RENEWING_PURCHASE", "app_user_id": "u"}})).is_err());
    }
}
