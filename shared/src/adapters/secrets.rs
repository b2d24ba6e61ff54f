//! Loads the app's secrets: from Secrets Manager when `APP_SECRETS_ARN` names a
//! secret (the deployed stack), else from `TOKEN_SIGNING_KEYS`, `IP_HASH_KEY`,
//! `KIE_API_KEY`, `KIE_WEBHOOK_HMAC_KEY`, `REVENUECAT_API_KEY`,
//! `REVENUECAT_WEBHOOK_AUTH` and `REVENUECAT_WEBHOOK_AUTH_PREVIOUS`. The provider's keys may also be
//! given as environment variables next to the secret (the local stack does).

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
    #[serde(default)]
    kie_api_key: Option<String>,
    #[serde(default)]
    kie_webhook_hmac_key: Option<String>,
    #[serde(default)]
    revenuecat_api_key: Option<String>,
    #[serde(default)]
    revenuecat_webhook_auth: Option<String>,
    #[serde(default)]
    revenuecat_webhook_auth_previous: Option<String>,
}

/// A value from the secret document, else from the environment.
fn either(doc: Option<String>, env: &'static str) -> Option<String> {
    doc.filter(|v| !v.is_empty()).or_else(|| config::optional(env))
}

/// Whether the secrets are read from Secrets Manager (`APP_SECRETS_ARN`).
pub fn from_manager() -> bool {
    config::optional("APP_SECRETS_ARN").is_some()
}

/// Loads the secrets once, at cold start.
pub async fn load(sdk: &SdkConfig) -> Result<Secrets, BoxError> {
    if let Some(arn) = config::optional("APP_SECRETS_ARN") {
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        let out = client.get_secret_value().secret_id(&arn).send().await?;
        let text = out.secret_string().ok_or("the app secret has no string value")?;
        let doc: SecretDocument = serde_json::from_str(text).map_err(|_| "the app secret must be JSON with token_signing_keys and ip_hash_key")?;
        let mut secrets = Secrets::parse(&doc.token_signing_keys, &doc.ip_hash_key)?;
        secrets.kie_api_key = either(doc.kie_api_key, "KIE_API_KEY");
        secrets.kie_webhook_hmac_key = either(doc.kie_webhook_hmac_key, "KIE_WEBHOOK_HMAC_KEY").map(String::into_bytes);
        secrets.revenuecat_api_key = either(doc.revenuecat_api_key, "REVENUECAT_API_KEY");
        secrets.revenuecat_webhook_auth = either(doc.revenuecat_webhook_auth, "REVENUECAT_WEBHOOK_AUTH")
            .into_iter()
            .chain(either(doc.revenuecat_webhook_auth_previous, "REVENUECAT_WEBHOOK_AUTH_PREVIOUS"))
            .collect();
        return Ok(secrets);
    }
    let keys = config::required("TOKEN_SIGNING_KEYS")?;
    let ip_key = config::required("IP_HASH_KEY")?;
    let mut secrets = Secrets::parse(&keys, &ip_key).map_err(|e: ConfigError| -> BoxError { e.into() })?;
    secrets.kie_api_key = config::optional("KIE_API_KEY");
    secrets.kie_webhook_hmac_key = config::optional("KIE_WEBHOOK_HMAC_KEY").map(String::into_bytes);
    secrets.revenuecat_api_key = config::optional("REVENUECAT_API_KEY");
    secrets.revenuecat_webhook_auth =
        config::optional("REVENUECAT_WEBHOOK_AUTH").into_iter().chain(config::optional("REVENUECAT_WEBHOOK_AUTH_PREVIOUS")).collect();
    Ok(secrets)
}
