//! Adapters: the port traits implemented over AWS services (DynamoDB, S3,
//! SQS, Secrets Manager) and the providers (KIE, RevenueCat), and the AWS
//! SDK configuration they share.

pub mod aws_https;
pub mod dynamo;
pub mod kie;
pub mod lazy;
pub mod partitions;
pub mod revenuecat;
pub mod s3;
pub mod secrets;
pub mod sqs;
pub mod web_tls;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// How many times the SDK tries one AWS call (the first try included).
pub const CALL_ATTEMPTS: u32 = 3;

/// The time a DynamoDB, SQS or Secrets Manager call may take, its retries
/// included (`AWS_CALL_TIMEOUT_MS`, default 5000; S3 calls get 8/5 of it).
/// Below the shortest function timeout (10 s), so a service that hangs
/// costs seconds and the route answers 503 itself. The local stack raises it
/// with its time scale, because the emulator is slower than AWS under load.
pub fn call_timeout() -> Duration {
    let ms = crate::config::optional("AWS_CALL_TIMEOUT_MS").and_then(|v| v.trim().parse::<u64>().ok()).filter(|ms| (500..=120_000).contains(ms));
    Duration::from_millis(ms.unwrap_or(5_000))
}

/// The time an AWS connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Limits for calls that may take `call` in all: a connection must open
/// within [`CONNECT_TIMEOUT`], and each try answer within 2/5 of `call` (so
/// a hung try leaves time for a retry).
pub fn call_timeouts(call: Duration) -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).operation_attempt_timeout(call * 2 / 5).operation_timeout(call).build()
}

/// The SDK configuration loader every function uses: the region,
/// credentials and (on the local stack) `AWS_ENDPOINT_URL` from the
/// environment, [`aws_https::https_client`], the call limits of [`call_timeout`],
/// [`CALL_ATTEMPTS`] tries.
///
/// Lambda gives a function its region and its role's credentials as
/// variables; taken from there directly, the default chains never build the
/// STS (web identity) client they would otherwise set up, unused, at every
/// cold start. Without credentials in the environment the default chain runs.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_https::https_client(CONNECT_TIMEOUT))
        .timeout_config(call_timeouts(call_timeout()))
        .retry_config(RetryConfig::standard().with_max_attempts(CALL_ATTEMPTS));
    if let Some(region) = crate::config::optional("AWS_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    if crate::config::optional("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new());
    }
    loader
}

/// Loads the AWS SDK configuration once per cold start ([`sdk_loader`]).
pub async fn aws_config() -> aws_config::SdkConfig {
    sdk_loader().load().await
}

/// A DynamoDB client for `sdk`.
pub fn dynamo_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}
