//! Checks 1 and 2: every job final in time, tasks on a second model only
//! for a job that switched to it, and every user's credits explained by its
//! jobs (one charge each, a refund exactly when the job failed, either for
//! a job its user deleted, never two).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use shared::jobs::{Job, JobStatus};

use super::Check;
use crate::config::Timing;
use crate::facts::Facts;
use crate::model::UserLog;

/// Final outcomes of the jobs the users created.
#[derive(Debug, Default)]
pub struct Outcomes {
    /// `succeeded`.
    pub succeeded: usize,
    /// `failed`, by error code.
    pub failed: BTreeMap<String, usize>,
    /// Deleted by their user (no record left).
    pub deleted: usize,
    /// Gone with their user's account.
    pub with_account: usize,
    /// Still active, or gone without a deletion (violations, see the checks).
    pub other: usize,
    /// Seconds from creation to a final state (`completed_at - created_at`), sorted.
    pub latencies: Vec<i64>,
    /// Jobs that switched to their quality's second model (`fallback_model`).
    pub switched: usize,
    /// Of those, the ones that succeeded on it.
    pub switched_succeeded: usize,
}

/// Counts the outcomes of the tracked jobs from their final records.
pub fn outcomes(facts: &Facts, logs: &[UserLog]) -> Outcomes {
    let mut out = Outcomes::default();
    for log in logs {
        for job in &log.jobs {
            if log.deleted_account() {
                out.with_account += 1;
                continue;
            }
            let record = facts.accounts.get(&log.user_id).and_then(|a| a.jobs.get(&job.job_id)).cloned().flatten();
            match record {
                Some(r) if r.status == JobStatus::Succeeded => out.succeeded += 1,
                Some(r) if r.status == JobStatus::Failed => {
                    *out.failed.entry(r.error.as_ref().map_or("unknown".into(), |e| e.code.clone())).or_default() += 1;
                }
                None if job.deleted.is_some() => out.deleted += 1,
                _ => out.other += 1,
            }
        }
    }
    for account in facts.accounts.values() {
        for r in account.jobs.values().flatten() {
            if let Some(done) = r.completed_at {
                out.latencies.push(done - r.created_at);
            }
            if r.fallback_model.is_some() {
                out.switched += 1;
                out.switched_succeeded += usize::from(r.status == JobStatus::Succeeded);
            }
        }
    }
    out.latencies.sort_unstable();
    out
}

/// Whether the provider stalled the job's task: a task for it never reached
/// a final state (or none was ever created because the provider kept refusing).
fn provider_stalled(job_id: &str, kie_tasks: &[Value]) -> bool {
    let tasks = tasks_of(job_id, kie_tasks);
    !tasks.is_empty() && tasks.iter().all(|t| !matches!(t["state"].as_str(), Some("success" | "fail")))
}

/// Check 1: every job final; none finished later than its deadline plus the
/// reaper's period and item budget; none `timed_out` unless the provider stalled it.
pub fn check_final(facts: &Facts, unfinished: &[String], timing: Timing, kie_tasks: &[Value]) -> Vec<Check> {
    let now = chrono::Utc::now().timestamp();
    let mut active = Check::new("1 every job final (succeeded or failed)");
    for job in facts.stored_jobs.iter().filter(|j| j.status.is_active()) {
        active.fail(format!("{}: still {} ({} s past its deadline)", job.job_id, job.status.as_str(), now - job.deadline_at));
    }
    let stored: HashSet<&str> = facts.stored_jobs.iter().map(|j| j.job_id.as_str()).collect();
    for id in unfinished.iter().filter(|id| !stored.contains(id.as_str())) {
        active.fail(format!("{id}: never shown final by GET /v1/jobs/{{id}}"));
    }
    let slack = timing.completion_slack();
    let mut late = Check::new(format!("1 finished by deadline + {slack} s (reaper period + item budget)"));
    for job in &facts.stored_jobs {
        if let Some(done) = job.completed_at.filter(|d| *d > job.deadline_at + slack) {
            late.fail(format!("{}: {} {} s past its deadline", job.job_id, job.status.as_str(), done - job.deadline_at));
        }
    }
    let mut timed_out = Check::new("1 no job timed_out (unless the provider stalled it)").with_note("none stalls at the default rates: every timed_out counts");
    let mut stalled = 0;
    for job in facts.stored_jobs.iter().filter(|j| j.error.as_ref().is_some_and(|e| e.code == "timed_out")) {
        if provider_stalled(&job.job_id, kie_tasks) {
            stalled += 1;
        } else {
            let tasks = kie_tasks.iter().filter(|t| t["callback_url"].as_str().is_some_and(|u| u.contains(job.job_id.as_str()))).count();
            timed_out.fail(format!("{}: timed_out; {tasks} KIE task(s), task_id {:?}", job.job_id, job.task_id));
        }
    }
    if stalled > 0 {
        timed_out.note = Some(format!("{stalled} timed_out job(s) stalled at the provider (allowed)"));
    }
    vec![active, late, timed_out]
}

/// The KIE tasks made for `job_id` (its callback URL names it), oldest first.
fn tasks_of<'a>(job_id: &str, kie_tasks: &'a [Value]) -> Vec<&'a Value> {
    kie_tasks.iter().filter(|t| t["callback_url"].as_str().is_some_and(|u| u.contains(job_id))).collect()
}

