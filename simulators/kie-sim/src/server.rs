//! The KIE server: on the shared `sim-http` accept loop, reads bodies, checks the API key and
//! routes each request to the KIE API, the file host or the control API.

use std::sync::Arc;

use http::{Method, StatusCode};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::net::TcpListener;

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

/// Accepts connections until the task is aborted; aborting drops the open connections too.
pub(crate) async fn serve(sim: Arc<Simulator>, listener: TcpListener, base_url: String) {
    let ctx = Ctx { sim, base_url };
    sim_http::serve(listener, "kie-sim", move |req| {
        let ctx = ctx.clone();
        async move { handle(&ctx, req).await }
    })
    .await;
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
    let body = match sim_http::read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(msg) => {
            return reply::envelope_with_status(StatusCode::PAYLOAD_TOO_LARGE, 413, &msg, Value::Null);
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
    if !sim_http::bearer_authorized(&ctx.sim.config.api_key, &parts.headers) {
        return reply::unauthorized();
    }
    if parts.method != *method {
        return reply::method_not_allowed(&parts.method, &path);
    }
    match *route {
        "/api/v1/jobs/createTask" => api::create_task(ctx, &body),
        "/api/v1/jobs/recordInfo" => api::record_info(ctx, &reply::query(&parts.uri)).await,
        "/api/v1/chat/credit" => api::credit(),
        _ => upload::handle(ctx, &parts.headers, body).await,
    }
}
