//! The KIE HTTP client: `createTask`, `recordInfo` and result downloads,
//! checking the HTTP status **and** the envelope's `code` (business errors
//! come under HTTP 200), and sorting every failure by what to do about it.

use std::time::Duration;

use serde_json::Value;

use super::record::{Envelope, TaskState, task_state};

/// What a failed call to KIE means for the job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KieError {
    /// 429, 455, 5xx or a network error: try again later, with backoff.
    #[error("KIE is unavailable ({0})")]
    Retryable(String),
    /// 422: validation, which includes content moderation.
    #[error("KIE rejected the content: {0}")]
    Rejected(String),
    /// 401, 402, 433: our account or key is at fault; operators must act.
    #[error("KIE account problem (code {code}): {message}")]
    Operator {
        /// KIE's code.
        code: i64,
        /// KIE's message.
        message: String,
    },
    /// Anything else (400, 404, 505, a malformed answer): do not retry.
    #[error("KIE refused (code {code}): {message}")]
    Fatal {
        /// KIE's code (0 when there was none).
        code: i64,
        /// KIE's message.
        message: String,
    },
}

/// Sorts a KIE code into what to do.
pub fn classify(code: i64, message: String) -> KieError {
    match code {
        429 | 455 | 500..=599 if code != 501 && code != 505 => KieError::Retryable(format!("code {code}: {message}")),
        422 => KieError::Rejected(message),
        401 | 402 | 433 => KieError::Operator { code, message },
        _ => KieError::Fatal { code, message },
    }
}

/// The client, built once per cold start.
#[derive(Debug, Clone)]
pub struct KieClient {
    http: reqwest::Client,
    base_url: String,
    upload_base_url: String,
    api_key: String,
}

/// Results larger than this are refused.
pub const MAX_RESULT_BYTES: usize = 30 * 1024 * 1024;

impl KieClient {
    /// A client for `base_url` (and KIE's file upload service at
    /// `upload_base_url`) with `api_key`.
    pub fn new(base_url: String, upload_base_url: String, api_key: String) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .expect("static client settings are valid");
        let trim = |u: String| u.trim_end_matches('/').to_string();
        KieClient { http, base_url: trim(base_url), upload_base_url: trim(upload_base_url), api_key }
    }

    /// Whether the provider cannot fetch `link` itself: the link points at a
    /// loopback or private address (a local stack) while the provider is not
    /// on this machine. Then the photo goes through KIE's file upload service.
    pub fn cannot_reach(&self, link: &str) -> bool {
        let host = |url: &str| url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default().to_string();
        let private = |h: &str| match h.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
            Ok(std::net::IpAddr::V6(ip)) => ip.is_loopback(),
            Err(_) => h == "localhost",
        };
        private(&host(link)) && !private(&host(&self.base_url))
    }

    /// Uploads a photo to KIE's file upload service; returns its download URL.
    pub async fn upload_file(&self, bytes: Vec<u8>, file_name: &str) -> Result<String, KieError> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_string())
            .mime_str("image/jpeg")
            .map_err(|e| KieError::Fatal { code: 0, message: e.to_string() })?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("uploadPath", "pro-portrait")
            .text("fileName", file_name.to_string());
        let url = format!("{}/api/file-stream-upload", self.upload_base_url);
        let data = self.call(self.http.post(url).multipart(form)).await?;
        data.get("downloadUrl")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| KieError::Fatal { code: 0, message: "the upload answered no downloadUrl".into() })
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, KieError> {
        let resp = req.bearer_auth(&self.api_key).send().await.map_err(|e| KieError::Retryable(network(&e)))?;
        let status = resp.status().as_u16() as i64;
        let envelope: Option<Envelope> = resp.json().await.ok();
        let (code, message) = match &envelope {
            Some(env) => (env.code.unwrap_or(status), env.msg.clone().unwrap_or_default()),
            None => (status, "answer is not KIE's JSON envelope".to_string()),
        };
        if status != 200 {
            // The HTTP status speaks first; the body may repeat it or say more.
            return Err(classify(if code == 200 { status } else { code }, message));
        }
        if code != 200 {
            return Err(classify(code, message));
        }
        Ok(envelope.map(|e| e.data).unwrap_or_default())
    }

    /// Creates a task; returns its id.
    pub async fn create_task(&self, body: &Value) -> Result<String, KieError> {
        let data = self.call(self.http.post(format!("{}/api/v1/jobs/createTask", self.base_url)).json(body)).await?;
        data.get("taskId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| KieError::Fatal { code: 0, message: "createTask answered no taskId".into() })
    }

    /// The task's state, as KIE says now.
    pub async fn record_info(&self, task_id: &str) -> Result<TaskState, KieError> {
        let task: String = form_urlencoded::byte_serialize(task_id.as_bytes()).collect();
        let url = format!("{}/api/v1/jobs/recordInfo?taskId={task}", self.base_url);
        let data = self.call(self.http.get(url)).await?;
        task_state(&data).map_err(|message| KieError::Fatal { code: 0, message })
    }

    /// Downloads a result (its link expires: do it at once).
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, KieError> {
        let resp = self.http.get(url).timeout(Duration::from_secs(60)).send().await.map_err(|e| KieError::Retryable(network(&e)))?;
        if !resp.status().is_success() {
            return Err(classify(resp.status().as_u16() as i64, "result download failed".into()));
        }
        if resp.content_length().is_some_and(|l| l as usize > MAX_RESULT_BYTES) {
            return Err(KieError::Fatal { code: 413, message: "result too large".into() });
        }
        let bytes = resp.bytes().await.map_err(|e| KieError::Retryable(network(&e)))?;
        if bytes.len() > MAX_RESULT_BYTES {
            return Err(KieError::Fatal { code: 413, message: "result too large".into() });
        }
        Ok(bytes.to_vec())
    }
}

