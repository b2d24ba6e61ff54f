//! Check 5: the dead-letter queues. Each message found is taken off its
//! queue and explained: the job (or user) it names and that job's final
//! state. A dead letter whose job still ended (or whose user is gone anyway)
//! is explained, not a violation: the pipeline's other paths (the reaper,
//! a duplicate message) finished the work; one naming a job that did not end
//! (or a user not erased, or a data export still preparing) is.

use shared::messages::{DeletionMessage, ExportMessage, GenerationMessage};

use super::Check;
use crate::config::Stack;
use crate::facts::Facts;
use crate::model::UserLog;
use crate::storage::{ReadError, Storage};

/// Explains one generation dead letter; whether its job ended anyway.
fn explain_job(msg: &GenerationMessage, facts: &Facts, logs: &[UserLog]) -> (String, bool) {
    let log = logs.iter().find(|l| l.user_id == msg.user_id);
    let head = format!("job {} of user {} ({:?} step, attempt {})", msg.job_id, msg.user_id, msg.step, msg.attempt);
    if log.is_some_and(super::super::model::UserLog::deleted_account) {
        return (format!("{head}: the user deleted its account"), true);
    }
    match facts.accounts.get(&msg.user_id).and_then(|a| a.jobs.get(&msg.job_id)) {
        Some(Some(job)) if !job.status.is_active() => {
            let error = job.error.as_ref().map(|e| format!(" ({})", e.code)).unwrap_or_default();
            (format!("{head}: the job ended {}{error} anyway", job.status.as_str()), true)
        }
        Some(Some(job)) => (format!("{head}: the job is still {}", job.status.as_str()), false),
        _ if log.and_then(|l| l.jobs.iter().find(|j| j.job_id == msg.job_id)).is_some_and(|j| j.deleted.is_some()) => {
            (format!("{head}: the job was deleted by its user"), true)
        }
        _ => (format!("{head}: no record, and its user never deleted it"), false),
    }
}

/// Explains one data export dead letter; whether its export settled (or went) anyway.
fn explain_export(msg: &ExportMessage, facts: &Facts) -> (String, bool) {
    let head = format!("export {} of user {}", msg.export_id, msg.user_id);
    let record = facts.items.iter().find(|it| crate::storage::attr(it, "export_id") == Some(msg.export_id.as_str()));
    match record.and_then(|it| crate::storage::attr(it, "status")) {
        Some(status @ ("ready" | "failed")) => (format!("{head}: it ended {status} anyway"), true),
        Some(status) => (format!("{head}: still {status}"), false),
        None => (format!("{head}: no record (its user deleted the account, or its day is over)"), true),
    }
}

/// Runs check 5: the check, and one line per dead letter.
pub async fn check(stack: &Stack, storage: &Storage, facts: &Facts, logs: &[UserLog]) -> Result<(Check, Vec<String>), ReadError> {
    let mut check = Check::new("5 dead-letter queues empty (or explained)");
    let mut lines = Vec::new();
    let queues =
        [("generation", "DEAD_LETTER_QUEUE_URL"), ("account deletion", "DEAD_LETTER_DELETION_QUEUE_URL"), ("data export", "DEAD_LETTER_EXPORT_QUEUE_URL")];
    for (name, key) in queues {
        let Some(url) = stack.get(key) else {
            lines.push(format!("{name} dead-letter queue: {key} missing from the env file"));
            continue;
        };
        for body in storage.drain_queue(url).await? {
            let (text, explained) = if let Ok(msg) = serde_json::from_str::<GenerationMessage>(&body) {
                explain_job(&msg, facts, logs)
            } else if let Ok(msg) = serde_json::from_str::<ExportMessage>(&body) {
                explain_export(&msg, facts)
            } else if let Ok(msg) = serde_json::from_str::<DeletionMessage>(&body) {
                let left = shared::usecases::account_deletion::verify_gone(&storage.store, &storage.photos, &storage.hash_key, &msg.user_id)
                    .await
                    .map_err(|e| e.to_string())?;
                let pass = if msg.final_pass { "last pass" } else { "erasure" };
                (
                    format!(
                        "{pass} of user {}: {}",
                        msg.user_id,
                        if left.is_empty() { "the user is gone anyway".to_string() } else { format!("still left: {left:?}") }
                    ),
                    left.is_empty(),
                )
            } else {
                (format!("unreadable message {body}"), false)
            };
            lines.push(format!("{name} dead letter: {text}"));
            if !explained {
                check.fail(text);
            }
        }
    }
    if !lines.is_empty() && check.passed() {
        check.note = Some(format!("{} dead letter(s), each explained below", lines.len()));
    }
    Ok((check, lines))
}
