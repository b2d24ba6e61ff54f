//! Direct access to what the stack stored, through the emulator itself
//! (`AWS_ENDPOINT_URL` of the env file, never the fault layer): the domain
//! crate's store and photo storage, a full table scan, queue depths, and the
//! keyed hash of transaction ids (from the app secret).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use shared::adapters::dynamo::DynamoStore;
use shared::adapters::s3::PhotoStorage;

use crate::config::Stack;

/// A table item.
pub type Item = HashMap<String, AttributeValue>;

/// A failure to read storage (the run cannot be checked).
pub type ReadError = String;

/// The emulator's table, bucket, queues and secret.
#[derive(Debug, Clone)]
pub struct Storage {
    /// The domain crate's store over the table.
    pub store: DynamoStore,
    /// The domain crate's photo storage over the bucket.
    pub photos: PhotoStorage,
    /// The app secret's `ip_hash_key`: transaction ids are hashed and users'
    /// storage prefixes derived with it.
    pub hash_key: Vec<u8>,
    dynamo: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    table: String,
}

/// The checks read large answers (a full scan) from an emulator that may
/// still be busy: generous limits, unlike the functions' 5 s.
const READ_LIMIT: Duration = Duration::from_secs(60);

impl Storage {
    /// Clients for the stack's emulator.
    pub async fn connect(stack: &Stack) -> Result<Self, ReadError> {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(stack.var("AWS_ENDPOINT_URL")?)
            .region(aws_config::Region::new(stack.var("AWS_REGION")?.to_string()))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("soak", "soak", None, None, "soak"))
            .timeout_config(shared::adapters::call_timeouts(READ_LIMIT))
            .load()
            .await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let s3 = aws_sdk_s3::Client::from_conf(PhotoStorage::config(&sdk).timeout_config(shared::adapters::call_timeouts(READ_LIMIT)).build());
        let table = stack.var("TABLE_NAME")?.to_string();
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let hash_key = Self::hash_key(&secrets, stack.var("APP_SECRETS_ARN")?).await?;
        Ok(Storage {
            store: DynamoStore::new(dynamo.clone(), table.clone()),
            photos: PhotoStorage::from_client(s3, stack.var("BUCKET_NAME")?),
            hash_key,
            dynamo,
            sqs: aws_sdk_sqs::Client::new(&sdk),
            table,
        })
    }

    /// Every item of the table.
    pub async fn scan(&self) -> Result<Vec<Item>, ReadError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamo
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| format!("scan: {e:?}"))?;
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Messages in a queue: visible, in flight, delayed.
    pub async fn queue_depth(&self, url: &str) -> Result<u64, ReadError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| format!("queue attributes of {url}: {e:?}"))?;
        Ok(out.attributes().map_or(0, |a| a.values().filter_map(|v| v.parse::<u64>().ok()).sum()))
    }

    /// Takes every message of a (dead-letter) queue: their bodies. They are
    /// received with a long visibility timeout, so none is read twice.
    pub async fn drain_queue(&self, url: &str) -> Result<Vec<String>, ReadError> {
        let mut bodies = Vec::new();
        for _ in 0..100 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(3600)
                .send()
                .await
                .map_err(|e| format!("receive from {url}: {e:?}"))?;
            let got: Vec<String> = out.messages().iter().filter_map(|m| m.body().map(String::from)).collect();
            if got.is_empty() {
                break;
            }
            bodies.extend(got);
        }
        Ok(bodies)
    }

    /// The app secret's `ip_hash_key`.
    async fn hash_key(secrets: &aws_sdk_secretsmanager::Client, secret_arn: &str) -> Result<Vec<u8>, ReadError> {
        let out = secrets.get_secret_value().secret_id(secret_arn).send().await.map_err(|e| format!("app secret: {e:?}"))?;
        let doc: serde_json::Value = serde_json::from_str(out.secret_string().unwrap_or_default()).map_err(|e| format!("app secret: {e}"))?;
        doc["ip_hash_key"].as_str().map(|k| k.as_bytes().to_vec()).ok_or_else(|| "app secret has no ip_hash_key".to_string())
    }
}

/// A string attribute of an item.
pub fn attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The user id of an item in a user's partition (`pk = USER#<id>`).
pub fn partition_user(item: &Item) -> Option<&str> {
    attr(item, "pk").and_then(|pk| pk.strip_prefix("USER#"))
}
