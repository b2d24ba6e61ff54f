//! The hyper 1 server: accepts connections, reads bodies and routes each request to the REST API
//! (after the key check, queued failures and stalls) or to the control API.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::model::now_ms;
use crate::reply::{self, Response};
use crate::state::RestRequest;
use crate::{Simulator, control, rest};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

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
pub(crate) async fn serve(sim: Arc<Simulator>, listener: TcpListener) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "revenuecat-sim: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let sim = Arc::clone(&sim);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let sim = Arc::clone(&sim);
                async move { Ok::<_, Infallible>(handle(&sim, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(sim: &Arc<Simulator>, req: hyper::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let msg = format!("The request body is unreadable or over {MAX_BODY_BYTES} bytes.");
            return reply::control_error(StatusCode::PAYLOAD_TOO_LARGE, &msg);
        }
    };
    tracing::debug!(method = %parts.method, %path, "revenuecat-sim request");

    if path == "/_sim" || path.starts_with("/_sim/") {
        let query = reply::query(&parts.uri);
        return control::handle(sim, &parts.method, &path, &query, &body).await;
    }
    if !path.starts_with("/v1/") {
        return reply::rc_error(StatusCode::NOT_FOUND, 404, "Not found.");
    }
    let app_user_id = path
        .strip_prefix("/v1/subscribers/")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'))
        .map(reply::percent_decode);
    let resp = rest_call(sim, &parts.method, &parts.headers, app_user_id.clone()).await;
    sim.state().requests.push(RestRequest {
        method: parts.method.to_string(),
        path,
        app_user_id: app_user_id.flatten(),
        status: resp.status().as_u16(),
        at_ms: now_ms(),
    });
    resp
}

/// One REST call: key check, then the next queued failure or stall, then the real answer.
async fn rest_call(
    sim: &Simulator,
    method: &Method,
    headers: &http::HeaderMap,
    app_user_id: Option<Option<String>>,
) -> Response {
    if !authorized(&sim.config.api_key, headers) {
        return reply::unauthorized();
    }
    let (failure, standing_stall) = sim.state().next_failure();
    let stall = standing_stall + failure.as_ref().map_or(0, |f| f.stall_ms);
    if stall > 0 {
        tokio::time::sleep(Duration::from_millis(stall)).await;
    }
    if let Some(status) = failure.as_ref().and_then(|f| f.status) {
        let retry_after = failure
            .as_ref()
            .and_then(|f| f.retry_after)
            .or((status == 429).then_some(1));
        return reply::failure(status, retry_after);
    }
    let app_user_id = match app_user_id {
        None => return reply::rc_error(StatusCode::NOT_FOUND, 404, "Not found."),
        Some(None) => {
            return reply::rc_error(StatusCode::BAD_REQUEST, 7226, "Invalid app_user_id.");
        }
        Some(Some(id)) => id,
    };
    let mut state = sim.state();
    match *method {
        Method::GET => rest::get_subscriber(&mut state, &app_user_id),
        Method::DELETE => rest::delete_subscriber(&mut state, &app_user_id),
        _ => reply::rc_error(StatusCode::METHOD_NOT_ALLOWED, 405, "Method not allowed."),
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
        assert!(!authorized("", &headers));
    }
}
