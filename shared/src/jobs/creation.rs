//! Creating a job: what the one transaction is given, and what it came to.

use super::Job;

/// A job to create, and what it is created under.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// The job (status `queued`).
    pub job: &'a Job,
    /// The caller's session, which must be alive.
    pub session_id: &'a str,
    /// `Idempotency-Key` and the request's fingerprint.
    pub idempotency: Option<(&'a str, &'a str)>,
    /// How the job's upload record comes about.
    pub upload: UploadUse<'a>,
    /// Unix seconds.
    pub now: i64,
}

/// The upload record a new job holds (`job.upload_id`), which lives as long
/// as the job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadUse<'a> {
    /// The caller's upload, taken if no job has it and no sweep is removing it.
    Take,
    /// A record made for the job, of the copy of another job's photo under
    /// `job.upload_id`'s key (no sweep looks for it: it is the job's from the start).
    Copied {
        /// The job the photo was copied from.
        source_job_id: &'a str,
    },
}

/// What creating a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Charged and recorded.
    Created,
    /// The session is revoked or lapsed.
    SessionGone,
    /// The upload record is missing, used by another job, or being swept.
    UploadUnavailable,
    /// The balance is short or the active-job limit is reached.
    ProfileRefused,
    /// The idempotency key was used before, by this request or another.
    KeyUsed(StoredKey),
}

/// A stored idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The fingerprint of the request that first used it.
    pub fingerprint: String,
    /// The job it created.
    pub job_id: String,
}
