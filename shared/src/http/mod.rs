//! The HTTP side every route shares: reading requests, writing responses in
//! the contract's shape, and serving a [`Route`] on Lambda or locally.

pub mod request;
pub mod response;
pub mod serve;

pub use lambda_http::http::HeaderValue;
pub use lambda_http::{Body, Request, Response};

use crate::error::ApiError;

/// One HTTP route: built once per cold start, then handles requests.
/// Expected outcomes come back as `Err(ApiError)` with their status code;
/// `ApiError::Internal` is kept for the truly unexpected.
pub trait Route: Send + Sync + 'static {
    /// Handles one request.
    fn handle(&self, req: Request) -> impl Future<Output = Result<Response<Body>, ApiError>> + Send;
}
