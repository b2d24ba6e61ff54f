//! Serving a [`Route`]: every request gets a request id, every outcome a
//! response in the contract's shape (a panic too), one log line per request,
//! and one error line for anything unexpected.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use tracing::Instrument;

use super::{Route, request, response};
use crate::error::{ApiError, ErrorChain};

/// What is kept back from the function's remaining time for answering.
const ANSWER_MARGIN: Duration = Duration::from_millis(1000);
/// The budget of a request that carries no Lambda deadline (a unit test).
const DEFAULT_BUDGET: Duration = Duration::from_secs(9);

/// The time the route may take: until [`ANSWER_MARGIN`] before the Lambda
/// invocation's deadline, so that when a dependency hangs the route answers
/// 503 itself instead of being cut off by the function's timeout (which API
/// Gateway would turn into an answer without the contract's body).
fn budget(req: &Request) -> Duration {
    let deadline_ms = req.lambda_context_ref().map(|ctx| ctx.deadline).filter(|d| *d > 0);
    let Some(deadline_ms) = deadline_ms else { return DEFAULT_BUDGET };
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(ANSWER_MARGIN)
}

/// Handles one request with `route`, turning every error and panic into a
/// response, within the invocation's time (see [`budget`]). The local stack
/// calls this too, so both run the same code.
pub async fn respond<R: Route>(route: &R, req: Request) -> Response<Body> {
    let request_id = request::request_id(&req);
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let started = Instant::now();
    let span = tracing::info_span!("request", %request_id);
    let budget = budget(&req);
    let handled = AssertUnwindSafe(route.handle(req).instrument(span.clone())).catch_unwind();
    let outcome = tokio::time::timeout(budget, handled).await;
    let _entered = span.enter();
    let mut resp = match outcome {
        Err(_) => {
            // Every write is safe to abandon half-way (see the README's "Faults").
            tracing::warn!(budget_ms = budget.as_millis() as u64, "the request ran out of time: a dependency is slow");
            response::error(&ApiError::Unavailable("A service we depend on is too slow right now. Please retry shortly.".into()), &request_id)
        }
        Ok(Ok(Ok(resp))) => resp,
        Ok(Ok(Err(err))) => {
            if let ApiError::Internal(cause) = &err {
                tracing::error!(error = %ErrorChain(cause.as_ref()), "unexpected error");
            }
            response::error(&err, &request_id)
        }
        // The panic hook (see `telemetry`) already logged it, inside this span.
        Ok(Err(_)) => response::error(&ApiError::internal("handler panicked"), &request_id),
    };
    if let Ok(value) = request_id.parse() {
        resp.headers_mut().insert("x-request-id", value);
    }
    // The path holds at most ids; the query (which may hold a webhook secret) is never logged.
    tracing::info!(%method, %path, status = resp.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    resp
}

/// Runs `route` as a Lambda behind API Gateway's HTTP API.
pub async fn run<R: Route>(route: R) -> Result<(), lambda_http::Error> {
    let route = Arc::new(route);
    lambda_http::run(service_fn(move |req: Request| {
        let route = Arc::clone(&route);
        async move { Ok::<_, Infallible>(respond(route.as_ref(), req).await) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panics;
    impl Route for Panics {
        async fn handle(&self, _req: Request) -> Result<Response<Body>, ApiError> {
            panic!("secret detail in /var/task at table pro-portrait-prod")
        }
    }

    struct Fails;
    impl Route for Fails {
        async fn handle(&self, _req: Request) -> Result<Response<Body>, ApiError> {
            Err(ApiError::internal("dynamodb: AccessDenied for arn:aws:iam::123"))
        }
    }

    fn body(resp: &Response<Body>) -> serde_json::Value {
        match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_panic_becomes_a_500_that_reveals_nothing() {
        let resp = respond(&Panics, Request::default()).await;
        assert_eq!(resp.status(), 500);
        let b = body(&resp);
        assert_eq!(b["error"]["code"], "internal");
        assert!(!b.to_string().contains("secret") && !b.to_string().contains("/var/task"));
        assert_eq!(resp.headers()["x-request-id"].to_str().unwrap(), b["error"]["request_id"]);
    }

    struct Hangs;
    impl Route for Hangs {
        async fn handle(&self, _req: Request) -> Result<Response<Body>, ApiError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_route_that_hangs_answers_503_before_the_function_times_out() {
        let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_millis(1300);
        let mut ctx = lambda_http::Context::default();
        ctx.deadline = deadline.as_millis() as u64;
        let started = Instant::now();
        let resp = respond(&Hangs, Request::default().with_lambda_context(ctx)).await;
        assert!(started.elapsed() < Duration::from_millis(1300), "answered before the deadline");
        assert_eq!(resp.status(), 503);
        assert_eq!(body(&resp)["error"]["code"], "unavailable");
    }

    #[tokio::test]
    async fn an_unexpected_error_becomes_a_500_that_reveals_nothing() {
        let resp = respond(&Fails, Request::default()).await;
        assert_eq!(resp.status(), 500);
        assert!(!body(&resp).to_string().contains("arn:aws"));
    }
}