/// Check 1: a job's tasks are on its first model, or on the second model
/// its record says it switched to (once, to another model); a succeeded
/// job's record names the model of the task that made its result.
pub fn check_models(facts: &Facts, kie_tasks: &[Value]) -> Check {
    let mut check = Check::new("1 a second model only after a switch; the record names the result's model");
    for job in &facts.stored_jobs {
        let tasks = tasks_of(&job.job_id, kie_tasks);
        let model = |t: &Value| t["model"].as_str().unwrap_or_default().to_string();
        let Some(first) = tasks.first().map(|t| model(t)) else { continue };
        if job.fallback_model.as_deref() == Some(first.as_str()) {
            check.fail(format!("{}: switched to {first}, the model it started on", job.job_id));
        }
        for other in tasks.iter().map(|t| model(t)).filter(|m| *m != first) {
            if job.fallback_model.as_deref() != Some(other.as_str()) {
                check.fail(format!("{}: a task on {other} (started on {first}), recorded second model {:?}", job.job_id, job.fallback_model));
            }
        }
        if job.status == JobStatus::Succeeded {
            let made = tasks.iter().find(|t| t["task_id"].as_str() == job.task_id.as_deref()).map(|t| model(t));
            if made.is_none() || made != job.task_model {
                check.fail(format!("{}: its result's task used {made:?}, the record says {:?}", job.job_id, job.task_model));
            }
        }
    }
    let switched = facts.stored_jobs.iter().filter(|j| j.fallback_model.is_some()).count();
    check.with_note(format!("{switched} job(s) switched"))
}

/// What the ledger says of one job.
#[derive(Default)]
struct JobRows {
    charges: Vec<i64>,
    refunds: Vec<i64>,
}

/// Check 2: per remaining user, the balance invariant and the jobs' credits.
pub fn check_credits(facts: &Facts, logs: &[UserLog]) -> Vec<Check> {
    let tracked: HashMap<&str, &UserLog> = logs.iter().map(|l| (l.user_id.as_str(), l)).collect();
    let mut invariant = Check::new("2 balance = sum of ledger, never negative");
    let mut charges = Check::new("2 one job_charge (= -price) per job, at most one refund");
    let mut outcomes = Check::new("2 refund iff failed (deleted: either)");
    let mut totals = Check::new("2 charged - refunded = succeeded + unrefunded deleted");
    for (user_id, account) in &facts.accounts {
        if let Err(v) = &account.invariant {
            invariant.fail(format!("{user_id}: {v}"));
        }
        let mut rows: BTreeMap<&str, JobRows> = BTreeMap::new();
        for e in &account.ledger {
            let Some(reference) = e.reference.as_deref() else { continue };
            match e.reason.as_str() {
                "job_charge" => rows.entry(reference).or_default().charges.push(e.amount),
                "job_refund" => rows.entry(reference).or_default().refunds.push(e.amount),
                _ => {}
            }
        }
        let log = tracked.get(user_id.as_str());
        let (mut spent, mut expected) = (0, 0);
        for (job_id, record) in &account.jobs {
            let tracked_job = log.and_then(|l| l.jobs.iter().find(|j| &j.job_id == job_id));
            let deleted = tracked_job.is_some_and(|j| j.deleted.is_some());
            let r = rows.remove(job_id.as_str()).unwrap_or_default();
            let price = record.as_ref().map(|j| j.credits_charged).or(tracked_job.map(|j| j.price)).or(r.charges.first().map(|c| -c)).unwrap_or(0);
            if r.charges.len() != 1 || r.charges[0] != -price {
                charges.fail(format!("{job_id}: job_charge rows {:?}, price {price}", r.charges));
            }
            if r.refunds.len() > 1 || r.refunds.iter().any(|a| *a != price) {
                charges.fail(format!("{job_id}: job_refund rows {:?}, price {price}", r.refunds));
            }
            let refunded = !r.refunds.is_empty();
            if record.as_ref().is_some_and(|j| j.status.is_active()) {
                // Reported by check 1; its credits are not settled yet.
                continue;
            }
            match record {
                Some(Job { status: JobStatus::Succeeded, refunded: flag, .. }) if refunded || *flag => {
                    outcomes.fail(format!("{job_id}: succeeded but refunded ({} rows, flag {flag})", r.refunds.len()));
                }
                Some(Job { status: JobStatus::Failed, refunded: flag, .. }) if !refunded || !*flag => {
                    outcomes.fail(format!("{job_id}: failed but {} refund row(s), flag {flag}", r.refunds.len()));
                }
                None if !deleted => {
                    let whose = if tracked_job.is_some() { "created by the soak" } else { "not known to the soak" };
                    outcomes.fail(format!("{job_id}: charged, no record left, never deleted by its user ({whose})"));
                }
                _ => {}
            }
            spent += -r.charges.iter().sum::<i64>() - r.refunds.iter().sum::<i64>();
            let succeeded = record.as_ref().is_some_and(|j| j.status == JobStatus::Succeeded);
            let deleted_unrefunded = record.is_none() && deleted && !refunded;
            if succeeded || deleted_unrefunded {
                expected += price;
            }
        }
        for (reference, r) in rows {
            charges.fail(format!("{reference}: ledger rows {:?}/{:?} for a job never seen", r.charges, r.refunds));
        }
        if spent != expected {
            totals.fail(format!("{user_id}: charged - refunded = {spent}, succeeded + unrefunded deleted = {expected}"));
        }
    }
    vec![invariant, charges, outcomes, totals]
}
