//! `show-user`: balance, ledger, jobs, purchases and data exports of one
//! user, as text.
//! No images and no links: an operator never needs to see a photo.

use shared::context::AppContext;
use shared::error::BoxError;
use shared::ports::{AccountStore, ExportStore, JobStore, LedgerStore, PurchaseStore};

/// The report for `user_id`.
pub async fn show_user(ctx: &AppContext, user_id: &str) -> Result<String, BoxError> {
    let store = &ctx.store;
    let Some(p) = store.profile_record(user_id).await? else {
        let left = shared::usecases::account_deletion::verify_gone(store, &ctx.photos, &ctx.secrets.ip_hash_key, user_id).await?;
        return Ok(if left.is_empty() {
            format!("no user {user_id}: nothing is stored under this id")
        } else {
            format!("no profile for {user_id}, but left: {left:?}")
        });
    };
    let mut out = format!(
        "user {user_id}\n  created {}\n  balance {} (purchased, unspent: {}; owed from refunds: {})\n",
        p.created_at,
        p.credits,
        p.purchased.min(p.credits),
        p.owed
    );
    if let Some(since) = &p.deleting {
        out.push_str(&format!("  DELETION REQUESTED at {since}: the erasure is queued or running\n"));
    }
    let ledger = store.ledger_entries(user_id).await?;
    out.push_str(&format!("ledger ({} entries, sum {}):\n", ledger.len(), ledger.iter().map(|e| e.amount).sum::<i64>()));
    for e in &ledger {
        out.push_str(&format!("  {}  {:+}  {}{}\n", e.created_at, e.amount, e.reason, e.reference.as_deref().map(|r| format!("  ({r})")).unwrap_or_default()));
    }
    let mut jobs = Vec::new();
    let mut after = None;
    loop {
        let (page, next) = store.list_jobs(user_id, 100, after.as_deref()).await?;
        jobs.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    out.push_str(&format!("jobs ({}):\n", jobs.len()));
    for j in &jobs {
        let error = j.error.as_ref().map(|e| format!(" {}", e.code)).unwrap_or_default();
        let refunded = if j.refunded { " refunded" } else { "" };
        // Which provider model ran the last task, and whether it was the second model.
        let model = match (&j.task_model, &j.fallback_model) {
            (Some(m), Some(_)) => format!("  model {m} (second model)"),
            (Some(m), None) => format!("  model {m}"),
            (None, Some(f)) => format!("  switching to {f}"),
            (None, None) => String::new(),
        };
        out.push_str(&format!(
            "  {}  {}{error}{refunded}  {} {} credit(s)  created {}{model}\n",
            j.job_id,
            j.status.as_str(),
            j.style.quality,
            j.credits_charged,
            shared::time::rfc3339(j.created_at)
        ));
    }
    let purchases = store.purchases_of(user_id).await?;
    out.push_str(&format!("purchases ({}):\n", purchases.len()));
    for (product, credits, state) in &purchases {
        out.push_str(&format!("  {product}  {credits} credits  {state}\n"));
    }
    let exports = store.exports_of(user_id).await?;
    out.push_str(&format!("exports ({}):\n", exports.len()));
    for e in &exports {
        let ready = e.ready_at.map(|at| format!("  ready {}", shared::time::rfc3339(at))).unwrap_or_default();
        out.push_str(&format!(
            "  {}  {}  created {}{ready}  deleted by {}\n",
            e.export_id,
            e.status.as_str(),
            shared::time::rfc3339(e.created_at),
            shared::time::rfc3339(e.delete_at)
        ));
    }
    Ok(out.trim_end().to_string())
}
