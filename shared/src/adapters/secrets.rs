//! Loads the app's secrets: from Secrets Manager when `APP_SECRETS_ARN` names a
//! secret (the deployed stack), else from `TOKEN_SIGNING_KEYS` and `IP_HASH_KEY`.

use aws_config::SdkConfig;
use serde::Deserialize;

use crate::auth::keys::Secrets;
use crate::config::{self, ConfigError};
use crate::error::BoxError;

/// The JSON stored in the secret.
#[derive(Deserialize)]
struct SecretDocument {
    token_signing_keys: String,
    ip_hash_key: String,
}

/// Loads the secrets once, at cold start.
pub async fn load(sdk: &SdkConfig) -> Result<Secrets, BoxError> {
    if let Some(arn) = config::optional("APP_SECRETS_ARN") {
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        let out = client.get_secret_value().secret_id(&arn).send().await?;
        let text = out.secret_string().ok_or("the app secret has no string value")?;
        let doc: SecretDocument = serde_json::from_str(text)
            .map_err(|_| "the app secret must be JSON with token_signing_keys and ip_hash_key")?;
        return Ok(Secrets::parse(&doc.token_signing_keys, &doc.ip_hash_key)?);
    }
    let keys = config::required("TOKEN_SIGNING_KEYS")?;
    let ip_key = config::required("IP_HASH_KEY")?;
    Secrets::parse(&keys, &ip_key).map_err(|e: ConfigError| e.into())
}
