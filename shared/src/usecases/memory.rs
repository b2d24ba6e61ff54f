//! In-memory implementations of the ports, for the use cases' unit tests:
//! one mutex-guarded store with the DynamoDB adapter's conditional
//! semantics, a bucket, a queue, a scripted image provider and purchase
//! history, and the faults the tests inject (a write refused once, a write
//! applied whose answer is lost, a provider that never answers).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use crate::credits::balance::CreditState;
use crate::credits::history::{HistoryError, StorePurchase};
use crate::credits::ledger::{InvariantViolation, LedgerEntry, LedgerReason, Posting};
use crate::credits::purchases::{EventRef, Grant, GrantOutcome, Holder, RevokeOutcome, TransferOutcome};
use crate::error::StoreError;
use crate::jobs::{Claim, DueJob, Job, JobError, JobStatus};
use crate::messages::GenerationMessage;
use crate::object_keys::UserObjects;
use crate::photo_clean::Rewriter;
use crate::ports::{DeletionStore, ImageProvider, LedgerStore, PhotoStore, PipelineStore, PurchaseHistory, PurchaseStore, Queue};
use crate::provider::{ProviderError, TaskRequest, TaskState};
use crate::storage::{ObjectPrefix, PresignedPut};
use crate::styles::{DEFAULT_STYLE, StyleChoice};
use crate::time::rfc3339;

use super::generation::{Pipeline, PipelineSettings};

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
struct State {
    profiles: BTreeMap<String, Profile>,
    sessions: HashSet<(String, String)>,
    jobs: BTreeMap<(String, String), StoredJob>,
    ledger: HashMap<String, Vec<LedgerEntry>>,
    purchases: HashMap<String, PurchaseRecord>,
    events: HashMap<String, String>,
    unknown_user_events: HashSet<(String, String)>,
    deletion_log: Vec<String>,
    faults: HashMap<&'static str, Fault>,
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
    state: Mutex<State>,
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

impl PipelineStore for MemoryStore {
    async fn job(&self, user_id: &str, job_id: &str) -> Result<Option<Job>, StoreError> {
        let st = self.state.lock().unwrap();
        Ok(st.jobs.get(&(user_id.into(), job_id.into())).map(|s| s.job.clone()).filter(|j| !j.is_expired(crate::time::now())))
    }

    async fn job_by_id(&self, job_id: &str) -> Result<Option<Job>, StoreError> {
        let st = self.state.lock().unwrap();
        Ok(st.jobs.values().map(|s| &s.job).find(|j| j.job_id == job_id && !j.is_expired(crate::time::now())).cloned())
    }

    async fn claim_job(&self, job: &Job, claim: &str, callback_hash: &str, now: i64, lease_until: i64, watch_at: i64) -> Result<Claim, StoreError> {
        self.write("claim_job", |st| {
            if st.live_profile(&job.user_id).is_none() {
                return Claim::AccountGone;
            }
            let Some(s) = st.job(job) else { return Claim::Refused };
            let j = &s.job;
            let reclaim =
                j.status == JobStatus::Processing && j.claim.as_deref() == Some(claim) && j.task_id.is_none() && s.lease_until.is_none_or(|l| l <= now);
            if j.status != JobStatus::Queued && !reclaim {
                return Claim::Refused;
            }
            s.job.status = JobStatus::Processing;
            s.job.claim = Some(claim.into());
            s.job.callback_hash = Some(callback_hash.into());
            s.job.updated_at = now;
            s.job.watch_at = Some(watch_at);
            s.lease_until = Some(lease_until);
            Claim::Claimed
        })
    }

    async fn release_lease(&self, job: &Job, claim: &str) -> Result<bool, StoreError> {
        self.write("release_lease", |st| match st.job(job) {
            Some(s) if s.job.status == JobStatus::Processing && s.job.claim.as_deref() == Some(claim) && s.job.task_id.is_none() => {
                s.lease_until = Some(0);
                true
            }
            _ => false,
        })
    }

