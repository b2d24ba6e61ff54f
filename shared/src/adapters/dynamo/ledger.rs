//! Ledger entries: every change of a balance is one entry, so the balance is
//! always the sum of the user's entries.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::attrs::{item, n, s};
use super::user_pk;
use crate::error::StoreError;
use crate::time::rfc3339;

/// Why a balance changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerReason {
    /// Credits every new account starts with (`FREE_CREDITS`).
    FreeCredits,
}

impl LedgerReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerReason::FreeCredits => "free_credits",
        }
    }
}

/// The `Put` of one ledger entry, to go in the same transaction as the
/// balance change it explains. Sort keys order entries by time.
pub fn entry_put(table: &str, user_id: &str, amount: i64, reason: LedgerReason, now: i64) -> Result<TransactWriteItem, StoreError> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item([
            ("pk", s(user_pk(user_id))),
            ("sk", s(format!("LEDGER#{now:012}#{id}"))),
            ("entity", s("ledger")),
            ("user_id", s(user_id)),
            ("amount", n(amount)),
            ("reason", s(reason.as_str())),
            ("created_at", s(rfc3339(now))),
        ])))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(StoreError::other)?;
    Ok(TransactWriteItem::builder().put(put).build())
}
