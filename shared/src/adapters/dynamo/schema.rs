//! The table's schema in one place: every key, index name and index key the
//! adapter writes or queries. One table; what a user owns lives under
//! `pk = USER#<id>`.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | profile | `USER#<user>` | `PROFILE` |
//! | session | `USER#<user>` | `SESSION#<session>` |
//! | ledger entry | `USER#<user>` | `LEDGER#<uuid v7>` |
//! | upload | `USER#<user>` | `UPLOAD#<upload>` |
//! | job | `USER#<user>` | `JOB#<job: uuid v7, so newest sorts last>` |
//! | idempotency key | `USER#<user>` | `IDEM#<key>` |
//! | per-user rate limit | `USER#<user>` | `RATE#<action>` |
//! | trash | `USER#<user>` | `TRASH#<job>` |
//! | data export | `USER#<user>` | `EXPORT#<export: uuid v7>` |
//! | last export's time (the hourly limit) | `USER#<user>` | `RATE#export` |
//! | sign-up counter | `SIGNUP#<hmac of ip>` | `SIGNUP` |
//! | purchase | `PURCHASE#<hmac of transaction id>` | `PURCHASE` |
//! | webhook event | `RCEVENT#<event id>` | `RCEVENT` |
//! | unknown user's event | `ORPHAN#<hmac of user id>` | `RCEVENT#<event id>` |
//! | deletion log | `DELETION_LOG` | `<time>#<hmac of user id>` |
//! | provider task log | `PROVIDER#TASKS` | `RATE` |
//! | provider spend of a day | `PROVIDER#SPEND` | `<YYYY-MM-DD>` |
//!
//! `GSI1` finds: unused uploads by deadline (`UPLOADS_UNUSED#<shard>`),
//! jobs by id (`JOBID#<job>`: the provider's callback names no user),
//! purchases by owner (`PURCHASES#<user>`), trash by age (`TRASH`), data
//! exports by the time the sweep must look at them (`EXPORTS_DUE`).
//! `GSI2` lists active jobs by the time the reaper must look at them
//! (`ACTIVE_JOBS#<shard>`). `expires_at` (Unix seconds) is the TTL attribute;
//! DynamoDB deletes expired items late (the emulator never), so reads ignore them.

use super::attrs::{Item, item, s};
use crate::jobs::Job;
use crate::time::rfc3339;

/// The table's TTL attribute.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// The first global secondary index.
pub const GSI1: &str = "GSI1";
/// The second global secondary index (active jobs).
pub const GSI2: &str = "GSI2";
/// The sort key of a profile.
pub const PROFILE: &str = "PROFILE";
/// The `GSI2` partition of active jobs made before the index was sharded
/// (read by the reaper until none is left; no job is written to it).
pub const ACTIVE_JOBS: &str = "ACTIVE_JOBS";
/// How many partitions each service-wide index (active jobs, unused
/// uploads) is spread over: each takes its own share of the index's write
/// rate, and the reaper and the sweep read them all, in parallel.
pub const INDEX_SHARDS: u32 = 8;
/// The `GSI1` partition of trash items.
pub const TRASH: &str = "TRASH";
/// The partition of the deletion log.
pub const DELETION_LOG_PK: &str = "DELETION_LOG";
/// The `GSI1` partition of data exports, by when the sweep must look at them.
pub const EXPORTS_DUE: &str = "EXPORTS_DUE";

/// A primary key.
fn key(pk: String, sk: String) -> Item {
    item([("pk", s(pk)), ("sk", s(sk))])
}

/// The partition key of everything a user owns.
pub fn user_pk(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// The key of a user's profile.
pub fn profile_key(user_id: &str) -> Item {
    key(user_pk(user_id), PROFILE.into())
}

/// The key of a session.
pub fn session_key(user_id: &str, session_id: &str) -> Item {
    key(user_pk(user_id), format!("SESSION#{session_id}"))
}

/// The sort key of a ledger row.
pub fn ledger_sk(id: &str) -> String {
    format!("LEDGER#{id}")
}

/// The key of a job record.
pub fn job_key(user_id: &str, job_id: &str) -> Item {
    key(user_pk(user_id), format!("JOB#{job_id}"))
}

/// A job's `GSI1` partition: found by id alone.
pub fn job_id_index(job_id: &str) -> String {
    format!("JOBID#{job_id}")
}

/// A job's `GSI2` sort key: when the reaper must look at it (see
/// [`Job::attention_at`]) with `watch_at` as its watch time, then its ids.
pub fn attention_sk(job: &Job, watch_at: Option<i64>) -> String {
    let at = Job { watch_at, ..job.clone() }.attention_at();
    format!("{at:012}#{}#{}", job.user_id, job.job_id)
}

/// The key of an idempotency key.
pub fn idempotency_key(user_id: &str, idempotency_key: &str) -> Item {
    key(user_pk(user_id), format!("IDEM#{idempotency_key}"))
}

/// The key of an upload record.
pub fn upload_key(user_id: &str, upload_id: &str) -> Item {
    key(user_pk(user_id), format!("UPLOAD#{upload_id}"))
}

/// The shard of a service-wide index an id's item goes to: FNV-1a of the
/// id (random in its last digits), so items spread evenly.
fn shard_of(id: &str) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % INDEX_SHARDS
}

