//! The provider budget: how fast and how much the service may ask of the
//! image provider, shared by every worker however many run at once.

use crate::error::StoreError;
use crate::rate_limit::Admission;

/// The provider's task rate and the day's spend, kept in the store.
pub trait ProviderBudget {
    /// Takes one of `limit` task slots of the sliding `window_secs` at
    /// `now`, for the whole service; `Limited` says how long to wait.
    fn admit_provider_task(&self, now: i64, limit: u32, window_secs: i64) -> impl Future<Output = Result<Admission, StoreError>> + Send;

    /// Adds `micro_usd` to the spend of the UTC day `day` (`YYYY-MM-DD`).
    fn add_spend(&self, day: &str, micro_usd: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The spend of the UTC day `day`, in millionths of a US dollar.
    fn spent(&self, day: &str) -> impl Future<Output = Result<i64, StoreError>> + Send;
}
