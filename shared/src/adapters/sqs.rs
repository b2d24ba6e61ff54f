//! The generation queue: one message per paid job.

use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};

use super::dynamo::store_error;
use crate::error::StoreError;

/// The message body: which job to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationMessage {
    /// The job's owner.
    pub user_id: String,
    /// The job.
    pub job_id: String,
}

/// The queue.
#[derive(Debug, Clone)]
pub struct GenerationQueue {
    client: Client,
    url: String,
}

impl GenerationQueue {
    /// A client for the queue at `url`.
    pub fn new(sdk: &SdkConfig, url: impl Into<String>) -> Self {
        GenerationQueue { client: Client::new(sdk), url: url.into() }
    }

    /// Sends one job.
    pub async fn send(&self, msg: &GenerationMessage) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(msg).map_err(StoreError::other)?)
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
