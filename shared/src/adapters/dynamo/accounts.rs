//! `AccountStore` over DynamoDB: sign-up's one transaction, and the one read
//! that returns a profile only behind a live session.

use super::attrs::{get_n, get_s, item, n, s};
use super::ledger;
use super::schema::{profile_key, session_key};
use super::sessions::session_item;
use super::{DynamoStore, put_new};
use crate::accounts::{NewAccount, Profile, ProfileRecord};
use crate::credits::ledger::LedgerReason;
use crate::error::StoreError;
use crate::ports::AccountStore;

impl AccountStore for DynamoStore {
    async fn create_account(&self, account: &NewAccount) -> Result<(), StoreError> {
        let p = &account.profile;
        let mut profile = profile_key(&p.user_id);
        profile.extend(item([("entity", s("user")), ("user_id", s(p.user_id.as_str())), ("credits", n(p.credits)), ("created_at", s(p.created_at.as_str()))]));
        let mut writes = vec![put_new(&self.table, profile)?, put_new(&self.table, session_item(&account.session))?];
        if p.credits > 0 {
            let now = account.session.rotated_at;
            writes.push(ledger::entry_put(&self.table, &p.user_id, p.credits, LedgerReason::FreeCredits, None, now)?);
        }
        // Fresh random ids: a refusal would be a collision, never expected.
        self.transact(writes).await?.map_err(|_| StoreError::other("a new account's ids collided"))
    }

    async fn profile_with_live_session(&self, user_id: &str, session_id: &str, now: i64) -> Result<Option<Profile>, StoreError> {
        let (profile, session) = self.get_pair(profile_key(user_id), session_key(user_id, session_id)).await?;
        let (Some(profile), Some(session)) = (profile, session) else { return Ok(None) };
        let (profile, session) = (&profile, &session);
        if get_n(session, "expires_at")? <= now {
            return Ok(None);
        }
        Ok(Some(Profile { user_id: get_s(profile, "user_id")?, credits: get_n(profile, "credits")?, created_at: get_s(profile, "created_at")? }))
    }

    /// The profile as stored, if any.
    async fn profile_record(&self, user_id: &str) -> Result<Option<ProfileRecord>, StoreError> {
        let Some(p) = self.get_consistent(profile_key(user_id)).await? else { return Ok(None) };
        Ok(Some(ProfileRecord {
            credits: get_n(&p, "credits")?,
            purchased: super::attrs::n_or_zero(&p, "purchased")?,
            owed: super::attrs::n_or_zero(&p, "owed")?,
            created_at: get_s(&p, "created_at")?,
            deleting: super::attrs::opt_s(&p, "deleting"),
        }))
    }
}
