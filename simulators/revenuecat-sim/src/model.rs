//! The records the simulator keeps (one-time purchases and webhook deliveries), and the small
//! helpers that make RevenueCat-looking values: clock readings, ISO 8601 dates, Google Play
//! order ids and RevenueCat purchase ids.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::Serialize;

/// One one-time purchase as RevenueCat knows it: what `non_subscriptions` lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Purchase {
    /// The customer who owns it now (changes on a TRANSFER).
    pub app_user_id: String,
    /// The customer who bought it.
    pub original_app_user_id: String,
    /// The store product, e.g. `credits_10`.
    pub product_id: String,
    /// The store's order id (`GPA.…` on Google Play): `store_transaction_id` in the REST view.
    pub transaction_id: String,
    /// RevenueCat's own id of the purchase: `id` in the REST view.
    pub id: String,
    /// The `id` of the NON_RENEWING_PURCHASE event that announced it.
    pub event_id: String,
    /// `PRODUCTION` or `SANDBOX`.
    pub environment: String,
    /// `PLAY_STORE`, `APP_STORE`, `TEST_STORE`, … (lower-cased in the REST view).
    pub store: String,
    /// Price in USD.
    pub price: f64,
    /// ISO 4217 code of the currency the customer paid in.
    pub currency: String,
    /// ISO 3166 alpha-2 country of the customer.
    pub country_code: String,
    /// When it was bought, in Unix milliseconds.
    pub purchased_at_ms: u64,
    /// Whether a CANCELLATION (a refund) was made for it.
    pub refunded: bool,
    /// When the CANCELLATION was made, in Unix milliseconds.
    pub refunded_at_ms: Option<u64>,
    /// Whether `GET /v1/subscribers/{app_user_id}` lists it (false once refunded, unless the
    /// CANCELLATION asked to keep it listed, and once its customer is deleted).
    pub listed: bool,
    /// Whether its customer was deleted with `DELETE /v1/subscribers/{app_user_id}`.
    pub customer_deleted: bool,
}

/// One webhook delivery attempt, as `GET /_sim/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// `event.id` of the delivered payload (empty when the payload has none).
    pub event_id: String,
    /// `event.type` of the delivered payload (empty when the payload has none).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The receiver's HTTP status; 0 when no answer came (connection refused, timeout).
    pub status: u16,
    /// The receiver's answer text (cut to 4 KiB), or the transport error when `status` is 0.
    pub body: String,
    /// Where it was posted.
    pub url: String,
    /// The `Authorization` header value sent, if any.
    pub authorization: Option<String>,
    /// When the answer (or the failure) came, in Unix milliseconds.
    pub at_ms: u64,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or_default()
}

/// `2026-11-26T12:00:00Z` for a Unix time in milliseconds (whole seconds, UTC), as RevenueCat's
/// REST API writes dates.
pub(crate) fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A fresh Google Play order id: `GPA.dddd-dddd-dddd-ddddd`.
pub fn new_transaction_id() -> String {
    let mut rng = rand::rng();
    let mut digits = |n: usize| -> String { (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect() };
    format!("GPA.{}-{}-{}-{}", digits(4), digits(4), digits(4), digits(5))
}

/// A fresh RevenueCat purchase id: ten lowercase hex digits, like `cadba0c81b`.
pub(crate) fn new_purchase_id() -> String {
    let mut rng = rand::rng();
    (0..10).map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0')).collect()
}

/// A fresh event id: a lowercase UUID v4.
pub(crate) fn new_event_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The REST API's spelling of a store: `PLAY_STORE` → `play_store`.
pub(crate) fn rest_store(store: &str) -> String {
    store.to_ascii_lowercase()
}

/// A price in the customer's currency for a USD price (rough fixed rates, two decimals).
pub(crate) fn local_price(usd: f64, currency: &str) -> f64 {
    let rate = match currency {
        "DKK" => 6.85,
        "EUR" => 0.92,
        "GBP" => 0.79,
        "SEK" => 10.5,
        "NOK" => 10.8,
        _ => 1.0,
    };
    (usd * rate * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_767_225_600_123), "2026-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_694_400_000), "2026-11-26T12:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn ids_have_the_documented_shapes() {
        let tx = new_transaction_id();
        let parts: Vec<&str> = tx.trim_start_matches("GPA.").split('-').collect();
        assert!(tx.starts_with("GPA."), "{tx}");
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [4, 4, 4, 5]);
        assert!(parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())));
        let id = new_purchase_id();
        assert_eq!(id.len(), 10);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(rest_store("PLAY_STORE"), "play_store");
        assert_eq!(local_price(4.99, "DKK"), 34.18);
    }
}
