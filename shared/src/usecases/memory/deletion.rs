//! [`DeletionStore`] in memory.

use crate::error::StoreError;
use crate::ports::DeletionStore;

use super::*;

impl DeletionStore for MemoryStore {
    async fn begin_deletion(&self, user_id: &str, now: i64) -> Result<bool, StoreError> {
        self.write("begin_deletion", |st| {
            st.sessions.retain(|(u, _)| u != user_id);
            st.profiles.get_mut(user_id).map(|p| p.deleting = p.deleting.or(Some(now))).is_some()
        })
    }

    async fn tombstone_purchases(&self, user_id: &str, _now: i64) -> Result<usize, StoreError> {
        self.write("tombstone_purchases", |st| {
            let mine = st.purchases.values_mut().filter(|p| p.owner.as_deref() == Some(user_id));
            mine.map(|p| *p = PurchaseRecord { owner: None, product_id: String::new(), credits: 0, state: "erased" }).count()
        })
    }

    async fn erase_records(&self, user_id: &str) -> Result<usize, StoreError> {
        self.write("erase_records", |st| {
            let before = st.sessions.len() + st.jobs.len() + st.exports.len();
            st.sessions.retain(|(u, _)| u != user_id);
            st.jobs.retain(|(u, _), _| u != user_id);
            st.exports.retain(|(u, _), _| u != user_id);
            let ledger = st.ledger.remove(user_id).map_or(0, |rows| rows.len());
            let limit = usize::from(st.last_exports.remove(user_id).is_some());
            before - st.sessions.len() - st.jobs.len() - st.exports.len() + ledger + limit
        })
    }

    async fn finish_deletion(&self, user_id: &str, user_hash: &str, _now: i64) -> Result<bool, StoreError> {
        self.write("finish_deletion", |st| {
            let existed = st.profiles.remove(user_id).is_some();
            if existed {
                st.deletion_log.push(user_hash.into());
            }
            existed
        })
    }

    async fn remaining_records(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let st = self.state.lock().unwrap();
        let mut keys: Vec<String> = st.profiles.contains_key(user_id).then(|| "PROFILE".to_string()).into_iter().collect();
        keys.extend(st.sessions.iter().filter(|(u, _)| u == user_id).map(|(_, s)| format!("SESSION#{s}")));
        keys.extend(st.jobs.keys().filter(|(u, _)| u == user_id).map(|(_, j)| format!("JOB#{j}")));
        keys.extend(st.exports.keys().filter(|(u, _)| u == user_id).map(|(_, e)| format!("EXPORT#{e}")));
        keys.extend(st.last_exports.contains_key(user_id).then(|| "RATE#export".to_string()));
        keys.extend((0..st.ledger.get(user_id).map_or(0, Vec::len)).map(|i| format!("LEDGER#{i}")));
        Ok(keys)
    }

    async fn owned_purchases(&self, user_id: &str) -> Result<usize, StoreError> {
        Ok(self.state.lock().unwrap().purchases.values().filter(|p| p.owner.as_deref() == Some(user_id)).count())
    }

    async fn deletion_log(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.state.lock().unwrap().deletion_log.clone())
    }

    async fn all_user_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.state.lock().unwrap().profiles.keys().cloned().collect())
    }
}
