//! [`ExportStore`] in memory, with the adapter's conditions: a session that
//! must be alive, an account not being deleted, the hourly limit, and
//! writes conditional on the record as read.

use crate::error::StoreError;
use crate::exports::{Export, ExportStatus};
use crate::ports::{CreateExportOutcome, ExportStore};

use super::*;

impl ExportStore for MemoryStore {
    async fn create_export(&self, export: &Export, session_id: &str, interval_secs: i64) -> Result<CreateExportOutcome, StoreError> {
        self.write("create_export", |st| {
            let user = export.user_id.clone();
            if !st.sessions.contains(&(user.clone(), session_id.into())) || st.live_profile(&user).is_none() {
                return CreateExportOutcome::SessionGone;
            }
            if let Some(&last) = st.last_exports.get(&user)
                && last > export.created_at - interval_secs
            {
                return CreateExportOutcome::Limited { last_created_at: last };
            }
            st.last_exports.insert(user.clone(), export.created_at);
            st.exports.insert((user, export.export_id.clone()), export.clone());
            CreateExportOutcome::Created
        })
    }

    async fn export_with_live_session(&self, user_id: &str, session_id: &str, export_id: &str, now: i64) -> Result<Option<Option<Export>>, StoreError> {
        let st = self.state.lock().unwrap();
        if !st.sessions.contains(&(user_id.into(), session_id.into())) {
            return Ok(None);
        }
        Ok(Some(st.exports.get(&(user_id.into(), export_id.into())).filter(|e| !e.is_expired(now)).cloned()))
    }

    async fn export(&self, user_id: &str, export_id: &str) -> Result<Option<Export>, StoreError> {
        Ok(self.state.lock().unwrap().exports.get(&(user_id.into(), export_id.into())).cloned())
    }

    async fn settle_export(&self, next: &Export) -> Result<bool, StoreError> {
        self.write("settle_export", |st| {
            if st.live_profile(&next.user_id).is_none() {
                return false;
            }
            match st.exports.get_mut(&(next.user_id.clone(), next.export_id.clone())) {
                Some(e) if e.status == ExportStatus::Preparing => {
                    *e = next.clone();
                    true
                }
                _ => false,
            }
        })
    }

    async fn renew_export_watch(&self, export: &Export, due_at: i64) -> Result<bool, StoreError> {
        self.write("renew_export_watch", |st| match st.exports.get_mut(&(export.user_id.clone(), export.export_id.clone())) {
            Some(e) if e.status == export.status && e.due_at == export.due_at => {
                e.due_at = due_at;
                true
            }
            _ => false,
        })
    }

    async fn due_exports(&self, now: i64, limit: usize) -> Result<Vec<Export>, StoreError> {
        let st = self.state.lock().unwrap();
        let mut due: Vec<Export> = st.exports.values().filter(|e| e.due_at <= now).cloned().collect();
        due.sort_by_key(|e| e.due_at);
        due.truncate(limit);
        Ok(due)
    }

    async fn delete_export_record(&self, export: &Export) -> Result<bool, StoreError> {
        self.write("delete_export_record", |st| {
            let key = (export.user_id.clone(), export.export_id.clone());
            let as_read = st.exports.get(&key).is_some_and(|e| e.status == export.status && e.due_at == export.due_at);
            if as_read {
                st.exports.remove(&key);
            }
            as_read
        })
    }

    async fn exports_of(&self, user_id: &str) -> Result<Vec<Export>, StoreError> {
        let st = self.state.lock().unwrap();
        let mut mine: Vec<Export> = st.exports.values().filter(|e| e.user_id == user_id).cloned().collect();
        mine.sort_by(|a, b| b.export_id.cmp(&a.export_id));
        Ok(mine)
    }
}