    async fn pass_claim(&self, job: &Job, from: &str, to: &str, watch_at: i64) -> Result<bool, StoreError> {
        self.write("pass_claim", |st| {
            if st.live_profile(&job.user_id).is_none() {
                return false;
            }
            match st.job(job) {
                Some(s) if s.job.status == JobStatus::Processing && s.job.claim.as_deref() == Some(from) && s.job.task_id.is_none() => {
                    s.job.claim = Some(to.into());
                    s.job.watch_at = Some(watch_at);
                    s.lease_until = Some(0);
                    true
                }
                _ => false,
            }
        })
    }

    async fn store_task_id(&self, job: &Job, claim: &str, task_id: &str, now: i64, watch_at: i64) -> Result<bool, StoreError> {
        self.write("store_task_id", |st| {
            if st.live_profile(&job.user_id).is_none() {
                return false;
            }
            match st.job(job) {
                Some(s) if s.job.status == JobStatus::Processing && s.job.claim.as_deref() == Some(claim) && s.job.task_id.is_none() => {
                    s.job.task_id = Some(task_id.into());
                    s.job.updated_at = now;
                    s.job.poll_seq = 0;
                    s.job.watch_at = Some(watch_at);
                    true
                }
                _ => false,
            }
        })
    }

    async fn advance_poll(&self, job: &Job, seq: u32, watch_at: i64) -> Result<bool, StoreError> {
        self.write("advance_poll", |st| match st.job(job) {
            Some(s) if s.job.status == JobStatus::Processing && s.job.poll_seq == seq => {
                s.job.poll_seq = seq + 1;
                s.job.watch_at = Some(watch_at);
                true
            }
            _ => false,
        })
    }

    async fn renew_watch(&self, job: &Job, watch_at: i64) -> Result<bool, StoreError> {
        self.write("renew_watch", |st| match st.job(job) {
            Some(s) if s.job.status == JobStatus::Queued && s.job.watch_at.is_none_or(|w| w == job.watch_at.unwrap_or_default()) => {
                s.job.watch_at = Some(watch_at);
                true
            }
            _ => false,
        })
    }

    async fn complete_success(&self, job: &Job, result_key: &str, now: i64) -> Result<bool, StoreError> {
        self.write("complete_success", |st| {
            let processing = st.job(job).is_some_and(|s| s.job.status == JobStatus::Processing);
            let Some(profile) = st.live_profile(&job.user_id).filter(|_| processing) else { return false };
            profile.active_jobs -= 1;
            let s = st.job(job).expect("checked above");
            s.job.status = JobStatus::Succeeded;
            s.job.result_key = Some(result_key.into());
            s.job.updated_at = now;
            s.job.completed_at = Some(now);
            true
        })
    }

    async fn fail_and_refund(&self, job: &Job, error: &JobError, now: i64) -> Result<bool, StoreError> {
        self.write("fail_and_refund", |st| {
            if !st.job(job).is_some_and(|s| s.job.status.is_active()) || !st.post(&Posting::refund(&job.user_id, &job.job_id, job.credits_charged, now)) {
                return false;
            }
            let s = st.job(job).expect("checked above");
            s.job.status = JobStatus::Failed;
            s.job.refunded = true;
            s.job.error = Some(error.clone());
            s.job.updated_at = now;
            s.job.completed_at = Some(now);
            true
        })
    }

    async fn due_jobs(&self, now: i64, limit: usize) -> Result<Vec<DueJob>, StoreError> {
        let st = self.state.lock().unwrap();
        let mut due: Vec<&Job> = st.jobs.values().map(|s| &s.job).filter(|j| j.status.is_active() && j.attention_at() <= now).collect();
        due.sort_by_key(|j| (j.attention_at(), j.user_id.clone(), j.job_id.clone()));
        Ok(due.into_iter().take(limit).map(|j| DueJob { user_id: j.user_id.clone(), job_id: j.job_id.clone() }).collect())
    }
}

impl LedgerStore for MemoryStore {
    async fn post(&self, posting: &Posting<'_>) -> Result<bool, StoreError> {
        self.write("post", |st| st.post(posting))
    }

    async fn ledger_entries(&self, user_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(self.state.lock().unwrap().ledger.get(user_id).cloned().unwrap_or_default())
    }

