//! Data exports: a copy of everything we hold about a user, as one ZIP, the
//! rules around it (one per user per hour, deleted a day after it is ready,
//! never left `preparing`), the contract's `Export` view, and the
//! `account.json` it carries.
//!
//! An export is a record in the user's partition (so an account deletion
//! erases it with the rest) and, once ready, one object under the user's
//! storage prefix (`users/<prefix>/exports/<export_id>/<run>.zip`: each
//! worker run writes its own object, so a duplicate run never overwrites the
//! one the record points at, and the loser deletes its own).

use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError};
use crate::credits::ledger::{LedgerEntry, LedgerReason};
use crate::jobs::{Job, JobError};
use crate::styles::StyleChoice;
use crate::time::rfc3339;

/// At most one export per user in this many seconds (the contract's hour).
pub const EXPORT_INTERVAL_SECONDS: i64 = 3600;
/// Download links live this long (short-lived, like a job's links).
pub const DOWNLOAD_LINK_SECONDS: u64 = 600;
/// The name of the account document inside the ZIP.
pub const ACCOUNT_FILE: &str = "account.json";
/// S3's smallest part (every part but the last must be at least this).
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;
/// The part size the worker uploads: the most of the ZIP it holds in memory.
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// How much of a photo is read at once.
pub const READ_CHUNK_BYTES: u64 = 2 * 1024 * 1024;
/// The tag every export object carries: the bucket's lifecycle rule expires
/// tagged objects, a backstop should the sweep stop running.
pub const EXPORT_TAG: (&str, &str) = ("kind", "export");

/// `POST /v1/me/exports` body: `{}` (any field is unknown: 422).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {}

/// Where an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Queued or being written by the worker.
    Preparing,
    /// The ZIP is stored and can be downloaded until it expires.
    Ready,
    /// It could not be made (or not in time); nothing is stored.
    Failed,
}

impl ExportStatus {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Preparing => "preparing",
            ExportStatus::Ready => "ready",
            ExportStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [ExportStatus::Preparing, ExportStatus::Ready, ExportStatus::Failed].into_iter().find(|st| st.as_str() == s)
    }
}

/// An export as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Time-ordered id (UUID v7, 32 hex digits).
    pub export_id: String,
    /// The owner.
    pub user_id: String,
    /// Where it is.
    pub status: ExportStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// When it became ready (Unix seconds).
    pub ready_at: Option<i64>,
    /// Where its ZIPs are written (`users/<prefix>/exports/<export_id>/`):
    /// everything under it goes with the export.
    pub prefix: String,
    /// The ZIP's key, once ready.
    pub object_key: Option<String>,
    /// While preparing: past this the sweep fails it (Unix seconds).
    pub deadline_at: i64,
    /// When the ZIP and the record are deleted (Unix seconds): the
    /// contract's `expires_at`. While preparing, the latest it can be.
    pub delete_at: i64,
    /// When the sweep must look at it next: while preparing, to send its
    /// message again (a request that died before queueing it) or, past the
    /// deadline, to fail it; then at `delete_at`.
    pub due_at: i64,
}

/// The contract's `Export`.
#[derive(Debug, Serialize)]
pub struct ExportView<'a> {
    export_id: &'a str,
    status: &'static str,
    created_at: String,
    download_url: Option<String>,
    expires_at: String,
}

/// How exports are timed: read once at cold start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSettings {
    /// Seconds a ready ZIP is kept (`EXPORT_RETENTION_SECONDS`, default and
    /// at most 24 hours; the test stack shortens it).
    pub retention_seconds: i64,
    /// Seconds an export may stay `preparing` (`EXPORT_DEADLINE_SECONDS`,
    /// default 3600): longer than every try of the worker.
    pub deadline_seconds: i64,
    /// Seconds after which a still-preparing export's message is sent again
    /// (`EXPORT_STALL_SECONDS`, default 1200: past the worker's 15-minute timeout).
    pub stall_seconds: i64,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings { retention_seconds: 86_400, deadline_seconds: 3600, stall_seconds: 1200 }
    }
}

