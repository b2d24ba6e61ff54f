//! With no rules and no rates the proxy is transparent: requests reach the emulator and
//! answers come back byte for byte, on kept-alive connections.

use hyper::body::Bytes;
use tokio::net::TcpStream;

use crate::support::{Answer, Harness, exchange, http_client};

fn binary() -> Vec<u8> {
    (0..=255u8).cycle().take(70_000).collect()
}

/// The status line and the header lines (sorted: hyper writes the length last), without the
/// date (which may tick between two answers).
fn without_date(head: &str) -> Vec<String> {
    let mut lines: Vec<String> = head.lines().filter(|l| !l.to_ascii_lowercase().starts_with("date:")).map(str::to_string).collect();
    lines[1..].sort();
    lines
}

#[tokio::test]
async fn pass_through_is_byte_identical_both_ways() {
    let h = Harness::off().await;
    h.upstream.set_answer(Answer {
        status: 201,
        headers: vec![
            ("content-type", "application/octet-stream".into()),
            ("x-amz-request-id", "R1".into()),
            ("etag", "\"abc\"".into()),
            ("x-amz-meta-two", "a".into()),
            ("x-amz-meta-two", "b".into()),
        ],
        body: Bytes::from(binary()),
    });
    let body = binary();
    let head = format!(
        "PUT /bucket/users/u1/photo.jpg?x-id=PutObject&a=%2F HTTP/1.1\r\nhost: bucket.example:9000\r\n\
         x-amz-date: 20240101T000000Z\r\nauthorization: AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=00\r\naccept: */*\r\ncontent-type: image/jpeg\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut request = head.clone().into_bytes();
    request.extend_from_slice(&body);

    let mut direct = TcpStream::connect(h.upstream.url.trim_start_matches("http://")).await.expect("connect");
    let (direct_head, direct_body) = exchange(&mut direct, &request).await.expect("direct answer");
    let mut proxied = TcpStream::connect(h.host_port()).await.expect("connect");
    let (proxied_head, proxied_body) = exchange(&mut proxied, &request).await.expect("proxied answer");
    assert_eq!(without_date(&proxied_head), without_date(&direct_head));
    assert_eq!(proxied_body, direct_body);
    assert_eq!(proxied_body, binary());

    let seen = h.upstream.seen();
    assert_eq!(seen.len(), 2);
    let (direct_req, proxied_req) = (&seen[0], &seen[1]);
    assert_eq!(proxied_req.method, "PUT");
    assert_eq!(proxied_req.path_and_query, "/bucket/users/u1/photo.jpg?x-id=PutObject&a=%2F");
    assert_eq!(proxied_req.headers, direct_req.headers, "headers reach the emulator as sent");
    assert_eq!(proxied_req.header("host"), Some("bucket.example:9000"));
    assert_eq!(proxied_req.body, direct_req.body);

    // The same connection serves the next request (keep-alive).
    let get = b"GET /bucket/users/u1/photo.jpg HTTP/1.1\r\nhost: x\r\naccept: */*\r\n\r\n";
    let (head, body) = exchange(&mut proxied, get).await.expect("second answer on the connection");
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert_eq!(body.len(), 70_000);
    let stats = h.faults.stats();
    assert_eq!((stats["requests"].as_u64(), stats["injected"].as_u64()), (Some(2), Some(0)));
    assert_eq!(stats["services"]["s3"]["PutObject"]["forwarded"], 1);
}

#[tokio::test]
async fn hop_by_hop_headers_and_lengths_are_per_hop() {
    let h = Harness::off().await;
    h.upstream.set_answer(Answer { status: 200, headers: vec![("content-type", "image/jpeg".into())], body: Bytes::from(vec![7u8; 1234]) });
    // A HEAD keeps the emulator's length of the body it does not send.
    let resp = h.client.head(format!("{}/bucket/key", h.url)).send().await.expect("head");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-length"], "1234");
    assert!(resp.bytes().await.expect("body").is_empty());

    // A chunked request reaches the emulator with its length, without the hop's headers.
    let mut stream = TcpStream::connect(h.host_port()).await.expect("connect");
    let request = b"POST / HTTP/1.1\r\nhost: x\r\naccept: */*\r\nconnection: keep-alive, x-hop\r\nx-hop: 1\r\n\
                    x-amz-target: AmazonSQS.SendMessage\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let (head, body) = exchange(&mut stream, request).await.expect("answer");
    assert!(head.to_ascii_lowercase().contains("content-length: 1234"), "{head}");
    assert_eq!(body.len(), 1234);
    let seen = h.upstream.seen();
    let sent = seen.last().expect("forwarded");
    assert_eq!(&sent.body[..], b"hello");
    assert_eq!(sent.header("content-length"), Some("5"));
    for hop in ["transfer-encoding", "connection", "x-hop"] {
        assert_eq!(sent.header(hop), None, "{hop} was forwarded");
    }
}

#[tokio::test]
async fn an_unreachable_emulator_answers_502() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let faults = fault_proxy::Faults::new(dead, fault_proxy::FaultConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = faults.spawn(listener);
    let resp = http_client().get(format!("{url}/b/k")).send().await.expect("answer");
    assert_eq!(resp.status(), 502);
    assert_eq!(faults.stats()["services"]["s3"]["GetObject"]["upstream_errors"], 1);
    server.abort();
}