    async fn check_balance_invariant(&self, user_id: &str) -> Result<Result<i64, InvariantViolation>, StoreError> {
        let st = self.state.lock().unwrap();
        let balance = st.profiles.get(user_id).map_or(0, |p| p.state.credits);
        let ledger_sum = st.ledger.get(user_id).map_or(0, |rows| rows.iter().map(|e| e.amount).sum());
        Ok(if balance == ledger_sum && balance >= 0 { Ok(balance) } else { Err(InvariantViolation { user_id: user_id.into(), balance, ledger_sum }) })
    }
}

impl PurchaseStore for MemoryStore {
    async fn credit_holder(&self, user_id: &str) -> Result<Option<Holder>, StoreError> {
        let mut st = self.state.lock().unwrap();
        Ok(st.live_profile(user_id).map(|p| Holder { state: p.state, purchases: p.purchases.clone() }))
    }

    async fn grant_purchase(&self, g: &Grant<'_>) -> Result<GrantOutcome, StoreError> {
        self.write("grant_purchase", |st| {
            let Some(state) = st.live_profile(g.user_id).map(|p| p.state) else { return GrantOutcome::NoSuchUser };
            if g.event.is_some_and(|ev| st.events.contains_key(ev.id)) {
                return GrantOutcome::DuplicateEvent;
            }
            if st.purchases.contains_key(g.txn_hash) {
                return GrantOutcome::AlreadyKnown;
            }
            if let Some(ev) = g.event {
                st.events.insert(ev.id.into(), "granted".into());
            }
            let record = PurchaseRecord { owner: Some(g.user_id.into()), product_id: g.product_id.into(), credits: g.credits, state: "granted" };
            st.purchases.insert(g.txn_hash.into(), record);
            let change = state.grant(g.credits);
            let profile = st.live_profile(g.user_id).expect("read above");
            profile.state = change.next;
            profile.purchases.push(g.txn_hash.into());
            st.entry(g.user_id, g.credits, LedgerReason::Purchase, Some(g.txn_hash), g.now);
            if change.taken > 0 {
                st.entry(g.user_id, -change.taken, LedgerReason::DebtPaid, Some(g.txn_hash), g.now);
            }
            GrantOutcome::Granted { net: change.delta() }
        })
    }

    async fn revoke_purchase(
        &self,
        event: EventRef<'_>,
        users: &[String],
        txn_hash: &str,
        product_id: &str,
        credits: i64,
        now: i64,
    ) -> Result<RevokeOutcome, StoreError> {
        self.write("revoke_purchase", |st| {
            let stored = st.purchases.get(txn_hash).map(|p| (p.state, p.owner.clone(), p.credits));
            let outcome = match stored {
                None => {
                    let Some(user) = users.iter().find(|u| st.live_profile(u).is_some()).cloned() else { return RevokeOutcome::NoSuchUser };
                    if st.events.contains_key(event.id) {
                        return RevokeOutcome::DuplicateEvent;
                    }
                    let record = PurchaseRecord { owner: Some(user.clone()), product_id: product_id.into(), credits, state: "revoked" };
                    st.purchases.insert(txn_hash.into(), record);
                    st.live_profile(&user).expect("found above").purchases.push(txn_hash.into());
                    RevokeOutcome::MarkedRevoked
                }
                Some(("revoked", ..)) => return RevokeOutcome::AlreadyRevoked,
                Some((_, None, _)) => return RevokeOutcome::NoSuchUser, // erased with its owner
                Some((_, Some(owner), amount)) => {
                    let Some(profile) = st.live_profile(&owner) else { return RevokeOutcome::NoSuchUser };
                    let change = profile.state.revoke(amount);
                    if st.events.contains_key(event.id) {
                        return RevokeOutcome::DuplicateEvent;
                    }
                    st.live_profile(&owner).expect("read above").state = change.next;
                    st.purchases.get_mut(txn_hash).expect("read above").state = "revoked";
                    if change.taken > 0 {
                        st.entry(&owner, -change.taken, LedgerReason::PurchaseRefund, Some(txn_hash), now);
                    }
                    RevokeOutcome::Revoked { taken: change.taken, owed: change.next.owed }
                }
            };
            st.events.insert(event.id.into(), "revoked".into());
            outcome
        })
    }

