//! The hyper 1 server: accepts connections, reads bodies, checks the API key and routes each
//! request to the KIE API, the file host or the control API.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::reply::{self, Response};
use crate::{Simulator, api, control, upload};

/// Largest request body accepted (KIE's largest input image is 30 MB).
const MAX_BODY_BYTES: usize = 40 * 1024 * 1024;

/// What a handler needs: the simulator and the base URL of the listener that got the request.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub sim: Arc<Simulator>,
    pub base_url: String,
}

/// `http://<address>` of a listener, loopback in place of an unspecified address.
pub(crate) fn base_url(listener: &TcpListener) -> String {
    match listener.local_addr() {
        Ok(addr) => {
            let ip = match addr.ip() {
                ip if !ip.is_unspecified() => ip,
                std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            };
            format!("http://{}", SocketAddr::new(ip, addr.port()))
        }
        Err(_) => "http://127.0.0.1".to_string(),
    }
}

/// Accepts connections until the task is aborted; aborting drops the open connections too.
pub(crate) async fn serve(sim: Arc<Simulator>, listener: TcpListener, base_url: String) {
    let ctx = Ctx { sim, base_url };
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "kie-sim: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(handle(&ctx, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The KIE routes that need the API key, with their method.
const API_ROUTES: [(&str, Method); 4] = [
    ("/api/v1/jobs/createTask", Method::POST),
    ("/api/v1/jobs/recordInfo", Method::GET),
    ("/api/v1/chat/credit", Method::GET),
    ("/api/file-stream-upload", Method::POST),
];

async fn handle(ctx: &Ctx, req: hyper::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let msg = format!("The request body is unreadable or over {MAX_BODY_BYTES} bytes.");
            return reply::envelope_with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                413,
                &msg,
                Value::Null,
            );
        }
    };
    tracing::debug!(method = %parts.method, %path, "kie-sim request");

    if path.starts_with("/files/") {
        return match parts.method {
            Method::GET | Method::HEAD => api::file(ctx, &path),
            _ => reply::method_not_allowed(&parts.method, &path),
        };
    }
    if path == "/sim" || path.starts_with("/sim/") {
        return control::handle(ctx, &parts.method, &path, &reply::query(&parts.uri), &body);
    }
    let Some((route, method)) = API_ROUTES.iter().find(|(route, _)| *route == path) else {
        return reply::not_found(&path);
    };
    if !authorized(&ctx.sim.config.api_key, &parts.headers) {
        return reply::unauthorized();
    }
    if parts.method != *method {
        return reply::method_not_allowed(&parts.method, &path);
    }
    match *route {
        "/api/v1/jobs/createTask" => api::create_task(ctx, &body),
        "/api/v1/jobs/recordInfo" => api::record_info(ctx, &reply::query(&parts.uri)),
        "/api/v1/chat/credit" => api::credit(),
        _ => upload::handle(ctx, &parts.headers, body).await,
    }
}

/// Whether the request carries `Authorization: Bearer <api_key>`.
fn authorized(api_key: &str, headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| !api_key.is_empty() && token.trim() == api_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_key_is_required_exactly() {
        let mut headers = http::HeaderMap::new();
        assert!(!authorized("k", &headers));
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer k".parse().expect("header"),
        );
        assert!(authorized("k", &headers));
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer other".parse().expect("header"),
        );
        assert!(!authorized("k", &headers));
        headers.insert(http::header::AUTHORIZATION, "k".parse().expect("header"));
        assert!(!authorized("k", &headers));
    }
}