/// A job's `GSI2` partition while it is active.
pub fn active_jobs_index(job_id: &str) -> String {
    format!("{ACTIVE_JOBS}#{}", shard_of(job_id))
}

/// Every `GSI2` partition that may hold active jobs: the shards, then the
/// unsharded partition of jobs made before.
pub fn active_jobs_partitions() -> Vec<String> {
    (0..INDEX_SHARDS).map(|i| format!("{ACTIVE_JOBS}#{i}")).chain([ACTIVE_JOBS.to_string()]).collect()
}

/// An unused upload's `GSI1` partition.
pub fn unused_uploads_index(upload_id: &str) -> String {
    format!("UPLOADS_UNUSED#{}", shard_of(upload_id))
}

/// Every `GSI1` partition that may hold unused uploads due by `now`: the
/// shards, then the per-day partitions of uploads made before the index was
/// sharded, for `now`'s day and the day before (an upload's time to be used
/// is at most a day, and the sweep ran before), which no upload is written
/// to any more.
pub fn unused_uploads_partitions(now: i64) -> Vec<String> {
    let legacy = [now - 86_400, now].map(|day| format!("UPLOADS_UNUSED#{}", &rfc3339(day)[..10]));
    (0..INDEX_SHARDS).map(|i| format!("UPLOADS_UNUSED#{i}")).chain(legacy).collect()
}

/// A key no item has: read at cold start to open the connection.
pub fn warm_up_key() -> Item {
    key("WARM_UP".into(), "WARM_UP".into())
}

/// The key of a trash item.
pub fn trash_key(user_id: &str, name: &str) -> Item {
    key(user_pk(user_id), format!("{TRASH}#{name}"))
}

/// The key of a data export's record.
pub fn export_key(user_id: &str, export_id: &str) -> Item {
    key(user_pk(user_id), format!("EXPORT#{export_id}"))
}

/// The key of the item holding the time of the user's last export.
pub fn export_limit_key(user_id: &str) -> Item {
    rate_key(user_id, "export")
}

/// A data export's `GSI1` sort key: when the sweep must look at it, then its ids.
pub fn export_due_sk(due_at: i64, user_id: &str, export_id: &str) -> String {
    format!("{due_at:012}#{user_id}#{export_id}")
}

/// The key of a per-user rate limit's log.
pub fn rate_key(user_id: &str, action: &str) -> Item {
    key(user_pk(user_id), format!("RATE#{action}"))
}

/// The key of a source's sign-up log.
pub fn signup_key(ip_key: &str) -> Item {
    key(format!("SIGNUP#{ip_key}"), "SIGNUP".into())
}

/// The key of a purchase record.
pub fn purchase_key(txn_hash: &str) -> Item {
    key(format!("PURCHASE#{txn_hash}"), "PURCHASE".into())
}

/// The transaction hash a purchase record's `pk` names.
pub fn purchase_hash(pk: &str) -> &str {
    pk.trim_start_matches("PURCHASE#")
}

/// A purchase's `GSI1` partition: its owner.
pub fn owner_index(user_id: &str) -> String {
    format!("PURCHASES#{user_id}")
}

/// The key of a webhook event's dedupe record.
pub fn event_key(event_id: &str) -> Item {
    key(format!("RCEVENT#{event_id}"), "RCEVENT".into())
}

/// The key of an event for a user we do not have.
pub fn orphan_event_key(user_hash: &str, event_id: &str) -> Item {
    key(format!("ORPHAN#{user_hash}"), format!("RCEVENT#{event_id}"))
}

/// The key of a deletion log entry.
pub fn deletion_log_key(now: i64, user_hash: &str) -> Item {
    key(DELETION_LOG_PK.into(), format!("{}#{user_hash}", rfc3339(now)))
}

/// The key of the service-wide log of provider tasks (their rate limit).
pub fn provider_tasks_key() -> Item {
    key("PROVIDER#TASKS".into(), "RATE".into())
}

/// The key of the provider spend of a UTC day.
pub fn spend_key(day: &str) -> Item {
    key("PROVIDER#SPEND".into(), day.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_every_shard() {
        let mut counts = [0_u32; INDEX_SHARDS as usize];
        for _ in 0..8_000 {
            counts[shard_of(&crate::jobs::new_job_id()) as usize] += 1;
        }
        // Even within a few percent: no shard takes much more than its share.
        assert!(counts.iter().all(|&c| (850..=1150).contains(&c)), "{counts:?}");
    }

    #[test]
    fn readers_cover_every_partition_writers_use() {
        let id = crate::jobs::new_job_id();
        assert!(active_jobs_partitions().contains(&active_jobs_index(&id)));
        assert!(unused_uploads_partitions(1_800_000_000).contains(&unused_uploads_index(&id)));
        assert_eq!(active_jobs_partitions().len(), INDEX_SHARDS as usize + 1);
    }
}
