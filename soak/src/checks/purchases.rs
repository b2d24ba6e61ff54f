//! Check 3: each purchase granted at most once (exactly once when it was
//! acknowledged and never refunded), each refund taken back at most once,
//! and every refunded credit accounted for (taken back, paid from a later
//! purchase, or still owed).

use std::collections::HashMap;

use shared::credits::transaction_hash;

use super::Check;
use crate::facts::Facts;
use crate::model::{PurchaseLog, UserLog};

/// The ledger rows that reference one purchase, across every remaining user.
#[derive(Default)]
struct PurchaseRows {
    grants: Vec<(String, i64)>,
    refunds: Vec<(String, i64)>,
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Runs check 3.
pub fn check(facts: &Facts, logs: &[UserLog]) -> Vec<Check> {
    let mut rows: HashMap<&str, PurchaseRows> = HashMap::new();
    for (user_id, account) in &facts.accounts {
        for e in &account.ledger {
            let Some(reference) = e.reference.as_deref() else { continue };
            match e.reason.as_str() {
                "purchase" => rows.entry(reference).or_default().grants.push((user_id.clone(), e.amount)),
                "purchase_refund" => rows.entry(reference).or_default().refunds.push((user_id.clone(), e.amount)),
                _ => {}
            }
        }
    }
    // The soak's purchases by keyed hash, so ledger rows name their transaction.
    let bought: HashMap<String, (&UserLog, &PurchaseLog)> =
        logs.iter().flat_map(|l| l.purchases.iter().map(move |p| (transaction_hash(&facts.hash_key, &p.transaction_id), (l, p)))).collect();
    let name = |hash: &str| bought.get(hash).map_or_else(|| format!("purchase {}…", short(hash)), |(_, p)| p.transaction_id.clone());

    let mut once = Check::new("3 each purchase granted at most once");
    let mut refunds_once = Check::new("3 each refund taken back at most once");
    for (hash, r) in &rows {
        if r.grants.len() > 1 {
            once.fail(format!("{}: {} purchase rows {:?}", name(hash), r.grants.len(), r.grants));
        }
        if r.refunds.len() > 1 || r.refunds.len() > r.grants.len() {
            refunds_once.fail(format!("{}: {} purchase_refund rows for {} grant(s)", name(hash), r.refunds.len(), r.grants.len()));
        }
    }

    // Acknowledged: a webhook delivery or a sync answered 200 after it was recorded.
    let mut exactly = Check::new("3 acknowledged, unrefunded purchases granted once");
    for (hash, (log, p)) in &bought {
        if log.deleted_account() || !facts.accounts.contains_key(&log.user_id) {
            continue;
        }
        let grants = rows.get(hash.as_str()).map_or(&[][..], |r| &r.grants[..]);
        let record = facts.purchases.get(hash);
        if !p.refunded && p.confirmed && (grants.len() != 1 || grants[0].1 != p.credits) {
            exactly.fail(format!(
                "{}: {} by {:?}, purchase rows {grants:?} (record {:?})",
                p.transaction_id,
                p.product_id,
                p.delivery,
                record.map(|r| &r.state)
            ));
        }
        if p.refunded && p.refund_acknowledged && record.is_some_and(|r| r.state != "revoked") {
            refunds_once.fail(format!("{}: refund acknowledged, purchase record {:?}", p.transaction_id, record.map(|r| &r.state)));
        }
        if let Some(r) = rows.get(hash.as_str()) {
            for (owner, amount) in &r.refunds {
                if -amount > p.credits || *amount > 0 {
                    refunds_once.fail(format!("{}: purchase_refund {amount} of {owner} for a pack of {}", p.transaction_id, p.credits));
                }
            }
        }
    }

    // Refunded credits: taken back, paid from a later purchase, or owed.
    let mut debts = Check::new("3 refunded = taken back + debt paid + owed");
    for (user_id, account) in &facts.accounts {
        let revoked: i64 = account
            .ledger
            .iter()
            .filter(|e| e.reason == "purchase")
            .filter_map(|e| facts.purchases.get(e.reference.as_deref()?))
            .filter(|r| r.state == "revoked")
            .map(|r| r.credits)
            .sum();
        let sum = |reason: &str| -> i64 { account.ledger.iter().filter(|e| e.reason == reason).map(|e| -e.amount).sum() };
        let (taken, paid) = (sum("purchase_refund"), sum("debt_paid"));
        if revoked != taken + paid + account.owed {
            debts.fail(format!("{user_id}: revoked {revoked}, taken back {taken}, debt paid {paid}, owed {}", account.owed));
        }
    }
    vec![once, exactly, refunds_once, debts]
}
