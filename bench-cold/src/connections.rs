//! A keep-alive HTTP relay in front of the emulator that notes when each
//! connection to it opens, so a run can tell the connections its bootstrap
//! opened during init from those its first (and later) invocations had to
//! open. The emulator itself closes every connection after one answer (an
//! HTTP/1.0 server); the relay keeps the bootstraps' connections open as AWS
//! does, and sends each request on to the emulator.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use shared::error::BoxError;
use tokio::net::TcpListener;

/// The relay: its URL (for `AWS_ENDPOINT_URL`) and the times connections opened.
#[derive(Clone)]
pub struct Relay {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    opened: Arc<Mutex<Vec<Instant>>>,
}

/// Headers that belong to one hop, not to the request.
const HOP_BY_HOP: [&str; 4] = ["connection", "keep-alive", "transfer-encoding", "host"];

/// Sends `req` on to `upstream` and answers with its answer (502 when it is unreachable).
async fn forward(client: reqwest::Client, upstream: Arc<str>, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", hyper::http::uri::PathAndQuery::as_str);
    let body = body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
    let mut out = client.request(parts.method, format!("{upstream}{path}")).body(body);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    let mut answer = hyper::Response::new(Full::new(Bytes::new()));
    match out.send().await {
        Ok(resp) => {
            *answer.status_mut() = resp.status();
            for (name, value) in resp.headers() {
                if !HOP_BY_HOP.contains(&name.as_str()) && name != "content-length" {
                    answer.headers_mut().append(name, value.clone());
                }
            }
            *answer.body_mut() = Full::new(resp.bytes().await.unwrap_or_default());
        }
        Err(_) => *answer.status_mut() = hyper::StatusCode::BAD_GATEWAY,
    }
    answer
}

impl Relay {
    /// Listens on a free port of 127.0.0.1 and relays each request to
    /// `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Result<Self, BoxError> {
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let client = reqwest::Client::builder().no_proxy().build()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let relay = Relay { url: format!("http://{}", listener.local_addr()?), opened: Arc::default() };
        let opened = Arc::clone(&relay.opened);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                if let Ok(mut times) = opened.lock() {
                    times.push(Instant::now());
                }
                let (client, upstream) = (client.clone(), Arc::clone(&upstream));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (client, upstream) = (client.clone(), Arc::clone(&upstream));
                        async move { Ok::<_, Infallible>(forward(client, upstream, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(relay)
    }

    /// How many connections opened in `[from, to)`.
    pub fn opened_between(&self, from: Instant, to: Instant) -> usize {
        self.opened.lock().map_or(0, |times| times.iter().filter(|&&t| t >= from && t < to).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that closes after each answer, echoing the path.
    async fn one_shot_upstream() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|req: hyper::Request<Incoming>| async move {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(req.uri().path().to_string()))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new().keep_alive(false).serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn keeps_connections_open_and_counts_them_by_when_they_opened() {
        let relay = Relay::start(&one_shot_upstream().await).await.unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let before = Instant::now();
        for path in ["/a", "/b", "/c"] {
            let body = client.get(format!("{}{path}", relay.url)).send().await.unwrap().text().await.unwrap();
            assert_eq!(body, path);
        }
        let middle = Instant::now();
        // A second client opens a connection of its own.
        let other = reqwest::Client::builder().no_proxy().build().unwrap();
        assert_eq!(other.get(format!("{}/d", relay.url)).send().await.unwrap().text().await.unwrap(), "/d");
        let after = Instant::now();
        assert_eq!(relay.opened_between(before, middle), 1, "three requests, one kept-alive connection");
        assert_eq!(relay.opened_between(middle, after), 1);
    }
}
