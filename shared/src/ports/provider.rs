//! The image provider.

use crate::provider::{ProviderError, TaskRequest, TaskState};

/// Generation tasks at the image provider.
pub trait ImageProvider {
    /// Whether the provider cannot fetch `link` itself (a local stack's
    /// private address while the provider is remote): then the photo goes
    /// through [`ImageProvider::upload_photo`].
    fn cannot_reach(&self, link: &str) -> bool;

    /// Hands the provider the photo's bytes; returns the link it fetches from.
    fn upload_photo(&self, bytes: Vec<u8>, file_name: &str) -> impl Future<Output = Result<String, ProviderError>> + Send;

    /// What `task` costs at the provider, in millionths of a US dollar.
    fn price_micro_usd(&self, task: &TaskRequest) -> i64;

    /// Creates a task; returns its id.
    fn create_task(&self, task: &TaskRequest) -> impl Future<Output = Result<String, ProviderError>> + Send;

    /// The task's state, as the provider says now.
    fn task_state(&self, task_id: &str) -> impl Future<Output = Result<TaskState, ProviderError>> + Send;

    /// Downloads a result (bounded in size, from safe places only).
    fn download(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, ProviderError>> + Send;
}
