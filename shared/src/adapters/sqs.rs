//! The queues: generation (one message per pipeline step of a job) and
//! account deletion (one message per account to delete).

use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};

use super::dynamo::store_error;
use crate::error::StoreError;

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
}

impl GenerationMessage {
    /// The first step of a new job.
    pub fn start(user_id: &str, job_id: &str) -> Self {
        GenerationMessage { user_id: user_id.into(), job_id: job_id.into(), step: Step::Start, attempt: 0, claim: None, seq: 0 }
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

/// The generation queue.
pub type GenerationQueue = Queue;

/// The account deletion queue.
pub type DeletionQueue = Queue;

/// A queue of JSON messages.
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    /// A client for the queue at `url`.
    pub fn new(sdk: &SdkConfig, url: impl Into<String>) -> Self {
        Self::from_client(Client::new(sdk), url)
    }

    /// The queue at `url` over a ready client.
    pub fn from_client(client: Client, url: impl Into<String>) -> Self {
        Queue { client, url: url.into() }
    }

    /// Another queue (`url`) over the same client.
    pub fn sibling(&self, url: impl Into<String>) -> Self {
        Queue { client: self.client.clone(), url: url.into() }
    }

    /// Sends one message, to be delivered at once.
    pub async fn send<T: Serialize>(&self, msg: &T) -> Result<(), StoreError> {
        self.send_delayed(msg, 0).await
    }

    /// Sends one message, delivered after `delay_secs` (at most 900, SQS's limit).
    pub async fn send_delayed<T: Serialize>(&self, msg: &T, delay_secs: u32) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .delay_seconds(delay_secs.min(900) as i32)
            .message_body(serde_json::to_string(msg).map_err(StoreError::other)?)
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
