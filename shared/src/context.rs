//! What every route builds once per cold start: settings, secrets and the
//! store, plus the bearer check they share.

use crate::adapters::{self, dynamo::DynamoStore};
use crate::auth::access_token::Claims;
use crate::auth::keys::Secrets;
use crate::auth::service;
use crate::config::Settings;
use crate::error::{ApiError, BoxError};
use crate::http::{Request, request};

/// Settings, secrets and clients, built once and shared by every request.
#[derive(Debug, Clone)]
pub struct AppContext {
    /// The settings.
    pub settings: Settings,
    /// The secrets.
    pub secrets: Secrets,
    /// The DynamoDB-backed ports.
    pub store: DynamoStore,
}

impl AppContext {
    /// Reads settings and secrets and builds the clients.
    pub async fn from_env() -> Result<Self, BoxError> {
        let settings = Settings::from_env()?;
        let sdk = adapters::aws_config().await;
        let secrets = adapters::secrets::load(&sdk).await?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), settings.table_name.clone());
        Ok(AppContext { settings, secrets, store })
    }

    /// The request's verified access-token claims (signature only), or 401.
    pub fn authenticate(&self, req: &Request) -> Result<Claims, ApiError> {
        service::authenticate(&self.secrets.token_keys, request::authorization(req), crate::time::now())
    }
}