impl ExportSettings {
    /// Reads the settings, with the defaults above.
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = ExportSettings::default();
        let settings = ExportSettings {
            retention_seconds: config::parsed("EXPORT_RETENTION_SECONDS", d.retention_seconds)?,
            deadline_seconds: config::parsed("EXPORT_DEADLINE_SECONDS", d.deadline_seconds)?,
            stall_seconds: config::parsed("EXPORT_STALL_SECONDS", d.stall_seconds)?,
        };
        let check = |ok: bool, name: &'static str, problem: &str| if ok { Ok(()) } else { Err(ConfigError { name, problem: problem.into() }) };
        check((1..=86_400).contains(&settings.retention_seconds), "EXPORT_RETENTION_SECONDS", "must be 1 to 86400 (exports are deleted within 24 hours)")?;
        check((1..=86_400).contains(&settings.deadline_seconds), "EXPORT_DEADLINE_SECONDS", "must be 1 to 86400")?;
        check((1..=settings.deadline_seconds).contains(&settings.stall_seconds), "EXPORT_STALL_SECONDS", "must be 1 to EXPORT_DEADLINE_SECONDS")?;
        Ok(settings)
    }
}

impl Export {
    /// A new export of `user_id` whose ZIPs go under `prefix`, preparing from `now`.
    pub fn new(user_id: &str, export_id: &str, prefix: &str, now: i64, settings: &ExportSettings) -> Self {
        let deadline_at = now + settings.deadline_seconds;
        Export {
            export_id: export_id.into(),
            user_id: user_id.into(),
            status: ExportStatus::Preparing,
            created_at: now,
            ready_at: None,
            prefix: prefix.into(),
            object_key: None,
            deadline_at,
            delete_at: deadline_at + settings.retention_seconds,
            due_at: now + settings.stall_seconds,
        }
    }

    /// The export once its ZIP at `key` is stored at `now`.
    pub fn ready(&self, key: &str, now: i64, settings: &ExportSettings) -> Self {
        let delete_at = now + settings.retention_seconds;
        Export { status: ExportStatus::Ready, ready_at: Some(now), object_key: Some(key.into()), delete_at, due_at: delete_at, ..self.clone() }
    }

    /// The export failed at `now`: its record goes after the retention.
    pub fn failed(&self, now: i64, settings: &ExportSettings) -> Self {
        let delete_at = now + settings.retention_seconds;
        Export { status: ExportStatus::Failed, delete_at, due_at: delete_at, ..self.clone() }
    }

    /// Whether its time is over: it reads as gone (the sweep deletes it).
    pub fn is_expired(&self, now: i64) -> bool {
        self.delete_at <= now
    }

    /// The contract's view; `download_url` only when ready.
    pub fn view(&self, download_url: Option<String>) -> ExportView<'_> {
        ExportView {
            export_id: &self.export_id,
            status: self.status.as_str(),
            created_at: rfc3339(self.created_at),
            download_url: if self.status == ExportStatus::Ready { download_url } else { None },
            expires_at: rfc3339(self.delete_at),
        }
    }
}

/// Seconds until one more export is allowed, given the last one's creation time.
pub fn retry_after(last_created_at: i64, now: i64) -> u64 {
    u64::try_from(last_created_at + EXPORT_INTERVAL_SECONDS - now).unwrap_or(0).max(1)
}

/// One ledger row as the export shows it: amount, reason and time, and the
/// job it concerns for a charge or a refund. Never a purchase's reference
/// (a keyed hash of the store's transaction id) or anything about payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerLine {
    amount: i64,
    reason: String,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<String>,
}

impl From<&LedgerEntry> for LedgerLine {
    fn from(e: &LedgerEntry) -> Self {
        let names_a_job = [LedgerReason::JobCharge.as_str(), LedgerReason::JobRefund.as_str()].contains(&e.reason.as_str());
        LedgerLine { amount: e.amount, reason: e.reason.clone(), created_at: e.created_at.clone(), job_id: e.reference.clone().filter(|_| names_a_job) }
    }
}

/// One job as the export shows it: the `Job` of `GET /v1/jobs` without its
/// links, and the names of its files inside the ZIP.
#[derive(Debug, Clone, Serialize)]
pub struct JobLine {
    job_id: String,
    status: &'static str,
    style: StyleChoice,
    credits_charged: i64,
    refunded: bool,
    created_at: String,
    updated_at: String,
    completed_at: Option<String>,
    error: Option<JobError>,
    /// The photo's file in the ZIP (`None`: no photo is stored any more).
    pub photo_file: Option<String>,
    /// The result's file in the ZIP.
    pub result_file: Option<String>,
}

