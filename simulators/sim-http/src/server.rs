//! The hyper 1 accept loop and the request plumbing around it: the base URL of a listener,
//! reading a body with a size limit, and the bearer-key check.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::Response;

/// `http://<address>` of a listener, loopback in place of an unspecified address.
pub fn base_url(listener: &TcpListener) -> String {
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

/// Accepts HTTP/1 connections on `listener` and answers each request with `handler`, until the
/// task is aborted; aborting drops the open connections too. A failed accept is logged as
/// `"{name}: accept failed"` and retried after 50 ms.
pub async fn serve<H, F>(listener: TcpListener, name: &'static str, handler: H)
where
    H: Fn(hyper::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "{name}: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let handler = handler.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = handler(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Reads a whole request body of at most `max_bytes`; `Err` holds the message to answer with
/// (`"The request body is unreadable or over {max_bytes} bytes."`).
pub async fn read_body(body: Incoming, max_bytes: usize) -> Result<Bytes, String> {
    match Limited::new(body, max_bytes).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(format!("The request body is unreadable or over {max_bytes} bytes.")),
    }
}

/// Whether `headers` carry `Authorization: Bearer <api_key>` (never with an empty key).
pub fn bearer_authorized(api_key: &str, headers: &http::HeaderMap) -> bool {
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
        assert!(!bearer_authorized("k", &headers));
        headers.insert(http::header::AUTHORIZATION, "Bearer k".parse().expect("header"));
        assert!(bearer_authorized("k", &headers));
        headers.insert(http::header::AUTHORIZATION, "Bearer other".parse().expect("header"));
        assert!(!bearer_authorized("k", &headers));
        headers.insert(http::header::AUTHORIZATION, "k".parse().expect("header"));
        assert!(!bearer_authorized("k", &headers));
        assert!(!bearer_authorized("", &headers));
    }

    #[tokio::test]
    async fn base_url_uses_loopback_for_unspecified() {
        let listener = TcpListener::bind("0.0.0.0:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(base_url(&listener), format!("http://127.0.0.1:{port}"));
    }
}
