//! Counting AWS calls: an SDK interceptor that records `Service.Operation`
//! for every request the SDK actually sends, into a log shared by all the
//! clients of a benchmark context and reset before each measured request.
//!
//! Presigning runs the same pipeline up to *and including*
//! `read_before_transmit`, then stops without sending anything (see the
//! tests). So the label is worked out in `read_before_transmit` and parked in
//! the operation's config bag, and only `read_after_transmit` (reached once a
//! response came back) records it: a presigned link counts nothing, and each
//! attempt the SDK retries counts once.

use std::sync::{Arc, Mutex, MutexGuard};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// The suffix marking the small read that confirms a session is alive.
pub const SESSION_CHECK: &str = " [session check]";

/// The calls recorded since the last reset, in the order they were sent.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<String>>>,
}

impl CallLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        // A panic while holding this lock cannot leave the Vec half-updated.
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Forgets what was recorded.
    pub fn reset(&self) {
        self.lock().clear();
    }

    /// What was recorded since the last reset, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock())
    }

    fn push(&self, call: String) {
        self.lock().push(call);
    }

    /// An interceptor that records into this log (add it to each client's
    /// configuration).
    pub fn interceptor(&self) -> CountingInterceptor {
        CountingInterceptor { log: self.clone() }
    }
}

/// The label of the request about to be sent, until its response arrives.
#[derive(Debug, Clone)]
struct PendingCall(String);

impl Storable for PendingCall {
    type Storer = StoreReplace<Self>;
}

/// Records each sent request as `Service.Operation` (see the module doc).
#[derive(Debug, Clone)]
pub struct CountingInterceptor {
    log: CallLog,
}

/// `Service.Operation`, with the `Range` of a ranged read, and marked when it
/// is `DynamoStore::session_alive`'s read: a `GetItem` of a `SESSION#` item
/// projecting only its TTL (`#exp`).
fn label(metadata: Option<&Metadata>, range: Option<&str>, body: Option<&[u8]>) -> String {
    let Some(m) = metadata else { return "unknown.unknown".into() };
    let mut label = format!("{}.{}", m.service(), m.name());
    if let Some(range) = range {
        label.push_str(&format!(" [Range: {range}]"));
    }
    let body = body.map(String::from_utf8_lossy).unwrap_or_default();
    if m.name() == "GetItem" && body.contains("\"SESSION#") && body.contains("\"ProjectionExpression\":\"#exp\"") {
        label.push_str(SESSION_CHECK);
    }
    label
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "CountingInterceptor"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let call = label(cfg.load::<Metadata>(), request.headers().get("range"), request.body().bytes());
        cfg.interceptor_state().store_put(PendingCall(call));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call = cfg.load::<PendingCall>().map(|p| p.0.clone()).unwrap_or_else(|| label(cfg.load::<Metadata>(), None, None));
        self.log.push(call);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_s3::presigning::PresigningConfig;

    use super::*;

    /// Counts `read_before_transmit` alone: what the naive hook would see.
    #[derive(Debug)]
    struct BeforeTransmitOnly(CallLog);

    impl Intercept for BeforeTransmitOnly {
        fn name(&self) -> &'static str {
            "BeforeTransmitOnly"
        }

        fn read_before_transmit(
            &self,
            _context: &BeforeTransmitInterceptorContextRef<'_>,
            _components: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.push(label(cfg.load::<Metadata>(), None, None));
            Ok(())
        }
    }

    fn offline_sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            // Nothing listens here: a request that were sent would fail.
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(aws_sdk_s3::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )))
            .build()
    }

    #[tokio::test]
    async fn presigning_counts_nothing_though_it_passes_before_transmit() {
        let (counted, naive) = (CallLog::new(), CallLog::new());
        let config = shared::adapters::s3::PhotoStorage::config(&offline_sdk())
            .interceptor(counted.interceptor())
            .interceptor(BeforeTransmitOnly(naive.clone()))
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let ttl = PresigningConfig::expires_in(Duration::from_secs(60)).unwrap();
        client.get_object().bucket("b").key("k").presigned(ttl.clone()).await.unwrap();
        client.put_object().bucket("b").key("k").content_length(3).presigned(ttl).await.unwrap();
        assert_eq!(counted.take(), Vec::<String>::new(), "presigning must not count");
        assert_eq!(naive.take(), vec!["S3.GetObject", "S3.PutObject"], "read_before_transmit alone would count it");
    }

    #[tokio::test]
    async fn a_request_that_gets_no_response_is_not_counted_as_answered() {
        let log = CallLog::new();
        let config = aws_sdk_s3::config::Builder::from(&offline_sdk())
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .interceptor(log.interceptor())
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        assert!(client.get_object().bucket("b").key("k").send().await.is_err());
        assert_eq!(log.take(), Vec::<String>::new());
    }

    #[test]
    fn labels_name_a_range_and_mark_the_session_read() {
        let m = Metadata::new("GetItem", "DynamoDB");
        let body = br##"{"TableName":"t","Key":{"pk":{"S":"USER#u"},"sk":{"S":"SESSION#s"}},"ProjectionExpression":"#exp","ExpressionAttributeNames":{"#exp":"expires_at"}}"##;
        assert_eq!(label(Some(&m), None, Some(body)), format!("DynamoDB.GetItem{SESSION_CHECK}"));
        assert_eq!(label(Some(&m), None, Some(br#"{"Key":{"sk":{"S":"PROFILE"}}}"#)), "DynamoDB.GetItem");
        assert_eq!(label(Some(&Metadata::new("Query", "DynamoDB")), None, None), "DynamoDB.Query");
        let get = Metadata::new("GetObject", "S3");
        assert_eq!(label(Some(&get), Some("bytes=0-9"), None), "S3.GetObject [Range: bytes=0-9]");
    }
}
