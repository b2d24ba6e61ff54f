//! A customer's purchase history at the store (RevenueCat's REST API).

use crate::credits::history::{HistoryError, StorePurchase};

/// The store's record of a customer.
pub trait PurchaseHistory {
    /// The customer's one-time purchases.
    fn purchases(&self, app_user_id: &str) -> impl Future<Output = Result<Vec<StorePurchase>, HistoryError>> + Send;

    /// Deletes the customer (an account deletion).
    fn delete_customer(&self, app_user_id: &str) -> impl Future<Output = Result<(), HistoryError>> + Send;
}
