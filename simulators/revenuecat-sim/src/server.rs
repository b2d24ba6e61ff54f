//! The RevenueCat server: on the shared `sim-http` accept loop, reads bodies and routes each
//! request to the REST API (after the key check, queued failures and stalls) or to the control
//! API.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::model::now_ms;
use crate::reply::{self, Response};
use crate::state::RestRequest;
use crate::{Simulator, control, rest};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Accepts connections until the task is aborted; aborting drops the open connections too.
pub(crate) async fn serve(sim: Arc<Simulator>, listener: TcpListener) {
    sim_http::serve(listener, "revenuecat-sim", move |req| {
        let sim = Arc::clone(&sim);
        async move { handle(&sim, req).await }
    })
    .await;
}

async fn handle(sim: &Arc<Simulator>, req: hyper::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let body = match sim_http::read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(msg) => {
            return reply::control_error(StatusCode::PAYLOAD_TOO_LARGE, &msg);
        }
    };
    // The customer's id is the backend's user id: logged as a placeholder.
    let logged = match path.strip_prefix("/v1/subscribers/") {
        Some(_) => "/v1/subscribers/{app_user_id}",
        None => path.as_str(),
    };
    tracing::debug!(method = %parts.method, path = %logged, "revenuecat-sim request");

    if path == "/_sim" || path.starts_with("/_sim/") {
        let query = reply::query(&parts.uri);
        return control::handle(sim, &parts.method, &path, &query, &body).await;
    }
    if !path.starts_with("/v1/") {
        return reply::rc_error(StatusCode::NOT_FOUND, 404, "Not found.");
    }
    let app_user_id = path.strip_prefix("/v1/subscribers/").filter(|rest| !rest.is_empty() && !rest.contains('/')).map(reply::percent_decode);
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
async fn rest_call(sim: &Simulator, method: &Method, headers: &http::HeaderMap, app_user_id: Option<Option<String>>) -> Response {
    if !sim_http::bearer_authorized(&sim.config.api_key, headers) {
        return reply::unauthorized();
    }
    let (failure, standing_stall) = sim.state().next_failure(app_user_id.as_ref().and_then(|id| id.as_deref()));
    let stall = standing_stall + failure.as_ref().map_or(0, |f| f.stall_ms);
    if stall > 0 {
        tokio::time::sleep(Duration::from_millis(stall)).await;
    }
    if let Some(status) = failure.as_ref().and_then(|f| f.status) {
        let retry_after = failure.as_ref().and_then(|f| f.retry_after).or((status == 429).then_some(1));
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
