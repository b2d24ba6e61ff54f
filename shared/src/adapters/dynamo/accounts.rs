//! `AccountStore` over DynamoDB: sign-up's one transaction, and the one read
//! that returns a profile only behind a live session.

use aws_sdk_dynamodb::types::{Get, Put, TransactGetItem, TransactWriteItem};

use super::attrs::{Item, get_n, get_s, item, n, s};
use super::ledger::{self, LedgerReason};
use super::sessions::{session_item, session_key};
use super::{DynamoStore, store_error, user_pk};
use crate::error::StoreError;
use crate::ports::{AccountStore, NewAccount, Profile};

pub(super) fn profile_key(user_id: &str) -> Item {
    item([("pk", s(user_pk(user_id))), ("sk", s("PROFILE"))])
}

impl AccountStore for DynamoStore {
    async fn create_account(&self, account: &NewAccount) -> Result<(), StoreError> {
        let p = &account.profile;
        let mut profile = profile_key(&p.user_id);
        profile.extend(item([
            ("entity", s("user")),
            ("user_id", s(p.user_id.as_str())),
            ("credits", n(p.credits)),
            ("created_at", s(p.created_at.as_str())),
        ]));
        let put = |it: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(it))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(StoreError::other)
        };
        let mut writes = vec![put(profile)?, put(session_item(&account.session))?];
        if p.credits > 0 {
            let now = account.session.rotated_at;
            writes.push(ledger::entry_put(&self.table, &p.user_id, p.credits, LedgerReason::FreeCredits, None, now)?);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn profile_with_live_session(&self, user_id: &str, session_id: &str, now: i64) -> Result<Option<Profile>, StoreError> {
        let get = |key: Item, projection: &str| {
            Get::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .projection_expression(projection)
                .build()
                .map(|g| TransactGetItem::builder().get(g).build())
                .map_err(StoreError::other)
        };
        let out = self
            .client
            .transact_get_items()
            .transact_items(get(profile_key(user_id), "user_id, credits, created_at")?)
            .transact_items(get(session_key(user_id, session_id), "expires_at")?)
            .send()
            .await
            .map_err(store_error)?;
        let responses = out.responses();
        let item_at = |i: usize| responses.get(i).and_then(|r| r.item()).filter(|it| !it.is_empty());
        let (Some(profile), Some(session)) = (item_at(0), item_at(1)) else { return Ok(None) };
        if get_n(session, "expires_at")? <= now {
            return Ok(None);
        }
        Ok(Some(Profile {
            user_id: get_s(profile, "user_id")?,
            credits: get_n(profile, "credits")?,
            created_at: get_s(profile, "created_at")?,
        }))
    }
}
