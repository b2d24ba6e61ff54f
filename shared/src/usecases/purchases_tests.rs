//! Unit tests of the purchase webhook's use case over the in-memory store:
//! each purchase granted once whatever is redelivered or lost, refunds that
//! leave a debt, transfers; the balance matches its ledger after each.

use serde_json::json;

use super::*;
use crate::credits::ledger::Posting;
use crate::credits::{DEFAULT_PRODUCTS, ProductCredits};
use crate::ports::LedgerStore;
use crate::usecases::memory::{Fault, HASH_KEY, MemoryStore, balanced, user_id};

const NOW: i64 = 1_800_000_000;

fn settings() -> CreditSettings {
    CreditSettings { products: ProductCredits::parse(DEFAULT_PRODUCTS).unwrap(), sandbox_grants: false, sync_limit_per_minute: 6 }
}

/// A production purchase (or its refund: `CANCELLATION`) as RevenueCat sends it.
fn event(id: &str, kind: &str, user: &str, transaction: &str, product: &str) -> Event {
    let body = json!({"api_version": "1.0", "event": {"id": id, "type": kind, "app_user_id": user,
        "product_id": product, "transaction_id": transaction, "environment": "PRODUCTION"}});
    Event::parse(&body).unwrap()
}

fn purchase(id: &str, user: &str, transaction: &str) -> Event {
    event(id, "NON_RENEWING_PURCHASE", user, transaction, "credits_10")
}

fn refund(id: &str, user: &str, transaction: &str) -> Event {
    event(id, "CANCELLATION", user, transaction, "credits_10")
}

/// What the webhook answers to `event`.
async fn deliver(store: &MemoryStore, event: &Event) -> Result<&'static str, StoreError> {
    Purchases { store, credits: &settings(), hash_key: HASH_KEY }.apply(event, NOW).await
}

async fn balance_and_debt(store: &MemoryStore, user: &str) -> (i64, i64) {
    let holder = store.credit_holder(user).await.unwrap().unwrap();
    (holder.state.credits, holder.state.owed)
}

#[tokio::test]
async fn a_purchase_is_granted_once_however_it_is_told() {
    let store = MemoryStore::default();
    let user = user_id();
    store.add_account(&user, 3);
    assert_eq!(deliver(&store, &purchase("e1", &user, "GPA.1")).await.unwrap(), "granted");
    assert_eq!(deliver(&store, &purchase("e1", &user, "GPA.1")).await.unwrap(), "duplicate", "the same event again");
    assert_eq!(deliver(&store, &purchase("e2", &user, "GPA.1")).await.unwrap(), "already_granted", "the same transaction, another event");
    let rows: Vec<_> = store.ledger_entries(&user).await.unwrap().into_iter().map(|e| (e.reason, e.amount)).collect();
    assert_eq!(rows, [("free_credits".to_string(), 3), ("purchase".to_string(), 10)]);
    assert_eq!(balanced(&store, &user).await, 13);
}

#[tokio::test]
async fn a_refund_after_spending_leaves_a_debt_that_the_next_purchase_pays() {
    let store = MemoryStore::default();
    let user = user_id();
    store.add_account(&user, 0);
    assert_eq!(deliver(&store, &purchase("e1", &user, "GPA.1")).await.unwrap(), "granted");
    assert!(store.post(&Posting::charge(&user, "job-1", 8, 3, NOW)).await.unwrap(), "8 of the 10 spent");

    assert_eq!(deliver(&store, &refund("e2", &user, "GPA.1")).await.unwrap(), "revoked_with_debt");
    assert_eq!(balance_and_debt(&store, &user).await, (0, 8), "the 2 left taken back, 8 owed");
    assert_eq!(deliver(&store, &refund("e2", &user, "GPA.1")).await.unwrap(), "duplicate");
    assert_eq!(deliver(&store, &refund("e3", &user, "GPA.1")).await.unwrap(), "already_revoked");
    assert_eq!(balance_and_debt(&store, &user).await, (0, 8));

    assert_eq!(deliver(&store, &purchase("e4", &user, "GPA.2")).await.unwrap(), "granted");
    assert_eq!(balance_and_debt(&store, &user).await, (2, 0), "the debt paid first");
    assert_eq!(balanced(&store, &user).await, 2);
}

#[tokio::test]
async fn a_grant_whose_answer_was_lost_is_not_granted_again_on_redelivery() {
    let store = MemoryStore::default();
    let user = user_id();
    store.add_account(&user, 3);
    store.fail_once("grant_purchase", Fault::LostAnswer);
    assert!(deliver(&store, &purchase("e1", &user, "GPA.1")).await.is_err(), "the webhook answers 5xx");
    assert_eq!(deliver(&store, &purchase("e1", &user, "GPA.1")).await.unwrap(), "duplicate", "RevenueCat delivers it again");
    assert_eq!(balanced(&store, &user).await, 13, "granted once");
}

#[tokio::test]
async fn a_grant_refused_by_an_outage_is_made_by_the_redelivery() {
    let store = MemoryStore::default();
    let user = user_id();
    store.add_account(&user, 3);
    store.fail_once("grant_purchase", Fault::Refused);
    assert!(deliver(&store, &purchase("e1", &user, "GPA.1")).await.is_err());
    assert_eq!(balanced(&store, &user).await, 3);
    assert_eq!(deliver(&store, &purchase("e1", &user, "GPA.1")).await.unwrap(), "granted");
    assert_eq!(balanced(&store, &user).await, 13);
}

#[tokio::test]
async fn a_refund_that_comes_before_its_purchase_stops_the_grant() {
    let store = MemoryStore::default();
    let user = user_id();
    store.add_account(&user, 3);
    assert_eq!(deliver(&store, &refund("e1", &user, "GPA.1")).await.unwrap(), "marked_revoked");
    assert_eq!(deliver(&store, &purchase("e2", &user, "GPA.1")).await.unwrap(), "already_granted");
    assert_eq!(balanced(&store, &user).await, 3);
}

#[tokio::test]
async fn a_purchase_for_a_user_we_do_not_have_grants_nothing_and_is_kept_once() {
    let store = MemoryStore::default();
    let stranger = user_id();
    assert_eq!(deliver(&store, &purchase("e1", &stranger, "GPA.1")).await.unwrap(), "unknown_user");
    assert_eq!(deliver(&store, &purchase("e1", &stranger, "GPA.1")).await.unwrap(), "duplicate");
    assert_eq!(balanced(&store, &stranger).await, 0);
}

#[tokio::test]
async fn a_transfer_moves_unspent_purchased_credits_once_and_a_later_refund_follows_them() {
    let store = MemoryStore::default();
    let (from, to) = (user_id(), user_id());
    store.add_account(&from, 3);
    store.add_account(&to, 3);
    assert_eq!(deliver(&store, &purchase("e1", &from, "GPA.1")).await.unwrap(), "granted");
    let transfer = Event::parse(&json!({"event": {"id": "e2", "type": "TRANSFER", "transferred_from": [from], "transferred_to": [to]}})).unwrap();
    assert_eq!(deliver(&store, &transfer).await.unwrap(), "transferred");
    assert_eq!(deliver(&store, &transfer).await.unwrap(), "duplicate");
    assert_eq!((balanced(&store, &from).await, balanced(&store, &to).await), (3, 13), "the free credits stay");
    assert_eq!(deliver(&store, &refund("e3", &from, "GPA.1")).await.unwrap(), "revoked");
    assert_eq!((balanced(&store, &from).await, balanced(&store, &to).await), (3, 3), "taken back from the new owner");
}
