//! Test plumbing: a fake emulator that records what it receives and answers a fixed response,
//! a proxy in front of it, raw HTTP/1.1 over TCP, and SDK clients pointed at the proxy with a
//! short retry backoff.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fault_proxy::{FaultConfig, Faults};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as the fake emulator received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What the fake emulator answers to everything.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Default for Answer {
    fn default() -> Self {
        Answer { status: 200, headers: vec![("content-type", "application/x-amz-json-1.0".into())], body: Bytes::from_static(b"{}") }
    }
}

/// The fake emulator.
pub struct Upstream {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Recorded>>>,
    pub answer: Arc<Mutex<Answer>>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(Answer::default()));
        let (s, a) = (Arc::clone(&seen), Arc::clone(&answer));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, answer) = (Arc::clone(&s), Arc::clone(&a));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.expect("upstream body").to_bytes();
                            seen.lock().expect("seen").push(Recorded {
                                method: parts.method.to_string(),
                                path_and_query: parts.uri.path_and_query().map(std::string::ToString::to_string).unwrap_or_default(),
                                headers: parts.headers.iter().map(|(n, v)| (n.to_string(), v.to_str().expect("ascii").to_string())).collect(),
                                body,
                            });
                            let answer = answer.lock().expect("answer").clone();
                            let mut resp = hyper::Response::new(Full::new(answer.body));
                            *resp.status_mut() = http::StatusCode::from_u16(answer.status).expect("status");
                            for (name, value) in answer.headers {
                                resp.headers_mut().append(name, value.parse().expect("value"));
                            }
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Upstream { url, seen, answer, task }
    }

    pub fn seen(&self) -> Vec<Recorded> {
        self.seen.lock().expect("seen").clone()
    }

    /// How many requests named `operation` (in `x-amz-target`, or anywhere in the path).
    pub fn count(&self, operation: &str) -> usize {
        self.seen().iter().filter(|r| r.header("x-amz-target").is_some_and(|t| t.ends_with(operation)) || r.path_and_query.contains(operation)).count()
    }

    pub fn set_answer(&self, answer: Answer) {
        *self.answer.lock().expect("answer") = answer;
    }
}

/// A proxy in front of a fake emulator.
pub struct Harness {
    pub upstream: Upstream,
    pub faults: Faults,
    pub url: String,
    /// One client per test: building one takes tens of milliseconds (TLS roots).
    pub client: reqwest::Client,
    server: JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    pub async fn start(config: FaultConfig) -> Harness {
        let upstream = Upstream::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let faults = Faults::new(upstream.url.clone(), config);
        let server = faults.spawn(listener);
        Harness { upstream, faults, url, client: http_client(), server }
    }

    pub async fn off() -> Harness {
        Harness::start(FaultConfig::default()).await
    }

    /// Posts rules to the control API; panics unless accepted.
    pub async fn rule(&self, rule: Value) -> Value {
        let (status, body) = self.control("POST", "/_faults/rules", Some(rule)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// A control API call: status and JSON answer.
    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        let resp = req.send().await.expect("control call");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("control JSON"))
    }

    /// A DynamoDB JSON call straight over HTTP (no SDK, so no retries): status and body.
    pub async fn dynamodb(&self, operation: &str, body: &str) -> (u16, String) {
        let resp = self
            .client
            .post(format!("{}/", self.url))
            .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.to_string())
            .send()
            .await
            .expect("dynamodb call");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("text"))
    }

    /// A plain request through the proxy: status and body.
    pub async fn call(&self, method: &str, path_and_query: &str) -> (u16, String) {
        let method = http::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self.client.request(method, format!("{}{path_and_query}", self.url)).send().await.expect("call");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("text"))
    }

    pub fn host_port(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

/// One raw HTTP/1.1 exchange on `stream`: writes `request`, reads one response (head and a
/// `content-length` body). `Err` is what reading gave instead (EOF or an I/O error).
pub async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Result<(String, Vec<u8>), std::io::Error> {
    stream.write_all(request).await?;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.map_err(|e| std::io::Error::new(e.kind(), format!("{e} after {} bytes", buf.len())))?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("EOF after {} bytes", buf.len())));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("head");
    let length: usize =
        head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().expect("length"))).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}

fn retry() -> aws_sdk_dynamodb::config::retry::RetryConfig {
    aws_sdk_dynamodb::config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn credentials() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("AKIDTEST", "test-secret", None, None, "test")
}

/// A DynamoDB client with test credentials, us-east-1, the proxy as endpoint, 3 attempts.
pub fn dynamodb(url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(credentials())
        .endpoint_url(url)
        .retry_config(retry())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// An S3 client (path-style) like [`dynamodb`]'s.
pub fn s3(url: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(credentials())
        .endpoint_url(url)
        .force_path_style(true)
        .retry_config(retry())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// An SQS client like [`dynamodb`]'s.
pub fn sqs(url: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(credentials())
        .endpoint_url(url)
        .retry_config(retry())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// The rule with `id` as `GET /_faults/rules` lists it.
pub async fn rule_view(h: &Harness, id: u64) -> Value {
    let (_, rules) = h.control("GET", "/_faults/rules", None).await;
    rules.as_array().expect("rules").iter().find(|r| r["id"] == id).cloned().expect("rule listed")
}
