//! In-memory implementations of the ports, for the use cases' unit tests:
//! one mutex-guarded store with the DynamoDB adapter's conditional
//! semantics, a bucket, a queue, a scripted image provider and purchase
//! history, and the faults the tests inject (a write refused once, a write
//! applied whose answer is lost, a provider that never answers).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use crate::credits::balance::CreditState;
use crate::credits::ledger::{LedgerEntry, LedgerReason, Posting};
use crate::error::StoreError;
use crate::jobs::Job;
use crate::time::rfc3339;

mod budget;
mod deletion;
mod exports;
mod fakes;
mod fixtures;
mod pipeline;
mod purchases;

pub(crate) use fakes::{FakeHistory, FakeProvider, MemoryPhotos, MemoryQueue};
pub(crate) use fixtures::*;

/// How an injected fault hits a store write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The write is not applied and answers `Unavailable` (throttled, a conflict).
    Refused,
    /// The write is applied, but its answer is lost: `Unavailable` all the same.
    LostAnswer,
}

/// The store's writes a fault can be put on.
const WRITES: &[&str] = &[
    "claim_job",
    "release_lease",
    "pass_claim",
    "store_task_id",
    "switch_to_fallback",
    "advance_poll",
    "renew_watch",
    "complete_success",
    "fail_and_refund",
    "post",
    "grant_purchase",
    "revoke_purchase",
    "transfer_purchases",
    "record_event",
    "record_unknown_user_event",
    "begin_deletion",
    "tombstone_purchases",
    "erase_records",
    "finish_deletion",
    "create_export",
    "settle_export",
    "renew_export_watch",
    "delete_export_record",
];

#[derive(Debug)]
struct Profile {
    state: CreditState,
    active_jobs: i64,
    deleting: Option<i64>,
    purchases: Vec<String>,
}

#[derive(Debug)]
struct StoredJob {
    job: Job,
    lease_until: Option<i64>,
}

#[derive(Debug)]
struct PurchaseRecord {
    /// `None` once the owner's account was erased (a tombstone).
    owner: Option<String>,
    product_id: String,
    credits: i64,
    state: &'static str,
}

#[derive(Debug, Default)]
pub(super) struct State {
    profiles: BTreeMap<String, Profile>,
    sessions: HashSet<(String, String)>,
    jobs: BTreeMap<(String, String), StoredJob>,
    ledger: HashMap<String, Vec<LedgerEntry>>,
    purchases: HashMap<String, PurchaseRecord>,
    events: HashMap<String, String>,
    unknown_user_events: HashSet<(String, String)>,
    deletion_log: Vec<String>,
    faults: HashMap<&'static str, Fault>,
    /// When each provider task slot was taken.
    task_hits: Vec<i64>,
    /// Provider spend by UTC day.
    spend: HashMap<String, i64>,
    /// Data exports by (user, export).
    exports: BTreeMap<(String, String), crate::exports::Export>,
    /// When each user's last export was created.
    last_exports: HashMap<String, i64>,
}

impl State {
    /// The profile, if it exists and is not being deleted (the adapter's
    /// `attribute_exists(pk) AND attribute_not_exists(deleting)`).
    fn live_profile(&mut self, user_id: &str) -> Option<&mut Profile> {
        self.profiles.get_mut(user_id).filter(|p| p.deleting.is_none())
    }

    fn entry(&mut self, user_id: &str, amount: i64, reason: LedgerReason, reference: Option<&str>, now: i64) {
        let row = LedgerEntry { created_at: rfc3339(now), amount, reason: reason.as_str().into(), reference: reference.map(Into::into) };
        self.ledger.entry(user_id.into()).or_default().push(row);
    }

    /// A balance change and its ledger rows, paying a debt first, or nothing
    /// (`false`): the adapter's `posting` transaction.
    fn post(&mut self, p: &Posting<'_>) -> bool {
        let Some(profile) = self.live_profile(p.user_id) else { return false };
        let fits = profile.state.credits + p.amount.min(0) >= 0 && p.max_active_jobs.is_none_or(|max| profile.active_jobs < max);
        if !fits {
            return false;
        }
        let paid = if p.amount > 0 { profile.state.owed.min(p.amount) } else { 0 };
        profile.state.credits += p.amount - paid;
        profile.state.owed -= paid;
        profile.active_jobs += p.active_jobs_delta;
        self.entry(p.user_id, p.amount, p.reason, p.reference, p.now);
        if paid > 0 {
            self.entry(p.user_id, -paid, LedgerReason::DebtPaid, p.reference, p.now);
        }
        true
    }

    fn job(&mut self, job: &Job) -> Option<&mut StoredJob> {
        self.jobs.get_mut(&(job.user_id.clone(), job.job_id.clone()))
    }
}

/// The table, in memory: profiles, sessions, jobs, ledgers, purchases,
/// webhook events and the deletion log.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    pub(super) state: Mutex<State>,
}

impl MemoryStore {
    /// A new account holding `credits` free credits.
    pub(crate) fn add_account(&self, user_id: &str, credits: i64) {
        let mut st = self.state.lock().unwrap();
        let state = CreditState { credits, purchased: 0, owed: 0 };
        st.profiles.insert(user_id.into(), Profile { state, active_jobs: 0, deleting: None, purchases: Vec::new() });
        st.entry(user_id, credits, LedgerReason::FreeCredits, None, 0);
    }

    /// A session of the user.
    pub(crate) fn add_session(&self, user_id: &str, session_id: &str) {
        self.state.lock().unwrap().sessions.insert((user_id.into(), session_id.into()));
    }

    /// Stores `job` as create-job does: charged, holding a slot while active.
    pub(crate) fn add_job(&self, job: &Job) {
        let mut st = self.state.lock().unwrap();
        let charge = Posting::charge(&job.user_id, &job.job_id, job.credits_charged, crate::jobs::MAX_ACTIVE_JOBS, job.created_at);
        assert!(st.post(&charge), "the job's charge was refused");
        if !job.status.is_active() {
            st.profiles.get_mut(&job.user_id).expect("charged").active_jobs -= 1;
        }
        st.jobs.insert((job.user_id.clone(), job.job_id.clone()), StoredJob { job: job.clone(), lease_until: None });
    }

    /// The next call of the write `op` (a [`PipelineStore`], [`LedgerStore`],
    /// [`PurchaseStore`] or [`DeletionStore`] method) meets `fault`, once.
    pub(crate) fn fail_once(&self, op: &'static str, fault: Fault) {
        assert!(WRITES.contains(&op), "{op} is not a write of the memory store");
        self.state.lock().unwrap().faults.insert(op, fault);
    }

    /// Runs the write `op` under the lock, with its injected fault if any.
    fn write<T>(&self, op: &'static str, apply: impl FnOnce(&mut State) -> T) -> Result<T, StoreError> {
        let mut st = self.state.lock().unwrap();
        let fault = st.faults.remove(op);
        if fault == Some(Fault::Refused) {
            return Err(StoreError::Unavailable(format!("{op}: refused (injected)")));
        }
        let out = apply(&mut st);
        if fault == Some(Fault::LostAnswer) {
            return Err(StoreError::Unavailable(format!("{op}: applied, answer lost (injected)")));
        }
        Ok(out)
    }
}
