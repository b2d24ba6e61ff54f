//! The SQS queues, each typed by its one message: generation (one step of
//! one job), account deletion (one account to erase) and data export (one
//! export to prepare).

use std::marker::PhantomData;

use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use serde::Serialize;

use super::dynamo::store_error;
use super::lazy::{FromSdk, Lazy};
use crate::error::StoreError;
use crate::messages::{DeletionMessage, ExportMessage, GenerationMessage};
use crate::ports::Queue;

pub type GenerationQueue = SqsQueue<GenerationMessage>;

/// The account deletion queue.
pub type DeletionQueue = SqsQueue<DeletionMessage>;

/// The data export queue.
pub type ExportQueue = SqsQueue<ExportMessage>;

/// An SQS queue of JSON messages of type `M`.
#[derive(Debug)]
pub struct SqsQueue<M> {
    client: Lazy<Client>,
    url: String,
    message: PhantomData<fn(M)>,
}

impl FromSdk for Client {
    fn from_sdk(sdk: &SdkConfig) -> Self {
        Client::new(sdk)
    }
}

impl<M> Clone for SqsQueue<M> {
    fn clone(&self) -> Self {
        SqsQueue { client: self.client.clone(), url: self.url.clone(), message: PhantomData }
    }
}

impl<M> SqsQueue<M> {
    /// A client for the queue at `url`.
    /// The client is built when first used, or by [`SqsQueue::ready`].
    pub fn new(sdk: &SdkConfig, url: impl Into<String>) -> Self {
        SqsQueue { client: Lazy::new(sdk), url: url.into(), message: PhantomData }
    }

    /// Builds the client now (at cold start, for a function that uses it).
    pub fn ready(&self) {
        self.client.get();
    }

    /// The queue at `url` over a ready client.
    pub fn from_client(client: Client, url: impl Into<String>) -> Self {
        SqsQueue { client: Lazy::built(client), url: url.into(), message: PhantomData }
    }

    /// Another queue (`url`, of messages `N`) over the same client.
    pub fn sibling<N>(&self, url: impl Into<String>) -> SqsQueue<N> {
        SqsQueue { client: self.client.clone(), url: url.into(), message: PhantomData }
    }
}

impl<M: Serialize + Sync> Queue<M> for SqsQueue<M> {
    async fn send(&self, message: &M, delay_secs: u32) -> Result<(), StoreError> {
        self.client
            .get()
            .send_message()
            .queue_url(&self.url)
            .delay_seconds(delay_secs.min(900) as i32)
            .message_body(serde_json::to_string(message).map_err(StoreError::other)?)
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
