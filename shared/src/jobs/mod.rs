//! Jobs: the record of one paid generation, its rules, and the contract's
//! `Job` view of it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod creation;
mod lifecycle;

pub use creation::{CreateOutcome, NewJob, StoredKey, UploadUse};
pub use lifecycle::{Claim, DueJob, FALLBACK_ROOM_DIVISOR, Replacing};

use crate::error::ApiError;
use crate::styles::StyleChoice;
use crate::time::rfc3339;

/// At most this many jobs of one user are queued or processing at once.
pub const MAX_ACTIVE_JOBS: i64 = 3;
/// Links in a `Job` live this long (the contract allows at most 15 minutes).
pub const LINK_SECONDS: u64 = 600;
/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_SECONDS: i64 = 24 * 3600;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Paid, waiting for the worker.
    Queued,
    /// At the provider.
    Processing,
    /// Done, with a result.
    Succeeded,
    /// Failed, and refunded.
    Failed,
}

impl JobStatus {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [JobStatus::Queued, JobStatus::Processing, JobStatus::Succeeded, JobStatus::Failed].into_iter().find(|st| st.as_str() == s)
    }

    /// Queued or processing: holds a slot of the active-job limit.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Queued | JobStatus::Processing)
    }
}

/// Why a job failed, as the contract lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobError {
    /// `content_rejected`, `invalid_image`, `provider_failed` or `timed_out`.
    pub code: String,
    /// For the person.
    pub message: String,
}

/// A job as stored: the style, price, status, timestamps and S3 keys; nothing
/// else about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Time-ordered id (UUID v7).
    pub job_id: String,
    /// The owner.
    pub user_id: String,
    /// Where it is.
    pub status: JobStatus,
    /// The chosen style.
    pub style: StyleChoice,
    /// The price paid.
    pub credits_charged: i64,
    /// Whether the price was given back.
    pub refunded: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds, once succeeded or failed.
    pub completed_at: Option<i64>,
    /// The upload it uses.
    pub upload_id: String,
    /// The photo's S3 key.
    pub input_key: String,
    /// The result's S3 key, once there is one.
    pub result_key: Option<String>,
    /// Why it failed.
    pub error: Option<JobError>,
    /// When it must be finished (Unix seconds); past it the reaper fails it.
    pub deadline_at: i64,
    /// The provider's task id, once created.
    pub task_id: Option<String>,
    /// The model of the task in `task_id` (stored with it); once the job
    /// succeeded, the model that made the result. Never shown to the app.
    pub task_model: Option<String>,
    /// The second model, once the job switched to it (at most once: its
    /// presence means the fallback was used). Never shown to the app.
    pub fallback_model: Option<String>,
    /// The primary model's task that failed, when a fallback replaced it.
    pub primary_task_id: Option<String>,
    /// SHA-256 (base64url) of the per-job callback secret.
    pub callback_hash: Option<String>,
    /// Which worker run owns the provider call (so duplicates step aside).
    pub claim: Option<String>,
    /// When the job, its photo and its result expire (`RESULT_RETENTION_DAYS`).
    pub expires_at: Option<i64>,
    /// While active: the time by which the pipeline must have made its next
    /// step (claimed it, created the task, polled it); past it, the reaper
    /// sends that step again, so a function that died between two steps
    /// never leaves a paid job waiting for its deadline.
    pub watch_at: Option<i64>,
    /// The number of the job's live poll chain: a poll carrying another
    /// number steps aside, so re-sent polls never multiply.
    pub poll_seq: u32,
}

/// The contract's `Job`.
#[derive(Debug, Serialize)]
pub struct JobView<'a> {
    job_id: &'a str,
    status: &'static str,
    style: &'a StyleChoice,
    credits_charged: i64,
    refunded: bool,
    created_at: String,
    updated_at: String,
    completed_at: Option<String>,
    input_url: String,
    result_url: Option<String>,
    error: Option<&'a JobError>,
}

