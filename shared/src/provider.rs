//! The image provider as the pipeline sees it: what a task asks for, the
//! states a task goes through, and what a failed call means for the job.
//! KIE is the implementation (`adapters::kie`); the pipeline knows only this.

use crate::jobs::JobError;

/// What a failed call to the provider means for the job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Rate-limited, unavailable, or a network error: try again later, with backoff.
    #[error("the provider is unavailable ({0})")]
    Retryable(String),
    /// The content was refused (content moderation).
    #[error("the provider rejected the content: {0}")]
    Rejected(String),
    /// Our account or key is at fault: operators must act.
    #[error("provider account problem (code {code}): {message}")]
    Operator {
        /// The provider's code.
        code: i64,
        /// The provider's message.
        message: String,
    },
    /// Anything else (a bad request, an unknown task, a malformed answer): do not retry.
    #[error("the provider refused (code {code}): {message}")]
    Fatal {
        /// The provider's code (0 when there was none).
        code: i64,
        /// The provider's message.
        message: String,
    },
}

/// One generation task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRequest {
    /// The style's quality id (picks the model).
    pub quality: String,
    /// The quality's resolution (`1K`, `2K`).
    pub resolution: String,
    pub prompt: String,
    /// Where the provider fetches the photo.
    pub image_url: String,
    /// Where the provider calls back when the task ends.
    pub callback_url: String,
}

/// Why the provider failed a task, as far as the job is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// Content moderation refused the photo or the prompt.
    Rejected,
    /// The photo could not be used.
    UnusableImage,
    /// Anything else on the provider's side.
    Provider,
}

impl FailReason {
    /// The contract's job error for this reason (the provider's own text
    /// may quote the prompt: it is never stored).
    pub fn job_error(self) -> JobError {
        let (code, message) = match self {
            FailReason::Rejected => ("content_rejected", "The photo or style was rejected by content moderation; the credits were refunded."),
            FailReason::UnusableImage => ("invalid_image", "The photo could not be used; the credits were refunded."),
            FailReason::Provider => ("provider_failed", "The headshot could not be generated; the credits were refunded."),
        };
        JobError { code: code.into(), message: message.into() }
    }
}

/// A task's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting, queued or generating.
    Pending,
    /// Done, with at least one result link.
    Success(Vec<String>),
    /// Failed.
    Fail {
        /// Why, for the job.
        reason: FailReason,
        /// The provider's own failure code, for the logs.
        code: String,
    },
}
