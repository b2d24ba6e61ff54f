//! `GET /v1/styles` (public): the style catalog defined in the domain crate.

use shared::error::{ApiError, BoxError};
use shared::http::{Body, Request, Response, Route, response};

/// The route: the catalog never changes while a Lambda lives, so its JSON is
/// built once.
pub struct GetStyles {
    catalog: serde_json::Value,
}

impl GetStyles {
    /// Builds the route (no settings or clients needed).
    pub async fn from_env() -> Result<Self, BoxError> {
        Ok(GetStyles { catalog: shared::styles::catalog_json() })
    }
}

impl Route for GetStyles {
    async fn handle(&self, _req: Request) -> Result<Response<Body>, ApiError> {
        Ok(response::json(200, &self.catalog))
    }
}
