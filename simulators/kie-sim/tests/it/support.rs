//! Test helpers: a simulator on 127.0.0.1:0, and a tiny local "internet" server that serves the
//! input photos and records the callbacks it receives.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};
use kie_sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The API key every test simulator accepts.
pub const KEY: &str = "sim-test-key";

/// An 800×600 PNG with a gradient, served at `/photo.png` (made once per test binary).
pub fn photo_png() -> Vec<u8> {
    static PHOTO: OnceLock<Vec<u8>> = OnceLock::new();
    PHOTO
        .get_or_init(|| {
            let img = RgbImage::from_fn(800, 600, |x, y| Rgb([(x / 4) as u8, (y / 3) as u8, 120]));
            let mut out = Vec::new();
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::NoFilter)
                .write_image(img.as_raw(), 800, 600, ExtendedColorType::Rgb8)
                .expect("encode png");
            out
        })
        .clone()
}

/// One request the fixture server received on `/cb/...`.
#[derive(Debug, Clone)]
pub struct Received {
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Value,
}

/// Serves `/photo.png`, `/text` (not an image) and 404 elsewhere; records POSTs to `/cb/...`
/// (answering 200, or 500 under `/cb/fail`).
pub struct Fixture {
    pub base: String,
    pub photo: Vec<u8>,
    received: Arc<Mutex<Vec<Received>>>,
    notify: Arc<Notify>,
    server: JoinHandle<()>,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fixture");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let photo = photo_png();
        let received = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let (photo_s, received_s, notify_s) = (Bytes::from(photo.clone()), Arc::clone(&received), Arc::clone(&notify));
        let server = tokio::spawn(sim_http::serve(listener, "fixture", move |req| {
            let (photo, received, notify) = (photo_s.clone(), Arc::clone(&received_s), Arc::clone(&notify_s));
            async move {
                let (parts, body) = req.into_parts();
                let body = body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
                let path = parts.uri.path().to_string();
                let (status, bytes) = if path == "/photo.png" {
                    (200, photo)
                } else if path == "/text" {
                    (200, Bytes::from_static(b"this is not an image"))
                } else if path.starts_with("/cb/") {
                    let pq = parts.uri.path_and_query().map(std::string::ToString::to_string).unwrap_or_default();
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    received.lock().expect("lock").push(Received { path_and_query: pq, headers: parts.headers, body });
                    notify.notify_waiters();
                    let status = if path.starts_with("/cb/fail") { 500 } else { 200 };
                    (status, Bytes::from_static(b"ok"))
                } else {
                    (404, Bytes::from_static(b"not found"))
                };
                let mut resp = hyper::Response::new(Full::new(bytes));
                *resp.status_mut() = http::StatusCode::from_u16(status).expect("status");
                resp
            }
        }));
        Fixture { base, photo, received, notify, server }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Callbacks received so far.
    pub fn callbacks(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until at least `n` callbacks have arrived (10 s at most) and returns them all.
    pub async fn wait_callbacks(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.notify.notified();
            let got = self.callbacks();
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} callbacks, got {}", self.callbacks().len());
            }
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A running simulator and a client for it.
pub struct Sim {
    pub base: String,
    pub sim: Arc<Simulator>,
    pub client: reqwest::Client,
    server: JoinHandle<()>,
}

impl Sim {
    pub async fn start(hmac_key: Option<&[u8]>, delay_ms: u64) -> Sim {
        let sim =
            Simulator::new(SimConfig { api_key: KEY.to_string(), hmac_key: hmac_key.map(<[u8]>::to_vec), default_delay: Duration::from_millis(delay_ms) });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sim");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = sim.spawn(listener);
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client");
        Sim { base, sim, client, server }
    }

    /// `POST /api/v1/jobs/createTask` with the key: (HTTP status, body).
    pub async fn create(&self, body: &Value) -> (u16, Value) {
        let resp = self.client.post(format!("{}/api/v1/jobs/createTask", self.base)).bearer_auth(KEY).json(body);
        let resp = resp.send().await.expect("createTask");
        (resp.status().as_u16(), resp.json().await.expect("json"))
    }

    /// Creates a task that must be accepted; returns its id.
    pub async fn create_ok(&self, body: &Value) -> String {
        let (status, answer) = self.create(body).await;
        assert_eq!((status, answer["code"].as_i64()), (200, Some(200)), "{answer}");
        answer["data"]["taskId"].as_str().expect("taskId").to_string()
    }

    /// `GET /api/v1/jobs/recordInfo?taskId=` with the key: (HTTP status, body).
    pub async fn record(&self, task_id: &str) -> (u16, Value) {
        let url = format!("{}/api/v1/jobs/recordInfo?taskId={task_id}", self.base);
        let resp = self.client.get(url).bearer_auth(KEY).send().await.expect("recordInfo");
        (resp.status().as_u16(), resp.json().await.expect("json"))
    }

    /// Polls `recordInfo` until the task is `success` or `fail`; returns its `data`.
    pub async fn wait_final(&self, task_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, answer) = self.record(task_id).await;
            let state = answer["data"]["state"].as_str().unwrap_or_default().to_string();
            if state == "success" || state == "fail" {
                return answer["data"].clone();
            }
            assert!(["waiting", "generating"].contains(&state.as_str()), "unexpected answer {answer}");
            assert!(tokio::time::Instant::now() < deadline, "task {task_id} did not finish: {answer}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A control API GET: (HTTP status, JSON body).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("GET");
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    /// `POST /sim/rules`; returns the rule id.
    pub async fn rule(&self, rule: Value) -> u64 {
        let resp = self.client.post(format!("{}/sim/rules", self.base)).json(&rule).send().await.expect("rule");
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.expect("json")["id"].as_u64().expect("id")
    }

    /// A task's entry in `GET /sim/tasks`.
    pub async fn task(&self, task_id: &str) -> Value {
        let (status, body) = self.get(&format!("/sim/tasks/{task_id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A `google/nano-banana-edit` createTask body.
pub fn create_body(image_url: &str, callback_url: Option<&str>, prompt: &str) -> Value {
    let mut body = json!({
        "model": "google/nano-banana-edit",
        "input": {"prompt": prompt, "image_urls": [image_url], "output_format": "png", "aspect_ratio": "3:4"},
    });
    if let Some(cb) = callback_url {
        body["callBackUrl"] = json!(cb);
    }
    body
}