/// A network error without its URL (links carry signatures and secrets).
fn network(err: &reqwest::Error) -> String {
    if err.is_timeout() { "timeout".into() } else if err.is_connect() { "connection failed".into() } else { "network error".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_links_go_through_the_upload_service_only_for_a_remote_provider() {
        let remote = KieClient::new("https://api.kie.ai".into(), "https://kieai.redpandaai.co".into(), "k".into());
        assert!(remote.cannot_reach("http://127.0.0.1:4566/bucket/users/u/x?X-Amz-Signature=1"));
        assert!(remote.cannot_reach("http://localhost:4566/b/k"));
        assert!(!remote.cannot_reach("https://bucket.s3.eu-west-1.amazonaws.com/users/u/x"));
        let local = KieClient::new("http://127.0.0.1:9000".into(), "http://127.0.0.1:9000".into(), "k".into());
        assert!(!local.cannot_reach("http://127.0.0.1:4566/bucket/k"), "a local simulator reaches local links");
    }

    #[tokio::test]
    async fn uploads_a_photo_to_the_file_upload_service() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sim = kie_sim::Simulator::new(kie_sim::SimConfig { api_key: "key".into(), hmac_key: None, default_delay: Duration::from_millis(10) });
        let server = sim.spawn(listener);
        let client = KieClient::new(base.clone(), base.clone(), "key".into());
        let url = client.upload_file(b"photo bytes".to_vec(), "job.jpg").await.unwrap();
        assert!(url.starts_with(&base), "{url}");
        let back = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
        assert_eq!(&back[..], b"photo bytes");
        let wrong_key = KieClient::new(base.clone(), base, "nope".into());
        assert!(matches!(wrong_key.upload_file(b"x".to_vec(), "a.jpg").await, Err(KieError::Operator { code: 401, .. })));
        server.abort();
    }

    #[test]
    fn codes_are_sorted_by_what_to_do() {
        assert!(matches!(classify(429, String::new()), KieError::Retryable(_)));
        assert!(matches!(classify(455, String::new()), KieError::Retryable(_)));
        assert!(matches!(classify(500, String::new()), KieError::Retryable(_)));
        assert!(matches!(classify(422, String::new()), KieError::Rejected(_)));
        assert!(matches!(classify(402, String::new()), KieError::Operator { code: 402, .. }));
        assert!(matches!(classify(401, String::new()), KieError::Operator { .. }));
        assert!(matches!(classify(404, String::new()), KieError::Fatal { .. }));
        assert!(matches!(classify(505, String::new()), KieError::Fatal { .. }));
    }
}
