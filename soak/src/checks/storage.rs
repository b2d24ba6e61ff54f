//! Check 4: the bucket and the records agree (every object under a user's
//! storage prefixes, `uploads/<prefix>/` and `users/<prefix>/`, belongs to a
//! record of that user or to a deletion's trash: a job, an upload, a ready
//! data export's ZIP; every job's photo exists and every succeeded job's
//! result), and every deleted account left nothing (`verify_gone`, uploads
//! in progress and data exports included, and no table item that mentions
//! the user id).

use shared::ports::UploadStore;
use std::collections::{BTreeMap, HashSet};

use shared::jobs::JobStatus;
use shared::object_keys::UserObjects;

use super::Check;
use crate::facts::Facts;
use crate::model::UserLog;
use crate::storage::{ReadError, Storage};

/// What the soak knows of an object no record owns: the job it belonged to
/// and what happened to that job.
fn whose(logs: &[UserLog], user_id: &str, kind: &str, id: &str) -> String {
    let Some(log) = logs.iter().find(|l| l.user_id == user_id) else { return String::new() };
    let job = match kind {
        "uploads" | "photos" => match log.jobs.iter().find(|j| j.upload_id == id) {
            Some(job) => job,
            None if log.uploads.iter().any(|u| u == id) => return " (an upload no job was created on)".into(),
            None => return String::new(),
        },
        "results" => match log.jobs.iter().find(|j| j.job_id == id) {
            Some(job) => job,
            None => return String::new(),
        },
        _ => return String::new(),
    };
    let deleted = match (job.deleted, job.delete_answer) {
        (Some(why), Some((status, tries))) => {
            format!("deleted by its user ({why:?}): DELETE answered {status} after {tries} tr{}", if tries == 1 { "y" } else { "ies" })
        }
        (Some(why), None) => format!("deleted by its user ({why:?})"),
        (None, _) => format!("not deleted, last seen {:?}", job.last_status),
    };
    format!(" (job {}: {deleted})", job.job_id)
}

/// An object key as the layout (`shared::object_keys`) names it: the user's
/// storage prefix, what kind of object, and its id.
fn parse(key: &str) -> Option<(&str, &str, &str)> {
    if let Some(rest) = key.strip_prefix(shared::object_keys::UPLOADS) {
        let (prefix, upload_id) = rest.split_once('/')?;
        return Some((prefix, "uploads", upload_id));
    }
    let (prefix, rest) = key.strip_prefix("users/")?.split_once('/')?;
    let (kind, id) = rest.split_once('/')?;
    Some((prefix, kind, id))
}

/// Runs check 4.
pub async fn check(facts: &Facts, logs: &[UserLog], storage: &Storage) -> Result<Vec<Check>, ReadError> {
    let deleted: HashSet<&str> = logs.iter().filter(|l| l.deleted_account() && !l.user_id.is_empty()).map(|l| l.user_id.as_str()).collect();
    let mut belongs = Check::new("4 every object belongs to a record of its user");
    let mut exist = Check::new("4 every job's photo (and result) exists");
    let mut gone = Check::new("4 deleted accounts leave nothing");

    // Each user's opaque storage prefix, for every user the run knows of.
    let users = facts.accounts.keys().map(String::as_str).chain(deleted.iter().copied());
    let owner_of: BTreeMap<String, &str> = users.map(|u| (UserObjects::new(&facts.hash_key, u).prefix().to_string(), u)).collect();
    // Objects a deletion listed for removal and the sweep has not removed yet.
    let trashed: HashSet<String> = facts
        .items
        .iter()
        .filter(|it| it.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("trash"))
        .flat_map(|it| it.get("keys").and_then(|v| v.as_l().ok()).into_iter().flatten().filter_map(|k| k.as_s().ok().cloned()))
        .collect();

    // Data exports with a record: everything under an export's prefix goes with it
    // (the ZIP it names, and what a run whose last write failed left there).
    let exports: HashSet<&str> = facts
        .items
        .iter()
        .filter(|it| it.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("export"))
        .filter_map(|it| it.get("export_id").and_then(|v| v.as_s().ok()).map(String::as_str))
        .collect();

    let mut by_user: BTreeMap<&str, Vec<(&str, &str, &str)>> = BTreeMap::new();
    for key in &facts.objects {
        match parse(key).and_then(|(prefix, kind, id)| Some((*owner_of.get(prefix)?, kind, id))) {
            Some((user, kind, id)) => by_user.entry(user).or_default().push((key.as_str(), kind, id)),
            None => belongs.fail(format!("{key}: an object of no known user")),
        }
    }
    for (user_id, keys) in &by_user {
        if deleted.contains(user_id) {
            // Reported below, with what verify_gone finds.
            continue;
        }
        let Some(account) = facts.accounts.get(*user_id) else { continue };
        let inputs: HashSet<&str> = facts.stored_jobs.iter().filter(|j| j.user_id == *user_id).map(|j| j.input_key.as_str()).collect();
        for (key, kind, id) in keys {
            let owned = trashed.contains(*key)
                || match *kind {
                    // An upload's record stays while it is unused (until the sweep, which
                    // deletes the object first) and with its job once used.
                    "uploads" => storage.store.upload_state(user_id, id).await.map_err(|e| format!("upload {id}: {e}"))?.is_some(),
                    "photos" => inputs.contains(key),
                    "exports" => id.split('/').next().is_some_and(|export_id| exports.contains(export_id)),
                    "results" => account.jobs.get(*id).cloned().flatten().is_some_and(|j| j.result_key.as_deref() == Some(*key)),
                    _ => false,
                };
            if !owned {
                belongs.fail(format!("{key}: no record of user {user_id} owns it{}", whose(logs, user_id, kind, id)));
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
        let left = shared::usecases::account_deletion::verify_gone(&storage.store, &storage.photos, &storage.hash_key, user_id)
            .await
            .map_err(|e| format!("verify_gone {user_id}: {e}"))?;
        if !left.is_empty() {
            gone.fail(format!(
                "{user_id}: verify_gone finds {} item(s) {:?}, {} purchase(s), {} object(s) {:?}, {} upload(s) in progress",
                left.items.len(),
                left.items.iter().take(3).collect::<Vec<_>>(),
                left.purchases,
                left.objects.len(),
                left.objects.iter().take(2).collect::<Vec<_>>(),
                left.uploads.len()
            ));
        }
        let mentions: Vec<&String> = texts.iter().filter(|text| text.contains(user_id)).collect();
        if !mentions.is_empty() {
            let first: String = mentions[0].chars().take(200).collect();
            gone.fail(format!("{user_id}: {} table item(s) mention the id, e.g. {first}", mentions.len()));
        }
    }
    Ok(vec![belongs, exist, gone])
}
