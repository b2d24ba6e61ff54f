//! The local HTTP server: turns each request into the API Gateway HTTP API
//! (payload 2.0) event that Lambda would receive, parses it with
//! `lambda_http` exactly as the Lambda runtime does, and calls the route.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use shared::error::ApiError;
use shared::http::{Body, response};
use tokio::net::TcpListener;

use crate::router::Router;

/// API Gateway's payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

type HttpResponse = hyper::Response<Full<Bytes>>;

/// Serves `router` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, router: Arc<Router>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else { continue };
        let router = Arc::clone(&router);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let router = Arc::clone(&router);
                async move { Ok::<_, Infallible>(handle(&router, peer, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn to_hyper(resp: shared::http::Response<Body>) -> HttpResponse {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn local_error(err: ApiError) -> HttpResponse {
    to_hyper(response::error(&err, &uuid::Uuid::new_v4().to_string()))
}

async fn handle(router: &Router, peer: SocketAddr, req: hyper::Request<Incoming>) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let Some(found) = router.find(parts.method.as_str(), &path) else {
        return local_error(ApiError::NotFound(format!("No route for {} {path}.", parts.method)));
    };
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return local_error(ApiError::PayloadTooLarge("The request body is over 10 MiB.".into())),
    };
    let event = event(&parts, peer, &found.entry.spec.method, &found.entry.spec.path, &found.params, &body);
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => return local_error(ApiError::internal(e)),
    };
    invoke(found.entry, request).await
}

/// Runs the route as a Lambda invocation: with the invocation's deadline in
/// its context (the function's timeout from now), stopped at that deadline.
/// A stopped invocation gets what API Gateway answers for a failed one, a
/// 500 without the contract's body: the routes must answer before it.
async fn invoke(entry: &crate::router::Entry, request: shared::http::Request) -> HttpResponse {
    use lambda_http::RequestExt;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let mut context = lambda_http::Context::default();
    context.deadline = now_ms + entry.timeout.as_millis() as u64;
    match tokio::time::timeout(entry.timeout, (entry.dispatch)(request.with_lambda_context(context))).await {
        Ok(resp) => to_hyper(resp),
        Err(_) => {
            tracing::error!(binary = %entry.spec.binary, timeout_s = entry.timeout.as_secs(), "the function timed out (Lambda would stop it here)");
            let mut resp = hyper::Response::new(Full::new(Bytes::from_static(br#"{"message":"Internal Server Error"}"#)));
            *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            resp.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
            resp
        }
    }
}

/// The API Gateway HTTP API v2 event for a request.
pub fn event(parts: &http::request::Parts, peer: SocketAddr, method: &str, route_path: &str, params: &HashMap<String, String>, body: &[u8]) -> Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            // API Gateway joins repeated headers with commas.
            Some(Value::String(existing)) => *existing = format!("{existing},{value}"),
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let raw_query = parts.uri.query().unwrap_or_default();
    let mut query: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        // API Gateway joins repeated parameters with commas.
        query.entry(k.into_owned()).and_modify(|e| *e = format!("{e},{v}")).or_insert_with(|| v.into_owned());
    }
    let route_key = format!("{method} {route_path}");
    let now = chrono::Utc::now();
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_string()), false),
        Err(_) => (Value::String(STANDARD.encode(body)), true),
    };
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { json!(query) },
        "pathParameters": if params.is_empty() { Value::Null } else { json!(params) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default(),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}
