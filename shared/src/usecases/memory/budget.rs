//! [`ProviderBudget`] in memory: the service-wide task log and the spend by day.

use super::MemoryStore;
use crate::error::StoreError;
use crate::ports::ProviderBudget;
use crate::rate_limit::{Admission, slide};

impl ProviderBudget for MemoryStore {
    async fn admit_provider_task(&self, now: i64, limit: u32, window_secs: i64) -> Result<Admission, StoreError> {
        let mut state = self.state.lock().unwrap();
        Ok(match slide(&state.task_hits, now, limit, window_secs) {
            Ok(log) => {
                state.task_hits = log;
                Admission::Admitted
            }
            Err(retry_after_secs) => Admission::Limited { retry_after_secs },
        })
    }

    async fn add_spend(&self, day: &str, micro_usd: i64) -> Result<(), StoreError> {
        *self.state.lock().unwrap().spend.entry(day.to_string()).or_default() += micro_usd;
        Ok(())
    }

    async fn spent(&self, day: &str) -> Result<i64, StoreError> {
        Ok(self.state.lock().unwrap().spend.get(day).copied().unwrap_or_default())
    }
}
