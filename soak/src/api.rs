//! The app's HTTP client on a flaky network: every call is retried on a
//! connection error or a 5xx with jittered exponential backoff (the same
//! request again: a job creation keeps its `Idempotency-Key` and body), a 429
//! waits its `Retry-After`, and every non-2xx answer is counted per route and
//! status for the report.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

/// Non-2xx answers (and connection errors) per route and status.
#[derive(Debug, Default)]
pub struct Stats {
    answers: Mutex<BTreeMap<(String, String), u64>>,
    /// Milliseconds of every try of an API route (not the simulators' or the bucket's).
    times: Mutex<Vec<u64>>,
}

impl Stats {
    /// Counts one answer that was not a success.
    pub fn record(&self, route: &str, status: &str) {
        if let Ok(mut map) = self.answers.lock() {
            *map.entry((route.to_string(), status.to_string())).or_default() += 1;
        }
    }

    /// Records how long one try of `route` took.
    pub fn time(&self, route: &str, took: Duration) {
        if route.contains(" /v1/")
            && let Ok(mut times) = self.times.lock()
        {
            times.push(took.as_millis() as u64);
        }
    }

    /// Every API try's time in ms, sorted.
    pub fn times(&self) -> Vec<u64> {
        let mut times = self.times.lock().map(|t| t.clone()).unwrap_or_default();
        times.sort_unstable();
        times
    }

    /// Every count, by route then status.
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.answers.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// One request, rebuilt for every try.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// The route as counted in the report (`POST /v1/jobs`, `GET /v1/jobs/{id}`).
    pub route: String,
    /// A JSON body.
    pub json: Option<Value>,
    /// Raw bytes (the photo's `PUT`).
    pub bytes: Option<Vec<u8>>,
    /// Further headers (the `Idempotency-Key`, a link's signed headers).
    pub headers: Vec<(String, String)>,
    /// A bearer token.
    pub bearer: Option<String>,
}

impl Call {
    /// A call without body or headers.
    pub fn new(method: Method, url: impl Into<String>, route: impl Into<String>) -> Self {
        Call { method, url: url.into(), route: route.into(), json: None, bytes: None, headers: Vec::new(), bearer: None }
    }

    /// With a JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.json = Some(body);
        self
    }

    /// With a bearer token.
    pub fn bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_string());
        self
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// The final answer to a call (after its retries).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status; 0 when the last try got no answer at all.
    pub status: u16,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// How many tries it took.
    pub tries: u32,
}

impl Answer {
    /// Whether it is a 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A string field of the body.
    pub fn str(&self, field: &str) -> Option<String> {
        self.body[field].as_str().map(String::from)
    }
}

/// A random loopback address other than 127.0.0.1: each simulated phone has
/// its own source address, as the per-IP sign-up limit expects.
pub fn random_loopback(rng: &mut impl Rng) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, rng.random_range(1..=254), rng.random_range(0..=255), rng.random_range(1..=254)))
}

/// One phone's HTTP client.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
}

/// How long one try may take: routes get `LOCAL_TIME_SCALE` times their
/// template timeout on the local stack (up to 90 s for the slowest), and a
/// phone waits as long before it calls the try lost.
const TRY_TIMEOUT: Duration = Duration::from_secs(100);
/// The longest wait for a 429's `Retry-After`.
const MAX_RETRY_AFTER: u64 = 60;

impl Api {
    /// A client whose connections come from `ip`.
    pub fn from(ip: IpAddr) -> Result<Self, reqwest::Error> {
        Ok(Api { http: reqwest::Client::builder().local_address(ip).timeout(TRY_TIMEOUT).build()? })
    }

    async fn try_once(&self, call: &Call) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self.http.request(call.method.clone(), &call.url);
        for (name, value) in &call.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(token) = &call.bearer {
            req = req.bearer_auth(token);
        }
        if let Some(json) = &call.json {
            req = req.json(json);
        } else if let Some(bytes) = &call.bytes {
            req = req.body(bytes.clone());
        }
        req.send().await
    }

    /// Sends `call`, retrying connection errors and 5xx answers, and waiting
    /// out 429s, until it gets another answer or `budget` is spent (then the
    /// last answer is returned). Every non-2xx answer is counted in `stats`.
    pub async fn send(&self, call: &Call, stats: &Stats, budget: Duration) -> Answer {
        let give_up = Instant::now() + budget;
        let mut backoff = Duration::from_millis(250);
        let mut tries = 0;
        loop {
            tries += 1;
            let began = Instant::now();
            let (status, body, retry_after) = match self.try_once(call).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
                    let text = resp.text().await.unwrap_or_default();
                    (status, serde_json::from_str(&text).unwrap_or(Value::Null), retry_after)
                }
                Err(err) => {
                    stats.record(&call.route, if err.is_timeout() { "timeout" } else { "connection error" });
                    (0, Value::Null, None)
                }
            };
            stats.time(&call.route, began.elapsed());
            if status != 0 && !(200..300).contains(&status) {
                stats.record(&call.route, &status.to_string());
            }
            let answer = Answer { status, body, tries };
            let wait = match status {
                0 | 500..=599 => {
                    // Jitter in [1/2, 1] of the step, so phones that failed together spread out.
                    let step = backoff.mul_f64(rand::rng().random_range(0.5..=1.0));
                    backoff = (backoff * 2).min(Duration::from_secs(8));
                    retry_after.map_or(step, |s| Duration::from_secs(s.min(MAX_RETRY_AFTER)).max(step))
                }
                429 => Duration::from_secs(retry_after.unwrap_or(5).clamp(1, MAX_RETRY_AFTER)),
                _ => return answer,
            };
            if Instant::now() + wait > give_up {
                return answer;
            }
            tokio::time::sleep(wait).await;
        }
    }
}
