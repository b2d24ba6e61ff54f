//! The assembly point: reads settings and secrets and builds the AWS and
//! provider adapters once per cold start. Nothing here decides anything.

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::kie::client::KieClient;
use crate::adapters::kie::models::KNOWN_MODELS;
use crate::adapters::revenuecat::RevenueCatClient;
use crate::adapters::s3::PhotoStorage;
use crate::adapters::sqs::{DeletionQueue, ExportQueue, GenerationQueue};
use crate::adapters::{self};
use crate::app::App;
use crate::auth::keys::Secrets;
use crate::config::{self, Settings};
use crate::error::BoxError;
use crate::photo_clean::Rewriter;
use crate::provider::ModelChoice;
use crate::usecases::account_deletion::AccountEraser;
use crate::usecases::export_prepare::Exporter;
use crate::usecases::generation::{Pipeline, PipelineSettings};

/// The service over AWS.
pub type AppContext = App<DynamoStore, PhotoStorage, GenerationQueue, DeletionQueue>;

/// The generation pipeline over AWS and KIE.
pub type AwsPipeline = Pipeline<DynamoStore, PhotoStorage, GenerationQueue, KieClient>;

/// The data export worker's use case over AWS.
pub type AwsExporter = Exporter<DynamoStore, PhotoStorage>;

/// The account eraser over AWS and RevenueCat.
pub type AwsEraser = AccountEraser<DynamoStore, PhotoStorage, RevenueCatClient, DeletionQueue>;

impl AppContext {
    /// Reads settings and secrets and builds the clients.
    ///
    /// When the secret is read from Secrets Manager, the table's connection
    /// opens during that round trip, so the first request opens none.
    pub async fn from_env() -> Result<Self, BoxError> {
        let settings = Settings::from_env()?;
        let sdk = adapters::aws_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = if adapters::secrets::from_manager() {
            let store = DynamoStore::new(dynamo.clone(), settings.table_name.clone());
            let (secrets, ()) = tokio::join!(adapters::secrets::load(&sdk), store.open_connection());
            secrets?
        } else {
            adapters::secrets::load(&sdk).await?
        };
        let photos = PhotoStorage::new(&sdk, settings.bucket_name.clone());
        let queue = GenerationQueue::new(&sdk, settings.queue_url.clone());
        Ok(Self::with_clients(settings, secrets, dynamo, photos, queue))
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
    pub fn with_clients(settings: Settings, secrets: Secrets, dynamo: aws_sdk_dynamodb::Client, photos: PhotoStorage, queue: GenerationQueue) -> Self {
        let store = DynamoStore::new(dynamo, settings.table_name.clone());
        let deletions = queue.sibling(settings.deletion_queue_url.clone());
        App { settings, secrets, store, photos, queue, deletions }
    }
}

/// RevenueCat's REST API with the secret's key; `None` when no key is configured.
pub fn revenuecat(ctx: &AppContext) -> Option<RevenueCatClient> {
    let base = config::optional("REVENUECAT_API_BASE_URL").unwrap_or_else(|| "https://api.revenuecat.com".into());
    ctx.secrets.revenuecat_api_key.clone().map(|key| RevenueCatClient::new(base, key))
}

/// KIE with the secret's key.
pub fn kie(ctx: &AppContext) -> Result<KieClient, BoxError> {
    let key = ctx.secrets.kie_api_key.clone().ok_or("KIE_API_KEY (or kie_api_key in the app secret) is required")?;
    let base = config::optional("KIE_BASE_URL").unwrap_or_else(|| "https://api.kie.ai".into());
    let upload_base = config::optional("KIE_UPLOAD_BASE_URL").unwrap_or_else(|| "https://kieai.redpandaai.co".into());
    Ok(KieClient::new(base, upload_base, key))
}

/// The generation pipeline (worker, reaper) over `ctx`'s clients and KIE,
/// with the configured models (an unknown one stops the cold start).
pub fn pipeline(ctx: &AppContext) -> Result<AwsPipeline, BoxError> {
    ctx.photos.ready();
    ctx.queue.ready();
    let settings = PipelineSettings::from_env(&ctx.settings, ModelChoice::from_env(KNOWN_MODELS)?)?;
    Ok(Pipeline {
        store: ctx.store.clone(),
        photos: ctx.photos.clone(),
        queue: ctx.queue.clone(),
        provider: kie(ctx)?,
        rewriter: Rewriter::new(settings.decode_concurrency),
        settings,
    })
}

/// The account eraser over `ctx`'s clients, its final pass `final_pass_delay_secs` after the first.
pub fn eraser(ctx: &AppContext, final_pass_delay_secs: u32) -> AwsEraser {
    ctx.photos.ready();
    ctx.deletions.ready();
    let history = revenuecat(ctx);
    if history.is_none() {
        tracing::warn!("no REVENUECAT_API_KEY: deleted accounts are not deleted at RevenueCat");
    }
    AccountEraser {
        store: ctx.store.clone(),
        photos: ctx.photos.clone(),
        history,
        hash_key: ctx.secrets.ip_hash_key.clone(),
        queue: ctx.deletions.clone(),
        final_pass_delay_secs,
    }
}

/// The data export queue, over `ctx`'s SQS client.
pub fn export_queue(ctx: &AppContext) -> ExportQueue {
    ctx.queue.sibling(ctx.settings.export_queue_url.clone())
}

/// The export worker's use case over `ctx`'s clients.
pub fn exporter(ctx: &AppContext) -> Result<AwsExporter, BoxError> {
    ctx.photos.ready();
    let settings = crate::exports::ExportSettings::from_env()?;
    Ok(Exporter::new(ctx.store.clone(), ctx.photos.clone(), ctx.secrets.ip_hash_key.clone(), settings))
}
