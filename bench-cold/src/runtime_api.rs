//! A stand-in for the Lambda Runtime API on 127.0.0.1, one per run of a
//! bootstrap: `GET /2018-06-01/runtime/invocation/next` hands out the events
//! the driver queues (with the headers Lambda sends), `POST
//! .../invocation/{id}/response` and `.../error` take the answers, and `POST
//! .../runtime/init/error` a failed start. What happens is reported to the
//! driver with the instant it happened, taken when the request's head has
//! arrived (before its body is read) and, for an event, just before it is
//! written back.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use shared::error::BoxError;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

const PREFIX: &str = "/2018-06-01/runtime";

/// One event to hand out.
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub id: String,
    /// The event's JSON.
    pub body: Bytes,
    /// `Lambda-Runtime-Deadline-Ms`: Unix milliseconds.
    pub deadline_ms: u128,
}

/// What the bootstrap did.
pub enum Report {
    /// Its first `GET /next` arrived.
    FirstNext(Instant),
    /// It answered an invocation (`/response`), or reported it failed (`/error`).
    Answered {
        /// The invocation's id.
        id: String,
        /// When the event was handed out.
        sent: Option<Instant>,
        /// When the answer's head arrived.
        at: Instant,
        /// The answer (or the error document).
        body: Bytes,
        /// `/error` rather than `/response`.
        failed: bool,
    },
    /// It reported a failed start (`/init/error`).
    InitError(String),
}

struct State {
    function_arn: String,
    queue: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    sent: Mutex<HashMap<String, Instant>>,
    seen_next: AtomicBool,
    reports: mpsc::UnboundedSender<Report>,
}

/// A running stand-in, stopped (with its connections) when dropped.
pub struct RuntimeApi {
    /// Where it listens (`AWS_LAMBDA_RUNTIME_API`).
    pub addr: SocketAddr,
    events: mpsc::Sender<Invocation>,
    /// What the bootstrap did, in order.
    pub reports: mpsc::UnboundedReceiver<Report>,
    task: JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts a stand-in for the function `name` on a free port.
    pub async fn start(name: &str) -> Result<Self, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (events, queue) = mpsc::channel(1);
        let (report_tx, reports) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            queue: tokio::sync::Mutex::new(queue),
            sent: Mutex::new(HashMap::new()),
            seen_next: AtomicBool::new(false),
            reports: report_tx,
        });
        let task = tokio::spawn(serve(listener, state));
        Ok(RuntimeApi { addr, events, reports, task })
    }

    /// Queues an event: the bootstrap's next (or pending) `GET /next` gets it.
    pub async fn send(&self, invocation: Invocation) -> Result<(), BoxError> {
        self.events.send(invocation).await.map_err(|_| "the runtime API stand-in has stopped".into())
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    // Dropped (aborting every connection) when this task is aborted.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(handle(&state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

type HttpResponse = hyper::Response<Full<Bytes>>;

fn reply(status: StatusCode, body: &'static str) -> HttpResponse {
    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    resp
}

async fn handle(state: &State, req: hyper::Request<Incoming>) -> HttpResponse {
    let at = Instant::now();
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix(PREFIX) else { return reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#) };
    match (req.method(), rest) {
        (&Method::GET, "/invocation/next") => next(state, at).await,
        (&Method::POST, "/init/error") => {
            let body = read(req).await;
            let _ = state.reports.send(Report::InitError(String::from_utf8_lossy(&body).into_owned()));
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (&Method::POST, rest) => {
            let answer = rest.strip_prefix("/invocation/").and_then(|r| r.rsplit_once('/'));
            let Some((id, kind @ ("response" | "error"))) = answer else { return reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#) };
            let id = id.to_string();
            let failed = kind == "error";
            let body = read(req).await;
            let sent = state.sent.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
            let _ = state.reports.send(Report::Answered { id, sent, at, body, failed });
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#),
    }
}

async fn read(req: hyper::Request<Incoming>) -> Bytes {
    req.into_body().collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default()
}

async fn next(state: &State, at: Instant) -> HttpResponse {
    if !state.seen_next.swap(true, Ordering::SeqCst) {
        let _ = state.reports.send(Report::FirstNext(at));
    }
    // One long poll at a time, as the runtime makes them.
    let invocation = state.queue.lock().await.recv().await;
    let Some(inv) = invocation else { return reply(StatusCode::GONE, r#"{"errorType":"Stopped"}"#) };
    let random = uuid::Uuid::new_v4().simple().to_string();
    let trace = format!("Root=1-{:08x}-{};Parent={};Sampled=0", now_secs(), &random[..24], &random[16..]);
    let mut resp = hyper::Response::new(Full::new(inv.body));
    let headers = resp.headers_mut();
    for (name, value) in [
        ("content-type", "application/json".to_string()),
        ("lambda-runtime-aws-request-id", inv.id.clone()),
        ("lambda-runtime-deadline-ms", inv.deadline_ms.to_string()),
        ("lambda-runtime-invoked-function-arn", state.function_arn.clone()),
        ("lambda-runtime-trace-id", trace),
    ] {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    state.sent.lock().unwrap_or_else(PoisonError::into_inner).insert(inv.id, Instant::now());
    resp
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs()
}