    async fn transfer_purchases(&self, event: EventRef<'_>, from: &[String], to: &str, now: i64) -> Result<TransferOutcome, StoreError> {
        self.write("transfer_purchases", |st| {
            if st.events.contains_key(event.id) {
                return TransferOutcome::DuplicateEvent;
            }
            if st.live_profile(to).is_none() {
                return TransferOutcome::NoSuchUser;
            }
            let mut total = 0;
            for source in from {
                let Some(src) = st.live_profile(source) else { continue };
                let change = src.state.transfer_out();
                src.state = change.next;
                let hashes = std::mem::take(&mut src.purchases);
                for h in &hashes {
                    st.purchases.get_mut(h).expect("listed on the profile").owner = Some(to.into());
                }
                let receiver = st.live_profile(to).expect("checked above");
                receiver.state.credits += change.taken;
                receiver.state.purchased += change.taken;
                receiver.purchases.extend(hashes);
                if change.taken > 0 {
                    st.entry(source, -change.taken, LedgerReason::TransferOut, None, now);
                    st.entry(to, change.taken, LedgerReason::TransferIn, None, now);
                }
                total += change.taken;
            }
            st.events.insert(event.id.into(), "transferred".into());
            TransferOutcome::Moved(total)
        })
    }

    async fn record_event(&self, event: EventRef<'_>, outcome: &str, _now: i64) -> Result<bool, StoreError> {
        self.write("record_event", |st| {
            if st.events.contains_key(event.id) {
                return false;
            }
            st.events.insert(event.id.into(), outcome.into());
            true
        })
    }

    async fn record_unknown_user_event(&self, user_hash: &str, event: EventRef<'_>, _product_id: Option<&str>, _now: i64) -> Result<(), StoreError> {
        self.write("record_unknown_user_event", |st| {
            st.unknown_user_events.insert((user_hash.into(), event.id.into()));
        })
    }

    async fn purchases_of(&self, user_id: &str) -> Result<Vec<(String, i64, String)>, StoreError> {
        let st = self.state.lock().unwrap();
        let hashes = st.profiles.get(user_id).map(|p| p.purchases.clone()).unwrap_or_default();
        Ok(hashes.iter().filter_map(|h| st.purchases.get(h)).map(|p| (p.product_id.clone(), p.credits, p.state.to_string())).collect())
    }
}

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
            let before = st.sessions.len() + st.jobs.len();
            st.sessions.retain(|(u, _)| u != user_id);
            st.jobs.retain(|(u, _), _| u != user_id);
            let ledger = st.ledger.remove(user_id).map_or(0, |rows| rows.len());
            before - st.sessions.len() - st.jobs.len() + ledger
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

/// The bucket, in memory.
#[derive(Debug, Default)]
pub(crate) struct MemoryPhotos {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl PhotoStore for MemoryPhotos {
    async fn presign_put(&self, key: &str, content_type: &str, length: u64, _ttl: Duration) -> Result<PresignedPut, StoreError> {
        let headers = vec![("content-type".into(), content_type.into()), ("content-length".into(), length.to_string())];
        Ok(PresignedPut { url: format!("memory://{key}"), headers })
    }

    async fn presign_get(&self, key: &str, _ttl: Duration) -> Result<String, StoreError> {
        Ok(format!("memory://{key}"))
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Option<ObjectPrefix>, StoreError> {
        Ok(self.objects.lock().unwrap().get(key).map(|b| {
            let from = (start as usize).min(b.len());
            let to = from.saturating_add(len as usize).min(b.len());
            ObjectPrefix { bytes: b[from..to].to_vec(), total_size: b.len() as u64 }
        }))
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.objects.lock().unwrap().get(key).cloned())
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        self.objects.lock().unwrap().insert(key.into(), bytes);
        Ok(())
    }

