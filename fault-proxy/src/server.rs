//! The HTTP side: the hyper accept loop, each request read whole, routed to the control API
//! or classified, faulted or forwarded to the emulator, and the answer (or the lack of one).
//!
//! A connection is closed without an answer by making the service fail: hyper then drops the
//! connection without writing anything. For `reset` the socket is also given a zero linger
//! first, so the close is a TCP RST (the client reads "connection reset by peer"); for
//! `lost_response` it is an ordinary close after the request was applied (the client reads an
//! incomplete message).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderName, Method, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::Faults;
use crate::classify::{RequestInfo, Service, classify};
use crate::control;
use crate::kinds::FaultKind;
use crate::state::Injection;
use crate::wire::{self, Response};

/// Largest request body accepted (S3 puts through presigned URLs included).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The error that makes hyper drop a connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection closed without an answer (injected fault)")]
struct Close;

/// A TCP connection that resets (RST) instead of closing when its flag was raised.
struct Conn {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            // A zero linger turns the close into an abortive one: an RST, no FIN.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Accepts HTTP/1 connections (keep-alive) until the task is aborted; aborting drops the open
/// connections too.
pub(crate) async fn serve(faults: Faults, listener: TcpListener) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "fault-proxy: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // The SDK's requests are small and latency-bound.
        let _ = stream.set_nodelay(true);
        let faults = faults.clone();
        connections.spawn(async move {
            let reset = Arc::new(AtomicBool::new(false));
            let conn = Conn { stream, reset: Arc::clone(&reset) };
            let service = hyper::service::service_fn(move |req| {
                let (faults, reset) = (faults.clone(), Arc::clone(&reset));
                async move { handle(&faults, req, &reset).await }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(conn), service).await;
        });
    }
}

async fn handle(faults: &Faults, req: hyper::Request<Incoming>, reset: &AtomicBool) -> Result<Response, Close> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let msg = format!("The request body is unreadable or over {MAX_BODY_BYTES} bytes.");
            let mut resp = plain(StatusCode::PAYLOAD_TOO_LARGE, msg);
            resp.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            return Ok(resp);
        }
    };
    let path = parts.uri.path();
    if path == "/_faults" || path.starts_with("/_faults/") {
        return Ok(control::handle(faults, &parts.method, path, &body));
    }
    let query = parts.uri.query().unwrap_or_default();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let info = classify(&parts.method, path, query, &parts.headers, &body);
    // `match` searches the body of JSON calls, the path and query of S3 ones (their bodies
    // are photos).
    let haystack: &[u8] = if info.service == Service::S3 { path_and_query.as_bytes() } else { &body };
    let injection = faults.state().decide(&info, haystack);
    let Some(injection) = injection else {
        return Ok(forward(faults, &parts, body, &info).await);
    };
    let Injection { kind, by, ms, .. } = injection;
    tracing::info!(
        service = info.service.as_str(),
        operation = %info.operation,
        fault = kind.as_str(),
        by = %by,
        ms = (kind == FaultKind::Latency).then_some(ms),
        "fault-proxy: injected fault"
    );
    match kind {
        FaultKind::Reset => {
            reset.store(true, Ordering::Relaxed);
            Err(Close)
        }
        FaultKind::Latency => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(forward(faults, &parts, body, &info).await)
        }
        FaultKind::LostResponse => {
            // The whole answer is awaited, so the emulator has applied the request.
            let _ = forward(faults, &parts, body, &info).await;
            Err(Close)
        }
        _ => Ok(wire::error_answer(&info, kind, injection.status, injection.conflict_item, parts.method == Method::HEAD)),
    }
}

/// Headers that describe one hop, not the message; never passed on.
const HOP_BY_HOP: [&str; 9] =
    ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];

/// Removes the hop-by-hop headers, those named in `Connection` included.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Sends the request to the emulator as received (but for the hop-by-hop headers) and turns
/// its answer into ours; an unreachable emulator answers 502.
async fn forward(faults: &Faults, parts: &http::request::Parts, body: Bytes, info: &RequestInfo) -> Response {
    let inner = faults.inner();
    let url = format!("{}{}", inner.upstream, parts.uri.path_and_query().map_or("/", |pq| pq.as_str()));
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    // hyper has already answered any `Expect: 100-continue` while reading the body.
    headers.remove(header::EXPECT);
    let mut attempt = 0;
    let sent = loop {
        let request = inner.client.request(parts.method.clone(), &url).headers(headers.clone()).body(body.clone());
        match request.send().await {
            // A connection that was never made sent nothing: trying again is safe.
            Err(e) if e.is_connect() && attempt < 2 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other,
        }
    };
    let upstream = match sent {
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            resp.bytes().await.map(|bytes| (status, headers, bytes))
        }
        Err(e) => Err(e),
    };
    let (status, mut headers, bytes) = match upstream {
        Ok(answer) => {
            faults.state().stats.forwarded(info.service, &info.operation);
            answer
        }
        Err(e) => {
            faults.state().stats.upstream_error(info.service, &info.operation);
            tracing::warn!(error = %e, upstream = %inner.upstream, "fault-proxy: the emulator did not answer");
            return plain(StatusCode::BAD_GATEWAY, format!("fault-proxy: the emulator did not answer: {e}"));
        }
    };
    strip_hop_by_hop(&mut headers);
    // hyper sets the length of the body sent; a HEAD's (and a 204's or 304's) length is the
    // upstream's, describing a body that is not sent.
    let bodiless = parts.method == Method::HEAD || matches!(status.as_u16(), 204 | 304);
    if !bodiless {
        headers.remove(header::CONTENT_LENGTH);
    }
    let mut resp = hyper::Response::new(Full::new(bytes));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut resp = hyper::Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("keep-alive", "timeout=5"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ("host", "example"),
        ] {
            headers.insert(name, value.parse().expect("value"));
        }
        strip_hop_by_hop(&mut headers);
        let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["host", "x-amz-target"]);
    }
}
