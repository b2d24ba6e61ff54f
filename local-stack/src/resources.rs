//! Creates on the emulator what `template.yaml` defines: the table (same keys,
//! indexes and TTL attribute), the buckets, the queues with their dead-letter
//! redrive, and the app secret the deployed stack keeps in Secrets Manager.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use shared::error::BoxError;

use crate::template::{KeyAttr, Template};

/// What was created, by name.
#[derive(Debug, Clone)]
pub struct Created {
    /// The table's name.
    pub table_name: String,
    /// Bucket names by logical id.
    pub buckets: HashMap<String, String>,
    /// Queue URLs by logical id.
    pub queue_urls: HashMap<String, String>,
    /// Queue ARNs by logical id.
    pub queue_arns: HashMap<String, String>,
    /// The app secret's ARN.
    pub secret_arn: String,
}

fn keys(attrs: &[KeyAttr]) -> Result<Vec<KeySchemaElement>, BoxError> {
    attrs.iter().map(|k| Ok(KeySchemaElement::builder().attribute_name(&k.name).key_type(KeyType::from(k.key_type.as_str())).build()?)).collect()
}

fn random_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates every resource under names starting with `prefix`.
pub async fn create(sdk: &SdkConfig, template: &Template, prefix: &str) -> Result<Created, BoxError> {
    let t = &template.table;
    let table_name = prefix.to_string();
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let mut table = dynamo.create_table().table_name(&table_name).billing_mode(BillingMode::PayPerRequest).set_key_schema(Some(keys(&t.keys)?));
    for (name, kind) in &t.attributes {
        table =
            table.attribute_definitions(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::from(kind.as_str())).build()?);
    }
    for index in &t.indexes {
        table = table.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(keys(&index.keys)?))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()?,
        );
    }
    table.send().await?;
    if let Some(ttl) = &t.ttl_attribute {
        dynamo
            .update_time_to_live()
            .table_name(&table_name)
            .time_to_live_specification(TimeToLiveSpecification::builder().attribute_name(ttl).enabled(true).build()?)
            .send()
            .await?;
    }

    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    let mut buckets = HashMap::new();
    for id in &template.buckets {
        let name = format!("{prefix}-{}", id.to_lowercase());
        s3.create_bucket().bucket(&name).send().await?;
        buckets.insert(id.clone(), name);
    }

    // Dead-letter targets first, so their ARNs exist for the redrive policies.
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut queues = template.queues.clone();
    queues.sort_by_key(|q| q.dead_letter_target.is_some());
    let mut queue_urls: HashMap<String, String> = HashMap::new();
    let mut queue_arns: HashMap<String, String> = HashMap::new();
    for q in &queues {
        let mut create = sqs.create_queue().queue_name(format!("{prefix}-{}", q.logical_id));
        // The test stack shortens it (QUEUE_VISIBILITY_SECONDS) so retries take seconds, not minutes.
        let visibility = std::env::var("QUEUE_VISIBILITY_SECONDS").ok().and_then(|v| v.parse().ok()).or(q.visibility_timeout);
        if let Some(v) = visibility {
            create = create.attributes(QueueAttributeName::VisibilityTimeout, v.to_string());
        }
        if let Some(target) = &q.dead_letter_target {
            let arn = queue_arns.get(target).ok_or_else(|| format!("dead-letter queue {target} is not a queue"))?;
            let policy = serde_json::json!({
                "deadLetterTargetArn": arn,
                "maxReceiveCount": q.max_receive_count.unwrap_or(5).to_string(),
            });
            create = create.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let url = create.send().await?.queue_url.ok_or("create_queue returned no URL")?;
        let attrs = sqs.get_queue_attributes().queue_url(&url).attribute_names(QueueAttributeName::QueueArn).send().await?;
        let arn = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).ok_or("queue has no ARN")?;
        queue_arns.insert(q.logical_id.clone(), arn.clone());
        queue_urls.insert(q.logical_id.clone(), url);
    }

    let secret = serde_json::json!({
        "token_signing_keys": format!("local1:{}", random_key()),
        "ip_hash_key": random_key(),
    });
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let out = secrets.create_secret().name(format!("{prefix}-app")).secret_string(secret.to_string()).send().await?;
    let secret_arn = out.arn.ok_or("create_secret returned no ARN")?;

    Ok(Created { table_name, buckets, queue_urls, queue_arns, secret_arn })
}
