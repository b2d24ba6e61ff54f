//! Check 4: the bucket and the records agree (every object under
//! `users/<id>/` belongs to a record of that user, every job's photo exists
//! and every succeeded job's result), and every deleted account left nothing
//! (`verify_gone`, and no table item that mentions the user id).

use std::collections::{BTreeMap, HashSet};

use shared::jobs::JobStatus;

use super::Check;
use crate::facts::Facts;
use crate::model::UserLog;
use crate::storage::{ReadError, Storage};

/// What the soak knows of an object no record owns: the job it belonged to
/// and what happened to that job.
fn whose(logs: &[UserLog], user_id: &str, rest: &str) -> String {
    let Some(log) = logs.iter().find(|l| l.user_id == user_id) else { return String::new() };
    let job = match rest.split_once('/') {
        Some(("uploads", upload_id)) => match log.jobs.iter().find(|j| j.upload_id == upload_id) {
            Some(job) => job,
            None if log.uploads.iter().any(|u| u == upload_id) => return " (an upload no job was created on)".into(),
            None => return String::new(),
        },
        Some(("results", job_id)) => match log.jobs.iter().find(|j| j.job_id == job_id) {
            Some(job) => job,
            None => return String::new(),
        },
        _ => return String::new(),
    };
    let deleted = match (job.deleted, job.delete_answer) {
        (Some(why), Some((status, tries))) => format!("deleted by its user ({why:?}): DELETE answered {status} after {tries} tr{}", if tries == 1 { "y" } else { "ies" }),
        (Some(why), None) => format!("deleted by its user ({why:?})"),
        (None, _) => format!("not deleted, last seen {:?}", job.last_status),
    };
    format!(" (job {}: {deleted})", job.job_id)
}

/// Runs check 4.
pub async fn check(facts: &Facts, logs: &[UserLog], storage: &Storage) -> Result<Vec<Check>, ReadError> {
    let deleted: HashSet<&str> = logs.iter().filter(|l| l.deleted_account() && !l.user_id.is_empty()).map(|l| l.user_id.as_str()).collect();
    let mut belongs = Check::new("4 every object belongs to a record of its user");
    let mut exist = Check::new("4 every job's photo (and result) exists");
    let mut gone = Check::new("4 deleted accounts leave nothing");

    let mut by_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for key in &facts.objects {
        let user = key.strip_prefix("users/").and_then(|rest| rest.split('/').next()).unwrap_or_default();
        by_user.entry(user).or_default().push(key);
    }
    for (user_id, keys) in &by_user {
        if deleted.contains(user_id) {
            // Reported below, with what verify_gone finds.
            continue;
        }
        let Some(account) = facts.accounts.get(*user_id) else {
            belongs.fail(format!("{user_id}: {} object(s) of no known user, e.g. {}", keys.len(), keys[0]));
            continue;
        };
        let inputs: HashSet<&str> = facts.stored_jobs.iter().filter(|j| j.user_id == *user_id).map(|j| j.input_key.as_str()).collect();
        for key in keys {
            let rest = key.strip_prefix(&format!("users/{user_id}/")).unwrap_or_default();
            let owned = match rest.split_once('/') {
                Some(("uploads", upload_id)) => {
                    // A used upload's record stays with its job; an unused one
                    // stays until the sweep, which deletes the object first.
                    inputs.contains(key) || storage.store.upload_state(user_id, upload_id).await.map_err(|e| format!("upload {upload_id}: {e}"))?.is_some()
                }
                Some(("results", job_id)) => account.jobs.get(job_id).cloned().flatten().is_some_and(|j| j.result_key.as_deref() == Some(*key)),
                _ => false,
            };
            if !owned {
                belongs.fail(format!("{key}: no record of user {user_id} owns it{}", whose(logs, user_id, rest)));
            }
        }
    }
    for (user_id, account) in &facts.accounts {
        for job in account.jobs.values().flatten() {
            if !facts.objects.contains(&job.input_key) {
                exist.fail(format!("{}: {} job's photo {} is missing", job.job_id, job.status.as_str(), job.input_key));
            }
            if job.status == JobStatus::Succeeded {
                match &job.result_key {
                    Some(k) if facts.objects.contains(k) => {}
                    other => exist.fail(format!("{}: succeeded, result {other:?} missing (user {user_id})", job.job_id)),
                }
            }
        }
    }
    // Each item as text once: any attribute (not only the key) may name the user.
    let texts: Vec<String> = if deleted.is_empty() { Vec::new() } else { facts.items.iter().map(|it| format!("{it:?}")).collect() };
    for user_id in &deleted {
        let left = shared::account_deletion::verify_gone(&storage.store, &storage.photos, user_id).await.map_err(|e| format!("verify_gone {user_id}: {e}"))?;
        if !left.is_empty() {
            gone.fail(format!("{user_id}: verify_gone finds {} item(s) {:?}, {} purchase(s), {} object(s) {:?}", left.items.len(), left.items.iter().take(3).collect::<Vec<_>>(), left.purchases, left.objects.len(), left.objects.iter().take(2).collect::<Vec<_>>()));
        }
        let mentions: Vec<&String> = texts.iter().filter(|text| text.contains(user_id)).collect();
        if !mentions.is_empty() {
            let first: String = mentions[0].chars().take(200).collect();
            gone.fail(format!("{user_id}: {} table item(s) mention the id, e.g. {first}", mentions.len()));
        }
    }
    Ok(vec![belongs, exist, gone])
}
