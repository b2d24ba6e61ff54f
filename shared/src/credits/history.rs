//! A customer's purchase history at the store (RevenueCat's REST API):
//! what the sync use case reads and the account eraser deletes.

/// What a failed call means.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// 429, 5xx, a timeout or no connection: retry later.
    #[error("RevenueCat is unavailable ({reason})")]
    Unavailable {
        /// Seconds RevenueCat asked us to wait (`Retry-After`), if it said.
        retry_after_secs: Option<u64>,
        /// What happened (status or error kind; no payload).
        reason: String,
    },
    /// Any other status (a wrong key: 401): operators must act.
    #[error("RevenueCat refused the call with HTTP {0}")]
    Refused(u16),
}

/// One one-time purchase as RevenueCat lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorePurchase {
    pub product_id: String,
    /// The store's order id.
    pub store_transaction_id: String,
    /// Where it was made (`is_sandbox`; missing: unknown, which never grants).
    pub environment: super::StoreEnvironment,
}
