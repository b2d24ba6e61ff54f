//! What a purchase, a refund and a transfer ask of the store, and what each
//! came to: the vocabulary of the purchase use cases and their port.

use crate::credits::balance::CreditState;

/// A user who can receive credits: the profile exists and is not being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The credit fields as read.
    pub state: CreditState,
    /// The keyed hashes of the purchases the user owns.
    pub purchases: Vec<String>,
}

/// A purchase to grant.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// The webhook event, if a webhook (not a sync) grants it.
    pub event: Option<EventRef<'a>>,
    /// The buyer.
    pub user_id: &'a str,
    /// The keyed hash of the transaction id.
    pub txn_hash: &'a str,
    /// The product.
    pub product_id: &'a str,
    /// Its credits (from the product map).
    pub credits: i64,
    /// When (Unix seconds).
    pub now: i64,
}

/// The webhook event a write records.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    /// The event id.
    pub id: &'a str,
    /// The event type.
    pub kind: &'a str,
}

/// What a grant did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantOutcome {
    /// Granted: the balance grew by `net` (less than the credits when a debt was paid).
    Granted {
        /// The net increase of the balance.
        net: i64,
    },
    /// The transaction was granted or revoked before: nothing changed.
    AlreadyKnown,
    /// This event was handled before: nothing changed.
    DuplicateEvent,
    /// No such user (or one being deleted): nothing changed.
    NoSuchUser,
}

/// What a cancellation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// The granted purchase was revoked: `taken` left the balance, the rest is owed.
    Revoked {
        /// Credits taken from the balance.
        taken: i64,
        /// The owner's debt afterwards.
        owed: i64,
    },
    /// Not granted yet: marked revoked, so nothing will grant it.
    MarkedRevoked,
    /// Already revoked: nothing changed.
    AlreadyRevoked,
    /// This event was handled before: nothing changed.
    DuplicateEvent,
    /// Neither the purchase nor any named user is known.
    NoSuchUser,
}

/// What a transfer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutcome {
    /// Moved this many credits in total (possibly 0: nothing was left).
    Moved(i64),
    /// This event was handled before.
    DuplicateEvent,
    /// The receiving user does not exist (or is being deleted).
    NoSuchUser,
}
