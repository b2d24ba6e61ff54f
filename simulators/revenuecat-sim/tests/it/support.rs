//! Test helpers: a simulator on 127.0.0.1:0 pointed at a tiny local webhook receiver that
//! records every delivery (headers and body), and a client for both.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use revenuecat_sim::{SimConfig, Simulator};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The secret API key every test simulator accepts.
pub const KEY: &str = "sk_sim_test_key";
/// The `Authorization` value every test simulator sends with webhooks.
pub const WEBHOOK_AUTH: &str = "Bearer webhook-secret-1";

/// One delivery the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: http::HeaderMap,
    pub raw: Bytes,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
}

/// Records POSTs and answers 200 `ok` (500 `boom` under `/fail`).
pub struct Receiver {
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&received);
        let server = tokio::spawn(sim_http::serve(listener, "receiver", move |req| {
            let store = Arc::clone(&store);
            async move {
                let (parts, body) = req.into_parts();
                let raw = body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
                let path = parts.uri.path().to_string();
                let failing = path.starts_with("/fail");
                store.lock().expect("lock").push(Received { path, headers: parts.headers, body: serde_json::from_slice(&raw).unwrap_or(Value::Null), raw });
                let (status, text) = if failing { (500, "boom") } else { (200, "ok") };
                let mut resp = hyper::Response::new(Full::new(Bytes::from(text)));
                *resp.status_mut() = http::StatusCode::from_u16(status).expect("status");
                resp
            }
        }));
        Receiver { base, received, server }
    }

    /// The URL of the webhook route.
    pub fn webhook_url(&self) -> String {
        format!("{}/v1/webhooks/revenuecat", self.base)
    }

    /// Deliveries received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until at least `n` deliveries have arrived (10 s at most) and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "expected {n} deliveries, got {}", got.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A running simulator delivering to a [`Receiver`], and a client for both.
pub struct Sim {
    pub base: String,
    pub sim: Arc<Simulator>,
    pub receiver: Receiver,
    pub client: reqwest::Client,
    server: JoinHandle<()>,
}

impl Sim {
    pub async fn start() -> Sim {
        let receiver = Receiver::start().await;
        let sim =
            Simulator::new(SimConfig { api_key: KEY.to_string(), webhook_url: Some(receiver.webhook_url()), webhook_authorization: WEBHOOK_AUTH.to_string() });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sim");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = sim.spawn(listener);
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client");
        Sim { base, sim, receiver, client, server }
    }

    /// A control API POST: (HTTP status, JSON body).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self.client.post(format!("{}{path}", self.base)).json(body).send().await.expect("POST");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// A control API POST that must answer 200; returns the body.
    pub async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// A control API GET: (HTTP status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("GET");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// A REST call with `key` as the bearer token (none when `None`): the raw response.
    pub async fn rest(&self, method: reqwest::Method, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("REST call")
    }

    /// `GET /v1/subscribers/{id}` with the right key; must answer 200; returns the body.
    pub async fn subscriber(&self, app_user_id: &str) -> Value {
        let resp = self.rest(reqwest::Method::GET, &format!("/v1/subscribers/{app_user_id}"), Some(KEY)).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.expect("json")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
