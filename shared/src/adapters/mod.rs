//! Adapters: the port traits implemented over AWS services, and the AWS SDK
//! configuration they share.

pub mod dynamo;
pub mod s3;
pub mod sqs;
pub mod secrets;

/// Loads the AWS SDK configuration once per cold start, from the environment
/// (`AWS_REGION`, credentials, and `AWS_ENDPOINT_URL` on the local stack).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A DynamoDB client for `sdk`.
pub fn dynamo_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}
