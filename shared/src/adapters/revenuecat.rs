//! RevenueCat's REST API (v1), the two calls we make: a customer's one-time
//! purchases (`GET /v1/subscribers/{id}`, for `POST /v1/credits/sync`) and
//! deleting a customer (`DELETE /v1/subscribers/{id}`, for account deletion).
//! The base URL is configuration so tests and the local stack use the simulator.

use std::time::Duration;

use serde::Deserialize;

use crate::credits::history::{HistoryError, StorePurchase};
use crate::ports::PurchaseHistory;

#[derive(Deserialize)]
struct CustomerInfo {
    subscriber: Subscriber,
}

#[derive(Deserialize)]
struct Subscriber {
    #[serde(default)]
    non_subscriptions: std::collections::BTreeMap<String, Vec<NonSubscription>>,
}

#[derive(Deserialize)]
struct NonSubscription {
    #[serde(default)]
    store_transaction_id: Option<String>,
    #[serde(default)]
    is_sandbox: Option<bool>,
}

/// The client, built once per cold start.
#[derive(Debug, Clone)]
pub struct RevenueCatClient {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
}

impl RevenueCatClient {
    /// A client for `base_url` (`https://api.revenuecat.com`) with the secret API key.
    pub fn new(base_url: String, api_key: String) -> Self {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::adapters::web_tls::client_config())
            .connect_timeout(Duration::from_secs(3))
            // The app waits on a sync: better a quick 503 than a hanging spinner.
            .timeout(Duration::from_secs(8))
            .build()
            .expect("static client settings are valid");
        RevenueCatClient { http, base_url: base_url.trim_end_matches('/').to_string(), api_key }
    }

    fn url(&self, app_user_id: &str) -> Result<reqwest::Url, HistoryError> {
        let mut url = reqwest::Url::parse(&self.base_url).map_err(|_| HistoryError::Refused(0))?;
        url.path_segments_mut().map_err(|_| HistoryError::Refused(0))?.extend(["v1", "subscribers", app_user_id]);
        Ok(url)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, HistoryError> {
        let resp = req.bearer_auth(&self.api_key).send().await.map_err(|e| HistoryError::Unavailable {
            retry_after_secs: None,
            reason: if e.is_timeout() { "timeout".into() } else { "no connection".into() },
        })?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => Ok(resp),
            429 | 500..=599 => Err(HistoryError::Unavailable {
                retry_after_secs: resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.trim().parse().ok()),
                reason: format!("HTTP {status}"),
            }),
            _ => Err(HistoryError::Refused(status)),
        }
    }
}

impl PurchaseHistory for RevenueCatClient {
    /// The customer's one-time purchases. Creates the customer at RevenueCat
    /// when it does not exist, so it is called only with our own user ids.
    async fn purchases(&self, app_user_id: &str) -> Result<Vec<StorePurchase>, HistoryError> {
        let resp = self.send(self.http.get(self.url(app_user_id)?)).await?;
        let info: CustomerInfo = resp.json().await.map_err(|_| HistoryError::Unavailable { retry_after_secs: None, reason: "unreadable answer".into() })?;
        Ok(info
            .subscriber
            .non_subscriptions
            .into_iter()
            .flat_map(|(product_id, list)| {
                list.into_iter().filter_map(move |p| {
                    Some(StorePurchase {
                        product_id: product_id.clone(),
                        store_transaction_id: p.store_transaction_id?,
                        environment: crate::credits::StoreEnvironment::from_is_sandbox(p.is_sandbox),
                    })
                })
            })
            .collect())
    }

    /// Deletes the customer and its purchase history at RevenueCat. A
    /// customer RevenueCat does not know (404) is as deleted as it gets, so a
    /// re-run of an erasure does not fail on it.
    async fn delete_customer(&self, app_user_id: &str) -> Result<(), HistoryError> {
        match self.send(self.http.delete(self.url(app_user_id)?)).await {
            Ok(_) | Err(HistoryError::Refused(404)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
