//! What every route builds once per cold start: settings, secrets and the
//! clients, plus the checks and views several routes share.

use std::time::Duration;

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::s3::PhotoStorage;
use crate::adapters::sqs::{DeletionQueue, GenerationQueue};
use crate::adapters::{self};
use crate::auth::access_token::Claims;
use crate::auth::keys::Secrets;
use crate::auth::service;
use crate::config::Settings;
use crate::error::{ApiError, BoxError, unauthorized};
use crate::http::{Request, request};
use crate::jobs::{Job, LINK_SECONDS};

/// Settings, secrets and clients, built once and shared by every request.
#[derive(Debug, Clone)]
pub struct AppContext {
    /// The settings.
    pub settings: Settings,
    /// The secrets.
    pub secrets: Secrets,
    /// The DynamoDB-backed ports.
    pub store: DynamoStore,
    /// The photo bucket.
    pub photos: PhotoStorage,
    /// The generation queue.
    pub queue: GenerationQueue,
    /// The account deletion queue.
    pub deletions: DeletionQueue,
}

impl AppContext {
    /// Reads settings and secrets and builds the clients.
    pub async fn from_env() -> Result<Self, BoxError> {
        let settings = Settings::from_env()?;
        let sdk = adapters::aws_config().await;
        let secrets = adapters::secrets::load(&sdk).await?;
        Ok(Self::with_config(settings, secrets, &sdk))
    }

    /// Builds the clients from an SDK configuration (benchmarks add an
    /// interceptor to it).
    pub fn with_config(settings: Settings, secrets: Secrets, sdk: &aws_config::SdkConfig) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(sdk);
        let photos = PhotoStorage::new(sdk, settings.bucket_name.clone());
        let queue = GenerationQueue::new(sdk, settings.queue_url.clone());
        Self::with_clients(settings, secrets, dynamo, photos, queue)
    }

    /// Builds the context from ready clients (the benchmark passes clients
    /// whose configuration carries a call-counting interceptor).
    pub fn with_clients(
        settings: Settings,
        secrets: Secrets,
        dynamo: aws_sdk_dynamodb::Client,
        photos: PhotoStorage,
        queue: GenerationQueue,
    ) -> Self {
        let store = DynamoStore::new(dynamo, settings.table_name.clone());
        let deletions = queue.sibling(settings.deletion_queue_url.clone());
        AppContext { settings, secrets, store, photos, queue, deletions }
    }

    /// The request's verified access-token claims (signature only), or 401.
    pub fn authenticate(&self, req: &Request) -> Result<Claims, ApiError> {
        service::authenticate(&self.secrets.token_keys, request::authorization(req), crate::time::now(), self.settings.access_token_seconds)
    }

    /// Verified claims whose session is confirmed alive with one small read.
    pub async fn authenticate_live(&self, req: &Request) -> Result<Claims, ApiError> {
        let claims = self.authenticate(req)?;
        if !self.store.session_alive(&claims.sub, &claims.sid, crate::time::now()).await? {
            return Err(unauthorized());
        }
        Ok(claims)
    }

    /// The job named by the path's `{job_id}`, if it is the caller's, read
    /// with the session in one call: 401 for a dead session, 404 for any job
    /// that is not the caller's (a malformed id too, after the session check,
    /// so a revoked token is still 401).
    pub async fn caller_job(&self, req: &Request) -> Result<Job, ApiError> {
        let claims = self.authenticate(req)?;
        let job_id = request::path_param(req, "job_id").unwrap_or_default();
        let not_found = || ApiError::NotFound("No such job.".into());
        if !crate::jobs::is_id(job_id) {
            self.authenticate_live(req).await?;
            return Err(not_found());
        }
        self.store
            .job_with_live_session(&claims.sub, &claims.sid, job_id, crate::time::now())
            .await?
            .ok_or_else(unauthorized)?
            .ok_or_else(not_found)
    }

    /// The contract's `Job`, with fresh short-lived links (signed locally,
    /// no AWS call).
    pub async fn job_json(&self, job: &Job) -> Result<serde_json::Value, ApiError> {
        let ttl = Duration::from_secs(LINK_SECONDS);
        let input_url = self.photos.presign_get(&job.input_key, ttl).await?;
        let result_url = match &job.result_key {
            Some(key) => Some(self.photos.presign_get(key, ttl).await?),
            None => None,
        };
        serde_json::to_value(job.view(input_url, result_url)).map_err(ApiError::internal)
    }
}

/// The generation pipeline (worker, reaper), built from the environment:
/// settings, secrets (the KIE key), clients and the provider's settings.
pub async fn pipeline_from_env() -> Result<crate::generation::Pipeline, BoxError> {
    let ctx = AppContext::from_env().await?;
    let kie_key = ctx.secrets.kie_api_key.clone().ok_or("KIE_API_KEY (or kie_api_key in the app secret) is required")?;
    let kie_base = crate::config::optional("KIE_BASE_URL").unwrap_or_else(|| "https://api.kie.ai".into());
    let settings = crate::generation::PipelineSettings::from_env(&ctx.settings)?;
    Ok(crate::generation::Pipeline {
        store: ctx.store,
        photos: ctx.photos,
        queue: ctx.queue,
        kie: crate::kie::client::KieClient::new(
            kie_base,
            crate::config::optional("KIE_UPLOAD_BASE_URL").unwrap_or_else(|| "https://kieai.redpandaai.co".into()),
            kie_key,
        ),
        models: crate::kie::models::ModelChoice::from_env()?,
        rewriter: crate::photo_clean::Rewriter::new(settings.decode_concurrency),
        settings,
    })
}
