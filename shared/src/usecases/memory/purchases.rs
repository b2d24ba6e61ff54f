//! [`LedgerStore`] and [`PurchaseStore`] in memory: grants once per
//! transaction and per event, revocations with debt, transfers.

use crate::credits::ledger::{InvariantViolation, LedgerEntry, LedgerReason, Posting};
use crate::credits::purchases::{EventRef, Grant, GrantOutcome, Holder, RevokeOutcome, TransferOutcome};
use crate::error::StoreError;
use crate::ports::{LedgerStore, PurchaseStore};

use super::*;

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

    async fn known_purchases(&self, txn_hashes: &[String]) -> Result<HashSet<String>, StoreError> {
        let st = self.state.lock().unwrap();
        Ok(txn_hashes.iter().filter(|h| st.purchases.contains_key(h.as_str())).cloned().collect())
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
