//! The queues' messages: one step of one job's generation, one account to
//! erase, and one data export to prepare. Each queue carries exactly one of these types.

use serde::{Deserialize, Serialize};

/// Which pipeline step a message asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Clean the photo and create the provider task (sent by `POST /v1/jobs`).
    #[default]
    Start,
    /// A scheduled look at the provider's task.
    Poll,
    /// A look at the task because the provider called back.
    Callback,
}

/// The message body: one step of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationMessage {
    /// The job's owner.
    pub user_id: String,
    /// The job.
    pub job_id: String,
    /// The step.
    #[serde(default)]
    pub step: Step,
    /// How many times this step ran before (polls, retries).
    #[serde(default)]
    pub attempt: u32,
    /// For a retried start: the claim it was handed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// For a poll: the number of its chain (see `Job::poll_seq`).
    #[serde(default)]
    pub seq: u32,
    /// For a start that waited for the provider's task rate: the clean
    /// photo is stored already.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub photo_ready: bool,
}

impl GenerationMessage {
    /// The first step of a new job.
    pub fn start(user_id: &str, job_id: &str) -> Self {
        GenerationMessage { user_id: user_id.into(), job_id: job_id.into(), step: Step::Start, attempt: 0, claim: None, seq: 0, photo_ready: false }
    }
}

/// The message body of the account deletion queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionMessage {
    /// The account to delete.
    pub user_id: String,
    /// The last pass, made once the upload links issued before the deletion
    /// have expired (it queues no further pass).
    #[serde(default)]
    pub final_pass: bool,
}

/// The message body of the export queue: one export to prepare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportMessage {
    /// The export's owner.
    pub user_id: String,
    /// The export.
    pub export_id: String,
}