    async fn copy(&self, from: &str, to: &str) -> Result<bool, StoreError> {
        let mut objects = self.objects.lock().unwrap();
        let Some(bytes) = objects.get(from).cloned() else { return Ok(false) };
        objects.insert(to.into(), bytes);
        Ok(true)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.objects.lock().unwrap().keys().filter(|k| k.starts_with(prefix)).cloned().collect())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let mut objects = self.objects.lock().unwrap();
        let before = objects.len();
        objects.retain(|k, _| !k.starts_with(prefix));
        Ok(before - objects.len())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut objects = self.objects.lock().unwrap();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }
}

/// A queue that keeps what was sent, with its delay.
#[derive(Debug)]
pub(crate) struct MemoryQueue<M> {
    sent: Mutex<Vec<(M, u32)>>,
}

impl<M> Default for MemoryQueue<M> {
    fn default() -> Self {
        MemoryQueue { sent: Mutex::new(Vec::new()) }
    }
}

impl<M> MemoryQueue<M> {
    /// Everything sent since the last call, oldest first, with its delay.
    pub(crate) fn take(&self) -> Vec<(M, u32)> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

impl<M: Clone + Send + Sync> Queue<M> for MemoryQueue<M> {
    async fn send(&self, message: &M, delay_secs: u32) -> Result<(), StoreError> {
        self.sent.lock().unwrap().push((message.clone(), delay_secs));
        Ok(())
    }
}

/// One scripted answer: `None` never comes (a hung provider).
type Answer<T> = Option<Result<T, ProviderError>>;

/// The image provider, answering what the test scripted; an unscripted call
/// fails the test.
#[derive(Debug, Default)]
pub(crate) struct FakeProvider {
    creates: Mutex<VecDeque<Answer<String>>>,
    states: Mutex<HashMap<String, VecDeque<Answer<TaskState>>>>,
    downloads: Mutex<HashMap<String, Answer<Vec<u8>>>>,
    asked: Mutex<Vec<TaskRequest>>,
}

impl FakeProvider {
    /// The next `createTask` answers `answer`.
    pub(crate) fn create_answers(&self, answer: Result<&str, ProviderError>) {
        self.creates.lock().unwrap().push_back(Some(answer.map(Into::into)));
    }

    /// The next `createTask` never answers.
    pub(crate) fn create_hangs(&self) {
        self.creates.lock().unwrap().push_back(None);
    }

    /// The next look at `task` answers `answer`.
    pub(crate) fn state_answers(&self, task: &str, answer: Result<TaskState, ProviderError>) {
        self.states.lock().unwrap().entry(task.into()).or_default().push_back(Some(answer));
    }

    /// The next look at `task` never answers.
    pub(crate) fn state_hangs(&self, task: &str) {
        self.states.lock().unwrap().entry(task.into()).or_default().push_back(None);
    }

    /// Downloads of `url` give `bytes` (`None`: never answer).
    pub(crate) fn serves(&self, url: &str, bytes: Option<Vec<u8>>) {
        self.downloads.lock().unwrap().insert(url.into(), bytes.map(Ok));
    }

    /// The `createTask` calls made, in order.
    pub(crate) fn asked(&self) -> Vec<TaskRequest> {
        self.asked.lock().unwrap().clone()
    }
}

/// Gives a scripted answer, or never answers.
async fn give<T>(answer: Answer<T>) -> Result<T, ProviderError> {
    match answer {
        Some(answer) => answer,
        None => std::future::pending().await,
    }
}

impl ImageProvider for FakeProvider {
    fn cannot_reach(&self, _link: &str) -> bool {
        false
    }

    async fn upload_photo(&self, _bytes: Vec<u8>, file_name: &str) -> Result<String, ProviderError> {
        Ok(format!("memory://provider/{file_name}"))
    }

    async fn create_task(&self, task: &TaskRequest) -> Result<String, ProviderError> {
        self.asked.lock().unwrap().push(task.clone());
        let answer = self.creates.lock().unwrap().pop_front().expect("an unscripted createTask");
        give(answer).await
    }

    async fn task_state(&self, task_id: &str) -> Result<TaskState, ProviderError> {
        let answer = self.states.lock().unwrap().get_mut(task_id).and_then(VecDeque::pop_front);
        give(answer.unwrap_or_else(|| panic!("an unscripted look at task {task_id}"))).await
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, ProviderError> {
        let answer = self.downloads.lock().unwrap().get(url).cloned();
        give(answer.unwrap_or_else(|| panic!("an unscripted download of {url}"))).await
    }
}

/// RevenueCat's customer records, failing as often as told.
#[derive(Debug, Default)]
pub(crate) struct FakeHistory {
    outages: Mutex<u32>,
    deleted: Mutex<Vec<String>>,
}

impl FakeHistory {
    /// The next `times` calls answer `Unavailable`.
    pub(crate) fn fail_next(&self, times: u32) {
        *self.outages.lock().unwrap() = times;
    }