impl Job {
    /// Whether the retention period is over: the job reads as gone (DynamoDB
    /// deletes it by TTL later, the bucket's lifecycle rule its objects).
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }

    /// When the reaper must look at the job: when it is due to show progress
    /// (`watch_at`), or at its deadline, whichever comes first.
    pub fn attention_at(&self) -> i64 {
        self.watch_at.map_or(self.deadline_at, |w| w.min(self.deadline_at))
    }

    /// Whether the job may still switch to a second model at `now`: it has
    /// not yet, and at least a [`FALLBACK_ROOM_DIVISOR`]th of its time
    /// before the deadline is left for the second model's task.
    pub fn may_fall_back(&self, now: i64) -> bool {
        self.fallback_model.is_none() && self.deadline_at - now >= (self.deadline_at - self.created_at) / FALLBACK_ROOM_DIVISOR
    }

    /// Whether the job missed its expected progress (and is not yet past its deadline).
    pub fn is_stalled(&self, now: i64) -> bool {
        self.status.is_active() && now <= self.deadline_at && self.watch_at.is_some_and(|w| w <= now)
    }

    /// The contract's view, with the short-lived links given.
    pub fn view(&self, input_url: String, result_url: Option<String>) -> JobView<'_> {
        JobView {
            job_id: &self.job_id,
            status: self.status.as_str(),
            style: &self.style,
            credits_charged: self.credits_charged,
            refunded: self.refunded,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            completed_at: self.completed_at.map(rfc3339),
            input_url,
            result_url: if self.status == JobStatus::Succeeded { result_url } else { None },
            error: self.error.as_ref(),
        }
    }
}

/// A new time-ordered job id.
pub fn new_job_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// Whether `id` has the shape of our ids (32 lowercase hex digits); anything
/// else cannot name a job or upload and is answered 404 without a lookup.
pub fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `POST /v1/jobs` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    /// The upload to use (or `source_job_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// One of the caller's jobs whose photo the new job copies (or `upload_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_job_id: Option<String>,
    pub style: StyleChoice,
}

/// Where a new job's photo comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoSource<'a> {
    /// An upload of the caller's (used by no job yet).
    Upload(&'a str),
    /// The photo of another of the caller's jobs, which keeps its own.
    Job(&'a str),
}

impl CreateJobRequest {
    /// The photo's source: exactly one of `upload_id` and `source_job_id`, or 422.
    pub fn source(&self) -> Result<PhotoSource<'_>, ApiError> {
        match (&self.upload_id, &self.source_job_id) {
            (Some(upload), None) => Ok(PhotoSource::Upload(upload)),
            (None, Some(job)) => Ok(PhotoSource::Job(job)),
            (Some(_), Some(_)) => Err(ApiError::ValidationFailed("Give either upload_id or source_job_id, not both.".into())),
            (None, None) => Err(ApiError::ValidationFailed("Give upload_id (a new photo) or source_job_id (the photo of one of your jobs).".into())),
        }
    }

    /// A fingerprint of the request, to tell an idempotent retry from a
    /// different request under the same key.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_string(self).expect("plain struct serializes");
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }
}

/// Checks an `Idempotency-Key` header: 1 to 128 visible ASCII characters.
pub fn idempotency_key(raw: Option<&[u8]>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let ok = (1..=128).contains(&raw.len()) && raw.iter().all(|b| (0x21..=0x7e).contains(b));
    if !ok {
        return Err(ApiError::ValidationFailed("Idempotency-Key must be 1 to 128 visible ASCII characters.".into()));
    }
    Ok(Some(String::from_utf8(raw.to_vec()).expect("ASCII")))
}

/// `limit` and `cursor` of `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// 1 to 100.
    pub limit: usize,
    /// The last job id of the previous page.
    pub after: Option<String>,
}