impl JobLine {
    /// The job's line, before its files are known.
    pub fn of(job: &Job) -> Self {
        JobLine {
            job_id: job.job_id.clone(),
            status: job.status.as_str(),
            style: job.style.clone(),
            credits_charged: job.credits_charged,
            refunded: job.refunded,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            completed_at: job.completed_at.map(rfc3339),
            error: job.error.clone(),
            photo_file: None,
            result_file: None,
        }
    }
}

/// `account.json`: what `GET /v1/me` and `GET /v1/jobs` show, with the whole
/// ledger. Nothing about payments (no prices, currencies, transaction or
/// order ids), addresses, devices or tokens: we do not keep them.
#[derive(Debug, Clone, Serialize)]
pub struct AccountDocument {
    /// The user.
    pub user_id: String,
    /// When the account was created (RFC 3339).
    pub created_at: String,
    /// The balance when the export was made.
    pub credits: i64,
    /// When the export was made (RFC 3339).
    pub exported_at: String,
    /// Every ledger row, oldest first.
    pub ledger: Vec<LedgerLine>,
    /// Every job, newest first (as `GET /v1/jobs` lists them).
    pub jobs: Vec<JobLine>,
    /// Photos uploaded and not used by a job yet (deleted within a day).
    pub unused_uploads: Vec<String>,
}

/// The file extension of an image, from its first bytes (`bin` when unknown).
pub fn extension_of(first_bytes: &[u8]) -> &'static str {
    match imagesize::image_type(first_bytes) {
        Ok(imagesize::ImageType::Jpeg) => "jpg",
        Ok(imagesize::ImageType::Png) => "png",
        Ok(imagesize::ImageType::Webp) => "webp",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ExportSettings {
        ExportSettings { retention_seconds: 86_400, deadline_seconds: 3600, stall_seconds: 1200 }
    }

    #[test]
    fn a_new_export_is_watched_then_kept_a_day_after_it_is_ready() {
        let e = Export::new("u", "e", "users/p/exports/e/", 1_000, &settings());
        assert_eq!((e.status, e.due_at, e.deadline_at), (ExportStatus::Preparing, 2_200, 4_600));
        let v = serde_json::to_value(e.view(Some("https://x".into()))).unwrap();
        assert_eq!(v["download_url"], serde_json::Value::Null, "no link while preparing");
        assert_eq!(v["expires_at"], rfc3339(4_600 + 86_400), "the latest it can expire");
        let r = e.ready("users/p/exports/e/r.zip", 1_500, &settings());
        assert_eq!((r.status, r.ready_at, r.delete_at, r.due_at), (ExportStatus::Ready, Some(1_500), 87_900, 87_900));
        let v = serde_json::to_value(r.view(Some("https://x".into()))).unwrap();
        assert_eq!((v["status"].as_str(), v["download_url"].as_str()), (Some("ready"), Some("https://x")));
        assert_eq!(v["expires_at"], rfc3339(1_500 + 86_400));
        assert!(!r.is_expired(87_899) && r.is_expired(87_900));
        let f = e.failed(2_000, &settings());
        assert_eq!(serde_json::to_value(f.view(Some("https://x".into()))).unwrap()["download_url"], serde_json::Value::Null);
    }

    #[test]
    fn retry_after_counts_down_the_hour() {
        assert_eq!(retry_after(1_000, 1_000), 3600);
        assert_eq!(retry_after(1_000, 4_599), 1);
        assert_eq!(retry_after(1_000, 9_999), 1, "never zero");
    }

    #[test]
    fn ledger_lines_keep_no_purchase_reference() {
        let purchase = LedgerEntry { created_at: "t".into(), amount: 5, reason: "purchase".into(), reference: Some("hash-of-GPA.1".into()) };
        let charge = LedgerEntry { created_at: "t".into(), amount: -1, reason: "job_charge".into(), reference: Some("j1".into()) };
        let p = serde_json::to_value(LedgerLine::from(&purchase)).unwrap();
        assert_eq!(p, serde_json::json!({"amount": 5, "reason": "purchase", "created_at": "t"}));
        assert_eq!(serde_json::to_value(LedgerLine::from(&charge)).unwrap()["job_id"], "j1");
    }

    #[test]
    fn files_are_named_by_their_bytes() {
        assert_eq!(extension_of(&crate::usecases::memory::tiny_jpeg()), "jpg");
        assert_eq!(extension_of(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "png");
        assert_eq!(extension_of(b"nothing"), "bin");
    }
}
