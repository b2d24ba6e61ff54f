//! The KIE HTTP client: `createTask`, `recordInfo` and result downloads,
//! checking the HTTP status **and** the envelope's `code` (business errors
//! come under HTTP 200), and sorting every failure by what to do about it.

use std::time::Duration;

use serde_json::Value;

use super::models::ProviderModel;
use super::record::{Envelope, task_state};
use crate::ports::ImageProvider;
use crate::provider::{ProviderError, TaskRequest, TaskState};

/// Sorts a KIE code into what to do.
pub fn classify(code: i64, message: String) -> ProviderError {
    match code {
        429 | 455 | 500..=599 if code != 501 && code != 505 => ProviderError::Retryable(format!("code {code}: {message}")),
        422 => ProviderError::Rejected(message),
        401 | 402 | 433 => ProviderError::Operator { code, message },
        _ => ProviderError::Fatal { code, message },
    }
}

/// The client, built once per cold start.
#[derive(Debug, Clone)]
pub struct KieClient {
    http: reqwest::Client,
    /// For result downloads: no key sent, https only, few redirects.
    downloads: reqwest::Client,
    base_url: String,
    upload_base_url: String,
    api_key: String,
}

/// Results larger than this are refused.
pub const MAX_RESULT_BYTES: usize = 30 * 1024 * 1024;
/// Redirects a result download may follow.
const MAX_REDIRECTS: usize = 3;

/// Whether a result may be fetched from `url`: https, or plain http only to
/// this machine (the local stack's simulator), so a provider's answer can
/// never make the worker fetch from inside a network over plain http.
pub fn downloadable(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

impl KieClient {
    /// A client for `base_url` (and KIE's file upload service at
    /// `upload_base_url`) with `api_key`.
    pub fn new(base_url: String, upload_base_url: String, api_key: String) -> Self {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::adapters::web_tls::client_config())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(20))
            .build()
            .expect("static client settings are valid");
        let downloads = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::adapters::web_tls::client_config())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if !downloadable(attempt.url()) {
                    attempt.error("a redirect to a URL that is not https")
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .expect("static client settings are valid");
        let trim = |u: String| u.trim_end_matches('/').to_string();
        KieClient { http, downloads, base_url: trim(base_url), upload_base_url: trim(upload_base_url), api_key }
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        let resp = req.bearer_auth(&self.api_key).send().await.map_err(|e| ProviderError::Retryable(network(&e)))?;
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
}

