//! Every Lambda binary's handler, by binary name: the local server calls the
//! very `Route` the binary's `main.rs` runs, through the same `respond`.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use shared::error::BoxError;
use shared::http::{Body, Request, Response, Route, serve::respond};

/// A built handler, callable per request.
pub type Dispatch = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// The binaries this server can run, which must be exactly those the template names.
pub const BINARIES: &[&str] = &["auth-anonymous", "auth-refresh", "get-me", "get-styles"];

fn wrap<R: Route>(route: R) -> Dispatch {
    let route = Arc::new(route);
    Arc::new(move |req| {
        let route = Arc::clone(&route);
        Box::pin(async move { respond(route.as_ref(), req).await })
    })
}

/// Builds `binary`'s handler from the environment, as its cold start would.
pub async fn build(binary: &str) -> Result<Dispatch, BoxError> {
    Ok(match binary {
        "auth-anonymous" => wrap(auth_anonymous::AuthAnonymous::from_env().await?),
        "auth-refresh" => wrap(auth_refresh::AuthRefresh::from_env().await?),
        "get-me" => wrap(get_me::GetMe::from_env().await?),
        "get-styles" => wrap(get_styles::GetStyles::from_env().await?),
        other => return Err(format!("no handler is registered for binary `{other}`").into()),
    })
}