    /// The customers deleted, in order.
    pub(crate) fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }

    fn outage(&self) -> Result<(), HistoryError> {
        let mut left = self.outages.lock().unwrap();
        if *left == 0 {
            return Ok(());
        }
        *left -= 1;
        Err(HistoryError::Unavailable { retry_after_secs: None, reason: "503 (injected)".into() })
    }
}

impl PurchaseHistory for FakeHistory {
    async fn purchases(&self, _app_user_id: &str) -> Result<Vec<StorePurchase>, HistoryError> {
        self.outage().map(|()| Vec::new())
    }

    async fn delete_customer(&self, app_user_id: &str) -> Result<(), HistoryError> {
        self.outage()?;
        self.deleted.lock().unwrap().push(app_user_id.into());
        Ok(())
    }
}

// Fixtures shared by the use cases' tests.

/// The key the tests derive object prefixes and hashes with.
pub(crate) const HASH_KEY: &[u8] = b"a test key of at least thirty-two bytes";

/// The pipeline over the in-memory ports.
pub(crate) type TestPipeline = Pipeline<MemoryStore, MemoryPhotos, MemoryQueue<GenerationMessage>, FakeProvider>;

/// A pipeline with a short poll schedule, two `createTask` retries and a 60 s stall.
pub(crate) fn pipeline() -> TestPipeline {
    Pipeline {
        store: MemoryStore::default(),
        photos: MemoryPhotos::default(),
        queue: MemoryQueue::default(),
        provider: FakeProvider::default(),
        settings: PipelineSettings {
            public_api_url: "https://api.test".into(),
            poll_schedule: vec![3, 5],
            create_retries: 2,
            stall_seconds: 60,
            decode_concurrency: 1,
        },
        rewriter: Rewriter::new(1),
    }
}

/// A new user id, in the shape of ours.
pub(crate) fn user_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A small JPEG photo.
pub(crate) fn tiny_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16, 12, image::Rgb([180, 140, 120]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).unwrap();
    out
}

/// A queued job of `user_id` at `price`, created `now` (its start step due
/// within the 60 s stall, its deadline 780 s away), its photo under the
/// user's opaque prefix.
pub(crate) fn queued_job(user_id: &str, price: i64, now: i64) -> Job {
    let (attire, background, lighting, quality) = DEFAULT_STYLE;
    let upload_id = uuid::Uuid::now_v7().simple().to_string();
    Job {
        job_id: crate::jobs::new_job_id(),
        user_id: user_id.into(),
        status: JobStatus::Queued,
        style: StyleChoice { attire: attire.into(), background: background.into(), lighting: lighting.into(), quality: quality.into() },
        credits_charged: price,
        refunded: false,
        created_at: now,
        updated_at: now,
        completed_at: None,
        input_key: UserObjects::new(HASH_KEY, user_id).job_photo(&upload_id),
        upload_id,
        result_key: None,
        error: None,
        deadline_at: now + 780,
        task_id: None,
        callback_hash: None,
        claim: None,
        expires_at: None,
        watch_at: Some(now + 60),
        poll_seq: 0,
    }
}

/// A user with 3 credits and a queued job of 1 credit created `now`, its
/// photo stored; the job's start message.
pub(crate) async fn paid_job(p: &TestPipeline, now: i64) -> (Job, GenerationMessage) {
    let user = user_id();
    p.store.add_account(&user, 3);
    let job = queued_job(&user, 1, now);
    p.store.add_job(&job);
    p.photos.put(&job.input_key, tiny_jpeg(), "image/jpeg").await.unwrap();
    let start = GenerationMessage::start(&job.user_id, &job.job_id);
    (job, start)
}

/// The job as stored now.
pub(crate) async fn stored(p: &TestPipeline, job: &Job) -> Job {
    p.store.job(&job.user_id, &job.job_id).await.unwrap().expect("the job exists")
}

/// Checks balance = sum of the ledger, never below zero, through the port; the balance.
pub(crate) async fn balanced(store: &impl LedgerStore, user_id: &str) -> i64 {
    store.check_balance_invariant(user_id).await.unwrap().unwrap_or_else(|broken| panic!("{broken}"))
}