impl ImageProvider for KieClient {
    /// Whether the provider cannot fetch `link` itself: the link points at a
    /// loopback or private address (a local stack) while the provider is not
    /// on this machine. Then the photo goes through KIE's file upload service.
    fn cannot_reach(&self, link: &str) -> bool {
        let host = |url: &str| url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default().to_string();
        let private = |h: &str| match h.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local(),
            Ok(std::net::IpAddr::V6(ip)) => ip.is_loopback(),
            Err(_) => h == "localhost",
        };
        private(&host(link)) && !private(&host(&self.base_url))
    }

    /// Uploads a photo to KIE's file upload service; returns its download URL.
    async fn upload_photo(&self, bytes: Vec<u8>, file_name: &str) -> Result<String, ProviderError> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(file_name.to_string())
            .mime_str("image/jpeg")
            .map_err(|e| ProviderError::Fatal { code: 0, message: e.to_string() })?;
        let form = reqwest::multipart::Form::new().part("file", part).text("uploadPath", "pro-portrait").text("fileName", file_name.to_string());
        let url = format!("{}/api/file-stream-upload", self.upload_base_url);
        let data = self.call(self.http.post(url).multipart(form)).await?;
        data.get("downloadUrl")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Fatal { code: 0, message: "the upload answered no downloadUrl".into() })
    }

    fn price_micro_usd(&self, task: &TaskRequest) -> i64 {
        ProviderModel { name: task.model.clone() }.price_micro_usd(&task.resolution)
    }

    /// Creates a task on the task's model; returns its id.
    async fn create_task(&self, task: &TaskRequest) -> Result<String, ProviderError> {
        let model = ProviderModel { name: task.model.clone() };
        let body = model.create_task_body(&task.prompt, &task.image_url, &task.callback_url, &task.resolution);
        let data = self.call(self.http.post(format!("{}/api/v1/jobs/createTask", self.base_url)).json(&body)).await?;
        data.get("taskId")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Fatal { code: 0, message: "createTask answered no taskId".into() })
    }

    /// The task's state, as KIE says now.
    async fn task_state(&self, task_id: &str) -> Result<TaskState, ProviderError> {
        let task: String = form_urlencoded::byte_serialize(task_id.as_bytes()).collect();
        let url = format!("{}/api/v1/jobs/recordInfo?taskId={task}", self.base_url);
        let data = self.call(self.http.get(url)).await?;
        task_state(&data).map_err(|message| ProviderError::Fatal { code: 0, message })
    }

    /// Downloads a result (its link expires: do it at once): https only
    /// (plain http to this machine for the simulator), at most
    /// [`MAX_REDIRECTS`] redirects, and never more than [`MAX_RESULT_BYTES`]
    /// read, whatever the answer says its length is.
    async fn download(&self, url: &str) -> Result<Vec<u8>, ProviderError> {
        let refused = |message: &str| ProviderError::Fatal { code: 0, message: message.into() };
        let parsed = reqwest::Url::parse(url).map_err(|_| refused("the result link is not a URL"))?;
        if !downloadable(&parsed) {
            return Err(refused("the result link is not https"));
        }
        let mut resp = self
            .downloads
            .get(parsed)
            .send()
            .await
            .map_err(|e| if e.is_redirect() { refused("the result link redirects too far or off https") } else { ProviderError::Retryable(network(&e)) })?;
        if !resp.status().is_success() {
            return Err(classify(resp.status().as_u16() as i64, "result download failed".into()));
        }
        let too_large = || ProviderError::Fatal { code: 413, message: "result too large".into() };
        if resp.content_length().is_some_and(|l| l as usize > MAX_RESULT_BYTES) {
            return Err(too_large());
        }
        // A chunked answer says no length: the limit holds while reading.
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| ProviderError::Retryable(network(&e)))? {
            if bytes.len() + chunk.len() > MAX_RESULT_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// A network error without its URL (links carry signatures and secrets).
fn network(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timeout".into()
    } else if err.is_connect() {
        "connection failed".into()
    } else {
        "network error".into()
    }
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
        let url = client.upload_photo(b"photo bytes".to_vec(), "job.jpg").await.unwrap();
        assert!(url.starts_with(&base), "{url}");
        let back = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
        assert_eq!(&back[..], b"photo bytes");
        let wrong_key = KieClient::new(base.clone(), base, "nope".into());
        assert!(matches!(wrong_key.upload_photo(b"x".to_vec(), "a.jpg").await, Err(ProviderError::Operator { code: 401, .. })));
        server.abort();
    }

    #[test]
    fn results_come_over_https_or_from_this_machine() {
        let ok = |u: &str| downloadable(&reqwest::Url::parse(u).unwrap());
        assert!(ok("https://tempfile.aiquickdraw.com/r/abc.png"));
        assert!(ok("http://127.0.0.1:9000/files/x.png") && ok("http://[::1]:9000/x") && ok("http://localhost/x"));
        assert!(!ok("http://tempfile.aiquickdraw.com/r/abc.png"), "plain http elsewhere");
        assert!(!ok("http://169.254.169.254/latest/meta-data/"), "the instance metadata service");
        assert!(!ok("http://10.0.0.5/internal") && !ok("ftp://example.com/x") && !ok("file:///etc/passwd"));
    }

    /// A server that answers each request with the next of `answers` (raw HTTP).
    async fn serve_raw(answers: Vec<String>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            for answer in answers {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        base
    }

    #[tokio::test]
    async fn a_download_follows_few_redirects_and_stops_at_the_size_limit_while_reading() {
        let client = KieClient::new("http://127.0.0.1:1".into(), "http://127.0.0.1:1".into(), "k".into());
        // A chunked answer that never says its length, larger than the limit.
        let chunk = "x".repeat(1024 * 1024);
        let mut body = String::new();
        for _ in 0..=MAX_RESULT_BYTES / chunk.len() {
            body.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
        }
        body.push_str("0\r\n\r\n");
        let big = serve_raw(vec![format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{body}")]).await;
        assert!(matches!(client.download(&format!("{big}/r.png")).await, Err(ProviderError::Fatal { code: 413, .. })));
        // A redirect off https is not followed.
        let off = serve_raw(vec!["HTTP/1.1 302 Found\r\nlocation: http://10.1.2.3/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()]).await;
        assert!(matches!(client.download(&format!("{off}/r.png")).await, Err(ProviderError::Fatal { .. })));
        // Nor are more than three redirects.
        let hop = |to: &str| format!("HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let loop_base = serve_raw(vec![hop("/a"), hop("/b"), hop("/c"), hop("/d"), hop("/e")]).await;
        assert!(matches!(client.download(&format!("{loop_base}/r.png")).await, Err(ProviderError::Fatal { .. })));
        assert!(matches!(client.download("http://example.com/r.png").await, Err(ProviderError::Fatal { .. })), "plain http elsewhere is not even tried");
    }

    #[test]
    fn codes_are_sorted_by_what_to_do() {
        assert!(matches!(classify(429, String::new()), ProviderError::Retryable(_)));
        assert!(matches!(classify(455, String::new()), ProviderError::Retryable(_)));
        assert!(matches!(classify(500, String::new()), ProviderError::Retryable(_)));
        assert!(matches!(classify(422, String::new()), ProviderError::Rejected(_)));
        assert!(matches!(classify(402, String::new()), ProviderError::Operator { code: 402, .. }));
        assert!(matches!(classify(401, String::new()), ProviderError::Operator { .. }));
        assert!(matches!(classify(404, String::new()), ProviderError::Fatal { .. }));
        assert!(matches!(classify(505, String::new()), ProviderError::Fatal { .. }));
    }
}
