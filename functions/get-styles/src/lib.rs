//! `GET /v1/styles`: the style catalog (public, no I/O).

use shared::entry::Function;
use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, response};

/// `GET /v1/styles`, its answer built once.
pub struct GetStyles {
    catalog: serde_json::Value,
}

impl Function for GetStyles {
    async fn from_env() -> Result<Self, BoxError> {
        Ok(GetStyles { catalog: shared::styles::catalog_json() })
    }
}

impl Route for GetStyles {
    async fn handle(&self, _req: Request) -> Result<Response<Body>, ApiError> {
        Ok(response::json(200, &self.catalog))
    }
}
