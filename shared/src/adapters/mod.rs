//! Adapters: the port traits implemented over AWS services (DynamoDB, S3,
//! SQS, Secrets Manager) and the providers (KIE, RevenueCat), and the AWS
//! SDK configuration they share.

pub mod dynamo;
pub mod kie;
pub mod lazy;
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

/// Limits for calls that may take `call` in all: a connection must open
/// within 1 s, and each try answer within 2/5 of `call` (so a hung try
/// leaves time for a retry).
pub fn call_timeouts(call: Duration) -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(Duration::from_secs(1)).operation_attempt_timeout(call * 2 / 5).operation_timeout(call).build()
}

/// The roots every AWS service endpoint's certificate chains to (Amazon
/// Trust Services), compiled in.
const AWS_TRUST_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// The HTTPS client of every AWS client: rustls, trusting the Amazon Trust
/// Services roots. Not the system's store: loading and parsing it (a bundle
/// and a directory of ~150 certificates each) was most of a cold start's
/// work. `AWS_TRUST_SYSTEM_ROOTS=true` adds it, for an endpoint behind a
/// proxy that presents another chain.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let system = crate::config::optional("AWS_TRUST_SYSTEM_ROOTS").is_some_and(|v| v == "true");
    let trust = TrustStore::empty().with_native_roots(system).with_pem_certificate(AWS_TRUST_ROOTS);
    let tls = TlsContext::builder().with_trust_store(trust).build().expect("a TLS context of a trust store always builds");
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc)).tls_context(tls).build_https()
}

/// The SDK configuration loader every function uses: the region,
/// credentials and (on the local stack) `AWS_ENDPOINT_URL` from the
/// environment, [`https_client`], the call limits of [`call_timeout`],
/// [`CALL_ATTEMPTS`] tries.
///
/// Lambda gives a function its region and its role's credentials as
/// variables; taken from there directly, the default chains never build the
/// STS (web identity) client they would otherwise set up, unused, at every
/// cold start. Without credentials in the environment the default chain runs.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
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
