//! What is stored after the drain, read once for all the checks: the whole
//! table, every object under `users/`, and per remaining user its balance
//! check, ledger, profile and job records (through the domain crate's own
//! functions: `check_balance_invariant`, `ledger_entries`, `profile_record`,
//! `job`).

use shared::ports::{AccountStore, LedgerStore, PhotoStore, PipelineStore};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use shared::adapters::dynamo::job_from;
use shared::credits::ledger::{InvariantViolation, LedgerEntry};
use shared::jobs::Job;

use crate::model::UserLog;
use crate::storage::{Item, ReadError, Storage, attr, partition_user};

/// A remaining user's stored state.
#[derive(Debug)]
pub struct Account {
    /// `check_balance_invariant`: the balance, or the violation.
    pub invariant: Result<i64, InvariantViolation>,
    /// The ledger, oldest first.
    pub ledger: Vec<LedgerEntry>,
    /// The profile's debt (`owed`).
    pub owed: i64,
    /// Every job id known for the user (tracked by the soak, referenced by
    /// the ledger, or stored), with its record as `job` reads it now.
    pub jobs: BTreeMap<String, Option<Job>>,
}

/// A purchase record (`PURCHASE#<hash>`).
#[derive(Debug, Clone)]
pub struct PurchaseRecord {
    /// `granted`, `revoked` or `erased`.
    pub state: String,
    /// The credits it granted.
    pub credits: i64,
}

/// Everything the checks read.
#[derive(Debug)]
pub struct Facts {
    /// Every item of the table.
    pub items: Vec<Item>,
    /// Every job record of the table (any user), as stored.
    pub stored_jobs: Vec<Job>,
    /// Every object key under `users/` and `uploads/`.
    pub objects: BTreeSet<String>,
    /// The remaining users (tracked and not deleted, and any other profile
    /// found), by id.
    pub accounts: BTreeMap<String, Account>,
    /// Profiles the soak did not sign up knowingly (a sign-up whose answer was lost).
    pub untracked_profiles: Vec<String>,
    /// Purchase records by keyed hash.
    pub purchases: HashMap<String, PurchaseRecord>,
    /// The key transaction ids are hashed with.
    pub hash_key: Vec<u8>,
}

/// Reads what the checks need.
pub async fn gather(storage: &Storage, logs: &[UserLog]) -> Result<Facts, ReadError> {
    let items = storage.scan().await?;
    let stored_jobs: Vec<Job> = items.iter().filter(|it| attr(it, "entity") == Some("job")).filter_map(|it| job_from(it).ok()).collect();
    let purchases = items
        .iter()
        .filter(|it| attr(it, "sk") == Some("PURCHASE"))
        .filter_map(|it| {
            let hash = attr(it, "pk")?.strip_prefix("PURCHASE#")?.to_string();
            let credits = it.get("credits").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
            Some((hash, PurchaseRecord { state: attr(it, "state").unwrap_or_default().to_string(), credits }))
        })
        .collect();
    let mut objects: BTreeSet<String> = BTreeSet::new();
    for prefix in ["users/", shared::object_keys::UPLOADS] {
        objects.extend(storage.photos.list(prefix).await.map_err(|e| format!("listing the bucket: {e}"))?);
    }

    let tracked: HashMap<&str, &UserLog> = logs.iter().filter(|l| !l.user_id.is_empty()).map(|l| (l.user_id.as_str(), l)).collect();
    let profiles: BTreeSet<&str> = items.iter().filter(|it| attr(it, "sk") == Some("PROFILE")).filter_map(partition_user).collect();
    let untracked_profiles: Vec<String> = profiles.iter().filter(|u| !tracked.contains_key(**u)).map(std::string::ToString::to_string).collect();
    let remaining: BTreeSet<&str> =
        tracked.values().filter(|l| !l.deleted_account()).map(|l| l.user_id.as_str()).chain(untracked_profiles.iter().map(String::as_str)).collect();

    let mut accounts = BTreeMap::new();
    for user_id in remaining {
        let store = &storage.store;
        let invariant = store.check_balance_invariant(user_id).await.map_err(|e| format!("balance of {user_id}: {e}"))?;
        let ledger = store.ledger_entries(user_id).await.map_err(|e| format!("ledger of {user_id}: {e}"))?;
        let owed = store.profile_record(user_id).await.map_err(|e| format!("profile of {user_id}: {e}"))?.map_or(0, |p| p.owed);
        let mut ids: BTreeSet<String> = ledger.iter().filter(|e| e.reason.starts_with("job_")).filter_map(|e| e.reference.clone()).collect();
        ids.extend(stored_jobs.iter().filter(|j| j.user_id == user_id).map(|j| j.job_id.clone()));
        if let Some(log) = tracked.get(user_id) {
            ids.extend(log.jobs.iter().map(|j| j.job_id.clone()));
        }
        let mut jobs = BTreeMap::new();
        for id in ids {
            let record = store.job(user_id, &id).await.map_err(|e| format!("job {id}: {e}"))?;
            jobs.insert(id, record);
        }
        accounts.insert(user_id.to_string(), Account { invariant, ledger, owed, jobs });
    }
    let hash_key = storage.hash_key.clone();
    Ok(Facts { items, stored_jobs, objects, accounts, untracked_profiles, purchases, hash_key })
}

/// Percentile `p` (0..=1) of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    sorted.get(((sorted.len() - 1) as f64 * p).round() as usize).copied()
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(51));
        assert_eq!(percentile(&v, 0.95), Some(95));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