impl Page {
    /// Parses the query parameters; a bad `limit` or `cursor` is 422.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = match limit {
            None => 20,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=100).contains(l))
                .ok_or_else(|| ApiError::ValidationFailed("limit must be a whole number from 1 to 100.".into()))?,
        };
        let after = match cursor {
            None | Some("") => None,
            Some(raw) => Some(
                URL_SAFE_NO_PAD
                    .decode(raw)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|id| is_id(id))
                    .ok_or_else(|| ApiError::ValidationFailed("cursor is not a next_cursor this API returned.".into()))?,
            ),
        };
        Ok(Page { limit, after })
    }

    /// The cursor that continues after `job_id`.
    pub fn cursor_after(job_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(job_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation() {
        let a = new_job_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_job_id();
        assert!(a < b && is_id(&a) && is_id(&b));
        assert!(!is_id("../../etc") && !is_id(&a.to_uppercase()));
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(idempotency_key(None).unwrap(), None);
        assert_eq!(idempotency_key(Some(b"retry-1")).unwrap().as_deref(), Some("retry-1"));
        for bad in [&b""[..], b"has space", &[b'a'; 129], "é".as_bytes()] {
            assert_eq!(idempotency_key(Some(bad)).unwrap_err().status(), 422);
        }
    }

    #[test]
    fn pages() {
        assert_eq!(Page::parse(None, None).unwrap(), Page { limit: 20, after: None });
        let id = new_job_id();
        let p = Page::parse(Some("5"), Some(&Page::cursor_after(&id))).unwrap();
        assert_eq!((p.limit, p.after.as_deref()), (5, Some(id.as_str())));
        for (l, c) in [(Some("0"), None), (Some("101"), None), (Some("x"), None), (None, Some("garbage!")), (None, Some("YWJj"))] {
            assert_eq!(Page::parse(l, c).unwrap_err().status(), 422);
        }
    }

    #[test]
    fn fingerprints_tell_bodies_apart() {
        let style = StyleChoice { attire: "a".into(), background: "b".into(), lighting: "c".into(), quality: "standard".into() };
        let a = CreateJobRequest { upload_id: Some("u1".into()), source_job_id: None, style: style.clone() };
        let mut b = a.clone();
        assert_eq!(a.fingerprint(), b.fingerprint());
        b.style.quality = "high".into();
        assert_ne!(a.fingerprint(), b.fingerprint());
        let from_job = CreateJobRequest { upload_id: None, source_job_id: Some("u1".into()), style };
        assert_ne!(a.fingerprint(), from_job.fingerprint());
    }

    #[test]
    fn a_job_names_exactly_one_photo_source() {
        let style = StyleChoice { attire: "a".into(), background: "b".into(), lighting: "c".into(), quality: "standard".into() };
        let parse = |body: serde_json::Value| serde_json::from_value::<CreateJobRequest>(body).expect("parses");
        let style_json = serde_json::to_value(&style).expect("serializes");
        let upload = parse(serde_json::json!({"upload_id": "u", "style": style_json}));
        assert_eq!(upload.source().ok(), Some(PhotoSource::Upload("u")));
        let job = parse(serde_json::json!({"source_job_id": "j", "style": style_json}));
        assert_eq!(job.source().ok(), Some(PhotoSource::Job("j")));
        let both = parse(serde_json::json!({"upload_id": "u", "source_job_id": "j", "style": style_json}));
        assert!(matches!(both.source(), Err(ApiError::ValidationFailed(_))));
        let neither = parse(serde_json::json!({"style": style_json}));
        assert!(matches!(neither.source(), Err(ApiError::ValidationFailed(_))));
        // An upload request fingerprints as it did before `source_job_id` existed.
        assert_eq!(
            serde_json::to_string(&upload).expect("serializes"),
            format!(r#"{{"upload_id":"u","style":{}}}"#, serde_json::to_string(&style).expect("serializes"))
        );
    }

    /// A queued job of user `u`, deadline 900, no watch.
    fn queued_job() -> Job {
        Job {
            job_id: "j".into(),
            user_id: "u".into(),
            status: JobStatus::Queued,
            style: StyleChoice { attire: "a".into(), background: "b".into(), lighting: "c".into(), quality: "standard".into() },
            credits_charged: 1,
            refunded: false,
            created_at: 0,
            updated_at: 0,
            completed_at: None,
            upload_id: "up".into(),
            input_key: "k".into(),
            result_key: None,
            error: None,
            deadline_at: 900,
            task_id: None,
            task_model: None,
            fallback_model: None,
            primary_task_id: None,
            callback_hash: None,
            claim: None,
            expires_at: None,
            watch_at: None,
            poll_seq: 0,
        }
    }

    #[test]
    fn the_reaper_looks_at_a_job_when_it_stalls_or_at_its_deadline() {
        let mut job = Job { watch_at: Some(60), ..queued_job() };
        assert_eq!(job.attention_at(), 60);
        assert!(!job.is_stalled(59) && job.is_stalled(60) && !job.is_stalled(901), "past the deadline it is reaped, not nudged");
        job.watch_at = Some(1_000);
        assert_eq!(job.attention_at(), 900);
        job.status = JobStatus::Succeeded;
        job.watch_at = Some(10);
        assert!(!job.is_stalled(20), "a finished job is never nudged");
    }

    #[test]
    fn a_job_falls_back_once_and_only_with_a_third_of_its_time_left() {
        let job = queued_job(); // created at 0, deadline 900
        assert!(job.may_fall_back(0) && job.may_fall_back(600), "300 s of 900 left");
        assert!(!job.may_fall_back(601) && !job.may_fall_back(901));
        let switched = Job { fallback_model: Some("seedream/4.5-edit".into()), ..queued_job() };
        assert!(!switched.may_fall_back(0), "at most once");
    }

    #[test]
    fn result_links_only_when_succeeded() {
        let job = Job { task_model: Some("nano-banana-pro".into()), fallback_model: Some("seedream/4.5-edit".into()), ..queued_job() };
        let v = serde_json::to_value(job.view("in".into(), Some("out".into()))).unwrap();
        assert!(!v.to_string().contains("seedream") && !v.to_string().contains("nano-banana"), "the models are not shown to the app");
        assert_eq!(v["result_url"], serde_json::Value::Null);
        assert_eq!(v["status"], "queued");
        assert_eq!(v["completed_at"], serde_json::Value::Null);
    }
}
