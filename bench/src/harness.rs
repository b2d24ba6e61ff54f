//! Running routes in-process with a counting context: the settings and
//! secrets of the stack, clients that record every AWS call, and requests
//! built the way the local stack builds them (the API Gateway v2 event,
//! parsed by `lambda_http`), answered by `shared::http::serve::respond`, the
//! same wrapper the Lambda binaries run.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::adapters::s3::PhotoStorage;
use shared::adapters::sqs::GenerationQueue;
use shared::config::Settings;
use shared::context::AppContext;
use shared::error::BoxError;
use shared::http::{Body, Request, Route, serve::respond};

use crate::counter::CallLog;

/// A context whose every AWS client records into `log`.
pub struct Bench {
    /// The calls since the last reset.
    pub log: CallLog,
    /// The counting context every route is built with.
    pub ctx: AppContext,
}

/// One answered request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// The AWS calls made, in order.
    pub calls: Vec<String>,
    /// The time `respond` took.
    pub elapsed: Duration,
}

impl Bench {
    /// Settings from the environment, secrets loaded once (uncounted, as a
    /// cold start), then DynamoDB, S3 and SQS clients with the counting
    /// interceptor on the same configuration production builds.
    pub async fn from_env() -> Result<Self, BoxError> {
        let settings = Settings::from_env()?;
        let sdk = shared::adapters::aws_config().await;
        let secrets = shared::adapters::secrets::load(&sdk).await?;
        let log = CallLog::new();
        let dynamo_config = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(log.interceptor()).build();
        let s3_config = PhotoStorage::config(&sdk).interceptor(log.interceptor()).build();
        let sqs_config = aws_sdk_sqs::config::Builder::from(&sdk).interceptor(log.interceptor()).build();
        let photos = PhotoStorage::from_client(aws_sdk_s3::Client::from_conf(s3_config), settings.bucket_name.clone());
        let queue = GenerationQueue::from_client(aws_sdk_sqs::Client::from_conf(sqs_config), settings.queue_url.clone());
        let dynamo = aws_sdk_dynamodb::Client::from_conf(dynamo_config);
        let ctx = AppContext::with_clients(settings, secrets, dynamo, photos, queue);
        Ok(Bench { log, ctx })
    }

    /// Answers `req` with `route` exactly as a Lambda would, counting the AWS
    /// calls and timing `respond` alone.
    pub async fn send<R: Route>(&self, route: &R, req: Request) -> Outcome {
        self.log.reset();
        let started = Instant::now();
        let resp = respond(route, req).await;
        let elapsed = started.elapsed();
        let calls = self.log.take();
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
            Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Outcome { status: resp.status().as_u16(), body, calls, elapsed }
    }

    /// Runs `f` with the log reset; returns its result, the calls it made and
    /// its duration (for checks below the route level).
    pub async fn measure<T>(&self, f: impl AsyncFnOnce() -> T) -> (T, Vec<String>, Duration) {
        self.log.reset();
        let started = Instant::now();
        let out = f().await;
        let elapsed = started.elapsed();
        (out, self.log.take(), elapsed)
    }
}

/// A request to build: the route's template path, the concrete URI, the path
/// parameters, headers, an optional JSON body, and the caller's source IP.
#[derive(Debug, Clone)]
pub struct Call {
    method: &'static str,
    route_path: &'static str,
    uri: String,
    params: HashMap<String, String>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    source_ip: IpAddr,
}

impl Call {
    /// `method uri` served by the template route `route_path`.
    pub fn new(method: &'static str, route_path: &'static str, uri: impl Into<String>) -> Self {
        Call {
            method,
            route_path,
            uri: uri.into(),
            params: HashMap::new(),
            headers: vec![("user-agent".into(), "pro-portrait-bench".into())],
            body: None,
            source_ip: IpAddr::from([127, 0, 0, 1]),
        }
    }

    /// With a path parameter.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// With a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// With `authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// With a JSON body (and its content type).
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self.header("content-type", "application/json")
    }

    /// From `ip` (the sign-up limit counts per source IP).
    pub fn from_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = ip;
        self
    }

    /// The `lambda_http` request the local stack would hand the route: the
    /// same event builder, the same parser.
    pub fn build(&self) -> Result<Request, BoxError> {
        let mut builder = http::Request::builder().method(self.method).uri(&self.uri);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let (parts, ()) = builder.body(())?.into_parts();
        let body = self.body.as_ref().map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let peer = SocketAddr::new(self.source_ip, 40000);
        let event = local_stack::api::event(&parts, peer, self.method, self.route_path, &self.params, &body);
        Ok(lambda_http::request::from_str(&event.to_string())?)
    }
}
